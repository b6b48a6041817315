/**
 * What a runtime case needs to know about an architecture. Everything here is written in the
 * test, from llama.cpp's documented GGUF conventions, not taken from src/core/arch: the HF→GGUF
 * transforms of the base weights (and so of the merged weights) are an independent path.
 */
import type { GgufKv } from '../../../src/core/gguf/writer';
import type { GgufTensor } from './gguf-model';
import type { LoraTarget } from './peft';
import type { Rng, Tensor } from './tensor';

export interface ArchSpec {
  /** Case label, e.g. "llama". */
  id: string;
  /** The base model's config.json. */
  config: Record<string, unknown>;
  /** The base model's HF state dict (names with `.weight`), HF layouts. */
  weights(rng: Rng): Map<string, Tensor>;
  /** HF state dict → GGUF metadata (architecture keys, general.architecture) and tensors. */
  toGguf(weights: Map<string, Tensor>): { kvs: GgufKv[]; tensors: GgufTensor[] };
  /** Every LoRA-able module of this architecture (for the default adapter). */
  targets: LoraTarget[];
  /** Tolerance on |Δ log p| between base+adapter and merged (default 1e-4). */
  tolerance?: number;
}

export const u32 = (key: string, value: number): GgufKv => ({ key, type: 'UINT32', value });
export const f32 = (key: string, value: number): GgufKv => ({ key, type: 'FLOAT32', value });
export const str = (key: string, value: string): GgufKv => ({ key, type: 'STRING', value });
export const bool = (key: string, value: boolean): GgufKv => ({ key, type: 'BOOL', value });

/**
 * llama.cpp's rotary permutation of q/k rows for the models its converter treats like Llama:
 * numpy `w.reshape(n_head, 2, head_dim / 2, in).swapaxes(1, 2)`. Output row h·d + 2j + i is
 * input row h·d + i·d/2 + j (d = head_dim).
 */
export function permuteRope(t: Tensor, nHead: number): Tensor {
  const rows = t.shape[0]!;
  const cols = t.data.length / rows;
  const d = rows / nHead;
  const half = d / 2;
  const out = new Float64Array(t.data.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let i = 0; i < 2; i++) {
        const dst = h * d + 2 * j + i;
        const src = h * d + i * half + j;
        out.set(t.data.subarray(src * cols, src * cols + cols), dst * cols);
      }
    }
  }
  return { shape: t.shape.slice(), data: out };
}

/** Fetch a weight or fail with its name. */
export function need(w: Map<string, Tensor>, name: string): Tensor {
  const t = w.get(name);
  if (!t) throw new Error(`missing HF weight ${name}`);
  return t;
}
