import type { ArchFamily } from '../types';
import { at, embedAndHead, expertCount, gatedMlp, MODEL_LAYERS, norms, plainMlp, PRE_NORMS, separateAttention } from './decoder-parts';

/**
 * Decoders whose HF layout is Llama's or close to it: Granite, Granite-MoE, MiniCPM, XVERSE,
 * Orion, EXAONE 3, Nemotron, StableLM, StarCoder2.
 *
 * Sources (llama.cpp):
 * - convert_hf_to_gguf.py: GraniteModel / GraniteMoeModel extend LlamaModel, so q_proj / k_proj
 *   are permuted (LlamaModel.permute); MiniCPMModel permutes with LlamaModel.permute too;
 *   XverseModel uses its own _reverse_hf_permute (k: num_attention_heads // num_key_value_heads
 *   heads when they differ); OrionModel, ExaoneModel, StableLMModel, StarCoder2Model and
 *   NemotronModel do no q/k surgery; NemotronModel adds 1 to every `*norm.weight`
 *   (layernorm1p); GraniteMoeModel splits the 3-D `block_sparse_moe.input_linear` parameter,
 *   which is not an nn.Linear and so cannot carry a PEFT LoRA (only the router can).
 * - gguf-py tensor_mapping.py: EXAONE `transformer.h.{bid}.attn.attention.{q,k,v,out}_proj`,
 *   `mlp.c_fc_0` (gate), `mlp.c_fc_1` (up), `mlp.c_proj` (down), `ln_1` / `ln_2` / `ln_f`,
 *   `transformer.wte`; StarCoder2 `mlp.c_fc` / `mlp.c_proj`; Granite-MoE
 *   `block_sparse_moe.router.layer` -> ffn_gate_inp.
 * - gguf-py constants.py MODEL_ARCH_NAMES: granite, granitemoe, minicpm, xverse, orion,
 *   exaone, nemotron, stablelm, starcoder2; NEMOTRON and STARCODER2 have no FFN_GATE.
 *
 * tie_word_embeddings defaults (transformers / the models' remote code): GraniteConfig,
 * GraniteMoeConfig, XverseConfig, OrionConfig, NemotronConfig, StableLmConfig: False;
 * Starcoder2Config: True; ExaoneConfig does not set it, so PretrainedConfig's True applies;
 * MiniCPM: see below. (llama.cpp's loaders require an output tensor for XVERSE, Orion,
 * Nemotron, StableLM and EXAONE, so their base GGUFs always have output.weight.)
 */

const embedHead = embedAndHead(['model.embed_tokens'], ['lm_head']);
const llamaNorms = norms(MODEL_LAYERS, PRE_NORMS, [[['model.norm'], 'output_norm']]);

function llamaLayout(rope: 'llama' | 'xverse' | 'none') {
  return [...embedHead, ...separateAttention(MODEL_LAYERS, rope), ...gatedMlp(MODEL_LAYERS)];
}

export const granite: ArchFamily = {
  id: 'granite',
  hfArchitectures: ['GraniteForCausalLM'],
  ggufArch: 'granite',
  tiedDefault: false,
  modules: llamaLayout('llama'),
  norms: llamaNorms,
};

export const granitemoe: ArchFamily = {
  id: 'granitemoe',
  hfArchitectures: ['GraniteMoeForCausalLM'],
  ggufArch: 'granitemoe',
  tiedDefault: false,
  modules: [
    ...embedHead,
    ...separateAttention(MODEL_LAYERS, 'llama'),
    { hf: at(MODEL_LAYERS, 'block_sparse_moe.router.layer'), gguf: 'blk.{bid}.ffn_gate_inp' },
  ],
  norms: llamaNorms,
  // The experts are 3-D parameters (not LoRA-able modules); the count is only checked here so
  // a config without it is reported early rather than at conversion.
  validate: (cfg) => void expertCount(['num_local_experts'])(cfg),
};

export const minicpm: ArchFamily = {
  id: 'minicpm',
  hfArchitectures: ['MiniCPMForCausalLM'],
  ggufArch: 'minicpm',
  // MiniCPM is remote code and copies of its MiniCPMConfig disagree on the default (False in
  // some ports, True in others); MiniCPM-2B shares its embeddings and llama.cpp then has no
  // output tensor. Assume tied when config.json is silent: refusing an lm_head LoRA is
  // recoverable, a file that fails to load is not.
  tiedDefault: true,
  modules: llamaLayout('llama'),
  norms: llamaNorms,
};

export const xverse: ArchFamily = {
  id: 'xverse',
  hfArchitectures: ['XverseForCausalLM'],
  ggufArch: 'xverse',
  tiedDefault: false,
  modules: llamaLayout('xverse'),
  norms: llamaNorms,
};

export const orion: ArchFamily = {
  id: 'orion',
  hfArchitectures: ['OrionForCausalLM'],
  ggufArch: 'orion',
  tiedDefault: false,
  modules: llamaLayout('none'),
  norms: llamaNorms,
};

const EXAONE_LAYERS = ['transformer.h.{bid}'];

export const exaone: ArchFamily = {
  id: 'exaone',
  hfArchitectures: ['ExaoneForCausalLM'],
  ggufArch: 'exaone',
  tiedDefault: true,
  modules: [
    ...embedAndHead(['transformer.wte'], ['lm_head']),
    ...separateAttention(EXAONE_LAYERS, 'none', { block: 'attn.attention', o: 'out_proj' }),
    ...gatedMlp(EXAONE_LAYERS, { gate: 'mlp.c_fc_0', up: 'mlp.c_fc_1', down: 'mlp.c_proj' }),
  ],
  norms: norms(
    EXAONE_LAYERS,
    [
      ['ln_1', 'blk.{bid}.attn_norm'],
      ['ln_2', 'blk.{bid}.ffn_norm'],
    ],
    [[['transformer.ln_f'], 'output_norm']],
  ),
};

export const nemotron: ArchFamily = {
  id: 'nemotron',
  hfArchitectures: ['NemotronForCausalLM'],
  ggufArch: 'nemotron',
  tiedDefault: false,
  modules: [...embedHead, ...separateAttention(MODEL_LAYERS, 'none'), ...plainMlp(MODEL_LAYERS, 'mlp.up_proj', 'mlp.down_proj')],
  // LayerNorm1P: HF computes with (1 + w); the converter stores w + 1.
  norms: norms(MODEL_LAYERS, PRE_NORMS, [[['model.norm'], 'output_norm']], true),
};

export const stablelm: ArchFamily = {
  id: 'stablelm',
  hfArchitectures: ['StableLmForCausalLM', 'StableLMEpochForCausalLM'],
  ggufArch: 'stablelm',
  tiedDefault: false,
  modules: llamaLayout('none'),
  norms: llamaNorms,
};

export const starcoder2: ArchFamily = {
  id: 'starcoder2',
  hfArchitectures: ['Starcoder2ForCausalLM'],
  ggufArch: 'starcoder2',
  tiedDefault: true,
  modules: [...embedHead, ...separateAttention(MODEL_LAYERS, 'none'), ...plainMlp(MODEL_LAYERS, 'mlp.c_fc', 'mlp.c_proj')],
  norms: llamaNorms,
};
