/**
 * Decoder-only architectures with separate q/k/v projections, built from one template: Qwen2
 * (q/k/v biases), Qwen3 (q/k norms), Gemma 1/2/3 ((1 + w) norms, GELU, tied), StarCoder2,
 * StableLM, OLMo2, Cohere, Granite, EXAONE, Mistral-style explicit head_dim.
 *
 * The GGUF side follows llama.cpp's convert_hf_to_gguf.py for each model: only Llama-family
 * models (LlamaModel and its subclasses: Llama, Mistral, Granite) permute q/k rows for the
 * interleaved rope; the others keep HF's layout (llama.cpp uses NEOX-style rope for them);
 * Gemma stores norm weights as 1 + w.
 */
import { bool, f32, permuteRope, u32, type ArchSpec } from '../harness/arch';
import { commonConfig, commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import type { GgufKv } from '../../../src/core/gguf/writer';
import type { Tensor } from '../harness/tensor';

export interface DecoderShape {
  layer?: (i: number) => string;
  embed?: string;
  /** HF lm_head name, or null for a tied base (llama.cpp then has no output tensor). */
  head?: string | null;
  finalNorm?: string;
  attn?: { block?: string; q?: string; k?: string; v?: string; o?: string };
  qkvBias?: boolean;
  oBias?: boolean;
  /** Llama-family q/k row permutation. */
  permute?: boolean;
  qkNorm?: boolean;
  /** 'gated': gate/up/down; 'plain': up/down. */
  mlp?: { kind: 'gated'; gate: string; up: string; down: string } | { kind: 'plain'; up: string; down: string; bias?: boolean };
  /** Per-layer norms: [HF suffix, GGUF name without `blk.N.`]. */
  norms?: [string, string][];
  layerNorm?: boolean;
  addOne?: boolean;
  /** Scale of the MLP's input weights (small for GELU, whose ggml table is fp16). */
  mlpStd?: number;
  embedStd?: number;
}

const PRE: [string, string][] = [
  ['input_layernorm', 'attn_norm'],
  ['post_attention_layernorm', 'ffn_norm'],
];

export function decoder(
  id: string,
  hfArch: string,
  modelType: string,
  ggufArch: string,
  s: DecoderShape,
  o: { dims?: Partial<Dims>; config?: Record<string, unknown>; kvs?: GgufKv[]; tolerance?: number; eps?: 'rms' | 'layernorm' | 'both' } = {},
): ArchSpec {
  const d: Dims = { ...DIMS, ...o.dims };
  const layer = s.layer ?? ((i: number) => `model.layers.${i}`);
  const a = { block: 'self_attn', q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', ...s.attn };
  const mlp = s.mlp ?? { kind: 'gated', gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' };
  const head = s.head === undefined ? 'lm_head' : s.head;
  const H = d.hidden;
  const qOut = d.heads * d.headDim;
  const kvOut = d.kvHeads * d.headDim;
  const b = new SpecBuilder();
  const embedName = s.embed ?? 'model.embed_tokens';
  b.param(`${embedName}.weight`, [d.vocab, H], s.embedStd ?? (head ? 1 : 2 / Math.sqrt(H))).out('token_embd.weight', `${embedName}.weight`);
  const perm = (n: number) =>
    s.permute ? (t: Tensor) => (t.shape.length === 2 ? permuteRope(t, n) : permuteRope({ shape: [t.shape[0]!, 1], data: t.data }, n)) : undefined;
  for (let i = 0; i < d.layers; i++) {
    const p = layer(i);
    const blk = `blk.${i}`;
    for (const [hf, gguf] of s.norms ?? PRE) b.norm(`${p}.${hf}`, `${blk}.${gguf}`, H, { bias: s.layerNorm, addOne: s.addOne });
    const at = `${p}.${a.block}`;
    b.linear(`${at}.${a.q}`, `${blk}.attn_q`, qOut, H, { bias: s.qkvBias, make: perm(d.heads) });
    b.linear(`${at}.${a.k}`, `${blk}.attn_k`, kvOut, H, { bias: s.qkvBias, make: perm(d.kvHeads) });
    b.linear(`${at}.${a.v}`, `${blk}.attn_v`, kvOut, H, { bias: s.qkvBias });
    b.linear(`${at}.${a.o}`, `${blk}.attn_output`, H, qOut, { bias: s.oBias });
    if (s.qkNorm) {
      b.norm(`${at}.q_norm`, `${blk}.attn_q_norm`, d.headDim, { addOne: s.addOne });
      b.norm(`${at}.k_norm`, `${blk}.attn_k_norm`, d.headDim, { addOne: s.addOne });
    }
    const inStd = s.mlpStd ?? 1 / Math.sqrt(H);
    if (mlp.kind === 'gated') {
      b.linear(`${p}.${mlp.gate}`, `${blk}.ffn_gate`, d.ffn, H, { std: inStd });
      b.linear(`${p}.${mlp.up}`, `${blk}.ffn_up`, d.ffn, H, { std: inStd });
    } else {
      b.linear(`${p}.${mlp.up}`, `${blk}.ffn_up`, d.ffn, H, { std: inStd, bias: mlp.bias });
    }
    b.linear(`${p}.${mlp.down}`, `${blk}.ffn_down`, H, d.ffn, { bias: mlp.kind === 'plain' && mlp.bias });
  }
  b.norm(s.finalNorm ?? 'model.norm', 'output_norm', H, { bias: s.layerNorm, addOne: s.addOne });
  if (head) b.linear(head, 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig(hfArch, modelType, d, { tie_word_embeddings: !head, ...o.config });
  return b.build(id, config, [...commonKvs(ggufArch, d, { eps: o.eps ?? (s.layerNorm ? 'layernorm' : 'rms') }), ...(o.kvs ?? [])], { tolerance: o.tolerance });
}

export const qwen2 = () => decoder('qwen2', 'Qwen2ForCausalLM', 'qwen2', 'qwen2', { qkvBias: true });
export const qwen3 = () => decoder('qwen3', 'Qwen3ForCausalLM', 'qwen3', 'qwen3', { qkNorm: true }, { dims: { headDim: 32 } });
export const mistral = () => decoder('mistral', 'MistralForCausalLM', 'mistral', 'llama', { permute: true }, { dims: { headDim: 32, heads: 4, kvHeads: 2 } });

// Gemma: GELU (tanh) MLP through ggml's fp16 table: keep its inputs small.
const gemmaShape: DecoderShape = { head: null, addOne: true, mlpStd: 0.3 / Math.sqrt(64) };
const GEMMA2_NORMS: [string, string][] = [
  ['input_layernorm', 'attn_norm'],
  ['post_attention_layernorm', 'post_attention_norm'],
  ['pre_feedforward_layernorm', 'ffn_norm'],
  ['post_feedforward_layernorm', 'post_ffw_norm'],
];
export const gemma = () =>
  decoder('gemma', 'GemmaForCausalLM', 'gemma', 'gemma', gemmaShape, {
    dims: { headDim: 32 },
    config: { hidden_activation: 'gelu_pytorch_tanh' },
    tolerance: 5e-4,
  });
export const gemma2 = () =>
  decoder(
    'gemma2',
    'Gemma2ForCausalLM',
    'gemma2',
    'gemma2',
    { ...gemmaShape, norms: GEMMA2_NORMS },
    {
      dims: { headDim: 32 },
      config: { query_pre_attn_scalar: 32, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4096 },
      kvs: [f32('gemma2.attn_logit_softcapping', 50), f32('gemma2.final_logit_softcapping', 30), u32('gemma2.attention.sliding_window', 4096)],
      tolerance: 5e-4,
    },
  );
export const gemma3 = () =>
  decoder(
    'gemma3',
    'Gemma3ForCausalLM',
    'gemma3_text',
    'gemma3',
    { ...gemmaShape, norms: GEMMA2_NORMS, qkNorm: true },
    {
      dims: { headDim: 32 },
      config: { query_pre_attn_scalar: 32, sliding_window: 4096 },
      kvs: [u32('gemma3.attention.sliding_window', 4096)],
      tolerance: 5e-4,
    },
  );

export { bool };
