import type { ArchFamily } from '../types';
import { at, embedAndHead, gatedMlp, MODEL_LAYERS, norms, separateAttention } from './decoder-parts';

/**
 * Gemma, Gemma 2, Gemma 3 (text, and the text part of Gemma3ForConditionalGeneration).
 *
 * Sources: llama.cpp convert_hf_to_gguf.py GemmaModel / Gemma2Model (skip `lm_head.weight`,
 * `*norm.weight` + 1), Gemma3Model (norm_shift 1.0 on every `*norm.weight`; token_embd rows
 * cut to the tokenizer's real vocabulary; `language_model.` prefixes removed, vision tensors
 * go to the separate mmproj file); gguf-py constants.py MODEL_TENSORS (GEMMA/GEMMA2 have no
 * OUTPUT tensor; GEMMA2/GEMMA3: ATTN_POST_NORM = post_attention_norm, FFN_PRE_NORM =
 * ffn_norm, FFN_POST_NORM = post_ffw_norm); tensor_mapping.py. No q/k permutation.
 *
 * tiedDefault 'always': llama.cpp's Gemma graphs use token_embd as the output projection, so
 * an lm_head LoRA has nothing to attach to and a token-embedding LoRA would also change the
 * output. (Gemma 3's loader accepts an optional output tensor, but every Gemma 3 checkpoint
 * ties it, and its token_embd is trimmed to the real vocabulary, so an embedding LoRA's row
 * count would not match either.)
 */

const TEXT = MODEL_LAYERS;

function gemmaModules(layers: readonly string[], embed: string[], head: string[]) {
  return [...embedAndHead(embed, head), ...separateAttention(layers, 'none'), ...gatedMlp(layers)];
}

const GEMMA2_NORMS: [string, string][] = [
  ['input_layernorm', 'blk.{bid}.attn_norm'],
  ['post_attention_layernorm', 'blk.{bid}.post_attention_norm'],
  ['pre_feedforward_layernorm', 'blk.{bid}.ffn_norm'],
  ['post_feedforward_layernorm', 'blk.{bid}.post_ffw_norm'],
];

export const gemma: ArchFamily = {
  id: 'gemma',
  hfArchitectures: ['GemmaForCausalLM'],
  ggufArch: 'gemma',
  tiedDefault: 'always',
  modules: gemmaModules(TEXT, ['model.embed_tokens'], ['lm_head']),
  norms: norms(
    TEXT,
    [
      ['input_layernorm', 'blk.{bid}.attn_norm'],
      ['post_attention_layernorm', 'blk.{bid}.ffn_norm'],
    ],
    [[['model.norm'], 'output_norm']],
    true,
  ),
};

export const gemma2: ArchFamily = {
  id: 'gemma2',
  hfArchitectures: ['Gemma2ForCausalLM'],
  ggufArch: 'gemma2',
  tiedDefault: 'always',
  modules: gemmaModules(TEXT, ['model.embed_tokens'], ['lm_head']),
  norms: norms(TEXT, GEMMA2_NORMS, [[['model.norm'], 'output_norm']], true),
};

/**
 * Gemma3ForConditionalGeneration keeps the text model under `language_model.model.` (and its
 * head at `language_model.lm_head`) before transformers 4.52, under `model.language_model.`
 * (head at `lm_head`) since. Both map to the same GGUF names.
 */
const MM_TEXT = ['language_model.model', 'model.language_model'];
const MM_LAYERS = at(MM_TEXT, 'layers.{bid}');
const GEMMA3_NORMS: [string, string][] = [...GEMMA2_NORMS, ['self_attn.q_norm', 'blk.{bid}.attn_q_norm'], ['self_attn.k_norm', 'blk.{bid}.attn_k_norm']];

export const gemma3: ArchFamily = {
  id: 'gemma3',
  hfArchitectures: ['Gemma3ForCausalLM'],
  ggufArch: 'gemma3',
  tiedDefault: 'always',
  modules: gemmaModules(TEXT, ['model.embed_tokens'], ['lm_head']),
  norms: norms(TEXT, GEMMA3_NORMS, [[['model.norm'], 'output_norm']], true),
};

export const gemma3mm: ArchFamily = {
  id: 'gemma3',
  hfArchitectures: ['Gemma3ForConditionalGeneration'],
  ggufArch: 'gemma3',
  tiedDefault: 'always',
  modules: gemmaModules(MM_LAYERS, at(MM_TEXT, 'embed_tokens'), ['language_model.lm_head', 'lm_head']),
  norms: norms(MM_LAYERS, GEMMA3_NORMS, [[at(MM_TEXT, 'norm'), 'output_norm']], true),
};
