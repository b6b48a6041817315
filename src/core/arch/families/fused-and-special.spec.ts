/**
 * Families with fused projections or special layouts (GPT-NeoX, Bloom, Falcon, GPT-2, MPT,
 * InternLM2, Baichuan, ChatGLM, DBRX, DeepSeek, Mamba) and mergekit norm vectors: names, dims and the exact row moves on
 * small synthetic adapters. Every lora_B value encodes its source row (row * 64 + column), so the
 * output says where each row came from; the expected source rows are computed here from the
 * published formulas (llama.cpp's converter), independently of the core's MatrixOps.
 */
import { describe, expect, it } from 'vitest';
import { buildSafetensors, type BuildTensor } from '../../../../test/helpers/safetensors-build';
import { readGguf } from '../../../../test/helpers/gguf-read';
import { bytesSource, convert, inspect, MemorySink, type ConversionPlan, type InspectOptions } from '../../index';

const R = 4;
const COLS = 64;
const PREFIX = 'base_model.model.';

interface Pair {
  module: string;
  in: number;
  out: number;
}

/** A (r, in) with values 0.5 + index; B (out, r) with B[row][c] = row * COLS + c. */
function pairTensors(p: Pair): BuildTensor[] {
  const a = Array.from({ length: R * p.in }, (_, i) => 0.5 + i);
  const b = Array.from({ length: p.out * R }, (_, i) => Math.floor(i / R) * COLS + (i % R));
  return [
    { name: `${PREFIX}${p.module}.lora_A.weight`, dtype: 'F32', shape: [R, p.in], data: a },
    { name: `${PREFIX}${p.module}.lora_B.weight`, dtype: 'F32', shape: [p.out, R], data: b },
  ];
}

const ADAPTER_CONFIG = JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: R, target_modules: ['x'] });

interface Out {
  plan: ConversionPlan;
  tensors: Map<string, { ne: number[]; values: Float32Array }>;
}

async function run(config: Record<string, unknown>, pairs: Pair[], options: InspectOptions = {}, extra: BuildTensor[] = []): Promise<Out> {
  const bytes = buildSafetensors([...pairs.flatMap(pairTensors), ...extra]);
  const source = bytesSource(bytes);
  const plan = await inspect({ adapterConfig: ADAPTER_CONFIG, baseConfig: JSON.stringify(config), adapter: source }, { outtype: 'f32', ...options });
  const tensors = new Map<string, { ne: number[]; values: Float32Array }>();
  if (plan.refusals.length === 0) {
    const sink = new MemorySink();
    await convert(plan, source, sink);
    const read = await readGguf(sink.bytes());
    for (const t of read.tensors) tensors.set(t.name, { ne: t.ne, values: new Float32Array(t.bytes.slice().buffer) });
    expect(read.metadata['general.architecture']).toBe(plan.ggufArchitecture);
  }
  return { plan, tensors };
}

/** The source row of each output row of a lora_b (values are row * COLS + column). */
function sourceRows(t: { ne: number[]; values: Float32Array }): number[] {
  const [r, rows] = t.ne as [number, number];
  expect(r).toBe(R);
  const out: number[] = [];
  for (let i = 0; i < rows; i++) {
    const src = t.values[i * R]! / COLS;
    for (let c = 0; c < R; c++) expect(t.values[i * R + c]).toBe(src * COLS + c);
    out.push(src);
  }
  return out;
}

function get(o: Out, name: string) {
  const t = o.tensors.get(name);
  expect(t, `${name} in ${[...o.tensors.keys()].join(', ')}`).toBeDefined();
  return t!;
}

