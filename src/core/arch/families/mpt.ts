import type { ArchFamily } from '../types';

/**
 * MPT: `attn.Wqkv` is already `[q | k | v]` (also with GQA via attn_config.kv_n_heads), so the
 * converter renames only; no transforms.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py MPTModel (registered for
 * MPTForCausalLM; rename only, plus AWQ `act.scales`); gguf-py tensor_mapping.py
 * (`transformer.blocks.{bid}.attn.Wqkv` -> attn_qkv, `attn.out_proj` -> attn_output,
 * `ffn.up_proj` -> ffn_up, `ffn.down_proj` -> ffn_down, `norm_1`/`norm_2`, `attn.q_ln`/`k_ln`,
 * `transformer.wte`, `transformer.norm_f`); constants.py (`mpt`); MPT's configuration_mpt.py
 * (tie_word_embeddings default True; llama.cpp's mpt model falls back to token_embd for output).
 */
export const mpt: ArchFamily = {
  id: 'mpt',
  hfArchitectures: ['MPTForCausalLM'],
  ggufArch: 'mpt',
  tiedDefault: true,
  modules: [
    { hf: 'transformer.wte', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: 'transformer.blocks.{bid}.attn.Wqkv', gguf: 'blk.{bid}.attn_qkv' },
    { hf: 'transformer.blocks.{bid}.attn.out_proj', gguf: 'blk.{bid}.attn_output' },
    { hf: 'transformer.blocks.{bid}.ffn.up_proj', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'transformer.blocks.{bid}.ffn.down_proj', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: 'transformer.blocks.{bid}.norm_1', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'transformer.blocks.{bid}.norm_2', gguf: 'blk.{bid}.ffn_norm' },
    { hf: 'transformer.blocks.{bid}.attn.q_ln', gguf: 'blk.{bid}.attn_q_norm' },
    { hf: 'transformer.blocks.{bid}.attn.k_ln', gguf: 'blk.{bid}.attn_k_norm' },
    { hf: 'transformer.norm_f', gguf: 'output_norm' },
  ],
};
