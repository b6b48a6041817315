import type { ArchFamily } from '../types';

/**
 * ChatGLM2 / ChatGLM3 / GLM-4 (THUDM remote code, config.json architectures ChatGLMModel):
 * `self_attention.query_key_value` is already `[q | k | v]` (multi-query groups after the q
 * heads), `mlp.dense_h_to_4h` is the fused gate+up that llama.cpp reads as ffn_up (SwiGLU on
 * one tensor); no transforms. The converter strips the leading `transformer.`.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py ChatGLMModel (registered for
 * ChatGLMModel and ChatGLMForConditionalGeneration; `name.removeprefix("transformer.")`);
 * gguf-py tensor_mapping.py (`embedding.word_embeddings`, `encoder.layers.{bid}.self_attention.query_key_value`
 * -> attn_qkv, `self_attention.dense` -> attn_output, `mlp.dense_h_to_4h` -> ffn_up,
 * `mlp.dense_4h_to_h` -> ffn_down, `input_layernorm`, `post_attention_layernorm`,
 * `encoder.final_layernorm`, `output_layer` -> output); src/models/chatglm.cpp (build_lora_mm on
 * wqkv, wo, ffn and output). The output layer is a separate weight in these checkpoints
 * (tie_word_embeddings false in their configs).
 */
export const chatglm: ArchFamily = {
  id: 'chatglm',
  hfArchitectures: ['ChatGLMModel', 'ChatGLMForConditionalGeneration'],
  ggufArch: 'chatglm',
  tiedDefault: false,
  modules: [
    { hf: 'transformer.embedding.word_embeddings', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'transformer.output_layer', gguf: 'output', isOutputHead: true },
    { hf: 'transformer.encoder.layers.{bid}.self_attention.query_key_value', gguf: 'blk.{bid}.attn_qkv' },
    { hf: 'transformer.encoder.layers.{bid}.self_attention.dense', gguf: 'blk.{bid}.attn_output' },
    { hf: 'transformer.encoder.layers.{bid}.mlp.dense_h_to_4h', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'transformer.encoder.layers.{bid}.mlp.dense_4h_to_h', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: 'transformer.encoder.layers.{bid}.input_layernorm', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'transformer.encoder.layers.{bid}.post_attention_layernorm', gguf: 'blk.{bid}.ffn_norm' },
    { hf: 'transformer.encoder.final_layernorm', gguf: 'output_norm' },
  ],
};
