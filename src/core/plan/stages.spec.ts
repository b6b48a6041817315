/**
 * Each planning stage on its own, from typed input to typed output, and what planFrom adds: the
 * findings in stage order (the whole pipeline is proven against llama.cpp's converter in
 * test/unit/reference.spec.ts and in the runtime suite).
 */
import { describe, expect, it } from 'vitest';
import { familyFor } from '../arch/registry';
import { alignUp } from '../gguf/writer';
import { parseAdapterConfig, parseBaseConfig } from '../peft/config';
import { stackExperts } from './experts';
import { planFrom } from './index';
import { adapterKvs, checkTransforms, chooseOuttype, layOut, planHeader, sizesByOuttype } from './layout';
import { mapPairs, type PlanContext } from './map';
import { planNorms } from './norms';
import { classifyAndPair } from './pair';
import type { AdapterTensor, InspectOptions, Pair } from './types';

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
const BAICHUAN = { architectures: ['BaichuanForCausalLM'], hidden_size: 16, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 32 };
const DEEPSEEK = { ...LLAMA, architectures: ['DeepseekV2ForCausalLM'], n_routed_experts: 2 };
const GEMMA = { ...LLAMA, architectures: ['GemmaForCausalLM'] };

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

  it('refuses each kind of tensor that is not a LoRA factor once, naming all of its tensors', () => {
    const ctx = context(LLAMA);
    const tensors = [
      t('vision_tower.blocks.0.norm1.weight', [8]),
      t('model.layers.0.self_attn.rotary_emb.inv_freq', [8], 'F32'),
      t('model.layers.0.self_attn.q_proj.lora_B.bias', [16]),
      t('model.layers.0.mlp.up_proj.lora_A.weight', [4, 16]),
      t('model.layers.0.mlp.up_proj.lora_embedding_B', [32, 4]),
      t('model.embed_tokens.weight', [64, 16]),
      t('lm_head.modules_to_save.default.weight', [64, 16]),
    ];
    const out = classifyAndPair(tensors, ctx.family, ctx.config, {});
    // In byte-wise order of the names: the kind first met first.
    expect(out.refusals.map((r) => [r.code, r.details['tensors']])).toEqual([
      ['full_tensor', [`${P}lm_head.modules_to_save.default.weight`, `${P}model.embed_tokens.weight`]],
      ['unknown_tensor', [`${P}model.layers.0.mlp.up_proj.lora_embedding_B`, `${P}model.layers.0.self_attn.rotary_emb.inv_freq`]],
      ['lora_bias', [`${P}model.layers.0.self_attn.q_proj.lora_B.bias`]],
      ['non_text_module', [`${P}vision_tower.blocks.0.norm1.weight`]],
    ]);
    expect(out.refusals[0]!.message).toContain('(2 tensors: ');
    // The linear lora_A still forms a pair; the embedding-style B does not join it.
    expect(out.pairs.map((p) => [p.module, p.kind, !!p.a, !!p.b])).toEqual([['model.layers.0.mlp.up_proj', 'linear', true, false]]);
  });

  it('refuses DoRA from the config alone when the file has no magnitude vectors', () => {
    const ctx = context(LLAMA, { use_dora: true });
    const out = classifyAndPair(pair('model.layers.0.self_attn.q_proj', 4, 16, 16), ctx.family, ctx.config, {});
    expect(out.refusals.map((r) => [r.code, r.details['field'], r.details['tensors']])).toEqual([['dora', 'adapter_config.json: use_dora', []]]);
  });

  it('numbers pairs in byte-wise order of their names, as the reference scans them', () => {
    const ctx = context(LLAMA);
    const out = classifyAndPair(
      [...pair('model.layers.2.self_attn.q_proj', 4, 16, 16), ...pair('model.layers.10.self_attn.q_proj', 4, 16, 16)],
      ctx.family,
      ctx.config,
      {},
    );
    expect(out.pairs.map((p) => [p.module, p.firstSeen])).toEqual([
      ['model.layers.10.self_attn.q_proj', 0],
      ['model.layers.2.self_attn.q_proj', 1],
    ]);
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

  it('refuses a pair with a factor missing, or factors that are not matrices of one rank', () => {
    const ctx = context(LLAMA);
    const refusalsOf = (tensors: AdapterTensor[]) => mapPairs(classifyAndPair(tensors, ctx.family, ctx.config, {}).pairs, ctx, []).refusals;
    const onlyA = t('model.layers.0.self_attn.q_proj.lora_A.weight', [4, 16]);
    expect(refusalsOf([onlyA]).map((r) => [r.code, r.details['missing'], r.details['tensors']])).toEqual([['unpaired_factor', 'lora_B', [onlyA.name]]]);
    const ranks = refusalsOf([t('model.layers.0.self_attn.q_proj.lora_A.weight', [4, 16]), t('model.layers.0.self_attn.q_proj.lora_B.weight', [16, 8])]);
    expect(ranks.map((r) => r.code)).toEqual(['shape_mismatch']);
    expect(ranks[0]!.message).toContain('ranks');
    const conv = refusalsOf([t('model.layers.0.self_attn.q_proj.lora_A.weight', [4, 16, 3]), t('model.layers.0.self_attn.q_proj.lora_B.weight', [16, 4])]);
    expect(conv[0]!.message).toContain('must be matrices');
  });

  it('maps token-embedding LoRA with lora_embedding_A transposed into token_embd', () => {
    const ctx = context(LLAMA);
    const tensors = [t('model.embed_tokens.lora_embedding_A', [4, 64]), t('model.embed_tokens.lora_embedding_B', [16, 4])];
    const out = mapPairs(classifyAndPair(tensors, ctx.family, ctx.config, {}).pairs, ctx, []);
    expect(out.refusals).toEqual([]);
    expect(out.outputs.map((o) => [o.name, o.ne, o.parts[0]!.ops])).toEqual([
      ['token_embd.weight.lora_a', [4, 64], [{ op: 'transpose' }]],
      ['token_embd.weight.lora_b', [4, 16], []],
    ]);
    expect(out.modules.map((m) => [m.module, m.kind, m.gguf])).toEqual([['model.embed_tokens', 'embedding', ['token_embd.weight']]]);
  });

  it('refuses modules the architecture lacks and modules outside the language model, one refusal each; warns for what textOnly left out', () => {
    const ctx = context(LLAMA);
    const tensors = [...pair('model.layers.0.self_attn.rotary_emb', 4, 16, 16), ...pair('vision_tower.blocks.0.attn.qkv', 4, 8, 24)];
    const out = mapPairs(classifyAndPair(tensors, ctx.family, ctx.config, {}).pairs, ctx, ['x.vision_tower.a', 'x.vision_tower.b']);
    expect(out.refusals.map((r) => [r.code, (r.details['tensors'] as string[]).length])).toEqual([
      ['unknown_tensor', 2],
      ['non_text_module', 2],
    ]);
    expect(out.refusals[0]!.details['architecture']).toBe('LlamaForCausalLM');
    expect(out.warnings.map((w) => [w.code, w.tensors])).toEqual([['non_text_dropped', ['x.vision_tower.a', 'x.vision_tower.b']]]);
  });

  it("splits a fused projection by the rule's rows (Baichuan W_pack into q, k, v; q and k permuted)", () => {
    const ctx = context(BAICHUAN);
    const out = mapPairs(classifyAndPair(pair('model.layers.0.self_attn.W_pack', 4, 16, 48), ctx.family, ctx.config, {}).pairs, ctx, []);
    expect(out.refusals).toEqual([]);
    const regroup = { op: 'rowBlocks', blockRows: 16, order: [0, 1, 2] };
    const permute = { op: 'rowAxes', dims: [4, 2, -1], perm: [0, 2, 1] };
    expect(out.outputs.filter((o) => o.role === 'lora_b').map((o) => [o.name, o.ne, o.parts[0]!.ops])).toEqual([
      ['blk.0.attn_q.weight.lora_b', [4, 16], [regroup, { op: 'rows', start: 0, count: 16 }, permute]],
      ['blk.0.attn_k.weight.lora_b', [4, 16], [regroup, { op: 'rows', start: 16, count: 16 }, permute]],
      ['blk.0.attn_v.weight.lora_b', [4, 16], [regroup, { op: 'rows', start: 32, count: 16 }]],
    ]);
    // lora_a is the same A for all three parts.
    expect(new Set(out.outputs.filter((o) => o.role === 'lora_a').map((o) => o.parts[0]!.source)).size).toBe(1);
    expect(out.modules[0]!.gguf).toEqual(['blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight']);
    const short = mapPairs(classifyAndPair(pair('model.layers.1.self_attn.W_pack', 4, 16, 40), ctx.family, ctx.config, {}).pairs, ctx, []);
    expect(short.refusals.map((r) => r.code)).toEqual(['shape_mismatch']);
  });

  it('refuses a module llama.cpp loads but never applies (DeepSeek MLA), or leaves it out when asked', () => {
    const tensors = pair('model.layers.0.self_attn.q_proj', 4, 16, 16);
    const refused = context(DEEPSEEK);
    const out = mapPairs(classifyAndPair(tensors, refused.family, refused.config, {}).pairs, refused, []);
    expect(out.outputs).toEqual([]);
    expect(out.refusals.map((r) => [r.code, r.details['module']])).toEqual([['not_applied_by_runtime', 'model.layers.0.self_attn.q_proj']]);
    const dropping = context(DEEPSEEK, {}, { dropUnapplied: true });
    const dropped = mapPairs(classifyAndPair(tensors, dropping.family, dropping.config, {}).pairs, dropping, []);
    expect([dropped.refusals, dropped.warnings.map((w) => w.code), dropped.skipped.length]).toEqual([[], ['dropped'], 2]);
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

  it('refuses an expert index beyond the base config and experts of different ranks', () => {
    const extra = stackExperts(groupsOf(3), mctx);
    expect(extra.refusals.map((r) => [r.code, r.details['missingExperts']])).toEqual([['partial_experts', []]]);
    expect(extra.refusals[0]!.message).toContain('expert index 2 is beyond the 2 experts');
    const uneven = [...pair('model.layers.0.block_sparse_moe.experts.0.w1', 4, 16, 32), ...pair('model.layers.0.block_sparse_moe.experts.1.w1', 8, 16, 32)];
    const out = stackExperts(mapPairs(classifyAndPair(uneven, mctx.family, mctx.config, {}).pairs, mctx, []).expertGroups, mctx);
    expect(out.outputs).toEqual([]);
    expect(out.refusals.map((r) => [r.code, r.details['tensors']])).toEqual([['shape_mismatch', uneven.slice(2).map((x) => x.name)]]);
  });

  it("folds each expert's own PEFT scaling into its slice of lora_b, with a warning", () => {
    // alpha 8, r 4: llama.cpp scales by 2; expert 1's alpha_pattern 16 makes PEFT scale it by 4.
    const ctx = context(MIXTRAL, { alpha_pattern: { 'experts.1.w1': 16 } });
    const experts = [...pair('model.layers.0.block_sparse_moe.experts.0.w1', 4, 16, 32), ...pair('model.layers.0.block_sparse_moe.experts.1.w1', 4, 16, 32)];
    const out = stackExperts(mapPairs(classifyAndPair(experts, ctx.family, ctx.config, {}).pairs, ctx, []).expertGroups, ctx);
    expect(out.outputs[1]!.parts.map((p) => p.ops)).toEqual([[], [{ op: 'scale', factor: 2 }]]);
    expect(out.warnings.map((w) => w.code)).toEqual(['expert_scaling']);
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

  it("adds 1 to Gemma-style norms, as llama.cpp's converter does", () => {
    const gctx = context(GEMMA);
    const gemmaNorms = classifyAndPair([t('model.layers.0.input_layernorm.weight', [16], 'F32')], gctx.family, gctx.config, {}).norms;
    const kept = planNorms(gemmaNorms, { keepNormVectors: true });
    expect(kept.outputs.map((o) => [o.name, o.ne, o.parts[0]!.ops])).toEqual([['blk.0.attn_norm.weight', [16], [{ op: 'addOne' }]]]);
    expect(planNorms(norms, { keepNormVectors: true }).outputs[0]!.parts[0]!.ops).toEqual([]);
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

  it('resolves auto by order of first appearance, skipping F32 and mixed-dtype pairs', () => {
    const at = (module: string, a: 'F16' | 'BF16' | 'F32', b: 'F16' | 'BF16' | 'F32', firstSeen: number): Pair => ({
      module,
      kind: 'linear',
      a: t(`${module}.lora_A.weight`, [4, 16], a),
      b: t(`${module}.lora_B.weight`, [16, 4], b),
      firstSeen,
    });
    const pairs = [at('late', 'BF16', 'BF16', 3), at('f32', 'F32', 'F32', 0), at('mixed', 'BF16', 'F16', 1), at('first', 'F16', 'F16', 2)];
    expect(chooseOuttype('auto', pairs)).toEqual({ outtype: 'f16', reason: 'auto: the first 16-bit LoRA pair (first) is F16' });
  });

  it('keeps norms F32 in any outtype, and places each tensor at the aligned end of the one before', () => {
    const gctx = context(LLAMA);
    const norm = planNorms(classifyAndPair([t('model.layers.0.input_layernorm.weight', [16], 'F32')], gctx.family, gctx.config, {}).norms, {
      keepNormVectors: true,
    }).outputs;
    const { kvs } = adapterKvs(ctx.config, 'x', 'llama');
    const laid = layOut([...mapPairs(bf16.pairs, ctx, []).outputs, ...norm], kvs, 'bf16');
    expect(laid.tensors.map((o) => [o.type, o.byteSize])).toEqual([
      ['BF16', 128],
      ['BF16', 128],
      ['BF16', 128],
      ['BF16', 64],
      ['F32', 64],
    ]);
    let end = 0;
    for (const o of laid.tensors) {
      expect(o.offset).toBe(end);
      end = alignUp(o.offset + o.byteSize);
    }
    expect(laid.totalBytes).toBe(laid.headerBytes + end);
  });

  it('sizes the file in every outtype without touching the planned tensors', () => {
    const { kvs } = adapterKvs(ctx.config, 'x', 'llama');
    const laid = layOut(mapPairs(bf16.pairs, ctx, []).outputs, kvs, 'f32');
    const before = laid.tensors.map((o) => [o.type, o.byteSize, o.offset]);
    const sizes = sizesByOuttype(laid.tensors, kvs, 'f32', laid);
    expect(sizes.f32).toBe(laid.totalBytes);
    // The header's size is reused for the other outtypes: the same as laying each out in full.
    for (const o of ['f16', 'bf16', 'q8_0'] as const) expect(sizes[o]).toBe(layOut(laid.tensors.map((t) => ({ ...t })), kvs, o).totalBytes);
    // 224 elements: 4 bytes each in f32, 2 in f16 and bf16 (every size already 32-byte aligned);
    // q8_0 needs rows of 32, which these are not, so it falls back to f16's size.
    expect([sizes.f32 - sizes.f16, sizes.bf16, sizes.q8_0]).toEqual([448, sizes.f16, sizes.f16]);
    expect(laid.tensors.map((o) => [o.type, o.byteSize, o.offset])).toEqual(before);
    expect(before.map(([type]) => type)).toEqual(['F32', 'F32', 'F32', 'F32']);
  });

  it('writes the aLoRA invocation token ids as a UINT32 array before the quantization version', () => {
    const alora = parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, alora_invocation_tokens: [5, 6, 7] }));
    const { kvs, refusals } = adapterKvs(alora, 'name', 'qwen2');
    expect(refusals).toEqual([]);
    expect(kvs.map((k) => k.key)).toEqual([
      'general.architecture',
      'general.type',
      'adapter.type',
      'general.name',
      'adapter.lora.alpha',
      'adapter.alora.invocation_tokens',
      'general.quantization_version',
    ]);
    expect(kvs[5]).toEqual({ key: 'adapter.alora.invocation_tokens', type: 'ARRAY', itemType: 'UINT32', value: [5, 6, 7] });
  });
});

describe('the pipeline: planFrom', () => {
  const base = parseBaseConfig(JSON.stringify(MIXTRAL));

  it('lists what each stage found in stage order, after the warnings of the configs', () => {
    const config = parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, invocation_string: '<x>' }));
    const tensors = [
      ...pair('model.layers.0.self_attn.q_proj', 4, 16, 16),
      t('model.layers.0.self_attn.k_proj.lora_magnitude_vector', [8]), // stage 1: DoRA
      ...pair('model.layers.0.self_attn.rotary_emb', 4, 16, 16), // stage 2: no such module
      ...pair('model.layers.0.block_sparse_moe.experts.0.w1', 4, 16, 32), // stage 3: expert 1 missing
      t('model.layers.0.input_layernorm.weight', [16], 'F32'), // stage 4: a norm vector
    ];
    const plan = planFrom(config, base, tensors);
    expect(plan.warnings[0]!.code).toBe('default_alpha');
    expect(plan.refusals.map((r) => r.code)).toEqual(['dora', 'unknown_tensor', 'partial_experts', 'not_applied_by_runtime', 'unsupported_adapter']);
    expect(plan.tensors.map((x) => x.name)).toEqual(['blk.0.attn_q.weight.lora_a', 'blk.0.attn_q.weight.lora_b']);
  });

  it("lays out a header that planHeader serializes to the plan's own header size", () => {
    const config = parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8 }));
    const plan = planFrom(config, base, pair('model.layers.0.self_attn.v_proj', 4, 16, 8), { outtype: 'f16', name: 'n' });
    const header = planHeader(plan);
    expect(header.byteLength).toBe(plan.headerBytes);
    expect(new TextDecoder().decode(header.subarray(0, 4))).toBe('GGUF');
    // lora_a [16, 4] and lora_b [4, 8] in f16: 128 and 64 bytes, both already 32-byte aligned.
    expect(plan.totalBytes).toBe(plan.headerBytes + 128 + 64);
  });

  it('refuses an adapter that is not LoRA before any stage runs', () => {
    const ia3 = parseAdapterConfig(JSON.stringify({ peft_type: 'IA3', r: 4, lora_alpha: 8 }));
    expect(() => planFrom(ia3, base, [])).toThrow(expect.objectContaining({ code: 'unsupported_adapter' }));
  });
});
