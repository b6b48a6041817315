import { describe, expect, it } from 'vitest';
import { buildSafetensors, type BuildTensor } from '../../../test/helpers/safetensors-build';
import { materialize } from '../convert';
import { ConversionError } from '../errors';
import { bytesSource } from '../io';
import { inspect, type ConversionPlan } from '../plan';
import { parseAdapterConfig, type AdapterConfig } from './config';
import { matchPatternKey, patternKeyRegex, peftScaling } from './scaling';

const Q = 'model.layers.0.self_attn.q_proj';
const V = 'model.layers.0.self_attn.v_proj';
const O = 'model.layers.0.self_attn.o_proj';

function cfg(extra: Record<string, unknown>): AdapterConfig {
  return parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, ...extra }));
}

describe('matchPatternKey follows PEFT get_pattern_key: re.match(rf"(.*\\.)?({key})$", name)', () => {
  it('matches a key that is a dot-separated suffix of the module name', () => {
    expect(matchPatternKey(['q_proj'], Q)).toBe('q_proj');
    expect(matchPatternKey(['self_attn.q_proj'], Q)).toBe('self_attn.q_proj');
  });

  it('matches a key equal to the whole module name', () => {
    expect(matchPatternKey([Q], Q)).toBe(Q);
  });

  it('does not match inside a name component', () => {
    expect(matchPatternKey(['q_proj'], 'model.layers.0.self_attn.xq_proj')).toBeNull();
    expect(matchPatternKey(['proj'], Q)).toBeNull();
    expect(matchPatternKey(['self_attn'], Q)).toBeNull();
  });

  it('tells layer 1 from layer 11', () => {
    expect(matchPatternKey(['layers.1.self_attn.q_proj'], 'model.layers.11.self_attn.q_proj')).toBeNull();
    expect(matchPatternKey(['layers.1.self_attn.q_proj'], 'model.layers.1.self_attn.q_proj')).toBe('layers.1.self_attn.q_proj');
  });

  it('when two keys match, the first in config order wins (not the more specific one)', () => {
    const specificLast = cfg({ rank_pattern: { q_proj: 4, 'model.layers.0.self_attn.q_proj': 16 } });
    expect(matchPatternKey(Object.keys(specificLast.rankPattern), Q)).toBe('q_proj');
    const specificFirst = cfg({ rank_pattern: { 'model.layers.0.self_attn.q_proj': 16, q_proj: 4 } });
    expect(matchPatternKey(Object.keys(specificFirst.rankPattern), Q)).toBe('model.layers.0.self_attn.q_proj');
    // ...and the other layers fall through to the generic key.
    expect(matchPatternKey(Object.keys(specificFirst.rankPattern), 'model.layers.3.self_attn.q_proj')).toBe('q_proj');
  });

  it('treats keys as regular expressions: alternation, wildcards, and "." matching any character', () => {
    expect(matchPatternKey(['q_proj|v_proj'], V)).toBe('q_proj|v_proj');
    expect(matchPatternKey(['layers\\.[0-2]\\.self_attn\\.q_proj'], 'model.layers.2.self_attn.q_proj')).not.toBeNull();
    expect(matchPatternKey(['layers\\.[0-2]\\.self_attn\\.q_proj'], 'model.layers.3.self_attn.q_proj')).toBeNull();
    expect(matchPatternKey(['experts.*.w1'], 'model.layers.0.block_sparse_moe.experts.5.w1')).toBe('experts.*.w1');
    // An unescaped "." matches any character, as in Python.
    expect(matchPatternKey(['layers.0.self_attn.q_proj'], 'model.layersX0.self_attn.q_proj')).toBe('layers.0.self_attn.q_proj');
  });

  it('a "^" anchor only matches at the start of the whole name, as in Python', () => {
    expect(matchPatternKey(['^model.layers.0'], Q)).toBeNull();
    expect(matchPatternKey(['^model.layers.0.self_attn.q_proj'], Q)).toBe('^model.layers.0.self_attn.q_proj');
  });

  it('returns null when nothing matches (PEFT then uses r / lora_alpha)', () => {
    expect(matchPatternKey([], Q)).toBeNull();
    expect(matchPatternKey(['k_proj', 'v_proj'], Q)).toBeNull();
  });

  it('keeps the config order of integer-like keys, which a JS object would move first', () => {
    const c = parseAdapterConfig('{"r": 8, "rank_pattern": {"to_out.0": 4, "0": 2}}');
    expect(Object.keys(c.rankPattern)).toEqual(['0', 'to_out.0']);
    expect(c.rankPatternKeys).toEqual(['to_out.0', '0']);
    expect(peftScaling(c, 'blocks.1.attn.to_out.0', 4).rankPatternKey).toBe('to_out.0');
  });

  it('reads the key order from the text even around nested objects, escapes and duplicate keys', () => {
    const text = String.raw`{"x": {"alpha_pattern": {"z": 1}}, "note": "a \" } {", "alpha_pattern": {"b\u0041": 1, "7": 3, "bA": 5}, "r": 4}`;
    const c = parseAdapterConfig(text);
    expect(c.alphaPatternKeys).toEqual(['bA', '7']);
    expect(c.alphaPattern).toEqual({ bA: 5, '7': 3 });
    expect(c.rankPatternKeys).toEqual([]);
  });

  it('translates Python named groups', () => {
    expect(patternKeyRegex('(?P<p>q|v)_proj').test(Q)).toBe(true);
  });

  it('refuses a key that cannot be compiled, naming the field', () => {
    let err: unknown;
    try {
      cfg({ alpha_pattern: { 'q_proj(': 4 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).code).toBe('invalid_config');
    expect((err as ConversionError).details.field).toBe('adapter_config.json: alpha_pattern');
    expect((err as ConversionError).message).toContain('q_proj(');
  });
});

describe('peftScaling', () => {
  it('plain LoRA: nothing to fold', () => {
    const s = peftScaling(cfg({}), Q, 8);
    expect(s).toMatchObject({ rank: 8, alpha: 16, peftScale: 2, runtimeScale: 2, fold: 1 });
  });

  it('rsLoRA r=64: alpha / sqrt(r), folded as sqrt(r)', () => {
    const s = peftScaling(cfg({ r: 64, use_rslora: true }), Q, 64);
    expect(s.peftScale).toBe(2); // 16 / 8
    expect(s.runtimeScale).toBe(0.25); // 16 / 64
    expect(s.fold).toBe(8);
  });

  it('alpha_pattern gives a module its own alpha', () => {
    const c = cfg({ alpha_pattern: { v_proj: 48 } });
    expect(peftScaling(c, V, 8)).toMatchObject({ alpha: 48, peftScale: 6, runtimeScale: 2, fold: 3, alphaPatternKey: 'v_proj' });
    expect(peftScaling(c, Q, 8)).toMatchObject({ alpha: 16, fold: 1, alphaPatternKey: null });
  });

  it('rank_pattern: the module rank changes the scale llama.cpp computes from the tensor too', () => {
    const c = cfg({ rank_pattern: { q_proj: 4 } });
    expect(peftScaling(c, Q, 4)).toMatchObject({ rank: 4, peftScale: 4, runtimeScale: 4, fold: 1, rankPatternKey: 'q_proj' });
    // With rsLoRA the ratio no longer cancels: 16/2 vs 16/4.
    const rs = cfg({ use_rslora: true, rank_pattern: { q_proj: 4 } });
    expect(peftScaling(rs, Q, 4)).toMatchObject({ peftScale: 8, runtimeScale: 4, fold: 2 });
  });

  it('lora_alpha 0: llama.cpp reads alpha 0 as scale 1, so the PEFT scale is folded whole', () => {
    const c = cfg({ lora_alpha: 0, alpha_pattern: { v_proj: 8 }, r: 4 });
    expect(peftScaling(c, Q, 4)).toMatchObject({ peftScale: 0, runtimeScale: 1, fold: 0 });
    expect(peftScaling(c, V, 4)).toMatchObject({ peftScale: 2, runtimeScale: 1, fold: 2 });
  });

  it('warns when the tensors disagree with the rank the config implies', () => {
    const s = peftScaling(cfg({ rank_pattern: { q_proj: 4 } }), Q, 8);
    expect(s.rankMismatch?.message).toContain(Q);
    expect(s.rankMismatch?.message).toContain('rank_pattern "q_proj"');
  });
});

// ---- End to end: the fold lands in lora_b of the written plan. ----

const BASE = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  tie_word_embeddings: false,
});

