/**
 * The remaining families the core claims: Mamba (SSM), DBRX (fused 3-D experts: attention and
 * router only), ChatGLM (GLM-4 style fused qkv with bias, fused SwiGLU) and the Gemma 3
 * multimodal container (text model under `language_model`).
 */
import type { GgufKv } from '../../../src/core/gguf/writer';
import { f32, str, u32, type ArchSpec } from '../harness/arch';
import { commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import type { Tensor } from '../harness/tensor';

export function mamba(): ArchSpec {
  const H = 64;
  const dInner = 128;
  const dState = 8;
  const dConv = 4;
  const dtRank = 4;
  const L = 2;
  const b = new SpecBuilder();
  b.param('backbone.embeddings.weight', [DIMS.vocab, H], 2 / Math.sqrt(H)).out('token_embd.weight', 'backbone.embeddings.weight');
  for (let i = 0; i < L; i++) {
    const p = `backbone.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.norm`, `${blk}.attn_norm`, H);
    b.linear(`${p}.mixer.in_proj`, `${blk}.ssm_in`, 2 * dInner, H);
    // conv1d weight (d_inner, 1, d_conv): GGUF keeps (d_inner, d_conv), ne [d_conv, d_inner].
    b.param(`${p}.mixer.conv1d.weight`, [dInner, 1, dConv], 0.3).param(`${p}.mixer.conv1d.bias`, [dInner], 0.1);
    b.out(`${blk}.ssm_conv1d.weight`, `${p}.mixer.conv1d.weight`, (ts) => ({ shape: [dInner, dConv], data: ts[0]!.data }));
    b.out(`${blk}.ssm_conv1d.bias`, `${p}.mixer.conv1d.bias`);
    b.linear(`${p}.mixer.x_proj`, `${blk}.ssm_x`, dtRank + 2 * dState, dInner);
    b.linear(`${p}.mixer.dt_proj`, `${blk}.ssm_dt`, dInner, dtRank, { bias: true });
    // A = -exp(A_log), as the converter stores it.
    b.param(`${p}.mixer.A_log`, [dInner, dState], 0.3).out(`${blk}.ssm_a`, `${p}.mixer.A_log`, (ts) => ({
      shape: ts[0]!.shape,
      data: ts[0]!.data.map((v) => Math.fround(-Math.exp(v))),
    }));
    b.param(`${p}.mixer.D`, [dInner], 0.3, 1).out(`${blk}.ssm_d`, `${p}.mixer.D`);
    b.linear(`${p}.mixer.out_proj`, `${blk}.ssm_out`, H, dInner);
  }
  b.norm('backbone.norm_f', 'output_norm', H);
  const config = {
    architectures: ['MambaForCausalLM'],
    model_type: 'mamba',
    vocab_size: DIMS.vocab,
    hidden_size: H,
    intermediate_size: dInner,
    state_size: dState,
    conv_kernel: dConv,
    time_step_rank: dtRank,
    num_hidden_layers: L,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true,
  };
  const kvs: GgufKv[] = [
    str('general.architecture', 'mamba'),
    u32('mamba.vocab_size', DIMS.vocab),
    u32('mamba.context_length', 64),
    u32('mamba.embedding_length', H),
    u32('mamba.feed_forward_length', 0),
    u32('mamba.attention.head_count', 0),
    u32('mamba.block_count', L),
    u32('mamba.ssm.conv_kernel', dConv),
    u32('mamba.ssm.inner_size', dInner),
    u32('mamba.ssm.state_size', dState),
    u32('mamba.ssm.time_step_rank', dtRank),
    f32('mamba.attention.layer_norm_rms_epsilon', 1e-5),
  ];
  return b.build('mamba', config, kvs);
}

