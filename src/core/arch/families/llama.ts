import { requireInt } from '../../peft/config';
import { ropePermute } from '../../tensor/ops';
import type { ArchFamily, ModuleRule, NormRule } from '../types';

/**
 * Llama and the families llama.cpp converts with the same model class (LlamaModel):
 * q/k output rows get the rotary permutation `reshape(n_head, 2, -1).swapaxes(1, 2)`,
 * with num_key_value_heads for k. Source: llama.cpp convert_hf_to_gguf.py LlamaModel.permute,
 * gguf-py tensor_mapping.py.
 */

const nHead = (cfg: Parameters<typeof requireInt>[0]) => requireInt(cfg, ['num_attention_heads'], 'for the rotary permutation of q_proj');
const nKvHead = (cfg: Parameters<typeof requireInt>[0]) =>
  requireInt(cfg, ['num_key_value_heads', 'num_attention_heads'], 'for the rotary permutation of k_proj');

/** Modules shared by every Llama-style decoder (HF LlamaForCausalLM naming). */
export const llamaAttentionAndMlp: ModuleRule[] = [
  { hf: 'model.embed_tokens', gguf: 'token_embd', isTokenEmbedding: true },
  { hf: 'lm_head', gguf: 'output', isOutputHead: true },
  { hf: 'model.layers.{bid}.self_attn.q_proj', gguf: 'blk.{bid}.attn_q', bOps: (cfg) => [ropePermute(nHead(cfg))] },
  { hf: 'model.layers.{bid}.self_attn.k_proj', gguf: 'blk.{bid}.attn_k', bOps: (cfg) => [ropePermute(nKvHead(cfg))] },
  { hf: 'model.layers.{bid}.self_attn.v_proj', gguf: 'blk.{bid}.attn_v' },
  { hf: 'model.layers.{bid}.self_attn.o_proj', gguf: 'blk.{bid}.attn_output' },
  { hf: 'model.layers.{bid}.mlp.gate_proj', gguf: 'blk.{bid}.ffn_gate' },
  { hf: 'model.layers.{bid}.mlp.up_proj', gguf: 'blk.{bid}.ffn_up' },
  { hf: 'model.layers.{bid}.mlp.down_proj', gguf: 'blk.{bid}.ffn_down' },
];

export const llamaNorms: NormRule[] = [
  { hf: 'model.layers.{bid}.input_layernorm', gguf: 'blk.{bid}.attn_norm' },
  { hf: 'model.layers.{bid}.post_attention_layernorm', gguf: 'blk.{bid}.ffn_norm' },
  { hf: 'model.norm', gguf: 'output_norm' },
];

export const llama: ArchFamily = {
  id: 'llama',
  hfArchitectures: ['LlamaForCausalLM', 'MistralForCausalLM', 'LLaMAForCausalLM'],
  ggufArch: 'llama',
  tiedDefault: false,
  modules: llamaAttentionAndMlp,
  norms: llamaNorms,
};

const nExperts = (cfg: Parameters<typeof requireInt>[0]) => requireInt(cfg, ['num_local_experts'], 'to stack the experts');

export const mixtral: ArchFamily = {
  id: 'mixtral',
  hfArchitectures: ['MixtralForCausalLM'],
  ggufArch: 'llama',
  tiedDefault: false,
  modules: [
    ...llamaAttentionAndMlp,
    { hf: 'model.layers.{bid}.block_sparse_moe.gate', gguf: 'blk.{bid}.ffn_gate_inp' },
    { hf: 'model.layers.{bid}.block_sparse_moe.experts.{xid}.w1', gguf: 'blk.{bid}.ffn_gate_exps', experts: nExperts },
    { hf: 'model.layers.{bid}.block_sparse_moe.experts.{xid}.w2', gguf: 'blk.{bid}.ffn_down_exps', experts: nExperts },
    { hf: 'model.layers.{bid}.block_sparse_moe.experts.{xid}.w3', gguf: 'blk.{bid}.ffn_up_exps', experts: nExperts },
  ],
  norms: llamaNorms,
};
