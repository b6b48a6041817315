/**
 * Architectures with fused or transposed projections: Phi-3 (fused qkv and gate_up), GPT-2
 * (Conv1D weights stored (in, out)), GPT-NeoX (qkv interleaved per head), Falcon-40B style
 * (qkv in kv groups) and InternLM2 (wqkv in kv groups, split into q/k/v). The row regroupings
 * below are written from llama.cpp's convert_hf_to_gguf.py descriptions, independently of
 * src/core.
 */
import type { GgufKv } from '../../../src/core/gguf/writer';
import { f32, permuteRope, str, u32, bool, type ArchSpec } from '../harness/arch';
import { commonConfig, commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import { gatherRows, sliceRows, transpose, type Tensor } from '../harness/tensor';

/** GPT-NeoX: rows [head][q|k|v][head_dim] → [q|k|v][head][head_dim]. */
export function neoxQkvToBlocks(t: Tensor, nHead: number): Tensor {
  const rows = t.shape[0]!;
  const hd = rows / 3 / nHead;
  return gatherRows(t, (o) => {
    const part = Math.floor(o / (nHead * hd));
    const head = Math.floor((o % (nHead * hd)) / hd);
    return head * 3 * hd + part * hd + (o % hd);
  });
}

/**
 * Falcon / InternLM2: rows [kv group][q_per_kv q heads, 1 k head, 1 v head][head_dim] → all q
 * heads (group order), then all k heads, then all v heads.
 */
export function groupedQkvToBlocks(t: Tensor, nHead: number, nKv: number): Tensor {
  const rows = t.shape[0]!;
  const qPer = nHead / nKv;
  const hd = rows / (nKv * (qPer + 2));
  return gatherRows(t, (o) => {
    const head = Math.floor(o / hd);
    const j = o % hd;
    let g: number;
    let slot: number;
    if (head < nHead) {
      g = Math.floor(head / qPer);
      slot = head % qPer;
    } else if (head < nHead + nKv) {
      g = head - nHead;
      slot = qPer;
    } else {
      g = head - nHead - nKv;
      slot = qPer + 1;
    }
    return (g * (qPer + 2) + slot) * hd + j;
  });
}

const asRows = (t: Tensor): Tensor => (t.shape.length === 2 ? t : { shape: [t.shape[0]!, 1], data: t.data });
const like = (t: Tensor, r: Tensor): Tensor => ({ shape: t.shape.slice(), data: r.data });

export function phi3(): ArchSpec {
  const d: Dims = { ...DIMS };
  const H = d.hidden;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    b.linear(`${p}.self_attn.qkv_proj`, `${blk}.attn_qkv`, (d.heads + 2 * d.kvHeads) * d.headDim, H);
    b.linear(`${p}.self_attn.o_proj`, `${blk}.attn_output`, H, d.heads * d.headDim);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    // Fused [gate; up]: stored as is in ffn_up; llama.cpp's SwiGLU splits it in halves.
    b.linear(`${p}.mlp.gate_up_proj`, `${blk}.ffn_up`, 2 * d.ffn, H);
    b.linear(`${p}.mlp.down_proj`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  return b.build('phi3', commonConfig('Phi3ForCausalLM', 'phi3', d, { tie_word_embeddings: false }), commonKvs('phi3', d));
}

export function gpt2(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads, ffn: 4 * DIMS.hidden };
  const H = d.hidden;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('transformer.wte.weight', [d.vocab, H], 2 / Math.sqrt(H)).out('token_embd.weight', 'transformer.wte.weight');
  b.param('transformer.wpe.weight', [64, H], 0.1).out('position_embd.weight', 'transformer.wpe.weight');
  // Conv1D: weight (in, out); GGUF wants (out, in): the converter transposes.
  const conv = (hf: string, gguf: string, inF: number, outF: number, std = 1 / Math.sqrt(inF)) => {
    b.param(`${hf}.weight`, [inF, outF], std).param(`${hf}.bias`, [outF], 0.05);
    b.out(`${gguf}.weight`, `${hf}.weight`, (ts) => transpose(ts[0]!)).out(`${gguf}.bias`, `${hf}.bias`);
    b.target(hf, 'conv1d');
  };
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.h.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.ln_1`, `${blk}.attn_norm`, H, { bias: true });
    conv(`${p}.attn.c_attn`, `${blk}.attn_qkv`, H, 3 * H);
    conv(`${p}.attn.c_proj`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.ln_2`, `${blk}.ffn_norm`, H, { bias: true });
    conv(`${p}.mlp.c_fc`, `${blk}.ffn_up`, H, d.ffn, smallGelu);
    conv(`${p}.mlp.c_proj`, `${blk}.ffn_down`, d.ffn, H);
  }
  b.norm('transformer.ln_f', 'output_norm', H, { bias: true });
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: d.vocab,
    n_embd: H,
    n_head: d.heads,
    n_layer: d.layers,
    n_positions: 64,
    n_ctx: 64,
    layer_norm_epsilon: 1e-5,
  };
  const kvs = [
    str('general.architecture', 'gpt2'),
    u32('gpt2.context_length', 64),
    u32('gpt2.embedding_length', H),
    u32('gpt2.feed_forward_length', d.ffn),
    u32('gpt2.block_count', d.layers),
    u32('gpt2.attention.head_count', d.heads),
    f32('gpt2.attention.layer_norm_epsilon', 1e-5),
  ];
  return b.build('gpt2', config, kvs, { tolerance: 5e-4 });
}

