import type { ArchFamily } from '../types';
import { at, embedAndHead, expertCount, gatedMlp, MODEL_LAYERS, norms, PRE_NORMS, QK_NORMS, routedExperts, separateAttention } from './decoder-parts';

/**
 * Qwen (1), Qwen2, Qwen2-MoE, Qwen3, Qwen3-MoE.
 *
 * Sources: llama.cpp convert_hf_to_gguf.py (QwenModel, Qwen2Model, Qwen2MoeModel, Qwen3Model,
 * Qwen3MoeModel: no q/k permutation; experts of a layer stacked, expert count from
 * `num_experts`), gguf-py tensor_mapping.py (`transformer.h.{bid}.attn.c_attn` -> attn_qkv,
 * `transformer.h.{bid}.mlp.w1` -> ffn_up and `w2` -> ffn_gate for Qwen 1; `mlp.gate` ->
 * ffn_gate_inp, `mlp.shared_expert.*` -> ffn_*_shexp, `mlp.shared_expert_gate` ->
 * ffn_gate_inp_shexp), gguf-py constants.py (MODEL_ARCH_NAMES qwen, qwen2, qwen2moe, qwen3,
 * qwen3moe). tie_word_embeddings defaults: transformers Qwen2Config / Qwen2MoeConfig /
 * Qwen3Config / Qwen3MoeConfig and the remote-code QWenConfig all default to False.
 */

const QWEN1_LAYERS = ['transformer.h.{bid}'];

export const qwen: ArchFamily = {
  id: 'qwen',
  hfArchitectures: ['QWenLMHeadModel'],
  ggufArch: 'qwen',
  tiedDefault: false,
  modules: [
    ...embedAndHead(['transformer.wte'], ['lm_head']),
    { hf: at(QWEN1_LAYERS, 'attn.c_attn'), gguf: 'blk.{bid}.attn_qkv' },
    { hf: at(QWEN1_LAYERS, 'attn.c_proj'), gguf: 'blk.{bid}.attn_output' },
    // Qwen 1 names its SwiGLU halves w1 (up) and w2 (gate): see tensor_mapping.py.
    { hf: at(QWEN1_LAYERS, 'mlp.w1'), gguf: 'blk.{bid}.ffn_up' },
    { hf: at(QWEN1_LAYERS, 'mlp.w2'), gguf: 'blk.{bid}.ffn_gate' },
    { hf: at(QWEN1_LAYERS, 'mlp.c_proj'), gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: norms(
    QWEN1_LAYERS,
    [
      ['ln_1', 'blk.{bid}.attn_norm'],
      ['ln_2', 'blk.{bid}.ffn_norm'],
    ],
    [[['transformer.ln_f'], 'output_norm']],
  ),
};

const denseModules = [...embedAndHead(['model.embed_tokens'], ['lm_head']), ...separateAttention(MODEL_LAYERS, 'none'), ...gatedMlp(MODEL_LAYERS)];

const outputNorm: [string[], string][] = [[['model.norm'], 'output_norm']];

export const qwen2: ArchFamily = {
  id: 'qwen2',
  hfArchitectures: ['Qwen2ForCausalLM'],
  ggufArch: 'qwen2',
  tiedDefault: false,
  modules: denseModules,
  norms: norms(MODEL_LAYERS, PRE_NORMS, outputNorm),
};

const qwenExperts = routedExperts(MODEL_LAYERS, expertCount(['num_experts']), {
  block: 'mlp',
  router: 'gate',
  gate: 'gate_proj',
  up: 'up_proj',
  down: 'down_proj',
});

const moeAttention = [...embedAndHead(['model.embed_tokens'], ['lm_head']), ...separateAttention(MODEL_LAYERS, 'none')];

export const qwen2moe: ArchFamily = {
  id: 'qwen2moe',
  hfArchitectures: ['Qwen2MoeForCausalLM'],
  ggufArch: 'qwen2moe',
  tiedDefault: false,
  modules: [
    ...moeAttention,
    ...qwenExperts,
    ...gatedMlp(MODEL_LAYERS, { gate: 'mlp.shared_expert.gate_proj', up: 'mlp.shared_expert.up_proj', down: 'mlp.shared_expert.down_proj' }).map((r) => ({
      ...r,
      gguf: `${r.gguf}_shexp`,
    })),
    { hf: at(MODEL_LAYERS, 'mlp.shared_expert_gate'), gguf: 'blk.{bid}.ffn_gate_inp_shexp' },
    // Qwen2-MoE configs may make some layers dense (mlp_only_layers / decoder_sparse_step):
    // those layers have a plain gated MLP, which llama.cpp's qwen2moe does not load. Not mapped.
  ],
  norms: norms(MODEL_LAYERS, PRE_NORMS, outputNorm),
};

export const qwen3: ArchFamily = {
  id: 'qwen3',
  hfArchitectures: ['Qwen3ForCausalLM'],
  ggufArch: 'qwen3',
  tiedDefault: false,
  modules: denseModules,
  norms: norms(MODEL_LAYERS, [...PRE_NORMS, ...QK_NORMS], outputNorm),
};

export const qwen3moe: ArchFamily = {
  id: 'qwen3moe',
  hfArchitectures: ['Qwen3MoeForCausalLM'],
  ggufArch: 'qwen3moe',
  tiedDefault: false,
  modules: [...moeAttention, ...qwenExperts],
  norms: norms(MODEL_LAYERS, [...PRE_NORMS, ...QK_NORMS], outputNorm),
};
