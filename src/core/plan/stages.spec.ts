/**
 * Each planning stage on its own, from typed input to typed output (the whole pipeline is
 * proven against llama.cpp's converter in test/unit/reference.spec.ts and in the runtime suite).
 */
import { describe, expect, it } from 'vitest';
import { familyFor } from '../arch/registry';
import { parseAdapterConfig, parseBaseConfig } from '../peft/config';
import { stackExperts } from './experts';
import { adapterKvs, checkTransforms, chooseOuttype, layOut } from './layout';
import { mapPairs, type PlanContext } from './map';
import { planNorms } from './norms';
import { classifyAndPair } from './pair';
import type { AdapterTensor, InspectOptions } from './types';

const P = 'base_model.model.';
let at = 0;
function t(name: string, shape: number[], dtype: 'F32' | 'BF16' | 'F16' = 'BF16'): AdapterTensor {
  const bytes = shape.reduce((a, d) => a * d, 1) * (dtype === 'F32' ? 4 : 2);
  const loc = { name: `${P}${name}`, dtype, shape, begin: at, end: at + bytes };
  at += bytes;
  return loc;
}
const pair = (module: string, r: number, inDim: number, outDim: number, dtype: 'F32' | 'BF16' = 'BF16') => [
  t(`${module}.lora_A.weight`, [r, inDim], dtype),
  t(`${module}.lora_B.weight`, [outDim, r], dtype),
];

const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 16,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  intermediate_size: 32,
};
const MIXTRAL = { ...LLAMA, architectures: ['MixtralForCausalLM'], num_local_experts: 2 };

function context(baseConfig: object, adapterConfig: object = {}, options: InspectOptions = {}): PlanContext {
  const base = parseBaseConfig(JSON.stringify(baseConfig));
  const family = familyFor(base);
  return {
    config: parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, ...adapterConfig })),
    base,
    family,
    options,
    tied: false,
    hidden: 16,
  };
}

describe('stage 1: classifyAndPair', () => {
  it('pairs factors by module in sorted order, skips base-layer copies, sets norms aside and refuses DoRA by kind', () => {
    const ctx = context(LLAMA);
    const tensors = [
      ...pair('model.layers.1.self_attn.v_proj', 4, 16, 8),
      ...pair('model.layers.0.self_attn.q_proj', 4, 16, 16),
      t('model.layers.0.self_attn.q_proj.base_layer.weight', [16, 16]),
      t('model.layers.0.input_layernorm.weight', [16], 'F32'),
      t('model.layers.0.self_attn.q_proj.lora_magnitude_vector', [16]),
    ];
    const out = classifyAndPair(tensors, ctx.family, ctx.config, {});
    expect(out.pairs.map((p) => [p.module, !!p.a, !!p.b])).toEqual([
      ['model.layers.0.self_attn.q_proj', true, true],
      ['model.layers.1.self_attn.v_proj', true, true],
    ]);
    expect(out.skipped.map((s) => s.tensor)).toEqual([`${P}model.layers.0.self_attn.q_proj.base_layer.weight`]);
    expect(out.norms.map((n) => [n.gguf, n.addOne])).toEqual([['blk.0.attn_norm.weight', false]]);
    expect(out.refusals.map((r) => r.code)).toEqual(['dora']);
  });

  it('leaves vision-tower tensors out with textOnly, and lists them', () => {
    const ctx = context(LLAMA);
    const tensors = [...pair('model.layers.0.self_attn.q_proj', 4, 16, 16), ...pair('vision_tower.blocks.0.attn.qkv', 4, 8, 24)];
    const out = classifyAndPair(tensors, ctx.family, ctx.config, { textOnly: true });
    expect(out.pairs.map((p) => p.module)).toEqual(['model.layers.0.self_attn.q_proj']);
    expect(out.leftOut).toHaveLength(2);
  });
});