/** lora_a must be A untouched: ne [in, r], values 0.5 + index. */
function expectUntouchedA(o: Out, name: string, inDim: number) {
  const t = get(o, name);
  expect(t.ne).toEqual([inDim, R]);
  expect([...t.values]).toEqual(Array.from({ length: R * inDim }, (_, i) => 0.5 + i));
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** Llama's rotary permutation, as llama.cpp documents it: row h*hd + 2j + t <- h*hd + t*hd/2 + j. */
function llamaPermuted(rows: number[], nHead: number): number[] {
  const hd = rows.length / nHead;
  const out: number[] = [];
  for (let h = 0; h < nHead; h++) for (let j = 0; j < hd / 2; j++) for (let t = 0; t < 2; t++) out.push(rows[h * hd + t * (hd / 2) + j]!);
  return out;
}

describe('GPT-NeoX and Bloom: per-head interleaved query_key_value', () => {
  // Row (head h, part t, d) of HF lives at h*3*hd + t*hd + d; llama.cpp wants part-major order.
  const expected = (nHead: number, hd: number) => {
    const out: number[] = [];
    for (let t = 0; t < 3; t++) for (let h = 0; h < nHead; h++) for (let d = 0; d < hd; d++) out.push(h * 3 * hd + t * hd + d);
    return out;
  };

  it('GPT-NeoX regroups lora_B rows to [q | k | v] and keeps lora_A', async () => {
    const cfg = { architectures: ['GPTNeoXForCausalLM'], hidden_size: 16, num_attention_heads: 4 };
    const o = await run(cfg, [
      { module: 'gpt_neox.layers.0.attention.query_key_value', in: 16, out: 48 },
      { module: 'gpt_neox.layers.1.attention.dense', in: 16, out: 16 },
      { module: 'gpt_neox.layers.1.mlp.dense_h_to_4h', in: 16, out: 64 },
      { module: 'gpt_neox.layers.1.mlp.dense_4h_to_h', in: 64, out: 16 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('gptneox');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(expected(4, 4));
    expectUntouchedA(o, 'blk.0.attn_qkv.weight.lora_a', 16);
    expect(sourceRows(get(o, 'blk.1.attn_output.weight.lora_b'))).toEqual(range(16));
    expect(get(o, 'blk.1.ffn_up.weight.lora_b').ne).toEqual([R, 64]);
    expect(get(o, 'blk.1.ffn_down.weight.lora_a').ne).toEqual([64, R]);
  });

  it('Bloom (n_head key, transformer. prefix or not) regroups the same way', async () => {
    const cfg = { architectures: ['BloomForCausalLM'], hidden_size: 24, n_head: 3, tie_word_embeddings: false };
    const o = await run(cfg, [
      { module: 'transformer.h.0.self_attention.query_key_value', in: 24, out: 72 },
      { module: 'h.1.self_attention.query_key_value', in: 24, out: 72 },
      { module: 'lm_head', in: 24, out: 10 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('bloom');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(expected(3, 8));
    expect(sourceRows(get(o, 'blk.1.attn_qkv.weight.lora_b'))).toEqual(expected(3, 8));
    expect(get(o, 'output.weight.lora_b').ne).toEqual([R, 10]);
  });

  it('Bloom ties the head by default (transformers default), so lm_head LoRA is refused', async () => {
    const o = await run({ architectures: ['BloomForCausalLM'], hidden_size: 24, n_head: 3 }, [{ module: 'lm_head', in: 24, out: 10 }]);
    expect(o.plan.refusals.map((r) => r.code)).toEqual(['tied_head']);
  });

  it('refuses a GPT-NeoX config without a head count, naming the field', async () => {
    await expect(
      run({ architectures: ['GPTNeoXForCausalLM'], hidden_size: 16 }, [{ module: 'gpt_neox.layers.0.attention.query_key_value', in: 16, out: 48 }]),
    ).rejects.toMatchObject({ code: 'missing_config_field' });
  });
});

describe('Falcon: kv-grouped query_key_value', () => {
  /** HF: [kv][q_per_kv + 2][hd]; llama.cpp: all q (group-major), all k, all v. */
  const expected = (nHead: number, nKv: number, hd: number) => {
    const qpk = nHead / nKv;
    const block = (g: number, i: number) => range(hd, (g * (qpk + 2) + i) * hd);
    const q = range(nKv).flatMap((g) => range(qpk).flatMap((i) => block(g, i)));
    const k = range(nKv).flatMap((g) => block(g, qpk));
    const v = range(nKv).flatMap((g) => block(g, qpk + 1));
    return [...q, ...k, ...v];
  };

  it('Falcon-40B style (num_kv_heads > 1) gathers q, k, v', async () => {
    const cfg = { architectures: ['FalconForCausalLM'], hidden_size: 32, num_attention_heads: 8, num_kv_heads: 2, new_decoder_architecture: true };
    // (8 + 2 * 2) heads of 4 rows.
    const o = await run(cfg, [{ module: 'transformer.h.0.self_attention.query_key_value', in: 32, out: 48 }]);
    expect(o.plan.ggufArchitecture).toBe('falcon');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(expected(8, 2, 4));
    expectUntouchedA(o, 'blk.0.attn_qkv.weight.lora_a', 32);
  });

  it('the old key n_head_kv works too', async () => {
    const cfg = { architectures: ['RWForCausalLM'], hidden_size: 32, n_head: 8, n_head_kv: 4 };
    const o = await run(cfg, [{ module: 'transformer.h.3.self_attention.query_key_value', in: 32, out: 64 }]);
    expect(sourceRows(get(o, 'blk.3.attn_qkv.weight.lora_b'))).toEqual(expected(8, 4, 4));
  });

  it('Falcon-7B style (multi-query, no kv-head key) keeps the rows as they are', async () => {
    const cfg = { architectures: ['FalconForCausalLM'], hidden_size: 32, num_attention_heads: 8, multi_query: true };
    const o = await run(cfg, [
      { module: 'transformer.h.0.self_attention.query_key_value', in: 32, out: 40 },
      { module: 'transformer.h.0.self_attention.dense', in: 32, out: 32 },
      { module: 'transformer.h.0.mlp.dense_h_to_4h', in: 32, out: 128 },
      { module: 'transformer.h.0.mlp.dense_4h_to_h', in: 128, out: 32 },
    ]);
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(range(40));
    expect([...o.tensors.keys()].sort()).toEqual(
      ['attn_output', 'attn_qkv', 'ffn_down', 'ffn_up'].flatMap((n) => [`blk.0.${n}.weight.lora_a`, `blk.0.${n}.weight.lora_b`]).sort(),
    );
  });

  it('refuses heads that do not split into the kv groups', async () => {
    const cfg = { architectures: ['FalconForCausalLM'], hidden_size: 32, num_attention_heads: 8, num_kv_heads: 3 };
    await expect(run(cfg, [{ module: 'transformer.h.0.self_attention.query_key_value', in: 32, out: 56 }])).rejects.toMatchObject({ code: 'invalid_config' });
  });

  it('a lora_B whose rows do not fit the config is an error, not a copy', async () => {
    const cfg = { architectures: ['FalconForCausalLM'], hidden_size: 32, num_attention_heads: 8 };
    // 3 * hidden rows: a per-head (non multi-query) layout that llama.cpp's falcon cannot hold.
    // Refused in the plan, before anything is written.
    const o = await run(cfg, [{ module: 'transformer.h.0.self_attention.query_key_value', in: 32, out: 96 }]);
    expect(o.plan.refusals.map((r) => r.code)).toEqual(['shape_mismatch']);
    expect(o.plan.refusals[0]!.message).toContain('transformer.h.0.self_attention.query_key_value');
  });
});

describe('GPT-2 and GPTBigCode: no transform at all', () => {
  it('GPT-2 Conv1D LoRA is written as PEFT stores it (A: r x in, B: out x r)', async () => {
    const cfg = { architectures: ['GPT2LMHeadModel'], n_embd: 16, n_head: 4 };
    const o = await run(cfg, [
      { module: 'transformer.h.0.attn.c_attn', in: 16, out: 48 },
      { module: 'transformer.h.0.attn.c_proj', in: 16, out: 16 },
      { module: 'transformer.h.0.mlp.c_fc', in: 16, out: 64 },
      { module: 'transformer.h.0.mlp.c_proj', in: 64, out: 16 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('gpt2');
    expectUntouchedA(o, 'blk.0.attn_qkv.weight.lora_a', 16);
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(range(48));
    expect(get(o, 'blk.0.attn_output.weight.lora_b').ne).toEqual([R, 16]);
    expectUntouchedA(o, 'blk.0.ffn_down.weight.lora_a', 64);
    expect(get(o, 'blk.0.ffn_up.weight.lora_b').ne).toEqual([R, 64]);
  });

  it('GPT-2 ties the head unless config.json says otherwise', async () => {
    const cfg = { architectures: ['GPT2LMHeadModel'], n_embd: 16, n_head: 4 };
    const o = await run(cfg, [{ module: 'lm_head', in: 16, out: 30 }]);
    expect(o.plan.refusals.map((r) => r.code)).toEqual(['tied_head']);
  });

  it('GPTBigCode maps to starcoder unchanged', async () => {
    const cfg = { architectures: ['GPTBigCodeForCausalLM'], n_embd: 16, n_head: 4, multi_query: true };
    const o = await run(cfg, [{ module: 'transformer.h.1.attn.c_attn', in: 16, out: 24 }]);
    expect(o.plan.ggufArchitecture).toBe('starcoder');
    expect(sourceRows(get(o, 'blk.1.attn_qkv.weight.lora_b'))).toEqual(range(24));
  });

  it('GPTBigCode without multi-query is refused (llama.cpp has one kv head for starcoder)', async () => {
    const cfg = { architectures: ['GPTBigCodeForCausalLM'], n_embd: 16, n_head: 4, multi_query: false };
    await expect(run(cfg, [{ module: 'transformer.h.1.attn.c_attn', in: 16, out: 48 }])).rejects.toMatchObject({
      code: 'unsupported_architecture',
      details: { field: 'config.json: multi_query' },
    });
  });
});

describe('MPT and ChatGLM: fused but already in order', () => {
  it('MPT', async () => {
    const o = await run({ architectures: ['MPTForCausalLM'], d_model: 16, n_heads: 4 }, [
      { module: 'transformer.blocks.0.attn.Wqkv', in: 16, out: 48 },
      { module: 'transformer.blocks.0.attn.out_proj', in: 16, out: 16 },
      { module: 'transformer.blocks.0.ffn.up_proj', in: 16, out: 64 },
      { module: 'transformer.blocks.0.ffn.down_proj', in: 64, out: 16 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('mpt');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(range(48));
    expect([...o.tensors.keys()].filter((n) => n.endsWith('lora_a')).sort()).toEqual([
      'blk.0.attn_output.weight.lora_a',
      'blk.0.attn_qkv.weight.lora_a',
      'blk.0.ffn_down.weight.lora_a',
      'blk.0.ffn_up.weight.lora_a',
    ]);
  });

  it('ChatGLM (transformer.encoder names, output_layer)', async () => {
    const o = await run({ architectures: ['ChatGLMModel'], hidden_size: 16, num_attention_heads: 4, multi_query_group_num: 2 }, [
      { module: 'transformer.encoder.layers.0.self_attention.query_key_value', in: 16, out: 32 },
      { module: 'transformer.encoder.layers.0.self_attention.dense', in: 16, out: 16 },
      { module: 'transformer.encoder.layers.0.mlp.dense_h_to_4h', in: 16, out: 64 },
      { module: 'transformer.encoder.layers.0.mlp.dense_4h_to_h', in: 32, out: 16 },
      { module: 'transformer.output_layer', in: 16, out: 50 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('chatglm');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(range(32));
    expect(get(o, 'blk.0.ffn_up.weight.lora_b').ne).toEqual([R, 64]);
    expect(get(o, 'blk.0.ffn_down.weight.lora_a').ne).toEqual([32, R]);
    expect(get(o, 'output.weight.lora_b').ne).toEqual([R, 50]);
  });
});

describe('InternLM2: wqkv split into attn_q / attn_k / attn_v', () => {
  it('gathers the kv groups, slices, and permutes q and k like Llama', async () => {
    // 4 heads, 2 kv heads, head_dim 4: rows [kv0: q0 q1 k v][kv1: q2 q3 k v] of 4 rows each.
    const cfg = { architectures: ['InternLM2ForCausalLM'], hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2 };
    const o = await run(cfg, [{ module: 'model.layers.0.attention.wqkv', in: 16, out: 32 }]);
    expect(o.plan.ggufArchitecture).toBe('internlm2');
    const hd = 4;
    const block = (i: number) => range(hd, i * hd);
    const q = [0, 1, 4, 5].flatMap(block);
    const k = [2, 6].flatMap(block);
    const v = [3, 7].flatMap(block);
    expect(sourceRows(get(o, 'blk.0.attn_q.weight.lora_b'))).toEqual(llamaPermuted(q, 4));
    expect(sourceRows(get(o, 'blk.0.attn_k.weight.lora_b'))).toEqual(llamaPermuted(k, 2));
    expect(sourceRows(get(o, 'blk.0.attn_v.weight.lora_b'))).toEqual(v);
    for (const p of ['q', 'k', 'v']) expectUntouchedA(o, `blk.0.attn_${p}.weight.lora_a`, 16);
    expect(o.plan.modules.find((m) => m.module.endsWith('wqkv'))!.gguf).toEqual(['blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight']);
  });

  it('maps the other InternLM2 names', async () => {
    const cfg = { architectures: ['InternLM2ForCausalLM'], hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2 };
    const o = await run(cfg, [
      { module: 'model.layers.1.attention.wo', in: 16, out: 16 },
      { module: 'model.layers.1.feed_forward.w1', in: 16, out: 40 },
      { module: 'model.layers.1.feed_forward.w3', in: 16, out: 40 },
      { module: 'model.layers.1.feed_forward.w2', in: 40, out: 16 },
      { module: 'output', in: 16, out: 50 },
    ]);
    expect([...o.tensors.keys()].filter((n) => n.endsWith('lora_b')).sort()).toEqual(
      ['blk.1.attn_output', 'blk.1.ffn_down', 'blk.1.ffn_gate', 'blk.1.ffn_up', 'output'].map((n) => `${n}.weight.lora_b`),
    );
  });

  it('InternLM3 is converted as llama with the q/k rotary permutation', async () => {
    const cfg = { architectures: ['InternLM3ForCausalLM'], hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2 };
    const o = await run(cfg, [
      { module: 'model.layers.0.self_attn.q_proj', in: 16, out: 16 },
      { module: 'model.layers.0.self_attn.k_proj', in: 16, out: 8 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('llama');
    expect(sourceRows(get(o, 'blk.0.attn_q.weight.lora_b'))).toEqual(llamaPermuted(range(16), 4));
    expect(sourceRows(get(o, 'blk.0.attn_k.weight.lora_b'))).toEqual(llamaPermuted(range(8), 2));
  });
});

describe('Baichuan: W_pack split into thirds', () => {
  it('slices q/k/v and permutes q and k', async () => {
    const cfg = { architectures: ['BaichuanForCausalLM'], hidden_size: 16, num_attention_heads: 2 };
    const o = await run(cfg, [
      { module: 'model.layers.0.self_attn.W_pack', in: 16, out: 48 },
      { module: 'model.layers.0.self_attn.o_proj', in: 16, out: 16 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('baichuan');
    expect(sourceRows(get(o, 'blk.0.attn_q.weight.lora_b'))).toEqual(llamaPermuted(range(16), 2));
    expect(sourceRows(get(o, 'blk.0.attn_k.weight.lora_b'))).toEqual(llamaPermuted(range(16, 16), 2));
    expect(sourceRows(get(o, 'blk.0.attn_v.weight.lora_b'))).toEqual(range(16, 32));
    expectUntouchedA(o, 'blk.0.attn_k.weight.lora_a', 16);
    expect(sourceRows(get(o, 'blk.0.attn_output.weight.lora_b'))).toEqual(range(16));
  });

  it('a W_pack lora_B that is not 3 x hidden_size rows is refused', async () => {
    const cfg = { architectures: ['BaichuanForCausalLM'], hidden_size: 16, num_attention_heads: 2 };
    const o = await run(cfg, [{ module: 'model.layers.0.self_attn.W_pack', in: 16, out: 64 }]);
    expect(o.plan.refusals.map((r) => r.code)).toContain('shape_mismatch');
    expect(JSON.stringify(o.plan.refusals)).toContain('model.layers.0.self_attn.W_pack');
  });
});

describe('DBRX', () => {
  const cfg = { architectures: ['DbrxForCausalLM'], d_model: 16, n_heads: 4, attn_config: { kv_n_heads: 2 }, ffn_config: { moe_num_experts: 4 } };

  it('maps Wqkv, out_proj and the router unchanged', async () => {
    const o = await run(cfg, [
      { module: 'transformer.blocks.0.norm_attn_norm.attn.Wqkv', in: 16, out: 32 },
      { module: 'transformer.blocks.0.norm_attn_norm.attn.out_proj', in: 16, out: 16 },
      { module: 'transformer.blocks.0.ffn.router.layer', in: 16, out: 4 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('dbrx');
    expect(sourceRows(get(o, 'blk.0.attn_qkv.weight.lora_b'))).toEqual(range(32));
    expect(sourceRows(get(o, 'blk.0.ffn_gate_inp.weight.lora_b'))).toEqual(range(4));
    expect(get(o, 'blk.0.attn_output.weight.lora_a').ne).toEqual([16, R]);
  });

  it('refuses LoRA on the fused expert parameters, even when asked to drop unapplied tensors', async () => {
    const o = await run(cfg, [{ module: 'transformer.blocks.0.ffn.experts.mlp', in: 16, out: 256 }], { dropUnapplied: true });
    expect(o.plan.refusals).toHaveLength(1);
    expect(o.plan.refusals[0]).toMatchObject({ code: 'unsupported_adapter', details: { module: 'transformer.blocks.0.ffn.experts.mlp' } });
    expect(o.plan.refusals[0]!.message).toMatch(/expert/);
  });
});

describe('DeepSeek-V2/V3', () => {
  const cfg = { architectures: ['DeepseekV3ForCausalLM'], hidden_size: 16, num_attention_heads: 4, n_routed_experts: 2 };
  const mla = ['q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'q_proj'].map((m) => ({ module: `model.layers.0.self_attn.${m}`, in: 16, out: 8 }));

  it('refuses the MLA projections and the output head, which llama.cpp never applies LoRA to', async () => {
    const o = await run(cfg, [...mla, { module: 'lm_head', in: 16, out: 32 }]);
    expect(o.plan.refusals.map((r) => r.code)).toEqual(Array(6).fill('not_applied_by_runtime'));
    expect(o.plan.refusals.map((r) => (r.details as { module: string }).module).sort()).toEqual(['lm_head', ...mla.map((m) => m.module)].sort());
  });

  it('maps o_proj, dense and shared MLPs, and stacks routed experts; MLA dropped on request', async () => {
    const experts = ['gate_proj', 'up_proj', 'down_proj'].flatMap((p) =>
      [0, 1].map((x) => ({ module: `model.layers.1.mlp.experts.${x}.${p}`, in: p === 'down_proj' ? 12 : 16, out: p === 'down_proj' ? 16 : 12 })),
    );
    const o = await run(
      { ...cfg, architectures: ['DeepseekV2ForCausalLM'] },
      [
        ...mla,
        { module: 'model.layers.0.self_attn.o_proj', in: 16, out: 16 },
        { module: 'model.layers.0.mlp.gate_proj', in: 16, out: 24 },
        { module: 'model.layers.1.mlp.shared_experts.up_proj', in: 16, out: 12 },
        ...experts,
      ],
      { dropUnapplied: true },
    );
    expect(o.plan.ggufArchitecture).toBe('deepseek2');
    expect(o.plan.refusals).toEqual([]);
    expect(o.plan.warnings.filter((w) => w.code === 'dropped')).toHaveLength(5);
    expect([...o.tensors.keys()].filter((n) => n.endsWith('lora_b')).sort()).toEqual(
      ['blk.0.attn_output', 'blk.0.ffn_gate', 'blk.1.ffn_down_exps', 'blk.1.ffn_gate_exps', 'blk.1.ffn_up_exps', 'blk.1.ffn_up_shexp'].map(
        (n) => `${n}.weight.lora_b`,
      ),
    );
    expect(get(o, 'blk.1.ffn_gate_exps.weight.lora_a').ne).toEqual([16, R, 2]);
    expect(get(o, 'blk.1.ffn_down_exps.weight.lora_b').ne).toEqual([R, 16, 2]);
    expect(sourceRows(get(o, 'blk.0.attn_output.weight.lora_b'))).toEqual(range(16));
  });
});

describe('Mamba', () => {
  it('maps the mixer projections to ssm_in / ssm_x / ssm_dt / ssm_out unchanged', async () => {
    const cfg = { architectures: ['MambaForCausalLM'], hidden_size: 8, intermediate_size: 16, state_size: 4, time_step_rank: 2 };
    const o = await run(cfg, [
      { module: 'backbone.layers.0.mixer.in_proj', in: 8, out: 32 },
      { module: 'backbone.layers.0.mixer.x_proj', in: 16, out: 10 },
      { module: 'backbone.layers.0.mixer.dt_proj', in: 2, out: 16 },
      { module: 'backbone.layers.0.mixer.out_proj', in: 16, out: 8 },
    ]);
    expect(o.plan.ggufArchitecture).toBe('mamba');
    expect(sourceRows(get(o, 'blk.0.ssm_in.weight.lora_b'))).toEqual(range(32));
    expect(sourceRows(get(o, 'blk.0.ssm_x.weight.lora_b'))).toEqual(range(10));
    expectUntouchedA(o, 'blk.0.ssm_dt.weight.lora_a', 2);
    expect(get(o, 'blk.0.ssm_out.weight.lora_b').ne).toEqual([R, 8]);
  });

  it('LoRA on the convolution has no GGUF counterpart and is refused', async () => {
    const cfg = { architectures: ['MambaForCausalLM'], hidden_size: 8 };
    const o = await run(cfg, [{ module: 'backbone.layers.0.mixer.conv1d', in: 4, out: 16 }]);
    expect(o.plan.refusals.map((r) => r.code)).toEqual(['unknown_tensor']);
  });
});

describe('mergekit-style norm vectors', () => {
  const norm = (module: string, n: number): BuildTensor => ({ name: `${PREFIX}${module}.weight`, dtype: 'F32', shape: [n], data: range(n, 1) });
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      'InternLM2',
      { architectures: ['InternLM2ForCausalLM'], hidden_size: 8, num_attention_heads: 2 },
      'model.layers.2.attention_norm',
      'blk.2.attn_norm.weight',
    ],
    ['GPT-NeoX', { architectures: ['GPTNeoXForCausalLM'], hidden_size: 8, num_attention_heads: 2 }, 'gpt_neox.final_layer_norm', 'output_norm.weight'],
    ['Falcon-40B', { architectures: ['FalconForCausalLM'], hidden_size: 8, num_attention_heads: 2 }, 'transformer.h.1.ln_attn', 'blk.1.attn_norm_2.weight'],
    ['DBRX', { architectures: ['DbrxForCausalLM'], d_model: 8 }, 'transformer.blocks.0.norm_attn_norm.norm_2', 'blk.0.attn_output_norm.weight'],
    ['DeepSeek', { architectures: ['DeepseekV2ForCausalLM'], hidden_size: 8 }, 'model.layers.0.self_attn.kv_a_layernorm', 'blk.0.attn_kv_a_norm.weight'],
    ['Mamba', { architectures: ['MambaForCausalLM'], hidden_size: 8 }, 'backbone.layers.3.norm', 'blk.3.attn_norm.weight'],
  ];
  for (const [label, cfg, module, gguf] of cases) {
    it(`${label}: ${module} -> ${gguf}, values kept`, async () => {
      // llama.cpp ignores adapter norm vectors: refused by default, kept with the opt-in.
      const refused = await run(cfg, [], {}, [norm(module, 8)]);
      expect(refused.plan.refusals.map((r) => r.code)).toEqual(['not_applied_by_runtime']);
      expect(refused.plan.normVectors).toEqual([`${PREFIX}${module}.weight`]);
      const o = await run(cfg, [], { keepNormVectors: true }, [norm(module, 8)]);
      expect(o.plan.refusals).toEqual([]);
      expect(o.plan.warnings.map((w) => w.code)).toContain('norms_not_applied');
      const t = get(o, gguf);
      expect(t.ne).toEqual([8]);
      expect([...t.values]).toEqual(range(8, 1));
    });
  }
});
