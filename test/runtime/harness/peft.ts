/**
 * Tiny PEFT LoRA adapters (safetensors + adapter_config.json, HF names and layouts) and the
 * merged weights PEFT's merge_and_unload would produce, computed in float64.
 *
 * PEFT's semantics written out here, independently of src/core/peft:
 *  - linear (nn.Linear, weight (out, in)): lora_A (r, in), lora_B (out, r), ΔW = s·B·A;
 *  - Conv1D (GPT-2, fan_in_fan_out, weight (in, out)): same factors, ΔW = (s·B·A)ᵀ;
 *  - embedding (weight (vocab, hidden)): lora_embedding_A (r, vocab), lora_embedding_B (hidden, r),
 *    ΔW = (s·B·A)ᵀ;
 *  - s = α/r, or α/√r with use_rslora, α and r per module from alpha_pattern / rank_pattern.
 *    The test uses plain module-name keys (matched as the module name or a `.`-suffix of it), so
 *    exactly one key applies and PEFT's regex rules need no re-implementation here.
 */
import { buildSafetensors, type BuildTensor } from '../../helpers/safetensors-build';
import { addScaled, matmul, randn, transpose, type Rng, type Tensor } from './tensor';

export type TargetKind = 'linear' | 'conv1d' | 'embedding';

export interface LoraTarget {
  /** HF module path, e.g. `model.layers.0.self_attn.q_proj`; its weight is `<module>.weight`. */
  module: string;
  kind: TargetKind;
}

export interface AdapterOptions {
  r: number;
  alpha: number;
  rslora?: boolean;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  /** Size of ΔW relative to W's typical entry (default 0.3): large enough to move log p. */
  strength?: number;
}

export interface PeftAdapter {
  config: Record<string, unknown>;
  safetensors: Uint8Array;
  /** Per module: PEFT's scaling and the factors (float32 values held in float64). */
  modules: { target: LoraTarget; scale: number; rank: number; a: Tensor; b: Tensor }[];
}

function patternValue(pattern: Record<string, number> | undefined, module: string): number | undefined {
  for (const [key, value] of Object.entries(pattern ?? {})) {
    if (module === key || module.endsWith(`.${key}`)) return value;
  }
  return undefined;
}

/** PEFT's scaling and rank of one module. */
export function peftModuleScaling(options: AdapterOptions, module: string): { rank: number; alpha: number; scale: number } {
  const rank = patternValue(options.rankPattern, module) ?? options.r;
  const alpha = patternValue(options.alphaPattern, module) ?? options.alpha;
  return { rank, alpha, scale: options.rslora ? alpha / Math.sqrt(rank) : alpha / rank };
}

/** In/out features of the module PEFT wraps. */
function features(target: LoraTarget, w: Tensor): { inF: number; outF: number } {
  const [d0, d1] = w.shape as [number, number];
  switch (target.kind) {
    case 'linear':
      return { inF: d1, outF: d0 };
    case 'conv1d':
      return { inF: d0, outF: d1 };
    case 'embedding':
      // lora_embedding_A is (r, num_embeddings), lora_embedding_B (embedding_dim, r).
      return { inF: d0, outF: d1 };
  }
}

/** Build a seeded adapter for `targets` of the base weights. */
export function buildPeftAdapter(
  base: Map<string, Tensor>,
  targets: LoraTarget[],
  options: AdapterOptions,
  rng: Rng,
  extraConfig: Record<string, unknown> = {},
  /** Whole tensors stored beside the factors (mergekit's norm vectors), HF names without prefix. */
  extraTensors: { name: string; tensor: Tensor }[] = [],
): PeftAdapter {
  const strength = options.strength ?? 0.3;
  const tensors: BuildTensor[] = [];
  const modules: PeftAdapter['modules'] = [];
  for (const target of targets) {
    const w = base.get(`${target.module}.weight`);
    if (!w) throw new Error(`no base weight ${target.module}.weight`);
    const { inF, outF } = features(target, w);
    const { rank, scale } = peftModuleScaling(options, target.module);
    // Entries of s·B·A have std ≈ s·√r·σA·σB; choose σB so that equals strength × std(W).
    let sumSq = 0;
    for (const v of w.data) sumSq += v * v;
    const wStd = Math.sqrt(sumSq / w.data.length);
    const aStd = 1 / Math.sqrt(inF);
    const a = randn(rng, [rank, inF], aStd);
    const b = randn(rng, [outF, rank], (strength * wStd) / (Math.abs(scale) * Math.sqrt(rank) * aStd));
    const prefix = `base_model.model.${target.module}`;
    if (target.kind === 'embedding') {
      tensors.push({ name: `${prefix}.lora_embedding_A`, dtype: 'F32', shape: a.shape, data: a.data });
      tensors.push({ name: `${prefix}.lora_embedding_B`, dtype: 'F32', shape: b.shape, data: b.data });
    } else {
      tensors.push({ name: `${prefix}.lora_A.weight`, dtype: 'F32', shape: a.shape, data: a.data });
      tensors.push({ name: `${prefix}.lora_B.weight`, dtype: 'F32', shape: b.shape, data: b.data });
    }
    modules.push({ target, scale, rank, a, b });
  }
  for (const e of extraTensors) tensors.push({ name: `base_model.model.${e.name}`, dtype: 'F32', shape: e.tensor.shape, data: e.tensor.data });
  const shortNames = [...new Set(targets.map((t) => t.module.split('.').pop()!))];
  const config: Record<string, unknown> = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: 'test/tiny-base',
    r: options.r,
    lora_alpha: options.alpha,
    lora_dropout: 0,
    target_modules: shortNames,
    use_rslora: options.rslora ?? false,
    rank_pattern: options.rankPattern ?? {},
    alpha_pattern: options.alphaPattern ?? {},
    fan_in_fan_out: targets.some((t) => t.kind === 'conv1d'),
    bias: 'none',
    use_dora: false,
    ...extraConfig,
  };
  return { config, safetensors: buildSafetensors(tensors), modules };
}

/** The base weights with every module's ΔW added (PEFT's merge), in float64. */
export function mergeAdapter(base: Map<string, Tensor>, adapter: PeftAdapter): Map<string, Tensor> {
  const merged = new Map(base);
  for (const m of adapter.modules) {
    const name = `${m.target.module}.weight`;
    const ba = matmul(m.b, m.a);
    const delta = m.target.kind === 'linear' ? ba : transpose(ba);
    merged.set(name, addScaled(merged.get(name)!, delta, m.scale));
  }
  return merged;
}
