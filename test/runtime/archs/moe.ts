/**
 * Mixture-of-experts bases: Qwen2-MoE (routed experts, a shared expert and its sigmoid gate) and
 * DeepSeek-V2-Lite style (MLA attention, a dense first layer, routed + shared experts). Per-expert
 * HF weights (out, in) are stacked along a new slowest axis into llama.cpp's 3-D `*_exps`.
 */
import { u32, type ArchSpec } from '../harness/arch';
import { commonConfig, commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import { stack, type Tensor } from '../harness/tensor';

const E = 4;
const FE = 32;

function experts(b: SpecBuilder, p: string, blk: string, H: number, names: [string, string, string] = ['gate_proj', 'up_proj', 'down_proj']): void {
  const [gate, up, down] = names;
  const stacked = (ts: Tensor[]) => stack(ts);
  const each = (w: string) => Array.from({ length: E }, (_, x) => `${p}.experts.${x}.${w}`);
  for (let x = 0; x < E; x++) {
    b.linear(`${p}.experts.${x}.${gate}`, null, FE, H);
    b.linear(`${p}.experts.${x}.${up}`, null, FE, H);
    b.linear(`${p}.experts.${x}.${down}`, null, H, FE);
  }
  b.out(`${blk}.ffn_gate_exps.weight`, each(`${gate}.weight`), stacked);
  b.out(`${blk}.ffn_up_exps.weight`, each(`${up}.weight`), stacked);
  b.out(`${blk}.ffn_down_exps.weight`, each(`${down}.weight`), stacked);
}

export function qwen2moe(): ArchSpec {
  const d: Dims = { ...DIMS };
  const H = d.hidden;
  const FS = 64;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    b.linear(`${p}.self_attn.q_proj`, `${blk}.attn_q`, d.heads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.k_proj`, `${blk}.attn_k`, d.kvHeads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.v_proj`, `${blk}.attn_v`, d.kvHeads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.o_proj`, `${blk}.attn_output`, H, d.heads * d.headDim);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.mlp.gate`, `${blk}.ffn_gate_inp`, E, H);
    experts(b, `${p}.mlp`, blk, H);
    b.linear(`${p}.mlp.shared_expert.gate_proj`, `${blk}.ffn_gate_shexp`, FS, H);
    b.linear(`${p}.mlp.shared_expert.up_proj`, `${blk}.ffn_up_shexp`, FS, H);
    b.linear(`${p}.mlp.shared_expert.down_proj`, `${blk}.ffn_down_shexp`, H, FS);
    b.linear(`${p}.mlp.shared_expert_gate`, `${blk}.ffn_gate_inp_shexp`, 1, H);
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig('Qwen2MoeForCausalLM', 'qwen2_moe', d, {
    tie_word_embeddings: false,
    num_experts: E,
    num_experts_per_tok: 2,
    moe_intermediate_size: FE,
    shared_expert_intermediate_size: FS,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
  });
  const kvs = [
    ...commonKvs('qwen2moe', d),
    u32('qwen2moe.expert_count', E),
    u32('qwen2moe.expert_used_count', 2),
    u32('qwen2moe.expert_feed_forward_length', FE),
    u32('qwen2moe.expert_shared_feed_forward_length', FS),
  ];
  return b.build('qwen2moe', config, kvs);
}
