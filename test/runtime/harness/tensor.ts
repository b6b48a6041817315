/**
 * Dense float64 tensors in row-major order (HF / PyTorch layout) and the few operations the
 * test-side reference path needs. Deliberately independent of src/core's tensor code: the
 * runtime proof must not share a bug with the converter.
 */

export interface Tensor {
  shape: number[];
  data: Float64Array;
}

/** Seeded PRNG (mulberry32) with a Box-Muller normal: reproducible weights in every run. */
export class Rng {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = Math.max(this.uniform(), 1e-12);
    const v = this.uniform();
    const m = Math.sqrt(-2 * Math.log(u));
    this.spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/**
 * A tensor of normal values with standard deviation `std`, rounded to float32 (the dtype the
 * files store), so that what the test computes with is exactly what llama.cpp reads.
 */
export function randn(rng: Rng, shape: number[], std: number, mean = 0): Tensor {
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(mean + std * rng.normal());
  return { shape, data };
}

export function constant(shape: number[], value: number): Tensor {
  return { shape, data: new Float64Array(size(shape)).fill(value) };
}

/** (m, k) x (k, n) in float64. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape as [number, number];
  const [k2, n] = b.shape as [number, number];
  if (k !== k2) throw new Error(`matmul: [${a.shape}] x [${b.shape}]`);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a.data[i * k + p]!;
      if (av === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += av * b.data[p * n + j]!;
    }
  }
  return { shape: [m, n], data: out };
}

export function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data: out };
}

/** a + s * b, elementwise. */
export function addScaled(a: Tensor, b: Tensor, s: number): Tensor {
  if (a.data.length !== b.data.length) throw new Error(`add: [${a.shape}] + [${b.shape}]`);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! + s * b.data[i]!;
  return { shape: a.shape.slice(), data: out };
}

/** Rows [start, start + count) of a matrix (or elements of a vector). */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const cols = t.shape.length === 1 ? 1 : size(t.shape.slice(1));
  return { shape: [count, ...t.shape.slice(1)], data: t.data.slice(start * cols, (start + count) * cols) };
}

/** Concatenate along the first axis. */
export function concatRows(parts: Tensor[]): Tensor {
  const rows = parts.reduce((a, p) => a + p.shape[0]!, 0);
  const data = new Float64Array(parts.reduce((a, p) => a + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { shape: [rows, ...parts[0]!.shape.slice(1)], data };
}

/** Stack equally-shaped tensors along a new first axis (experts). */
export function stack(parts: Tensor[]): Tensor {
  const c = concatRows(parts);
  return { shape: [parts.length, ...parts[0]!.shape], data: c.data };
}

/** Reorder the rows: output row i is input row `rowOf(i)`. */
export function gatherRows(t: Tensor, rowOf: (i: number) => number): Tensor {
  const rows = t.shape[0]!;
  const cols = t.data.length / rows;
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < rows; i++) {
    const src = rowOf(i);
    out.set(t.data.subarray(src * cols, src * cols + cols), i * cols);
  }
  return { shape: t.shape.slice(), data: out };
}

export function scaleTensor(t: Tensor, s: number): Tensor {
  return { shape: t.shape.slice(), data: t.data.map((v) => v * s) };
}

export function addConstant(t: Tensor, c: number): Tensor {
  return { shape: t.shape.slice(), data: t.data.map((v) => v + c) };
}