function pair(module: string, r: number, seed: number): BuildTensor[] {
  const a = Array.from({ length: r * 8 }, (_, i) => ((i * 7 + seed) % 13) / 8 - 0.75);
  const b = Array.from({ length: 8 * r }, (_, i) => ((i * 5 + seed) % 11) / 16 - 0.3);
  return [
    { name: `base_model.model.${module}.lora_A.weight`, dtype: 'F32', shape: [r, 8], data: a },
    { name: `base_model.model.${module}.lora_B.weight`, dtype: 'F32', shape: [8, r], data: b },
  ];
}

async function planOf(config: Record<string, unknown>, tensors: BuildTensor[]): Promise<{ plan: ConversionPlan; bytes: Uint8Array }> {
  const bytes = buildSafetensors(tensors);
  const plan = await inspect({ adapterConfig: JSON.stringify({ peft_type: 'LORA', ...config }), baseConfig: BASE, adapter: bytesSource(bytes) });
  return { plan, bytes };
}

async function loraB(plan: ConversionPlan, bytes: Uint8Array, gguf: string): Promise<Float32Array> {
  const t = plan.tensors.find((x) => x.name === `${gguf}.weight.lora_b`)!;
  const [m] = await materialize(plan, t, bytesSource(bytes));
  return new Float32Array(m!.bits.buffer);
}

