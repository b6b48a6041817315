import type { ArchFamily } from '../types';
import { embedAndHead, expertCount, gatedMlp, MODEL_LAYERS, norms, PRE_NORMS, QK_NORMS, routedExperts, separateAttention } from './decoder-parts';

/**
 * OLMo, OLMo-2, OLMoE.
 *
 * Sources: llama.cpp convert_hf_to_gguf.py OlmoModel (q_proj / k_proj permuted like
 * LlamaModel.permute), Olmo2Model (no surgery), OlmoeModel (experts down/gate/up stacked,
 * count `num_experts`, no permutation); gguf-py constants.py MODEL_TENSORS (OLMO has no norm
 * tensors at all: OLMo-1 uses non-parametric LayerNorm; OLMO2 is post-norm only:
 * ATTN_POST_NORM = post_attention_norm, FFN_POST_NORM = post_ffw_norm, plus q/k norms);
 * tensor_mapping.py ("gemma2 olmo2" post norms, "cohere olmoe chameleon olmo2" q/k norms).
 * transformers OlmoConfig, Olmo2Config and OlmoeConfig default tie_word_embeddings to False.
 */

const embedHead = embedAndHead(['model.embed_tokens'], ['lm_head']);

export const olmo: ArchFamily = {
  id: 'olmo',
  // Not "OLMoForCausalLM": that is the hf_olmo remote-code layout (model.transformer.blocks.N.*),
  // whose module names llama.cpp's tensor map does not know.
  hfArchitectures: ['OlmoForCausalLM'],
  ggufArch: 'olmo',
  tiedDefault: false,
  modules: [...embedHead, ...separateAttention(MODEL_LAYERS, 'llama'), ...gatedMlp(MODEL_LAYERS)],
};

export const olmo2: ArchFamily = {
  id: 'olmo2',
  hfArchitectures: ['Olmo2ForCausalLM'],
  ggufArch: 'olmo2',
  tiedDefault: false,
  modules: [...embedHead, ...separateAttention(MODEL_LAYERS, 'none'), ...gatedMlp(MODEL_LAYERS)],
  norms: norms(
    MODEL_LAYERS,
    [['post_attention_layernorm', 'blk.{bid}.post_attention_norm'], ['post_feedforward_layernorm', 'blk.{bid}.post_ffw_norm'], ...QK_NORMS],
    [[['model.norm'], 'output_norm']],
  ),
};

export const olmoe: ArchFamily = {
  id: 'olmoe',
  hfArchitectures: ['OlmoeForCausalLM'],
  ggufArch: 'olmoe',
  tiedDefault: false,
  modules: [
    ...embedHead,
    ...separateAttention(MODEL_LAYERS, 'none'),
    ...routedExperts(MODEL_LAYERS, expertCount(['num_experts']), { block: 'mlp', router: 'gate', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' }),
  ],
  norms: norms(MODEL_LAYERS, [...PRE_NORMS, ...QK_NORMS], [[['model.norm'], 'output_norm']]),
};
