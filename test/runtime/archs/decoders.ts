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
import { f32, permuteRope, u32, type ArchSpec } from '../harness/arch';
import { commonConfig, commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import type { GgufKv } from '../../../src/core/gguf/writer';
import type { Tensor } from '../harness/tensor';

export interface DecoderShape {
  layer?: (i: number) => string;
  embed?: string;
  /** HF lm_head name, or null for a tied base (llama.cpp then has no output tensor). */
  head?: string | null;
  /** HF final norm, or null when the model has none with weights (OLMo's non-parametric LayerNorm). */
  finalNorm?: string | null;
  attn?: { block?: string; q?: string; k?: string; v?: string; o?: string };
  qkvBias?: boolean;
  oBias?: boolean;
  /** Llama-family q/k row permutation. */
  permute?: boolean;
  /** Heads used to permute k (default kvHeads); XVERSE's converter uses heads / kvHeads. */
  kPermuteHeads?: number;
  /** q/k RMSNorm: per head ('head', Qwen3/Gemma3) or over the whole projection ('full', OLMo2). */
  qkNorm?: 'head' | 'full';
  headBias?: boolean;
  /** LayerNorm biases (norms are LayerNorm with bias). */
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
  o: { dims?: Partial<Dims>; config?: Record<string, unknown>; kvs?: GgufKv[]; tolerance?: number; eps?: 'rms' | 'layernorm' | 'both'; ropeDims?: number } = {},
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
    // Weights and (1-D) biases alike: a bias is permuted as a one-column matrix, keeping its shape.
    s.permute ? (t: Tensor) => ({ shape: t.shape, data: permuteRope({ shape: [t.shape[0]!, t.data.length / t.shape[0]!], data: t.data }, n).data }) : undefined;
  for (let i = 0; i < d.layers; i++) {
    const p = layer(i);
    const blk = `blk.${i}`;
    for (const [hf, gguf] of s.norms ?? PRE) b.norm(`${p}.${hf}`, `${blk}.${gguf}`, H, { bias: s.layerNorm, addOne: s.addOne });
    const at = `${p}.${a.block}`;
    b.linear(`${at}.${a.q}`, `${blk}.attn_q`, qOut, H, { bias: s.qkvBias, make: perm(d.heads) });
    b.linear(`${at}.${a.k}`, `${blk}.attn_k`, kvOut, H, { bias: s.qkvBias, make: perm(s.kPermuteHeads ?? d.kvHeads) });
    b.linear(`${at}.${a.v}`, `${blk}.attn_v`, kvOut, H, { bias: s.qkvBias });
    b.linear(`${at}.${a.o}`, `${blk}.attn_output`, H, qOut, { bias: s.oBias });
    if (s.qkNorm) {
      const full = s.qkNorm === 'full';
      b.norm(`${at}.q_norm`, `${blk}.attn_q_norm`, full ? qOut : d.headDim, { addOne: s.addOne });
      b.norm(`${at}.k_norm`, `${blk}.attn_k_norm`, full ? kvOut : d.headDim, { addOne: s.addOne });
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
  if (s.finalNorm !== null) b.norm(s.finalNorm ?? 'model.norm', 'output_norm', H, { bias: s.layerNorm, addOne: s.addOne });
  if (head) b.linear(head, 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H), bias: s.headBias });
  const config = commonConfig(hfArch, modelType, d, { tie_word_embeddings: !head, ...o.config });
  return b.build(id, config, [...commonKvs(ggufArch, d, { eps: o.eps ?? (s.layerNorm ? 'layernorm' : 'rms'), ropeDims: o.ropeDims }), ...(o.kvs ?? [])], {
    tolerance: o.tolerance,
  });
}

export const qwen2 = () => decoder('qwen2', 'Qwen2ForCausalLM', 'qwen2', 'qwen2', { qkvBias: true });
export const qwen3 = () => decoder('qwen3', 'Qwen3ForCausalLM', 'qwen3', 'qwen3', { qkNorm: 'head' }, { dims: { headDim: 32 } });
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
    { ...gemmaShape, norms: GEMMA2_NORMS, qkNorm: 'head' },
    {
      dims: { headDim: 32 },
      config: { query_pre_attn_scalar: 32, sliding_window: 4096 },
      kvs: [u32('gemma3.attention.sliding_window', 4096)],
      tolerance: 5e-4,
    },
  );

