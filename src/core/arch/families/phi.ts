import type { ArchFamily } from '../types';
import { at, embedAndHead, expertCount, MODEL_LAYERS, norms, plainMlp, PRE_NORMS, routedExperts, separateAttention } from './decoder-parts';

/**
 * Phi-2 (PhiForCausalLM), Phi-3 / Phi-4 (Phi3ForCausalLM), Phi-3.5-MoE (PhiMoEForCausalLM).
 *
 * Sources: llama.cpp convert_hf_to_gguf.py Phi2Model (no tensor surgery), Phi3MiniModel (no
 * surgery: `qkv_proj` stays fused as attn_qkv and `gate_up_proj` as ffn_up; llama.cpp splits
 * them at run time), PhiMoeModel (experts w1/w2/w3 stacked, count `num_local_experts`);
 * gguf-py tensor_mapping.py (`self_attn.dense` -> attn_output, `mlp.fc1`/`fc2` -> ffn_up /
 * ffn_down, `model.final_layernorm` -> output_norm, `self_attn.qkv_proj` -> attn_qkv,
 * `mlp.gate_up_proj` -> ffn_up, `block_sparse_moe.gate` -> ffn_gate_inp); gguf-py constants.py
 * (phi2, phi3, phimoe). No q/k permutation. transformers PhiConfig, Phi3Config and
 * PhiMoEConfig default tie_word_embeddings to False.
 */

export const phi2: ArchFamily = {
  id: 'phi2',
  hfArchitectures: ['PhiForCausalLM'],
  ggufArch: 'phi2',
  tiedDefault: false,
  modules: [
    ...embedAndHead(['model.embed_tokens'], ['lm_head']),
    ...separateAttention(MODEL_LAYERS, 'none', { o: 'dense' }),
    ...plainMlp(MODEL_LAYERS, 'mlp.fc1', 'mlp.fc2'),
  ],
  // Phi-2 has one LayerNorm per block (parallel attention and MLP).
  norms: norms(MODEL_LAYERS, [['input_layernorm', 'blk.{bid}.attn_norm']], [[['model.final_layernorm'], 'output_norm']]),
};

export const phi3: ArchFamily = {
  id: 'phi3',
  hfArchitectures: ['Phi3ForCausalLM'],
  ggufArch: 'phi3',
  tiedDefault: false,
  modules: [
    ...embedAndHead(['model.embed_tokens'], ['lm_head']),
    { hf: at(MODEL_LAYERS, 'self_attn.qkv_proj'), gguf: 'blk.{bid}.attn_qkv' },
    { hf: at(MODEL_LAYERS, 'self_attn.o_proj'), gguf: 'blk.{bid}.attn_output' },
    // Fused [gate; up]: llama.cpp's phi3 graph splits ffn_up itself (LLM_FFN_SWIGLU on one tensor).
    ...plainMlp(MODEL_LAYERS, 'mlp.gate_up_proj', 'mlp.down_proj'),
  ],
  norms: norms(MODEL_LAYERS, PRE_NORMS, [[['model.norm'], 'output_norm']]),
};

export const phimoe: ArchFamily = {
  id: 'phimoe',
  hfArchitectures: ['PhiMoEForCausalLM'],
  ggufArch: 'phimoe',
  tiedDefault: false,
  modules: [
    ...embedAndHead(['model.embed_tokens'], ['lm_head']),
    ...separateAttention(MODEL_LAYERS, 'none'),
    ...routedExperts(MODEL_LAYERS, expertCount(['num_local_experts']), { block: 'block_sparse_moe', router: 'gate', gate: 'w1', up: 'w3', down: 'w2' }),
  ],
  norms: norms(MODEL_LAYERS, PRE_NORMS, [[['model.norm'], 'output_norm']]),
};
