import type { ArchFamily } from '../types';

/**
 * DBRX: `Wqkv` is already `[q | k | v]`; no transforms. The experts are not nn.Linear modules
 * but three fused parameters per layer (`ffn.experts.mlp.w1` / `v1` / `w2`, each
 * (n_experts * ffn_hidden, d_model)); PEFT can only reach them through target_parameters, whose
 * LoRA factors are not per-expert matrices llama.cpp can stack, so such tensors are refused.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py DbrxModel (rename only for Wqkv /
 * out_proj / router; experts reshaped (n_expert, n_ff, n_embd), w2 permuted); gguf-py
 * tensor_mapping.py (`transformer.blocks.{bid}.norm_attn_norm.attn.Wqkv` -> attn_qkv,
 * `...attn.out_proj` -> attn_output, `transformer.blocks.{bid}.ffn.router.layer` -> ffn_gate_inp,
 * `norm_attn_norm.norm_1` -> attn_norm, `norm_attn_norm.norm_2` -> attn_output_norm,
 * `transformer.wte`, `transformer.norm_f`); src/models/dbrx.cpp (output required, LoRA applied to
 * wqkv, wo, the router and the output); transformers configuration_dbrx.py
 * (tie_word_embeddings default False).
 */

const EXPERTS_WHY =
  "LoRA on DBRX's fused expert weights (PEFT target_parameters) cannot be converted: llama.cpp stores each layer's experts as one 3-D tensor and needs a separate low-rank pair per expert, which this adapter does not have.";

const expertPaths = ['', '.w1', '.v1', '.w2', '.base_layer', '.base_layer.base_layer'].map((s) => `transformer.blocks.{bid}.ffn.experts.mlp${s}`);

export const dbrx: ArchFamily = {
  id: 'dbrx',
  hfArchitectures: ['DbrxForCausalLM'],
  ggufArch: 'dbrx',
  tiedDefault: false,
  modules: [
    { hf: 'transformer.wte', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: 'transformer.blocks.{bid}.norm_attn_norm.attn.Wqkv', gguf: 'blk.{bid}.attn_qkv' },
    { hf: 'transformer.blocks.{bid}.norm_attn_norm.attn.out_proj', gguf: 'blk.{bid}.attn_output' },
    { hf: 'transformer.blocks.{bid}.ffn.router.layer', gguf: 'blk.{bid}.ffn_gate_inp' },
    { hf: expertPaths, gguf: 'blk.{bid}.ffn_exps', unsupported: EXPERTS_WHY },
  ],
  norms: [
    { hf: 'transformer.blocks.{bid}.norm_attn_norm.norm_1', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'transformer.blocks.{bid}.norm_attn_norm.norm_2', gguf: 'blk.{bid}.attn_output_norm' },
    { hf: 'transformer.norm_f', gguf: 'output_norm' },
  ],
};
