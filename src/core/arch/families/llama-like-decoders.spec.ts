/**
 * The decoder families with Llama-like layouts (Qwen, Gemma, Phi, OLMo, Cohere, Granite, …) on
 * small synthetic adapters. The expected GGUF names, dims and row orders
 * below are written from llama.cpp's own tables (gguf-py tensor_mapping.py / constants.py,
 * convert_hf_to_gguf.py), not read back from the code under test. Families with reference
 * fixtures (Qwen2, Qwen2-MoE, Gemma, Gemma2, Phi-3) are also checked byte for byte in
 * test/unit/reference.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildSafetensors, type BuildTensor } from '../../../../test/helpers/safetensors-build';
import { readGguf } from '../../../../test/helpers/gguf-read';
import { convert } from '../../convert';
import { bytesSource, MemorySink } from '../../io';
import { inspect, type ConversionPlan } from '../../plan';
import { familyFor } from '../registry';

const R = 4;
const HIDDEN = 64;
const HEADS = 8;
const KV_HEADS = 2;
const HEAD_DIM = HIDDEN / HEADS; // 8
const KV = KV_HEADS * HEAD_DIM; // 16
const FF = 96;
const VOCAB = 32;
const EXPERTS = 3;
const MOE_FF = 32;

/** How the reference reorders lora_b rows: none, or LlamaModel.permute with this head count. */
type Rows = { heads: number } | undefined;

interface Mod {
  /** HF module path with `{bid}` for the layer. */
  hf: string;
  /** GGUF base name with `{bid}`. */
  gguf: string;
  in: number;
  out: number;
  rows?: Rows;
}

interface Case {
  arch: string;
  ggufArch: string;
  config?: Record<string, unknown>;
  mods: Mod[];
  /** 1-D norm vectors: HF path, GGUF name, whether the converter adds 1. */
  norms: [string, string, boolean][];
  /** Stacked experts: the `{xid}` modules, GGUF name, in, out. */
  experts?: { count: string; mods: Mod[] };
  /** A module that looks plausible for this model but that llama.cpp has no tensor for. */
  unknown: string;
}