// StarCoder2: LayerNorm with biases, biased projections, GELU MLP c_fc / c_proj, tied.
export const starcoder2 = () =>
  decoder(
    'starcoder2',
    'Starcoder2ForCausalLM',
    'starcoder2',
    'starcoder2',
    {
      head: null,
      layerNorm: true,
      qkvBias: true,
      oBias: true,
      mlp: { kind: 'plain', up: 'mlp.c_fc', down: 'mlp.c_proj', bias: true },
      mlpStd: 0.3 / Math.sqrt(64),
    },
    { config: { use_bias: true, norm_epsilon: 1e-5 }, tolerance: 5e-4 },
  );

// StableLM: LayerNorm with biases, partial rotary (a quarter of head_dim), SiLU gated MLP.
export const stablelm = () =>
  decoder(
    'stablelm',
    'StableLmForCausalLM',
    'stablelm',
    'stablelm',
    { layerNorm: true },
    { config: { partial_rotary_factor: 0.25, layer_norm_eps: 1e-5 }, ropeDims: 4 },
  );

// Phi-2: one LayerNorm per block (parallel attention and MLP), biases everywhere, GELU fc1 / fc2.
export const phi2 = () =>
  decoder(
    'phi2',
    'PhiForCausalLM',
    'phi',
    'phi2',
    {
      layerNorm: true,
      qkvBias: true,
      oBias: true,
      headBias: true,
      attn: { o: 'dense' },
      mlp: { kind: 'plain', up: 'mlp.fc1', down: 'mlp.fc2', bias: true },
      norms: [['input_layernorm', 'attn_norm']],
      finalNorm: 'model.final_layernorm',
      mlpStd: 0.3 / Math.sqrt(64),
    },
    { dims: { kvHeads: 4 }, config: { partial_rotary_factor: 0.5 }, ropeDims: 8, tolerance: 5e-4 },
  );

// OLMo2: norms after attention and MLP only, q/k RMSNorm over the whole projection.
export const olmo2 = () =>
  decoder(
    'olmo2',
    'Olmo2ForCausalLM',
    'olmo2',
    'olmo2',
    {
      qkNorm: 'full',
      norms: [
        ['post_attention_layernorm', 'post_attention_norm'],
        ['post_feedforward_layernorm', 'post_ffw_norm'],
      ],
    },
    { dims: { kvHeads: 4 } },
  );

// Command-R: one bias-free LayerNorm per block (parallel), logit scale, tied.
export const cohere = () =>
  decoder(
    'command-r',
    'CohereForCausalLM',
    'cohere',
    'command-r',
    { head: null, norms: [['input_layernorm', 'attn_norm']] },
    { config: { logit_scale: 0.5, layer_norm_eps: 1e-5 }, kvs: [f32('command-r.logit_scale', 0.5)], eps: 'layernorm' },
  );

// Granite: Llama layout (q/k permuted) with its four scales.
export const granite = () =>
  decoder(
    'granite',
    'GraniteForCausalLM',
    'granite',
    'granite',
    { permute: true },
    {
      config: { logits_scaling: 2, residual_multiplier: 0.5, embedding_multiplier: 3, attention_multiplier: 0.25 },
      kvs: [f32('granite.logit_scale', 2), f32('granite.residual_scale', 0.5), f32('granite.embedding_scale', 3), f32('granite.attention.scale', 0.25)],
    },
  );

// EXAONE 3: GPT-2-like names on a Llama-like block, NEOX rope (no permutation).
export const exaone = () =>
  decoder(
    'exaone',
    'ExaoneForCausalLM',
    'exaone',
    'exaone',
    {
      layer: (i) => `transformer.h.${i}`,
      embed: 'transformer.wte',
      finalNorm: 'transformer.ln_f',
      attn: { block: 'attn.attention', o: 'out_proj' },
      mlp: { kind: 'gated', gate: 'mlp.c_fc_0', up: 'mlp.c_fc_1', down: 'mlp.c_proj' },
      norms: [
        ['ln_1', 'attn_norm'],
        ['ln_2', 'ffn_norm'],
      ],
    },
    { config: { layer_norm_epsilon: 1e-5 } },
  );

