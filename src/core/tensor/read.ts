import type { ByteSource } from '../io';
import { bf16BitsToF32Bits } from './bf16';
import { f16BitsToF32Bits } from './f16';

export type SourceDtype = 'F32' | 'F16' | 'BF16';

/** Where a tensor's little-endian data lives in a source, and how it is typed. */
export interface TensorLocation {
  dtype: SourceDtype;
  /** Row-major (numpy order) shape. */
  shape: number[];
  begin: number;
  end: number;
}

/**
 * A tensor widened exactly to float32, kept as bit patterns: data movement (permutations,
 * transposes, slices) never routes a value through a JS double, so NaN payloads survive.
 */
export interface F32Tensor {
  shape: number[];
  bits: Uint32Array;
}

/** Read a whole tensor and widen it to f32 bit patterns. */
export async function readTensorF32(source: ByteSource, loc: TensorLocation): Promise<F32Tensor> {
  const bytes = await source.read(loc.begin, loc.end - loc.begin);
  return { shape: loc.shape.slice(), bits: widenToF32Bits(bytes, loc.dtype) };
}

export function widenToF32Bits(bytes: Uint8Array, dtype: SourceDtype): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const n = bytes.byteLength / 4;
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
    return out;
  }
  const n = bytes.byteLength / 2;
  const out = new Uint32Array(n);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) out[i] = bf16BitsToF32Bits(view.getUint16(i * 2, true));
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32Bits(view.getUint16(i * 2, true));
  }
  return out;
}