const L = 'model.layers.{bid}';
const attn = (rope: 'none' | 'llama' | 'xverse', o = 'o_proj', block = `${L}.self_attn`): Mod[] => [
  { hf: `${block}.q_proj`, gguf: 'blk.{bid}.attn_q', in: HIDDEN, out: HIDDEN, rows: rope === 'none' ? undefined : { heads: HEADS } },
  {
    hf: `${block}.k_proj`,
    gguf: 'blk.{bid}.attn_k',
    in: HIDDEN,
    out: KV,
    // XVERSE's converter uses num_attention_heads // num_key_value_heads for k (8 // 2 = 4).
    rows: rope === 'none' ? undefined : { heads: rope === 'llama' ? KV_HEADS : HEADS / KV_HEADS },
  },
  { hf: `${block}.v_proj`, gguf: 'blk.{bid}.attn_v', in: HIDDEN, out: KV },
  { hf: `${block}.${o}`, gguf: 'blk.{bid}.attn_output', in: HIDDEN, out: HIDDEN },
];
const swiglu = (p = `${L}.mlp`): Mod[] => [
  { hf: `${p}.gate_proj`, gguf: 'blk.{bid}.ffn_gate', in: HIDDEN, out: FF },
  { hf: `${p}.up_proj`, gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
  { hf: `${p}.down_proj`, gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
];
const preNorms = (extra: [string, string, boolean][] = [], addOne = false): [string, string, boolean][] => [
  [`${L}.input_layernorm`, 'blk.{bid}.attn_norm', addOne],
  [`${L}.post_attention_layernorm`, 'blk.{bid}.ffn_norm', addOne],
  ['model.norm', 'output_norm', addOne],
  ...extra,
];
const qkNorms = (addOne = false): [string, string, boolean][] => [
  [`${L}.self_attn.q_norm`, 'blk.{bid}.attn_q_norm', addOne],
  [`${L}.self_attn.k_norm`, 'blk.{bid}.attn_k_norm', addOne],
];
const gemma2Norms = (prefix: string, top: string): [string, string, boolean][] => [
  [`${prefix}.input_layernorm`, 'blk.{bid}.attn_norm', true],
  [`${prefix}.post_attention_layernorm`, 'blk.{bid}.post_attention_norm', true],
  [`${prefix}.pre_feedforward_layernorm`, 'blk.{bid}.ffn_norm', true],
  [`${prefix}.post_feedforward_layernorm`, 'blk.{bid}.post_ffw_norm', true],
  [top, 'output_norm', true],
];
const moeExperts = (block: string, gate: string, up: string, down: string, count: string) => ({
  count,
  mods: [
    { hf: `${L}.${block}.experts.{xid}.${gate}`, gguf: 'blk.{bid}.ffn_gate_exps', in: HIDDEN, out: MOE_FF },
    { hf: `${L}.${block}.experts.{xid}.${up}`, gguf: 'blk.{bid}.ffn_up_exps', in: HIDDEN, out: MOE_FF },
    { hf: `${L}.${block}.experts.{xid}.${down}`, gguf: 'blk.{bid}.ffn_down_exps', in: MOE_FF, out: HIDDEN },
  ],
});

const CASES: Case[] = [
  {
    arch: 'QWenLMHeadModel',
    ggufArch: 'qwen',
    mods: [
      { hf: 'transformer.h.{bid}.attn.c_attn', gguf: 'blk.{bid}.attn_qkv', in: HIDDEN, out: 3 * HIDDEN },
      { hf: 'transformer.h.{bid}.attn.c_proj', gguf: 'blk.{bid}.attn_output', in: HIDDEN, out: HIDDEN },
      { hf: 'transformer.h.{bid}.mlp.w1', gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
      { hf: 'transformer.h.{bid}.mlp.w2', gguf: 'blk.{bid}.ffn_gate', in: HIDDEN, out: FF },
      { hf: 'transformer.h.{bid}.mlp.c_proj', gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: [
      ['transformer.h.{bid}.ln_1', 'blk.{bid}.attn_norm', false],
      ['transformer.h.{bid}.ln_2', 'blk.{bid}.ffn_norm', false],
      ['transformer.ln_f', 'output_norm', false],
    ],
    unknown: 'transformer.h.{bid}.attn.q_proj',
  },
  { arch: 'Qwen2ForCausalLM', ggufArch: 'qwen2', mods: [...attn('none'), ...swiglu()], norms: preNorms(), unknown: `${L}.self_attn.qkv_proj` },
  {
    arch: 'Qwen2MoeForCausalLM',
    ggufArch: 'qwen2moe',
    config: { num_experts: EXPERTS },
    mods: [
      ...attn('none'),
      { hf: `${L}.mlp.gate`, gguf: 'blk.{bid}.ffn_gate_inp', in: HIDDEN, out: EXPERTS },
      { hf: `${L}.mlp.shared_expert.gate_proj`, gguf: 'blk.{bid}.ffn_gate_shexp', in: HIDDEN, out: FF },
      { hf: `${L}.mlp.shared_expert.up_proj`, gguf: 'blk.{bid}.ffn_up_shexp', in: HIDDEN, out: FF },
      { hf: `${L}.mlp.shared_expert.down_proj`, gguf: 'blk.{bid}.ffn_down_shexp', in: FF, out: HIDDEN },
      { hf: `${L}.mlp.shared_expert_gate`, gguf: 'blk.{bid}.ffn_gate_inp_shexp', in: HIDDEN, out: 1 },
    ],
    experts: moeExperts('mlp', 'gate_proj', 'up_proj', 'down_proj', 'num_experts'),
    norms: preNorms(),
    unknown: `${L}.mlp.gate_proj`,
  },
  {
    arch: 'Qwen3ForCausalLM',
    ggufArch: 'qwen3',
    mods: [...attn('none'), ...swiglu()],
    norms: preNorms(qkNorms()),
    unknown: `${L}.mlp.gate_up_proj`,
  },
  {
    arch: 'Qwen3MoeForCausalLM',
    ggufArch: 'qwen3moe',
    config: { num_experts: EXPERTS },
    mods: [...attn('none'), { hf: `${L}.mlp.gate`, gguf: 'blk.{bid}.ffn_gate_inp', in: HIDDEN, out: EXPERTS }],
    experts: moeExperts('mlp', 'gate_proj', 'up_proj', 'down_proj', 'num_experts'),
    norms: preNorms(qkNorms()),
    unknown: `${L}.mlp.shared_expert.up_proj`,
  },
  {
    arch: 'GemmaForCausalLM',
    ggufArch: 'gemma',
    mods: [...attn('none'), ...swiglu()],
    norms: preNorms([], true),
    unknown: `${L}.self_attn.qkv_proj`,
  },
  {
    arch: 'Gemma2ForCausalLM',
    ggufArch: 'gemma2',
    mods: [...attn('none'), ...swiglu()],
    norms: gemma2Norms(L, 'model.norm'),
    unknown: `${L}.mlp.fc1`,
  },
  {
    arch: 'Gemma3ForCausalLM',
    ggufArch: 'gemma3',
    mods: [...attn('none'), ...swiglu()],
    norms: [...gemma2Norms(L, 'model.norm'), ...qkNorms(true)],
    unknown: `${L}.mlp.fc1`,
  },
  {
    arch: 'PhiForCausalLM',
    ggufArch: 'phi2',
    mods: [
      ...attn('none', 'dense'),
      { hf: `${L}.mlp.fc1`, gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
      { hf: `${L}.mlp.fc2`, gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: [
      [`${L}.input_layernorm`, 'blk.{bid}.attn_norm', false],
      ['model.final_layernorm', 'output_norm', false],
    ],
    unknown: `${L}.self_attn.o_proj`,
  },
  {
    arch: 'Phi3ForCausalLM',
    ggufArch: 'phi3',
    mods: [
      // Fused and kept fused: llama.cpp's phi3 graph slices attn_qkv and ffn_up itself.
      { hf: `${L}.self_attn.qkv_proj`, gguf: 'blk.{bid}.attn_qkv', in: HIDDEN, out: HIDDEN + 2 * KV },
      { hf: `${L}.self_attn.o_proj`, gguf: 'blk.{bid}.attn_output', in: HIDDEN, out: HIDDEN },
      { hf: `${L}.mlp.gate_up_proj`, gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: 2 * FF },
      { hf: `${L}.mlp.down_proj`, gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: preNorms(),
    unknown: `${L}.self_attn.q_proj`,
  },
  {
    arch: 'PhiMoEForCausalLM',
    ggufArch: 'phimoe',
    config: { num_local_experts: EXPERTS },
    mods: [...attn('none'), { hf: `${L}.block_sparse_moe.gate`, gguf: 'blk.{bid}.ffn_gate_inp', in: HIDDEN, out: EXPERTS }],
    experts: moeExperts('block_sparse_moe', 'w1', 'w3', 'w2', 'num_local_experts'),
    norms: preNorms(),
    unknown: `${L}.mlp.gate_proj`,
  },
  { arch: 'OlmoForCausalLM', ggufArch: 'olmo', mods: [...attn('llama'), ...swiglu()], norms: [], unknown: `${L}.self_attn.qkv_proj` },
  {
    arch: 'Olmo2ForCausalLM',
    ggufArch: 'olmo2',
    mods: [...attn('none'), ...swiglu()],
    norms: [
      [`${L}.post_attention_layernorm`, 'blk.{bid}.post_attention_norm', false],
      [`${L}.post_feedforward_layernorm`, 'blk.{bid}.post_ffw_norm', false],
      ...qkNorms(),
      ['model.norm', 'output_norm', false],
    ],
    unknown: `${L}.self_attn.qkv_proj`,
  },
  {
    arch: 'OlmoeForCausalLM',
    ggufArch: 'olmoe',
    config: { num_experts: EXPERTS },
    mods: [...attn('none'), { hf: `${L}.mlp.gate`, gguf: 'blk.{bid}.ffn_gate_inp', in: HIDDEN, out: EXPERTS }],
    experts: moeExperts('mlp', 'gate_proj', 'up_proj', 'down_proj', 'num_experts'),
    norms: preNorms(qkNorms()),
    unknown: `${L}.mlp.shared_expert.up_proj`,
  },
  {
    arch: 'CohereForCausalLM',
    ggufArch: 'command-r',
    mods: [...attn('none'), ...swiglu()],
    norms: [
      [`${L}.input_layernorm`, 'blk.{bid}.attn_norm', false],
      ['model.norm', 'output_norm', false],
    ],
    unknown: `${L}.post_attention_layernorm_proj`,
  },
  {
    arch: 'Cohere2ForCausalLM',
    ggufArch: 'cohere2',
    mods: [...attn('none'), ...swiglu()],
    norms: [
      [`${L}.input_layernorm`, 'blk.{bid}.attn_norm', false],
      ['model.norm', 'output_norm', false],
    ],
    unknown: `${L}.mlp.fc1`,
  },
  { arch: 'GraniteForCausalLM', ggufArch: 'granite', mods: [...attn('llama'), ...swiglu()], norms: preNorms(), unknown: `${L}.mlp.c_fc` },
  {
    arch: 'GraniteMoeForCausalLM',
    ggufArch: 'granitemoe',
    config: { num_local_experts: EXPERTS },
    mods: [...attn('llama'), { hf: `${L}.block_sparse_moe.router.layer`, gguf: 'blk.{bid}.ffn_gate_inp', in: HIDDEN, out: EXPERTS }],
    norms: preNorms(),
    // The experts are one 3-D parameter, not modules: a LoRA naming them is not mappable.
    unknown: `${L}.block_sparse_moe.experts.0.w1`,
  },
  { arch: 'MiniCPMForCausalLM', ggufArch: 'minicpm', mods: [...attn('llama'), ...swiglu()], norms: preNorms(), unknown: `${L}.mlp.c_fc` },
  { arch: 'XverseForCausalLM', ggufArch: 'xverse', mods: [...attn('xverse'), ...swiglu()], norms: preNorms(), unknown: `${L}.mlp.c_fc` },
  { arch: 'OrionForCausalLM', ggufArch: 'orion', mods: [...attn('none'), ...swiglu()], norms: preNorms(), unknown: `${L}.mlp.c_fc` },
  {
    arch: 'ExaoneForCausalLM',
    ggufArch: 'exaone',
    mods: [
      ...attn('none', 'out_proj', 'transformer.h.{bid}.attn.attention'),
      { hf: 'transformer.h.{bid}.mlp.c_fc_0', gguf: 'blk.{bid}.ffn_gate', in: HIDDEN, out: FF },
      { hf: 'transformer.h.{bid}.mlp.c_fc_1', gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
      { hf: 'transformer.h.{bid}.mlp.c_proj', gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: [
      ['transformer.h.{bid}.ln_1', 'blk.{bid}.attn_norm', false],
      ['transformer.h.{bid}.ln_2', 'blk.{bid}.ffn_norm', false],
      ['transformer.ln_f', 'output_norm', false],
    ],
    unknown: `${L}.self_attn.q_proj`,
  },
  {
    arch: 'NemotronForCausalLM',
    ggufArch: 'nemotron',
    mods: [
      ...attn('none'),
      { hf: `${L}.mlp.up_proj`, gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
      { hf: `${L}.mlp.down_proj`, gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: preNorms([], true),
    unknown: `${L}.mlp.gate_proj`,
  },
  { arch: 'StableLmForCausalLM', ggufArch: 'stablelm', mods: [...attn('none'), ...swiglu()], norms: preNorms(), unknown: `${L}.mlp.c_fc` },
  {
    arch: 'Starcoder2ForCausalLM',
    ggufArch: 'starcoder2',
    mods: [
      ...attn('none'),
      { hf: `${L}.mlp.c_fc`, gguf: 'blk.{bid}.ffn_up', in: HIDDEN, out: FF },
      { hf: `${L}.mlp.c_proj`, gguf: 'blk.{bid}.ffn_down', in: FF, out: HIDDEN },
    ],
    norms: preNorms(),
    unknown: `${L}.mlp.gate_proj`,
  },
];

// ---------------------------------------------------------------------------------------------

const PREFIX = 'base_model.model.';
const LAYERS = [0, 1];

function baseConfig(c: Pick<Case, 'arch' | 'config'>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    architectures: [c.arch],
    hidden_size: HIDDEN,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    num_hidden_layers: LAYERS.length,
    intermediate_size: FF,
    vocab_size: VOCAB,
    tie_word_embeddings: false,
    ...c.config,
    ...extra,
  });
}

const ADAPTER_CONFIG = JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: 8, target_modules: ['q_proj'] });

/** Distinct, exactly representable values: B[row][col] = tag + row * 16 + col (tags keep tensors apart). */
function values(rows: number, cols: number, tag: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.push(tag + r * 16 + c);
  return out;
}

function pair(module: string, inDim: number, outDim: number, tag: number): BuildTensor[] {
  return [
    { name: `${PREFIX}${module}.lora_A.weight`, dtype: 'F32', shape: [R, inDim], data: values(R, inDim, tag) },
    { name: `${PREFIX}${module}.lora_B.weight`, dtype: 'F32', shape: [outDim, R], data: values(outDim, R, tag + 0.5) },
  ];
}

const fill = (template: string, bid: number, xid?: number) => template.replace('{bid}', String(bid)).replace('{xid}', String(xid ?? ''));

async function plan(arch: Pick<Case, 'arch' | 'config'>, tensors: BuildTensor[], extraConfig: Record<string, unknown> = {}, keepNormVectors = false) {
  const bytes = buildSafetensors(tensors);
  const source = bytesSource(bytes);
  const p = await inspect({ adapterConfig: ADAPTER_CONFIG, baseConfig: baseConfig(arch, extraConfig), adapter: source }, { outtype: 'f32', keepNormVectors });
  return { plan: p, source };
}

async function convertPlan(p: ConversionPlan, source: ReturnType<typeof bytesSource>) {
  const sink = new MemorySink();
  await convert(p, source, sink);
  return readGguf(sink.bytes());
}

function f32(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}

/** Row `o` of llama.cpp's q/k layout comes from this HF row: reshape(heads, 2, d/2).swapaxes(1, 2). */
function sourceRow(o: number, rows: number, heads: number): number {
  const d = rows / heads;
  const h = Math.floor(o / d);
  const rem = o % d;
  return h * d + (rem % 2) * (d / 2) + Math.floor(rem / 2);
}

describe('Llama-like decoder families: every mapped module converts to the right GGUF tensor', () => {
  for (const c of CASES) {
    describe(c.arch, () => {
      it(`is registered with general.architecture "${c.ggufArch}"`, () => {
        const f = familyFor({
          architecture: c.arch,
          modelType: null,
          hparams: {},
          tieWordEmbeddings: undefined,
          fromTextConfig: false,
          outerArchitecture: null,
        });
        expect(f.hfArchitectures).toContain(c.arch);
        expect(typeof f.ggufArch === 'string' ? f.ggufArch : null).toBe(c.ggufArch);
      });

      it('maps every LoRA module of layers 0 and 1 with the right dims, rows and data', async () => {
        const tensors: BuildTensor[] = [];
        let tag = 0;
        const expected = new Map<string, { mod: Mod; tag: number }>();
        for (const bid of LAYERS) {
          for (const m of c.mods) {
            tag += 1000;
            tensors.push(...pair(fill(m.hf, bid), m.in, m.out, tag));
            expected.set(fill(m.gguf, bid), { mod: m, tag });
          }
        }
        const { plan: p, source } = await plan(c, tensors);
        expect(p.refusals).toEqual([]);
        expect(p.ggufArchitecture).toBe(c.ggufArch);
        const out = await convertPlan(p, source);
        expect(out.metadata['general.architecture']).toBe(c.ggufArch);
        const names = out.tensors.map((t) => t.name).sort();
        expect(names).toEqual([...expected.keys()].flatMap((g) => [`${g}.weight.lora_a`, `${g}.weight.lora_b`]).sort());
        for (const [g, { mod, tag: t }] of expected) {
          const a = out.tensors.find((x) => x.name === `${g}.weight.lora_a`)!;
          const b = out.tensors.find((x) => x.name === `${g}.weight.lora_b`)!;
          expect(a.ne, g).toEqual([mod.in, R]);
          expect(b.ne, g).toEqual([R, mod.out]);
          // lora_a is never touched.
          expect(Array.from(f32(a.bytes)), g).toEqual(values(R, mod.in, t));
          // lora_b: rows in llama.cpp's order.
          const src = values(mod.out, R, t + 0.5);
          const want: number[] = [];
          for (let o = 0; o < mod.out; o++) {
            const s = mod.rows ? sourceRow(o, mod.out, mod.rows.heads) : o;
            want.push(...src.slice(s * R, (s + 1) * R));
          }
          expect(Array.from(f32(b.bytes)), `${g} rows`).toEqual(want);
        }
      });

      it('refuses a module llama.cpp has no tensor for (unknown_tensor), naming it', async () => {
        const good = c.mods[0]!;
        const bogus = fill(c.unknown, 0);
        const { plan: p } = await plan(c, [...pair(fill(good.hf, 0), good.in, good.out, 1), ...pair(bogus, HIDDEN, HIDDEN, 2)]);
        const refusal = p.refusals.find((r) => r.code === 'unknown_tensor');
        expect(refusal, JSON.stringify(p.refusals)).toBeDefined();
        expect(JSON.stringify(refusal!.details)).toContain(bogus);
        expect(p.refusals).toHaveLength(1);
      });

      if (c.norms.length) {
        it('carries mergekit norm vectors over as F32, +1 where the converter adds it', async () => {
          const tensors: BuildTensor[] = [];
          const want = new Map<string, number[]>();
          c.norms.forEach(([hf, gguf, addOne], i) => {
            const v = Array.from({ length: HIDDEN }, (_, k) => (i + 1) * 0.25 + k / 64);
            tensors.push({ name: `${PREFIX}${fill(hf, 1)}.weight`, dtype: 'F32', shape: [HIDDEN], data: v });
            want.set(`${fill(gguf, 1)}.weight`, addOne ? v.map((x) => Math.fround(Math.fround(x) + 1)) : v.map((x) => Math.fround(x)));
          });
          const good = c.mods[0]!;
          tensors.push(...pair(fill(good.hf, 0), good.in, good.out, 7));
          // llama.cpp ignores adapter norm vectors: refused by default, kept with the opt-in.
          const refused = await plan(c, tensors);
          expect(refused.plan.refusals.map((r) => r.code)).toEqual(['not_applied_by_runtime']);
          const { plan: p, source } = await plan(c, tensors, {}, true);
          expect(p.refusals).toEqual([]);
          const out = await convertPlan(p, source);
          for (const [name, v] of want) {
            const t = out.tensors.find((x) => x.name === name);
            expect(t, name).toBeDefined();
            expect(t!.type, name).toBe(0);
            expect(Array.from(f32(t!.bytes)), name).toEqual(v);
          }
        });
      }

      if (c.experts) {
        const ex = c.experts;
        it(`stacks all ${EXPERTS} experts (count from "${ex.count}") into 3-D tensors, and refuses a partial set`, async () => {
          const tensors: BuildTensor[] = [];
          for (const m of ex.mods) for (let x = 0; x < EXPERTS; x++) tensors.push(...pair(fill(m.hf, 0, x), m.in, m.out, 100 * x));
          const { plan: p } = await plan(c, tensors);
          expect(p.refusals).toEqual([]);
          for (const m of ex.mods) {
            const g = fill(m.gguf, 0);
            expect(p.tensors.find((t) => t.name === `${g}.weight.lora_a`)?.ne, g).toEqual([m.in, R, EXPERTS]);
            expect(p.tensors.find((t) => t.name === `${g}.weight.lora_b`)?.ne, g).toEqual([R, m.out, EXPERTS]);
          }
          const partial = tensors.filter((t) => !t.name.includes(`experts.${EXPERTS - 1}.`));
          const { plan: q } = await plan(c, partial);
          expect(q.refusals.map((r) => r.code)).toContain('partial_experts');
        });
      }
    });
  }
});

describe('output head and token embeddings (tied-head rule)', () => {
  const head = (arch: string) => {
    const exaone = arch === 'ExaoneForCausalLM';
    const qwen1 = arch === 'QWenLMHeadModel';
    const mm = arch === 'Gemma3ForConditionalGeneration';
    return {
      lmHead: 'lm_head',
      embed: exaone || qwen1 ? 'transformer.wte' : mm ? 'model.language_model.embed_tokens' : 'model.embed_tokens',
    };
  };
  const tensorsFor = (arch: string): BuildTensor[] => {
    const { lmHead, embed } = head(arch);
    return [
      ...pair(lmHead, HIDDEN, VOCAB, 1),
      { name: `${PREFIX}${embed}.lora_embedding_A`, dtype: 'F32', shape: [R, VOCAB], data: values(R, VOCAB, 2) },
      { name: `${PREFIX}${embed}.lora_embedding_B`, dtype: 'F32', shape: [HIDDEN, R], data: values(HIDDEN, R, 3) },
    ];
  };

  // llama.cpp has no separate output tensor for these: refused even when config.json says untied.
  for (const arch of [
    'GemmaForCausalLM',
    'Gemma2ForCausalLM',
    'Gemma3ForCausalLM',
    'Gemma3ForConditionalGeneration',
    'CohereForCausalLM',
    'Cohere2ForCausalLM',
  ]) {
    it(`${arch}: lm_head and embedding LoRA are refused as tied_head whatever the config says`, async () => {
      const { plan: p } = await plan({ arch }, tensorsFor(arch), { tie_word_embeddings: false });
      const tied = p.refusals.filter((r) => r.code === 'tied_head');
      expect(tied.map((r) => JSON.stringify(r.details)).join(' ')).toContain('lm_head');
      expect(tied.map((r) => JSON.stringify(r.details)).join(' ')).toContain(head(arch).embed);
      expect(p.refusals.every((r) => r.code === 'tied_head')).toBe(true);
    });
  }

  // transformers' default when config.json has no tie_word_embeddings key.
  const defaults: [string, boolean][] = [
    ['QWenLMHeadModel', false],
    ['Qwen2ForCausalLM', false],
    ['Qwen2MoeForCausalLM', false],
    ['Qwen3ForCausalLM', false],
    ['Qwen3MoeForCausalLM', false],
    ['PhiForCausalLM', false],
    ['Phi3ForCausalLM', false],
    ['PhiMoEForCausalLM', false],
    ['OlmoForCausalLM', false],
    ['Olmo2ForCausalLM', false],
    ['OlmoeForCausalLM', false],
    ['GraniteForCausalLM', false],
    ['GraniteMoeForCausalLM', false],
    ['XverseForCausalLM', false],
    ['OrionForCausalLM', false],
    ['NemotronForCausalLM', false],
    ['StableLmForCausalLM', false],
    ['ExaoneForCausalLM', true],
    ['MiniCPMForCausalLM', true],
    ['Starcoder2ForCausalLM', true],
  ];
  const experts = { num_experts: EXPERTS, num_local_experts: EXPERTS };
  for (const [arch, tiedByDefault] of defaults) {
    it(`${arch}: without tie_word_embeddings the head is ${tiedByDefault ? 'tied (refused)' : 'separate (converted)'}; an explicit value wins`, async () => {
      const { plan: absent } = await plan({ arch, config: experts }, tensorsFor(arch), { tie_word_embeddings: undefined });
      if (tiedByDefault) {
        expect(absent.refusals.map((r) => r.code)).toContain('tied_head');
      } else {
        expect(absent.refusals).toEqual([]);
        const names = absent.tensors.map((t) => t.name);
        expect(names).toContain('output.weight.lora_b');
        expect(absent.tensors.find((t) => t.name === 'output.weight.lora_b')!.ne).toEqual([R, VOCAB]);
        // Embedding LoRA: lora_a is lora_embedding_A transposed (vocab rows).
        expect(absent.tensors.find((t) => t.name === 'token_embd.weight.lora_a')!.ne).toEqual([R, VOCAB]);
        expect(absent.tensors.find((t) => t.name === 'token_embd.weight.lora_b')!.ne).toEqual([R, HIDDEN]);
      }
      const { plan: tiedPlan } = await plan({ arch, config: experts }, tensorsFor(arch), { tie_word_embeddings: true });
      expect(tiedPlan.refusals.map((r) => r.code)).toContain('tied_head');
      const { plan: untied } = await plan({ arch, config: experts }, tensorsFor(arch), { tie_word_embeddings: false });
      expect(untied.refusals).toEqual([]);
    });
  }
});

describe('Gemma3ForConditionalGeneration (text part of the multimodal model)', () => {
  const arch = { arch: 'Gemma3ForConditionalGeneration' };
  // Both module layouts transformers has used, and the same GGUF names for each.
  for (const prefix of ['language_model.model', 'model.language_model']) {
    it(`maps ${prefix}.layers.N.* to the gemma3 text tensors`, async () => {
      const tensors = [
        ...pair(`${prefix}.layers.0.self_attn.q_proj`, HIDDEN, HIDDEN, 1),
        ...pair(`${prefix}.layers.1.self_attn.k_proj`, HIDDEN, KV, 2),
        ...pair(`${prefix}.layers.1.mlp.down_proj`, FF, HIDDEN, 3),
        { name: `${PREFIX}${prefix}.layers.0.self_attn.q_norm.weight`, dtype: 'F32', shape: [HEAD_DIM], data: new Array<number>(HEAD_DIM).fill(0.5) },
        { name: `${PREFIX}${prefix}.norm.weight`, dtype: 'F32', shape: [HIDDEN], data: new Array<number>(HIDDEN).fill(-1) },
      ];
      // The norm vectors need the opt-in (llama.cpp ignores adapter norms).
      const { plan: p, source } = await plan(arch, tensors, {}, true);
      expect(p.refusals).toEqual([]);
      expect(p.ggufArchitecture).toBe('gemma3');
      const out = await convertPlan(p, source);
      expect(out.tensors.map((t) => t.name).sort()).toEqual(
        [
          'blk.0.attn_q.weight.lora_a',
          'blk.0.attn_q.weight.lora_b',
          'blk.1.attn_k.weight.lora_a',
          'blk.1.attn_k.weight.lora_b',
          'blk.1.ffn_down.weight.lora_a',
          'blk.1.ffn_down.weight.lora_b',
          'blk.0.attn_q_norm.weight',
          'output_norm.weight',
        ].sort(),
      );
      // Gemma3RMSNorm multiplies by (1 + w): stored +1.
      expect(Array.from(f32(out.tensors.find((t) => t.name === 'blk.0.attn_q_norm.weight')!.bytes))).toEqual(new Array<number>(HEAD_DIM).fill(1.5));
      expect(Array.from(f32(out.tensors.find((t) => t.name === 'output_norm.weight')!.bytes))).toEqual(new Array<number>(HIDDEN).fill(0));
    });
  }

  it('refuses LoRA on the vision tower and projector as non-text modules', async () => {
    const { plan: p } = await plan(arch, [
      ...pair('model.language_model.layers.0.self_attn.q_proj', HIDDEN, HIDDEN, 1),
      ...pair('model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj', HIDDEN, HIDDEN, 2),
      ...pair('multi_modal_projector.mm_input_projection', HIDDEN, HIDDEN, 3),
    ]);
    expect(p.refusals.map((r) => r.code)).toEqual(['non_text_module']);
    const details = JSON.stringify(p.refusals[0]!.details);
    expect(details).toContain('vision_tower');
    expect(details).toContain('multi_modal_projector');
  });

  it('works with the real config.json layout (text model fields nested in text_config)', async () => {
    const config = JSON.stringify({
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: { model_type: 'gemma3_text', hidden_size: HIDDEN, num_attention_heads: HEADS, num_key_value_heads: KV_HEADS, head_dim: HEAD_DIM },
      vision_config: { model_type: 'siglip_vision_model', hidden_size: 32 },
    });
    const bytes = buildSafetensors(pair('language_model.model.layers.3.mlp.gate_proj', HIDDEN, FF, 1));
    const p = await inspect({ adapterConfig: ADAPTER_CONFIG, baseConfig: config, adapter: bytesSource(bytes) }, { outtype: 'f32' });
    expect(p.refusals).toEqual([]);
    expect(p.ggufArchitecture).toBe('gemma3');
    expect(p.tensors.map((t) => [t.name, t.ne])).toEqual([
      ['blk.3.ffn_gate.weight.lora_a', [HIDDEN, R]],
      ['blk.3.ffn_gate.weight.lora_b', [R, FF]],
    ]);
  });

  it('refuses an unknown text module with unknown_tensor', async () => {
    const { plan: p } = await plan(arch, [...pair('model.language_model.layers.0.self_attn.qkv_proj', HIDDEN, HIDDEN, 1)]);
    expect(p.refusals.map((r) => r.code)).toEqual(['unknown_tensor']);
  });
});

describe('StableLM epoch models', () => {
  it('StableLMEpochForCausalLM (remote-code StableLM) uses the stablelm mapping', async () => {
    const { plan: p } = await plan({ arch: 'StableLMEpochForCausalLM' }, pair('model.layers.0.mlp.up_proj', HIDDEN, FF, 1));
    expect(p.refusals).toEqual([]);
    expect(p.ggufArchitecture).toBe('stablelm');
    expect(p.tensors.map((t) => t.name)).toContain('blk.0.ffn_up.weight.lora_b');
  });
});

describe('rotary permutation needs the head counts', () => {
  for (const arch of ['OlmoForCausalLM', 'GraniteForCausalLM', 'MiniCPMForCausalLM', 'XverseForCausalLM']) {
    it(`${arch}: a config without num_attention_heads is refused with missing_config_field`, async () => {
      const bytes = buildSafetensors(pair('model.layers.0.self_attn.q_proj', HIDDEN, HIDDEN, 1));
      const config = JSON.stringify({ architectures: [arch], hidden_size: HIDDEN });
      await expect(inspect({ adapterConfig: ADAPTER_CONFIG, baseConfig: config, adapter: bytesSource(bytes) })).rejects.toMatchObject({
        code: 'missing_config_field',
        details: { field: 'config.json: num_attention_heads' },
      });
    });
  }

  it('XVERSE without GQA permutes k with all heads, like Llama', async () => {
    const { plan: p } = await plan({ arch: 'XverseForCausalLM' }, pair('model.layers.0.self_attn.k_proj', HIDDEN, HIDDEN, 1), {
      num_key_value_heads: HEADS,
    });
    const b = p.tensors.find((t) => t.name === 'blk.0.attn_k.weight.lora_b')!;
    expect(b.parts[0]!.ops).toEqual([{ op: 'rowAxes', dims: [HEADS, 2, -1], perm: [0, 2, 1] }]);
  });
});
