import { optionalInt, requireInt, type BaseConfig } from '../../peft/config';
import type { ArchFamily } from '../types';
import { headDimOf, kvGroupedQkvToBlocks } from './qkv-layout';

/**
 * Falcon (and its RefinedWeb predecessor RW): one fused `query_key_value` whose rows come in kv
 * groups, `[n_kv][n_head / n_kv + 2][head_dim]`; llama.cpp's converter regroups them to all q,
 * all k, all v. With one kv group (Falcon-7B, multi-query, no `num_kv_heads` in config.json)
 * that is the identity; Falcon-40B (new_decoder_architecture, several kv groups) really moves
 * rows. The kv-group count is read exactly as the converter reads it: `num_kv_heads`, else
 * `n_head_kv`, else 1; the regroup is written even when it is the identity, so a B whose row
 * count does not fit the config is refused instead of copied.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py FalconModel (`modify_tensors`, the
 * "jploski" qkv transform; registered for FalconForCausalLM and RWForCausalLM); gguf-py
 * tensor_mapping.py (`transformer.h.{bid}.self_attention.query_key_value` -> attn_qkv,
 * `ln_mlp` -> attn_norm and `ln_attn` -> attn_norm_2 for 40B, `input_layernorm` -> attn_norm
 * for 7B); src/models/falcon.cpp (output falls back to token_embd when absent);
 * transformers configuration_falcon.py (tie_word_embeddings default True).
 */

function qkvRegroup(cfg: BaseConfig) {
  const nHead = requireInt(cfg, ['num_attention_heads', 'n_head'], 'to regroup the rows of the fused query_key_value');
  const nKv = optionalInt(cfg, ['num_kv_heads', 'n_head_kv']) ?? 1;
  const hidden = requireInt(cfg, ['hidden_size', 'n_embed'], 'to regroup the rows of the fused query_key_value');
  return kvGroupedQkvToBlocks(nHead, nKv, headDimOf(hidden, nHead));
}

export const falcon: ArchFamily = {
  id: 'falcon',
  hfArchitectures: ['FalconForCausalLM', 'RWForCausalLM'],
  ggufArch: 'falcon',
  tiedDefault: true,
  modules: [
    { hf: 'transformer.word_embeddings', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: 'transformer.h.{bid}.self_attention.query_key_value', gguf: 'blk.{bid}.attn_qkv', bOps: (cfg) => [qkvRegroup(cfg)] },
    { hf: 'transformer.h.{bid}.self_attention.dense', gguf: 'blk.{bid}.attn_output' },
    { hf: 'transformer.h.{bid}.mlp.dense_h_to_4h', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'transformer.h.{bid}.mlp.dense_4h_to_h', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: 'transformer.h.{bid}.input_layernorm', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'transformer.h.{bid}.ln_mlp', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'transformer.h.{bid}.ln_attn', gguf: 'blk.{bid}.attn_norm_2' },
    { hf: 'transformer.ln_f', gguf: 'output_norm' },
  ],
};