/** DBRX: LoRA on Wqkv, out_proj and the router; the experts are fused 3-D parameters. */
export function dbrx(): ArchSpec {
  const d: Dims = { ...DIMS, heads: 4, kvHeads: 2 };
  const H = d.hidden;
  const hd = H / d.heads;
  const E = 4;
  const F = 32;
  const b = new SpecBuilder();
  b.param('transformer.wte.weight', [d.vocab, H], 1).out('token_embd.weight', 'transformer.wte.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.blocks.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.norm_attn_norm.norm_1`, `${blk}.attn_norm`, H);
    b.linear(`${p}.norm_attn_norm.attn.Wqkv`, `${blk}.attn_qkv`, H + 2 * d.kvHeads * hd, H);
    b.linear(`${p}.norm_attn_norm.attn.out_proj`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.norm_attn_norm.norm_2`, `${blk}.attn_output_norm`, H);
    b.linear(`${p}.ffn.router.layer`, `${blk}.ffn_gate_inp`, E, H);
    // experts.mlp.w1 / v1 / w2 are (E·F, H); the converter views them (E, F, H) and permutes w2 to (E, H, F).
    for (const w of ['w1', 'v1', 'w2']) b.param(`${p}.ffn.experts.mlp.${w}`, [E * F, H], 1 / Math.sqrt(w === 'w2' ? F : H));
    const as3d = (t: Tensor): Tensor => ({ shape: [E, F, H], data: t.data });
    const down = (t: Tensor): Tensor => {
      const out = new Float64Array(t.data.length);
      for (let x = 0; x < E; x++) for (let f = 0; f < F; f++) for (let h = 0; h < H; h++) out[x * H * F + h * F + f] = t.data[x * F * H + f * H + h]!;
      return { shape: [E, H, F], data: out };
    };
    b.out(`${blk}.ffn_gate_exps.weight`, `${p}.ffn.experts.mlp.w1`, (ts) => as3d(ts[0]!));
    b.out(`${blk}.ffn_up_exps.weight`, `${p}.ffn.experts.mlp.v1`, (ts) => as3d(ts[0]!));
    b.out(`${blk}.ffn_down_exps.weight`, `${p}.ffn.experts.mlp.w2`, (ts) => down(ts[0]!));
  }
  b.norm('transformer.norm_f', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = {
    architectures: ['DbrxForCausalLM'],
    model_type: 'dbrx',
    vocab_size: d.vocab,
    d_model: H,
    n_heads: d.heads,
    n_layers: d.layers,
    max_seq_len: 64,
    attn_config: { kv_n_heads: d.kvHeads, clip_qkv: 8, rope_theta: 10000 },
    ffn_config: { moe_num_experts: E, moe_top_k: 2, ffn_hidden_size: F },
    tie_word_embeddings: false,
  };
  const kvs = [
    ...commonKvs('dbrx', { ...d, ffn: F, headDim: hd }, { eps: 'layernorm', headDims: false }),
    u32('dbrx.expert_count', E),
    u32('dbrx.expert_used_count', 2),
    f32('dbrx.attention.clamp_kqv', 8),
  ];
  return b.build('dbrx', config, kvs);
}

/** ChatGLM (GLM-4 style): fused qkv with bias ([q; k; v]), fused SwiGLU dense_h_to_4h. */
export function chatglm(): ArchSpec {
  const d: Dims = { ...DIMS, heads: 4, kvHeads: 2 };
  const H = d.hidden;
  const hd = H / d.heads;
  const b = new SpecBuilder();
  b.param('transformer.embedding.word_embeddings.weight', [d.vocab, H], 1).out('token_embd.weight', 'transformer.embedding.word_embeddings.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `transformer.encoder.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    b.linear(`${p}.self_attention.query_key_value`, `${blk}.attn_qkv`, H + 2 * d.kvHeads * hd, H, { bias: true });
    b.linear(`${p}.self_attention.dense`, `${blk}.attn_output`, H, H);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.mlp.dense_h_to_4h`, `${blk}.ffn_up`, 2 * d.ffn, H);
    b.linear(`${p}.mlp.dense_4h_to_h`, `${blk}.ffn_down`, H, d.ffn);
  }
  b.norm('transformer.encoder.final_layernorm', 'output_norm', H);
  b.linear('transformer.output_layer', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = {
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    padded_vocab_size: d.vocab,
    hidden_size: H,
    ffn_hidden_size: d.ffn,
    num_layers: d.layers,
    num_attention_heads: d.heads,
    multi_query_attention: true,
    multi_query_group_num: d.kvHeads,
    kv_channels: hd,
    seq_length: 64,
    layernorm_epsilon: 1e-5,
    add_qkv_bias: true,
    tie_word_embeddings: false,
  };
  return b.build('chatglm', config, commonKvs('chatglm', { ...d, headDim: hd }, { headDims: false, ropeDims: hd / 2 }));
}
