import { requireInt, type BaseConfig } from '../../peft/config';
import type { ArchFamily } from '../types';
import { perHeadQkvToBlocks } from './qkv-layout';

/**
 * GPT-NeoX (Pythia) and Bloom: one fused `query_key_value` whose output rows are interleaved
 * per head, `[n_head][3][head_dim]`; llama.cpp's converter regroups them to `[3][n_head][head_dim]`
 * (all q, all k, all v), so lora_B's rows are regrouped the same way.
 *
 * Sources (facts only):
 * - llama.cpp convert_hf_to_gguf.py GPTNeoXModel / BloomModel `modify_tensors` (the regroup;
 *   n_head read as `n_head`, else `num_attention_heads`); gguf-py tensor_mapping.py (names);
 *   constants.py (`gptneox`, `bloom`).
 * - transformers configuration_gpt_neox.py (tie_word_embeddings=False), configuration_bloom.py
 *   (no override of PretrainedConfig's tie_word_embeddings=True; `n_head`/`n_layer` names).
 */

const nHead = (cfg: BaseConfig) => requireInt(cfg, ['n_head', 'num_attention_heads'], 'to regroup the rows of the fused query_key_value');

export const gptneox: ArchFamily = {
  id: 'gptneox',
  hfArchitectures: ['GPTNeoXForCausalLM'],
  ggufArch: 'gptneox',
  tiedDefault: false,
  modules: [
    { hf: 'gpt_neox.embed_in', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'embed_out', gguf: 'output', isOutputHead: true },
    { hf: 'gpt_neox.layers.{bid}.attention.query_key_value', gguf: 'blk.{bid}.attn_qkv', bOps: (cfg) => [perHeadQkvToBlocks(nHead(cfg))] },
    { hf: 'gpt_neox.layers.{bid}.attention.dense', gguf: 'blk.{bid}.attn_output' },
    { hf: 'gpt_neox.layers.{bid}.mlp.dense_h_to_4h', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'gpt_neox.layers.{bid}.mlp.dense_4h_to_h', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: 'gpt_neox.layers.{bid}.input_layernorm', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'gpt_neox.layers.{bid}.post_attention_layernorm', gguf: 'blk.{bid}.ffn_norm' },
    { hf: 'gpt_neox.final_layer_norm', gguf: 'output_norm' },
  ],
};

/** BloomForCausalLM nests the model under `transformer.`; BloomModel does not. */
const bloomPaths = (p: string) => [`transformer.${p}`, p];

export const bloom: ArchFamily = {
  id: 'bloom',
  hfArchitectures: ['BloomForCausalLM', 'BloomModel'],
  ggufArch: 'bloom',
  tiedDefault: true,
  modules: [
    { hf: bloomPaths('word_embeddings'), gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: bloomPaths('h.{bid}.self_attention.query_key_value'), gguf: 'blk.{bid}.attn_qkv', bOps: (cfg) => [perHeadQkvToBlocks(nHead(cfg))] },
    { hf: bloomPaths('h.{bid}.self_attention.dense'), gguf: 'blk.{bid}.attn_output' },
    { hf: bloomPaths('h.{bid}.mlp.dense_h_to_4h'), gguf: 'blk.{bid}.ffn_up' },
    { hf: bloomPaths('h.{bid}.mlp.dense_4h_to_h'), gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: bloomPaths('word_embeddings_layernorm'), gguf: 'token_embd_norm' },
    { hf: bloomPaths('h.{bid}.input_layernorm'), gguf: 'blk.{bid}.attn_norm' },
    { hf: bloomPaths('h.{bid}.post_attention_layernorm'), gguf: 'blk.{bid}.ffn_norm' },
    { hf: bloomPaths('ln_f'), gguf: 'output_norm' },
  ],
};