function f32(values: number[]): Float32Array {
  return Float32Array.from(values);
}

describe('the plan folds PEFT scaling into lora_b', () => {
  it('rsLoRA r=64: every lora_b is multiplied by sqrt(64) = 8 and adapter.lora.alpha stays lora_alpha', async () => {
    const tensors = pair(O, 64, 1);
    const { plan, bytes } = await planOf({ r: 64, lora_alpha: 16, use_rslora: true }, tensors);
    expect(plan.refusals).toEqual([]);
    expect(plan.kvs.find((k) => k.key === 'adapter.lora.alpha')?.value).toBe(16);
    expect(plan.modules.find((m) => m.module === O)).toMatchObject({ peftScale: 2, runtimeScale: 0.25, fold: 8 });
    const expected = f32((tensors[1]!.data as number[]).map((x) => Math.fround(x) * 8));
    // B is [8, 64] in PEFT; GGUF lora_b has ne [64, 8], i.e. the same row-major bytes.
    expect(await loraB(plan, bytes, 'blk.0.attn_output')).toEqual(expected);
  });

  it('alpha_pattern and rank_pattern: each module gets its own fold; the others are untouched', async () => {
    const tensors = [...pair(O, 8, 2), ...pair(V, 4, 3)];
    const { plan, bytes } = await planOf({ r: 8, lora_alpha: 16, rank_pattern: { v_proj: 4 }, alpha_pattern: { 'layers.0.self_attn.v_proj': 24 } }, tensors);
    expect(plan.refusals).toEqual([]);
    const v = plan.modules.find((m) => m.module === V)!;
    expect(v).toMatchObject({
      rank: 4,
      alpha: 24,
      peftScale: 6,
      runtimeScale: 4,
      fold: 1.5,
      rankPatternKey: 'v_proj',
      alphaPatternKey: 'layers.0.self_attn.v_proj',
    });
    expect(plan.modules.find((m) => m.module === O)).toMatchObject({ fold: 1, rankPatternKey: null, alphaPatternKey: null });
    expect(await loraB(plan, bytes, 'blk.0.attn_v')).toEqual(f32((tensors[3]!.data as number[]).map((x) => Math.fround(x) * 1.5)));
    expect(await loraB(plan, bytes, 'blk.0.attn_output')).toEqual(f32(tensors[1]!.data as number[]));
    expect(plan.warnings.filter((w) => w.code === 'rank_mismatch')).toEqual([]);
  });

  it('lora_alpha 0 warns and zeroes the modules PEFT scales by 0', async () => {
    const tensors = pair(O, 4, 4);
    const { plan, bytes } = await planOf({ r: 4, lora_alpha: 0 }, tensors);
    expect(plan.warnings.map((w) => w.code)).toContain('zero_alpha');
    const b = await loraB(plan, bytes, 'blk.0.attn_output');
    expect(Array.from(b).every((x) => x === 0)).toBe(true);
  });
});