describe('stage 2: mapPairs', () => {
  it("maps q_proj with the rotary permutation of B's rows and folds PEFT's scaling into B", () => {
    const ctx = context(LLAMA, { use_rslora: true });
    const { pairs } = classifyAndPair(pair('model.layers.0.self_attn.q_proj', 4, 16, 16), ctx.family, ctx.config, {});
    const out = mapPairs(pairs, ctx, []);
    expect(out.refusals).toEqual([]);
    expect(out.outputs.map((o) => [o.name, o.ne])).toEqual([
      ['blk.0.attn_q.weight.lora_a', [16, 4]],
      ['blk.0.attn_q.weight.lora_b', [4, 16]],
    ]);
    const bOps = out.outputs[1]!.parts[0]!.ops;
    expect(bOps[0]).toEqual({ op: 'rowAxes', dims: [4, 2, -1], perm: [0, 2, 1] });
    // rsLoRA with r = 4, alpha = 8: PEFT scales by alpha / sqrt(r) = 4, llama.cpp by alpha / r = 2,
    // so lora_b carries the factor 2.
    expect(bOps.find((o) => o.op === 'scale')).toEqual({ op: 'scale', factor: 2 });
    expect(out.modules[0]!.module).toBe('model.layers.0.self_attn.q_proj');
  });

  it('refuses lm_head LoRA on a tied base, or leaves it out with a warning when asked', () => {
    const tensors = pair('lm_head', 4, 16, 64);
    for (const drop of [false, true]) {
      const ctx = { ...context({ ...LLAMA, vocab_size: 64 }, {}, { dropUnapplied: drop }), tied: true };
      const out = mapPairs(classifyAndPair(tensors, ctx.family, ctx.config, {}).pairs, ctx, []);
      expect(out.outputs).toEqual([]);
      if (drop) {
        expect(out.warnings.map((w) => w.code)).toEqual(['dropped']);
        expect(out.skipped).toHaveLength(2);
      } else {
        expect(out.refusals.map((r) => r.code)).toEqual(['tied_head']);
      }
    }
  });

  it("refuses factors that fit neither side of the base's hidden size, and groups experts for stage 3", () => {
    const ctx = context(LLAMA);
    const wrong = mapPairs(classifyAndPair(pair('model.layers.0.mlp.down_proj', 4, 32, 12), ctx.family, ctx.config, {}).pairs, ctx, []);
    expect(wrong.refusals.map((r) => r.code)).toEqual(['shape_mismatch']);
    const mctx = context(MIXTRAL);
    const experts = [...pair('model.layers.0.block_sparse_moe.experts.0.w1', 4, 16, 32), ...pair('model.layers.0.block_sparse_moe.experts.1.w1', 4, 16, 32)];
    const grouped = mapPairs(classifyAndPair(experts, mctx.family, mctx.config, {}).pairs, mctx, []);
    expect(grouped.outputs).toEqual([]);
    expect([...grouped.expertGroups.keys()]).toEqual(['blk.0.ffn_gate_exps']);
    expect(grouped.expertGroups.get('blk.0.ffn_gate_exps')!.members.size).toBe(2);
  });
});

describe('stage 3: stackExperts', () => {
  const mctx = context(MIXTRAL);
  const groupsOf = (n: number) =>
    mapPairs(
      classifyAndPair(
        Array.from({ length: n }, (_, x) => pair(`model.layers.0.block_sparse_moe.experts.${x}.w1`, 4, 16, 32)).flat(),
        mctx.family,
        mctx.config,
        {},
      ).pairs,
      mctx,
      [],
    ).expertGroups;

  it('stacks every expert of a layer into one 3-D pair', () => {
    const out = stackExperts(groupsOf(2), mctx);
    expect(out.refusals).toEqual([]);
    expect(out.outputs.map((o) => [o.name, o.ne, o.parts.length])).toEqual([
      ['blk.0.ffn_gate_exps.weight.lora_a', [16, 4, 2], 2],
      ['blk.0.ffn_gate_exps.weight.lora_b', [4, 32, 2], 2],
    ]);
    expect(out.modules[0]!.module).toBe('model.layers.0.block_sparse_moe.experts.{xid}.w1');
  });

  it('refuses a layer whose LoRA misses an expert, naming it', () => {
    const out = stackExperts(groupsOf(1), mctx);
    expect(out.outputs).toEqual([]);
    expect(out.refusals.map((r) => [r.code, r.details['missingExperts']])).toEqual([['partial_experts', [1]]]);
  });
});

