import type { ByteSource } from '../io';
import { inflateEntry, type DeflatedEntry } from '../pytorch/zip';
import { bf16BitsToF32Bits } from './bf16';
import { f16BitsToF32Bits } from './f16';

export type SourceDtype = 'F32' | 'F16' | 'BF16';

export const SOURCE_DTYPE_BYTES: Record<SourceDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Where a tensor's little-endian data lives in a source, and how it is typed. */
export interface TensorLocation {
  dtype: SourceDtype;
  /** Row-major (numpy order) shape. */
  shape: number[];
  /** Byte offset of the first element (absolute, or in the inflated entry when `deflated`). */
  begin: number;
  /** End of the bytes the tensor spans. */
  end: number;
  /**
   * Element strides, row-major, for a view that is not contiguous (PyTorch checkpoints:
   * transposes, slices with a step, broadcasts). Absent: contiguous row-major data.
   */
  strides?: number[];
  /** The bytes sit in a deflate-compressed zip entry; begin/end are offsets once inflated. */
  deflated?: DeflatedEntry;
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
  return { shape: loc.shape.slice(), bits: widenToF32Bits(await readTensorBytes(source, loc), loc.dtype) };
}

/** Read a whole tensor's little-endian element bytes, row-major and contiguous. */
export async function readTensorBytes(source: ByteSource, loc: TensorLocation): Promise<Uint8Array> {
  const span = loc.deflated ? (await inflateEntry(source, loc.deflated)).subarray(loc.begin, loc.end) : await source.read(loc.begin, loc.end - loc.begin);
  return contiguousBytes(span, loc);
}

/** The row-major bytes of a tensor whose span (from `loc.begin`) has been read. */
export function contiguousBytes(span: Uint8Array, loc: TensorLocation): Uint8Array {
  return loc.strides ? gatherStrided(span, loc.shape, loc.strides, SOURCE_DTYPE_BYTES[loc.dtype]) : span;
}

/** Copy a strided view (strides in elements, from the span's first byte) into row-major order. */
export function gatherStrided(span: Uint8Array, shape: readonly number[], strides: readonly number[], elementBytes: number): Uint8Array {
  const numel = shape.reduce((a, d) => a * d, 1);
  const out = new Uint8Array(numel * elementBytes);
  if (numel === 0) return out;
  const dims = shape.length;
  const index = new Array<number>(dims).fill(0);
  let src = 0;
  for (let i = 0; i < numel; i++) {
    const from = src * elementBytes;
    for (let b = 0; b < elementBytes; b++) out[i * elementBytes + b] = span[from + b]!;
    // Odometer: advance the last dimension, carrying into the earlier ones.
    for (let d = dims - 1; d >= 0; d--) {
      index[d]!++;
      src += strides[d]!;
      if (index[d]! < shape[d]!) break;
      src -= strides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

/** True on little-endian hosts (every platform browsers and Node run on in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function widenToF32Bits(bytes: Uint8Array, dtype: SourceDtype): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const n = bytes.byteLength / 4;
    // On a little-endian host the file's bytes already are the bit patterns: one copy.
    // (new Uint8Array(x) copies; a Node Buffer's slice() would be a view into a shared pool.)
    if (HOST_LITTLE_ENDIAN) return new Uint32Array(new Uint8Array(bytes).buffer, 0, n);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
    return out;
  }
  const n = bytes.byteLength / 2;
  const out = new Uint32Array(n);
  if (dtype === 'BF16') {
    if (HOST_LITTLE_ENDIAN) {
      const src = new Uint16Array(new Uint8Array(bytes).buffer, 0, n);
      for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = bf16BitsToF32Bits(view.getUint16(i * 2, true));
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32Bits(view.getUint16(i * 2, true));
  }
  return out;
}
