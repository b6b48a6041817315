import type { ArchFamily } from '../types';
import { embedAndHead, gatedMlp, MODEL_LAYERS, norms, separateAttention } from './decoder-parts';

/**
 * Command-R (CohereForCausalLM) and Command-R7B (Cohere2ForCausalLM).
 *
 * Sources: llama.cpp convert_hf_to_gguf.py CommandR2Model / Cohere2Model (no tensor surgery);
 * gguf-py constants.py: MODEL_ARCH_NAMES `command-r` and `cohere2`; MODEL_TENSORS COMMAND_R
 * and COHERE2 have no OUTPUT tensor (logits come from token_embd, scaled by logit_scale) and
 * no FFN_NORM (attention and MLP run in parallel on one input_layernorm). Cohere's optional
 * q_norm / k_norm (use_qk_norm) are per-head 2-D weights, not norm vectors, so not mapped.
 *
 * tiedDefault 'always': there is no separate output tensor in llama.cpp.
 */

const modules = [...embedAndHead(['model.embed_tokens'], ['lm_head']), ...separateAttention(MODEL_LAYERS, 'none'), ...gatedMlp(MODEL_LAYERS)];
const cohereNorms = norms(MODEL_LAYERS, [['input_layernorm', 'blk.{bid}.attn_norm']], [[['model.norm'], 'output_norm']]);

export const cohere: ArchFamily = {
  id: 'command-r',
  hfArchitectures: ['CohereForCausalLM'],
  ggufArch: 'command-r',
  tiedDefault: 'always',
  modules,
  norms: cohereNorms,
};

export const cohere2: ArchFamily = {
  id: 'cohere2',
  hfArchitectures: ['Cohere2ForCausalLM'],
  ggufArch: 'cohere2',
  tiedDefault: 'always',
  modules,
  norms: cohereNorms,
};