describe('stage 4: planNorms', () => {
  const ctx = context(LLAMA);
  const { norms } = classifyAndPair([t('model.layers.0.input_layernorm.weight', [16], 'F32')], ctx.family, ctx.config, {});
  it('refuses by default, keeps with keepNormVectors, leaves out with dropUnapplied', () => {
    expect(planNorms(norms, {}).refusals.map((r) => r.code)).toEqual(['not_applied_by_runtime']);
    const kept = planNorms(norms, { keepNormVectors: true });
    expect(kept.outputs.map((o) => [o.name, o.role])).toEqual([['blk.0.attn_norm.weight', 'norm']]);
    expect(kept.warnings.map((w) => w.code)).toEqual(['norms_not_applied']);
    const left = planNorms(norms, { dropUnapplied: true });
    expect(left.outputs).toEqual([]);
    expect(left.skipped.map((s) => s.tensor)).toEqual([`${P}model.layers.0.input_layernorm.weight`]);
    expect(planNorms([], {})).toEqual({ warnings: [], refusals: [], skipped: [], outputs: [] });
  });
});

describe('stage 5: layout', () => {
  const ctx = context(LLAMA);
  const bf16 = classifyAndPair(
    [...pair('model.layers.0.self_attn.v_proj', 4, 16, 8, 'F32'), ...pair('model.layers.0.self_attn.q_proj', 4, 16, 16)],
    ctx.family,
    ctx.config,
    {},
  );

  it('resolves auto from the first 16-bit pair, as the reference does', () => {
    expect(chooseOuttype('auto', bf16.pairs).outtype).toBe('bf16');
    expect(chooseOuttype('auto', []).outtype).toBe('f16');
    expect(chooseOuttype('q8_0', bf16.pairs)).toEqual({ outtype: 'q8_0', reason: 'q8_0' });
  });

  it('checks every transform against its source and refuses a module that does not fit', () => {
    const mapped = mapPairs(bf16.pairs, ctx, []);
    const sources = Object.fromEntries([...bf16.pairs.flatMap((p) => [p.a!, p.b!])].map(({ name, ...loc }) => [name, loc]));
    expect(checkTransforms(mapped.outputs, sources).refusals).toEqual([]);
    // A q_proj whose B rows cannot be viewed as [heads, 2, -1] for this config.
    const broken = mapped.outputs.map((o) =>
      o.name.includes('attn_q') && o.role === 'lora_b' ? { ...o, parts: [{ ...o.parts[0]!, ops: [{ op: 'rows' as const, start: 0, count: 99 }] }] } : o,
    );
    const checked = checkTransforms(broken, sources);
    expect(checked.refusals.map((r) => r.code)).toEqual(['shape_mismatch']);
    expect(checked.outputs.map((o) => o.name)).toEqual(['blk.0.attn_v.weight.lora_a', 'blk.0.attn_v.weight.lora_b']);
  });

  it('lays tensors out at 32-byte aligned offsets with the outtype per tensor, and refuses an aLoRA without token ids', () => {
    const mapped = mapPairs(bf16.pairs, ctx, []);
    const { kvs } = adapterKvs(ctx.config, 'x', 'llama');
    const laid = layOut(mapped.outputs, kvs, 'q8_0');
    for (const o of laid.tensors) expect(o.offset % 32).toBe(0);
    // q8_0 needs rows (ne[0]) that are multiples of 32: lora_b has ne[0] = r = 4, so F16.
    expect(laid.tensors.map((o) => o.type)).toEqual(['F16', 'F16', 'F16', 'F16']);
    expect(laid.headerBytes % 32).toBe(0);
    const alora = parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, invocation_string: '<think>' }));
    expect(adapterKvs(alora, 'x', 'llama').refusals.map((r) => r.code)).toEqual(['unsupported_adapter']);
  });
});
