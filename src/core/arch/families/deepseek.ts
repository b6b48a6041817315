import { requireInt, type BaseConfig } from '../../peft/config';
import type { ArchFamily, ModuleRule } from '../types';
import { llamaNorms } from './llama';

/**
 * DeepSeek-V2 / V2-Lite / V3 (one llama.cpp architecture, `deepseek2`): multi-head latent
 * attention, dense MLPs in the first layers, then routed experts (stacked per layer) plus
 * shared experts. No row transforms (no q/k permutation).
 *
 * llama.cpp builds the MLA projections (q_a/q_b, or q_proj on Lite models, kv_a_proj_with_mqa,
 * kv_b_proj / its k_b and v_b halves) and the output head with plain ggml_mul_mat, not
 * build_lora_mm, so LoRA tensors for them load but are never applied: they are refused (or
 * dropped on request) instead of being written to be silently ignored. o_proj goes through
 * build_attn (LoRA applied); dense and shared-expert MLPs through build_ffn, routed experts
 * through build_moe_ffn (both apply LoRA).
 *
 * Sources (facts only): llama.cpp src/models/deepseek2.cpp (ggml_mul_mat for wq_a, wq_b, wq,
 * wkv_a_mqa, wkv_b, wk_b, wv_b and model.output), src/llama-graph.cpp (build_attn: wo through
 * build_lora_mm; build_moe_ffn: gate_inp through build_lora_mm, experts through build_lora_mm_id);
 * convert_hf_to_gguf.py DeepseekV2Model (registered for DeepseekV2ForCausalLM and
 * DeepseekV3ForCausalLM; experts merged from `mlp.experts.{xid}.{gate,up,down}_proj`,
 * n_routed_experts); gguf-py tensor_mapping.py (`self_attn.q_a_proj` -> attn_q_a, `q_b_proj` ->
 * attn_q_b, `kv_a_proj_with_mqa` -> attn_kv_a_mqa, `kv_b_proj` -> attn_kv_b, `mlp.shared_experts.*`
 * -> ffn_*_shexp, `mlp.gate` -> ffn_gate_inp, `q_a_layernorm`, `kv_a_layernorm`);
 * transformers configuration_deepseek_v2.py / _v3.py (tie_word_embeddings default False).
 */

const MLA_WHY =
  "llama.cpp's DeepSeek-V2/V3 graph multiplies the multi-head latent attention projections with plain ggml_mul_mat and never adds LoRA to them, so this update would be loaded and silently ignored.";
const HEAD_WHY =
  "llama.cpp's DeepSeek-V2/V3 graph computes the output head with plain ggml_mul_mat and never adds LoRA to it, so this update would be loaded and silently ignored.";

const nRouted = (cfg: BaseConfig) => requireInt(cfg, ['n_routed_experts'], 'to stack the routed experts');
const L = 'model.layers.{bid}';

const mla = (hf: string, gguf: string): ModuleRule => ({ hf: `${L}.self_attn.${hf}`, gguf: `blk.{bid}.${gguf}`, notApplied: MLA_WHY });

export const deepseek2: ArchFamily = {
  id: 'deepseek2',
  hfArchitectures: ['DeepseekV2ForCausalLM', 'DeepseekV3ForCausalLM'],
  ggufArch: 'deepseek2',
  tiedDefault: false,
  modules: [
    { hf: 'model.embed_tokens', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true, notApplied: HEAD_WHY },
    mla('q_proj', 'attn_q'),
    mla('q_a_proj', 'attn_q_a'),
    mla('q_b_proj', 'attn_q_b'),
    mla('kv_a_proj_with_mqa', 'attn_kv_a_mqa'),
    mla('kv_b_proj', 'attn_kv_b'),
    { hf: `${L}.self_attn.o_proj`, gguf: 'blk.{bid}.attn_output' },
    { hf: `${L}.mlp.gate_proj`, gguf: 'blk.{bid}.ffn_gate' },
    { hf: `${L}.mlp.up_proj`, gguf: 'blk.{bid}.ffn_up' },
    { hf: `${L}.mlp.down_proj`, gguf: 'blk.{bid}.ffn_down' },
    { hf: `${L}.mlp.gate`, gguf: 'blk.{bid}.ffn_gate_inp' },
    { hf: `${L}.mlp.shared_experts.gate_proj`, gguf: 'blk.{bid}.ffn_gate_shexp' },
    { hf: `${L}.mlp.shared_experts.up_proj`, gguf: 'blk.{bid}.ffn_up_shexp' },
    { hf: `${L}.mlp.shared_experts.down_proj`, gguf: 'blk.{bid}.ffn_down_shexp' },
    { hf: `${L}.mlp.experts.{xid}.gate_proj`, gguf: 'blk.{bid}.ffn_gate_exps', experts: nRouted },
    { hf: `${L}.mlp.experts.{xid}.up_proj`, gguf: 'blk.{bid}.ffn_up_exps', experts: nRouted },
    { hf: `${L}.mlp.experts.{xid}.down_proj`, gguf: 'blk.{bid}.ffn_down_exps', experts: nRouted },
  ],
  norms: [
    ...llamaNorms,
    { hf: `${L}.self_attn.q_a_layernorm`, gguf: 'blk.{bid}.attn_q_a_norm' },
    { hf: `${L}.self_attn.kv_a_layernorm`, gguf: 'blk.{bid}.attn_kv_a_norm' },
  ],
};
