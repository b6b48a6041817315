import type { ArchFamily } from '../types';

/**
 * Mamba (HF MambaForCausalLM): the four projections of each mixer are plain linears whose row
 * layouts llama.cpp keeps (in_proj: [x | z]; x_proj: [dt | B | C]); no transforms. llama.cpp
 * multiplies all four with build_lora_mm, so their LoRA is applied. The 1-D convolution is not a
 * Linear (no LoRA in a GGUF adapter), so LoRA on it finds no rule and is refused.
 *
 * Sources (facts only): llama.cpp src/models/graph-context-mamba.cpp build_mamba_layer
 * (build_lora_mm on ssm_in, ssm_x, ssm_dt, ssm_out), src/models/mamba.cpp (output falls back to
 * token_embd when absent; build_lora_mm on the output); convert_hf_to_gguf.py MambaModel
 * (rename only for these); gguf-py tensor_mapping.py (`backbone.embeddings`,
 * `backbone.layers.{bid}.mixer.in_proj` -> ssm_in, `x_proj` -> ssm_x, `dt_proj` -> ssm_dt,
 * `out_proj` -> ssm_out, `backbone.layers.{bid}.norm` -> attn_norm, `backbone.norm_f`);
 * transformers configuration_mamba.py (tie_word_embeddings default True).
 */
export const mamba: ArchFamily = {
  id: 'mamba',
  hfArchitectures: ['MambaForCausalLM'],
  ggufArch: 'mamba',
  tiedDefault: true,
  modules: [
    { hf: 'backbone.embeddings', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: 'backbone.layers.{bid}.mixer.in_proj', gguf: 'blk.{bid}.ssm_in' },
    { hf: 'backbone.layers.{bid}.mixer.x_proj', gguf: 'blk.{bid}.ssm_x', innerDims: true },
    { hf: 'backbone.layers.{bid}.mixer.dt_proj', gguf: 'blk.{bid}.ssm_dt', innerDims: true },
    { hf: 'backbone.layers.{bid}.mixer.out_proj', gguf: 'blk.{bid}.ssm_out' },
  ],
  norms: [
    { hf: 'backbone.layers.{bid}.norm', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'backbone.norm_f', gguf: 'output_norm' },
  ],
};