// InternLM3: a Llama model to llama.cpp (converted as `llama`, q/k permuted).
export const internlm3 = () => decoder('internlm3', 'InternLM3ForCausalLM', 'internlm3', 'llama', { permute: true });

// Orion: LayerNorm with biases, no q/k surgery.
export const orion = () => decoder('orion', 'OrionForCausalLM', 'orion', 'orion', { layerNorm: true });

// XVERSE: its converter's own permutation; for k it uses heads / kvHeads heads when they differ.
export const xverse = () => decoder('xverse', 'XverseForCausalLM', 'xverse', 'xverse', { permute: true, kPermuteHeads: 4 }, { dims: { heads: 4, kvHeads: 1 } });

// MiniCPM: Llama layout (q/k permuted) with embedding / residual / logit scales, tied.
export const minicpm = () =>
  decoder(
    'minicpm',
    'MiniCPMForCausalLM',
    'minicpm',
    'minicpm',
    { permute: true, head: null },
    {
      config: { scale_emb: 12, scale_depth: 1.4, dim_model_base: 32 },
      kvs: [f32('minicpm.embedding_scale', 12), f32('minicpm.residual_scale', 1.4 / Math.sqrt(2)), f32('minicpm.logit_scale', 64 / 32)],
    },
  );

// OLMo (1): non-parametric LayerNorm (no norm weights at all), q/k permuted like Llama.
export const olmo = () =>
  decoder('olmo', 'OlmoForCausalLM', 'olmo', 'olmo', { permute: true, norms: [], finalNorm: null }, { dims: { kvHeads: 4 }, eps: 'layernorm' });

// Nemotron: LayerNorm1P (stored 1 + w, with bias), squared-ReLU up / down MLP, partial rotary.
export const nemotron = () =>
  decoder(
    'nemotron',
    'NemotronForCausalLM',
    'nemotron',
    'nemotron',
    { layerNorm: true, addOne: true, mlp: { kind: 'plain', up: 'mlp.up_proj', down: 'mlp.down_proj' } },
    { config: { partial_rotary_factor: 0.5, norm_eps: 1e-5 }, ropeDims: 8 },
  );

// Cohere2 (Command R7B): Command-R's block with sliding-window layers.
export const cohere2 = () =>
  decoder(
    'cohere2',
    'Cohere2ForCausalLM',
    'cohere2',
    'cohere2',
    { head: null, norms: [['input_layernorm', 'attn_norm']] },
    {
      config: { logit_scale: 0.5, layer_norm_eps: 1e-5, sliding_window: 4096, sliding_window_pattern: 4 },
      kvs: [f32('cohere2.logit_scale', 0.5), u32('cohere2.attention.sliding_window', 4096)],
      eps: 'layernorm',
    },
  );

/**
 * Gemma 3 as its multimodal container: config.json is Gemma3ForConditionalGeneration with the
 * text model's settings under text_config, and the text weights under `language_model.model.`
 * (`prefix`). The GGUF base is the same gemma3 text model.
 */
export function gemma3Multimodal(prefix = 'language_model.model.'): ArchSpec {
  const text = gemma3();
  const toMm = (name: string) => name.replace(/^model\./, prefix);
  const fromMm = (name: string) => (name.startsWith(prefix) ? `model.${name.slice(prefix.length)}` : name);
  const textConfig: Record<string, unknown> = { ...text.config, model_type: 'gemma3_text' };
  delete textConfig.architectures;
  return {
    ...text,
    id: 'gemma3-multimodal',
    config: {
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: textConfig,
      vision_config: { model_type: 'siglip_vision_model', hidden_size: 32 },
    },
    targets: text.targets.map((t) => ({ ...t, module: toMm(t.module) })),
    weights: (rng) => new Map([...text.weights(rng)].map(([k, v]) => [toMm(k), v])),
    toGguf: (w) => text.toGguf(new Map([...w].map(([k, v]) => [fromMm(k), v]))),
  };
}
