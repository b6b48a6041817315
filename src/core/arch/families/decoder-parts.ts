import { requireInt, type BaseConfig } from '../../peft/config';
import { ropePermute, type MatrixOp } from '../../tensor/ops';
import type { ModuleRule, NormRule } from '../types';

/**
 * Building blocks for the decoder families with Llama-like layouts (Qwen, Gemma, Phi, OLMo,
 * Cohere, Granite, …). Each takes the HF layer prefix(es) (e.g. `model.layers.{bid}`; several
 * when a model's modules have moved between transformers versions) and returns rules with the
 * GGUF names of gguf-py `constants.py` TENSOR_NAMES.
 *
 * Sources: llama.cpp gguf-py/gguf/tensor_mapping.py (HF name -> MODEL_TENSOR),
 * gguf-py/gguf/constants.py (MODEL_TENSOR -> GGUF name, MODEL_TENSORS per architecture),
 * convert_hf_to_gguf.py (per-model tensor surgery).
 */

/** How the converter reorders the output rows of q_proj / k_proj for llama.cpp's rotary layout. */
export type RopeStyle =
  /** No reordering (HF's rotate_half layout is kept; llama.cpp uses NEOX-style rope). */
  | 'none'
  /** LlamaModel.permute: q with num_attention_heads, k with num_key_value_heads. */
  | 'llama'
  /**
   * XverseModel._reverse_hf_permute (also Baichuan's): q with num_attention_heads; k with
   * num_attention_heads // num_key_value_heads when the two differ (sic: the quotient, not the
   * kv head count). The base GGUF is laid out this way, so the LoRA must be too.
   */
  | 'xverse';

const nHead = (cfg: BaseConfig) => requireInt(cfg, ['num_attention_heads', 'n_head'], 'for the rotary permutation of q_proj / k_proj');
const nKvHead = (cfg: BaseConfig) => requireInt(cfg, ['num_key_value_heads', 'num_attention_heads', 'n_head'], 'for the rotary permutation of k_proj');

function qOps(style: RopeStyle): ((cfg: BaseConfig) => MatrixOp[]) | undefined {
  if (style === 'none') return undefined;
  return (cfg) => [ropePermute(nHead(cfg))];
}

function kOps(style: RopeStyle): ((cfg: BaseConfig) => MatrixOp[]) | undefined {
  if (style === 'none') return undefined;
  if (style === 'llama') return (cfg) => [ropePermute(nKvHead(cfg))];
  return (cfg) => {
    const h = nHead(cfg);
    const kv = nKvHead(cfg);
    return [ropePermute(h === kv ? h : Math.floor(h / kv))];
  };
}

/** `${prefix}.${suffix}` for every prefix. */
export function at(prefixes: readonly string[], suffix: string): string[] {
  return prefixes.map((p) => `${p}.${suffix}`);
}

/** Token embedding and output head. */
export function embedAndHead(embed: string[], head: string[]): ModuleRule[] {
  return [
    { hf: embed, gguf: 'token_embd', isTokenEmbedding: true },
    { hf: head, gguf: 'output', isOutputHead: true },
  ];
}

/** Separate q/k/v/o projections under `<layer>.<block>` (block is usually `self_attn`). */
export function separateAttention(
  layers: readonly string[],
  rope: RopeStyle,
  names: { block?: string; q?: string; k?: string; v?: string; o?: string } = {},
): ModuleRule[] {
  const block = names.block ?? 'self_attn';
  const q = qOps(rope);
  const k = kOps(rope);
  return [
    { hf: at(layers, `${block}.${names.q ?? 'q_proj'}`), gguf: 'blk.{bid}.attn_q', ...(q ? { bOps: q } : {}) },
    { hf: at(layers, `${block}.${names.k ?? 'k_proj'}`), gguf: 'blk.{bid}.attn_k', ...(k ? { bOps: k } : {}) },
    { hf: at(layers, `${block}.${names.v ?? 'v_proj'}`), gguf: 'blk.{bid}.attn_v' },
    { hf: at(layers, `${block}.${names.o ?? 'o_proj'}`), gguf: 'blk.{bid}.attn_output' },
  ];
}

/** The SwiGLU MLP: gate_proj / up_proj / down_proj under `<layer>.mlp` (or other names). */
export function gatedMlp(
  layers: readonly string[],
  names: { gate: string; up: string; down: string } = { gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' },
): ModuleRule[] {
  return [
    { hf: at(layers, names.gate), gguf: 'blk.{bid}.ffn_gate' },
    { hf: at(layers, names.up), gguf: 'blk.{bid}.ffn_up' },
    { hf: at(layers, names.down), gguf: 'blk.{bid}.ffn_down' },
  ];
}

/** An MLP without a gate: up then down. */
export function plainMlp(layers: readonly string[], up: string, down: string): ModuleRule[] {
  return [
    { hf: at(layers, up), gguf: 'blk.{bid}.ffn_up' },
    { hf: at(layers, down), gguf: 'blk.{bid}.ffn_down' },
  ];
}

/** Reads the expert count from the first config key present. */
export function expertCount(keys: string[]): (cfg: BaseConfig) => number {
  return (cfg) => requireInt(cfg, keys, 'to stack the experts of a layer into one tensor');
}

/**
 * Routed experts `<layer>.<block>.experts.{xid}.<gate|up|down>` stacked into ffn_*_exps, plus
 * the router `<layer>.<block>.<router>` -> ffn_gate_inp.
 */
export function routedExperts(
  layers: readonly string[],
  count: (cfg: BaseConfig) => number,
  names: { block: string; router: string; gate: string; up: string; down: string },
): ModuleRule[] {
  const e = (w: string) => at(layers, `${names.block}.experts.{xid}.${w}`);
  return [
    { hf: at(layers, `${names.block}.${names.router}`), gguf: 'blk.{bid}.ffn_gate_inp' },
    { hf: e(names.gate), gguf: 'blk.{bid}.ffn_gate_exps', experts: count },
    { hf: e(names.up), gguf: 'blk.{bid}.ffn_up_exps', experts: count },
    { hf: e(names.down), gguf: 'blk.{bid}.ffn_down_exps', experts: count },
  ];
}

/** Norm rules from [hf suffix, gguf name] pairs under the layer prefixes, plus top-level norms. */
export function norms(layers: readonly string[], perLayer: [string, string][], topLevel: [string[], string][], addOne = false): NormRule[] {
  const flag = addOne ? { addOne: true } : {};
  return [
    ...perLayer.map(([suffix, gguf]): NormRule => ({ hf: at(layers, suffix), gguf, ...flag })),
    ...topLevel.map(([hf, gguf]): NormRule => ({ hf, gguf, ...flag })),
  ];
}

/** The usual pre-norm pair: input_layernorm -> attn_norm, post_attention_layernorm -> ffn_norm. */
export const PRE_NORMS: [string, string][] = [
  ['input_layernorm', 'blk.{bid}.attn_norm'],
  ['post_attention_layernorm', 'blk.{bid}.ffn_norm'],
];

/** Per-head (or whole-width) q/k RMSNorm vectors: self_attn.q_norm / k_norm. */
export const QK_NORMS: [string, string][] = [
  ['self_attn.q_norm', 'blk.{bid}.attn_q_norm'],
  ['self_attn.k_norm', 'blk.{bid}.attn_k_norm'],
];

/** The HF layer prefix of most decoders. */
export const MODEL_LAYERS = ['model.layers.{bid}'];