export function gptneox(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads, ffn: 4 * DIMS.hidden };
  const H = d.hidden;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('gpt_neox.embed_in.weight', [d.vocab, H], 1).out('token_embd.weight', 'gpt_neox.embed_in.weight');
  const regroup = (t: Tensor) => like(t, neoxQkvToBlocks(asRows(t), d.heads));
  for (let i = 0; i < d.layers; i++) {
    const p = `gpt_neox.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H, { bias: true });
    b.linear(`${p}.attention.query_key_value`, `${blk}.attn_qkv`, 3 * H, H, { bias: true, make: regroup });
    b.linear(`${p}.attention.dense`, `${blk}.attn_output`, H, H, { bias: true });
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H, { bias: true });
    b.linear(`${p}.mlp.dense_h_to_4h`, `${blk}.ffn_up`, d.ffn, H, { bias: true, std: smallGelu });
    b.linear(`${p}.mlp.dense_4h_to_h`, `${blk}.ffn_down`, H, d.ffn, { bias: true });
  }
  b.norm('gpt_neox.final_layer_norm', 'output_norm', H, { bias: true });
  b.linear('embed_out', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = {
    architectures: ['GPTNeoXForCausalLM'],
    model_type: 'gpt_neox',
    vocab_size: d.vocab,
    hidden_size: H,
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    intermediate_size: d.ffn,
    rotary_pct: 0.25,
    max_position_embeddings: 64,
    use_parallel_residual: true,
    tie_word_embeddings: false,
  };
  const kvs = [
    ...commonKvs('gptneox', d, { eps: 'layernorm', ropeDims: 4, headDims: false }).filter((kv) => !kv.key.endsWith('head_count_kv')),
    bool('gptneox.use_parallel_residual', true),
  ];
  return b.build('gptneox', config, kvs, { tolerance: 5e-4 });
}

/**
 * Falcon. `kvHeads > 1`: Falcon-40B style (new_decoder_architecture, ln_attn + ln_mlp, qkv in kv
 * groups, really regrouped); `kvHeads = 1`: Falcon-7B style (multi-query, one input_layernorm,
 * no num_kv_heads in config.json: the regroup is the identity).
 */
export function falcon(kvHeads = 2): ArchSpec {
  const d: Dims = { ...DIMS, heads: 4, kvHeads, ffn: 4 * DIMS.hidden };
  const newArch = kvHeads > 1;
  const H = d.hidden;
  const hd = H / d.heads;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('transformer.word_embeddings.weight', [d.vocab, H], 1).out('token_embd.weight', 'transformer.word_embeddings.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.h.${i}`;
    const blk = `blk.${i}`;
    if (newArch) {
      b.norm(`${p}.ln_mlp`, `${blk}.attn_norm`, H, { bias: true });
      b.norm(`${p}.ln_attn`, `${blk}.attn_norm_2`, H, { bias: true });
    } else {
      b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H, { bias: true });
    }
    b.linear(`${p}.self_attention.query_key_value`, `${blk}.attn_qkv`, (d.heads + 2 * d.kvHeads) * hd, H, {
      make: (t) => groupedQkvToBlocks(t, d.heads, d.kvHeads),
    });
    b.linear(`${p}.self_attention.dense`, `${blk}.attn_output`, H, H);
    b.linear(`${p}.mlp.dense_h_to_4h`, `${blk}.ffn_up`, d.ffn, H, { std: smallGelu });
    b.linear(`${p}.mlp.dense_4h_to_h`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('transformer.ln_f', 'output_norm', H, { bias: true });
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config: Record<string, unknown> = {
    architectures: ['FalconForCausalLM'],
    model_type: 'falcon',
    vocab_size: d.vocab,
    hidden_size: H,
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    new_decoder_architecture: newArch,
    multi_query: !newArch,
    parallel_attn: true,
    bias: false,
    alibi: false,
    tie_word_embeddings: false,
    layer_norm_epsilon: 1e-5,
  };
  if (newArch) config.num_kv_heads = d.kvHeads;
  return b.build(newArch ? 'falcon' : 'falcon-7b', config, commonKvs('falcon', { ...d, headDim: hd }, { eps: 'layernorm', headDims: false }), {
    tolerance: 5e-4,
  });
}

export function internlm2(): ArchSpec {
  const d: Dims = { ...DIMS, heads: 4, kvHeads: 2 };
  const H = d.hidden;
  const hd = H / d.heads;
  const b = new SpecBuilder();
  b.param('model.tok_embeddings.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.tok_embeddings.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.attention_norm`, `${blk}.attn_norm`, H);
    const wqkv = `${p}.attention.wqkv.weight`;
    b.param(wqkv, [(d.heads + 2 * d.kvHeads) * hd, H], 1 / Math.sqrt(H)).target(`${p}.attention.wqkv`);
    const blocks = (t: Tensor) => groupedQkvToBlocks(t, d.heads, d.kvHeads);
    b.out(`${blk}.attn_q.weight`, wqkv, (ts) => permuteRope(sliceRows(blocks(ts[0]!), 0, d.heads * hd), d.heads));
    b.out(`${blk}.attn_k.weight`, wqkv, (ts) => permuteRope(sliceRows(blocks(ts[0]!), d.heads * hd, d.kvHeads * hd), d.kvHeads));
    b.out(`${blk}.attn_v.weight`, wqkv, (ts) => sliceRows(blocks(ts[0]!), (d.heads + d.kvHeads) * hd, d.kvHeads * hd));
    b.linear(`${p}.attention.wo`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.ffn_norm`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.feed_forward.w1`, `${blk}.ffn_gate`, d.ffn, H);
    b.linear(`${p}.feed_forward.w3`, `${blk}.ffn_up`, d.ffn, H);
    b.linear(`${p}.feed_forward.w2`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('output', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig('InternLM2ForCausalLM', 'internlm2', { ...d, headDim: hd }, { tie_word_embeddings: false });
  delete config.head_dim;
  return b.build('internlm2', config, commonKvs('internlm2', { ...d, headDim: hd }, { headDims: false }));
}

// ---- more fused-qkv families ----

/** Keys for the GPT-style families (no rope or rope not needed in the file). */
function gptKvs(arch: string, d: Dims, extra: GgufKv[] = []): GgufKv[] {
  return [
    str('general.architecture', arch),
    u32(`${arch}.context_length`, 64),
    u32(`${arch}.embedding_length`, d.hidden),
    u32(`${arch}.feed_forward_length`, d.ffn),
    u32(`${arch}.block_count`, d.layers),
    u32(`${arch}.attention.head_count`, d.heads),
    u32(`${arch}.attention.head_count_kv`, d.kvHeads),
    f32(`${arch}.attention.layer_norm_epsilon`, 1e-5),
    ...extra,
  ];
}

/** Qwen (1): fused c_attn with bias ([q; k; v], no regroup), w1 = up, w2 = gate. */
export function qwen(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads };
  const H = d.hidden;
  const b = new SpecBuilder();
  b.param('transformer.wte.weight', [d.vocab, H], 1).out('token_embd.weight', 'transformer.wte.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.h.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.ln_1`, `${blk}.attn_norm`, H);
    b.linear(`${p}.attn.c_attn`, `${blk}.attn_qkv`, 3 * H, H, { bias: true });
    b.linear(`${p}.attn.c_proj`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.ln_2`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.mlp.w1`, `${blk}.ffn_up`, d.ffn, H);
    b.linear(`${p}.mlp.w2`, `${blk}.ffn_gate`, d.ffn, H);
    b.linear(`${p}.mlp.c_proj`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('transformer.ln_f', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = {
    architectures: ['QWenLMHeadModel'],
    model_type: 'qwen',
    vocab_size: d.vocab,
    hidden_size: H,
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    // QWen's config counts both SwiGLU halves; the converter halves it.
    intermediate_size: 2 * d.ffn,
    kv_channels: H / d.heads,
    seq_length: 64,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: false,
  };
  // llama.cpp's qwen reads feed_forward_length as both halves (it uses n_ff / 2), like the config.
  return b.build('qwen', config, commonKvs('qwen', { ...d, ffn: 2 * d.ffn, headDim: H / d.heads }, { headDims: false }));
}

/** Baichuan: W_pack = [q; k; v] split, q and k permuted like Llama (MHA: k with n_head). */
export function baichuan(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads };
  const H = d.hidden;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    const w = `${p}.self_attn.W_pack.weight`;
    b.param(w, [3 * H, H], 1 / Math.sqrt(H)).target(`${p}.self_attn.W_pack`);
    b.out(`${blk}.attn_q.weight`, w, (ts) => permuteRope(sliceRows(ts[0]!, 0, H), d.heads));
    b.out(`${blk}.attn_k.weight`, w, (ts) => permuteRope(sliceRows(ts[0]!, H, H), d.heads));
    b.out(`${blk}.attn_v.weight`, w, (ts) => sliceRows(ts[0]!, 2 * H, H));
    b.linear(`${p}.self_attn.o_proj`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.mlp.gate_proj`, `${blk}.ffn_gate`, d.ffn, H);
    b.linear(`${p}.mlp.up_proj`, `${blk}.ffn_up`, d.ffn, H);
    b.linear(`${p}.mlp.down_proj`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig('BaichuanForCausalLM', 'baichuan', { ...d, headDim: H / d.heads }, { tie_word_embeddings: false });
  delete config.head_dim;
  delete config.num_key_value_heads;
  return b.build('baichuan', config, commonKvs('baichuan', { ...d, headDim: H / d.heads }, { headDims: false }));
}

/** BLOOM: per-head interleaved qkv (as GPT-NeoX), embedding LayerNorm, ALiBi, tied. */
export function bloom(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads, ffn: 4 * DIMS.hidden };
  const H = d.hidden;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('transformer.word_embeddings.weight', [d.vocab, H], 2 / Math.sqrt(H)).out('token_embd.weight', 'transformer.word_embeddings.weight');
  b.norm('transformer.word_embeddings_layernorm', 'token_embd_norm', H, { bias: true });
  const regroup = (t: Tensor) => like(t, neoxQkvToBlocks(asRows(t), d.heads));
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.h.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H, { bias: true });
    b.linear(`${p}.self_attention.query_key_value`, `${blk}.attn_qkv`, 3 * H, H, { bias: true, make: regroup });
    b.linear(`${p}.self_attention.dense`, `${blk}.attn_output`, H, H, { bias: true });
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H, { bias: true });
    b.linear(`${p}.mlp.dense_h_to_4h`, `${blk}.ffn_up`, d.ffn, H, { bias: true, std: smallGelu });
    b.linear(`${p}.mlp.dense_4h_to_h`, `${blk}.ffn_down`, H, d.ffn, { bias: true });
  }
  b.norm('transformer.ln_f', 'output_norm', H, { bias: true });
  const config = {
    architectures: ['BloomForCausalLM'],
    model_type: 'bloom',
    vocab_size: d.vocab,
    hidden_size: H,
    n_head: d.heads,
    n_layer: d.layers,
    layer_norm_epsilon: 1e-5,
  };
  return b.build('bloom', config, gptKvs('bloom', d), { tolerance: 5e-4 });
}

/** GPTBigCode (StarCoder 1): nn.Linear c_attn with one shared k/v head, learned positions, tied. */
export function gptBigCode(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: 1, ffn: 4 * DIMS.hidden };
  const H = d.hidden;
  const hd = H / d.heads;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('transformer.wte.weight', [d.vocab, H], 2 / Math.sqrt(H)).out('token_embd.weight', 'transformer.wte.weight');
  b.param('transformer.wpe.weight', [64, H], 0.1).out('position_embd.weight', 'transformer.wpe.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.h.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.ln_1`, `${blk}.attn_norm`, H, { bias: true });
    b.linear(`${p}.attn.c_attn`, `${blk}.attn_qkv`, H + 2 * hd, H, { bias: true });
    b.linear(`${p}.attn.c_proj`, `${blk}.attn_output`, H, H, { bias: true });
    b.norm(`${p}.ln_2`, `${blk}.ffn_norm`, H, { bias: true });
    b.linear(`${p}.mlp.c_fc`, `${blk}.ffn_up`, d.ffn, H, { bias: true, std: smallGelu });
    b.linear(`${p}.mlp.c_proj`, `${blk}.ffn_down`, H, d.ffn, { bias: true });
  }
  b.norm('transformer.ln_f', 'output_norm', H, { bias: true });
  const config = {
    architectures: ['GPTBigCodeForCausalLM'],
    model_type: 'gpt_bigcode',
    vocab_size: d.vocab,
    n_embd: H,
    n_head: d.heads,
    n_layer: d.layers,
    n_positions: 64,
    multi_query: true,
    layer_norm_epsilon: 1e-5,
  };
  return b.build('starcoder', config, gptKvs('starcoder', d), { tolerance: 5e-4 });
}

/** MPT: bias-free LayerNorms and projections, fused Wqkv ([q; k; v]), ALiBi, tied. */
export function mpt(): ArchSpec {
  const d: Dims = { ...DIMS, kvHeads: DIMS.heads, ffn: 4 * DIMS.hidden };
  const H = d.hidden;
  const b = new SpecBuilder();
  const smallGelu = 0.3 / Math.sqrt(H);
  b.param('transformer.wte.weight', [d.vocab, H], 2 / Math.sqrt(H)).out('token_embd.weight', 'transformer.wte.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.blocks.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.norm_1`, `${blk}.attn_norm`, H);
    b.linear(`${p}.attn.Wqkv`, `${blk}.attn_qkv`, 3 * H, H);
    b.linear(`${p}.attn.out_proj`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.norm_2`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.ffn.up_proj`, `${blk}.ffn_up`, d.ffn, H, { std: smallGelu });
    b.linear(`${p}.ffn.down_proj`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('transformer.norm_f', 'output_norm', H);
  const config = {
    architectures: ['MPTForCausalLM'],
    model_type: 'mpt',
    vocab_size: d.vocab,
    d_model: H,
    n_heads: d.heads,
    n_layers: d.layers,
    expansion_ratio: 4,
    max_seq_len: 64,
    attn_config: { alibi: true, alibi_bias_max: 8 },
    no_bias: true,
  };
  return b.build('mpt', config, gptKvs('mpt', d, [f32('mpt.attention.max_alibi_bias', 8)]), { tolerance: 5e-4 });
}
