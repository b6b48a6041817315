/**
 * Fast element kernels: source elements (F32 / F16 / BF16, as typed arrays of their bit
 * patterns) straight into a GGML output type, with no per-element DataView call, allocation or
 * function call, and no f32 intermediate unless the output type needs one (Q8_0).
 *
 * Every kernel is bit-identical to the plain path (widen to f32 bits with `widenToF32Bits`,
 * encode with `encodeTensor`), which stays the fallback and the test oracle (kernels.spec.ts):
 * - a plain copy where nothing changes (BF16 → BF16, F16 → F16, F32 → F32; BF16 NaNs are then
 *   quieted, as the reference encoder does);
 * - a 65,536-entry table where the input is 16-bit (F16 ↔ BF16, F16 → F32): each entry is the
 *   scalar encoder's own result, so the table is exact by construction;
 * - for F32 → F16 / BF16, the rounding written inline on integers for the common range, with
 *   the scalar encoder for the rare rest (subnormal results, overflow, NaN);
 * - Q8_0 from any input, through a small f32 scratch block.
 *
 * Little-endian hosts only (every platform browsers and Node run on in practice); the plain
 * path serves a big-endian host.
 */
import { f32BitsToBf16Bits } from './bf16';
import { f16BitsToF32Bits, f32BitsToF16Bits } from './f16';
import type { GgmlTypeName } from './encode';
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './q8_0';
import { countNonFiniteSimd, encodeElementsSimd, type KernelStats } from './simd';
import type { SourceDtype } from './read';

/** Elements as their bit patterns: Uint16Array for F16/BF16, Uint32Array for F32. */
export type ElementArray = Uint16Array | Uint32Array;

/** Bytes one element (or, for Q8_0, one block of 32) takes in each output type. */
export const OUTPUT_UNIT: Record<GgmlTypeName, { elements: number; bytes: number }> = {
  F32: { elements: 1, bytes: 4 },
  F16: { elements: 1, bytes: 2 },
  BF16: { elements: 1, bytes: 2 },
  Q8_0: { elements: Q8_0_BLOCK, bytes: Q8_0_BLOCK_BYTES },
};

let f16ToBf16Table: Uint16Array | undefined;
let bf16ToF16Table: Uint16Array | undefined;
let f16ToF32Table: Uint32Array | undefined;

/** BF16 bits → F16 bits, each entry from the scalar encoders (128 KiB, built on first use). */
function bf16ToF16(): Uint16Array {
  if (!bf16ToF16Table) {
    const t = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f32BitsToF16Bits((h << 16) >>> 0);
    bf16ToF16Table = t;
  }
  return bf16ToF16Table;
}

/** F16 bits → BF16 bits (via the exact f32 widening). */
function f16ToBf16(): Uint16Array {
  if (!f16ToBf16Table) {
    const t = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f32BitsToBf16Bits(f16BitsToF32Bits(h));
    f16ToBf16Table = t;
  }
  return f16ToBf16Table;
}

/** F16 bits → F32 bits (256 KiB). */
function f16ToF32(): Uint32Array {
  if (!f16ToF32Table) {
    const t = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
    f16ToF32Table = t;
  }
  return f16ToF32Table;
}

function lookup16(table: Uint16Array, src: Uint16Array, from: number, count: number, out: Uint16Array): void {
  for (let i = 0; i < count; i++) out[i] = table[src[from + i]!]!;
}

/**
 * f32 bits → f16 bits. For magnitudes in the f16 normal range (2^-14 ≤ |x| < 2^16) the result is
 * the top bits rebased, rounded to nearest even by adding 0xfff plus the lowest kept bit; a carry
 * into the exponent is the correct result, including 65520 and up becoming infinity. Everything
 * else (zeros, subnormal results, overflow, Inf, NaN) goes to the scalar encoder.
 */
function f32ToF16(src: Uint32Array, from: number, count: number, out: Uint16Array): void {
  for (let i = 0; i < count; i++) {
    const f = src[from + i]!;
    const m = f & 0x7fffffff;
    if (m >= 0x38800000 && m < 0x47800000) {
      out[i] = ((f >>> 16) & 0x8000) | (((m + 0xfff + ((m >>> 13) & 1)) >>> 13) - 0x1c000);
    } else {
      out[i] = f32BitsToF16Bits(f);
    }
  }
}

/**
 * f32 bits → bf16 bits: round to nearest even on the bit pattern; NaN quieted (as the scalar
 * encoder). `(f >>> 0) + …` can pass 2^32 only for patterns above 0xffff7fff, all NaNs.
 */
function f32ToBf16(src: Uint32Array, from: number, count: number, out: Uint16Array): void {
  for (let i = 0; i < count; i++) {
    const f = src[from + i]!;
    if ((f & 0x7fffffff) > 0x7f800000) {
      out[i] = ((f | 0x00400000) >>> 16) & 0xffff;
    } else {
      out[i] = ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
}

/**
 * BF16 → BF16 is a copy, except that the reference encoder quiets NaNs (sets the top mantissa
 * bit), so a signalling-NaN pattern changes: fix those few in place after the copy.
 */
function quietBf16NaNs(o: Uint16Array): void {
  for (let i = 0; i < o.length; i++) {
    const v = o[i]!;
    if ((v & 0x7fff) > 0x7f80) o[i] = v | 0x0040;
  }
}

const q8Scratch = new Float32Array(Q8_0_BLOCK);
const q8ScratchBits = new Uint32Array(q8Scratch.buffer);

/**
 * Q8_0 blocks from any source: each block widened into a 32-value f32 scratch, then the same
 * arithmetic as `encodeQ8_0` (d = f32(amax / 127) as f16, q = round half away from zero of
 * f32(x · f32(1/d))). `floor(|x| + 0.5)` equals numpy's `floor(|x|) + floor(2·frac)`: |x| has at
 * most 24 significant bits, so adding 0.5 in a double is exact.
 */
function toQ8_0(dtype: SourceDtype, src: ElementArray, from: number, count: number, out: Uint8Array, at: number): void {
  const fround = Math.fround;
  const table = dtype === 'F16' ? f16ToF32() : undefined;
  const blocks = count / Q8_0_BLOCK;
  for (let b = 0; b < blocks; b++) {
    const s = from + b * Q8_0_BLOCK;
    if (dtype === 'BF16') for (let i = 0; i < Q8_0_BLOCK; i++) q8ScratchBits[i] = src[s + i]! << 16;
    else if (table) for (let i = 0; i < Q8_0_BLOCK; i++) q8ScratchBits[i] = table[src[s + i]!]!;
    else for (let i = 0; i < Q8_0_BLOCK; i++) q8ScratchBits[i] = src[s + i]!;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const a = Math.abs(q8Scratch[i]!);
      if (a > amax || a !== a) amax = a;
    }
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    const dBits = f32BitsToF16Bits(f32Bits(d));
    const o = at + b * Q8_0_BLOCK_BYTES;
    out[o] = dBits & 0xff;
    out[o + 1] = dBits >>> 8;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const x = fround(q8Scratch[i]! * id);
      // NaN | 0 is 0, as the plain path's NaN & 0xff.
      const r = (Math.abs(x) + 0.5) | 0;
      out[o + 2 + i] = (x < 0 ? -r : r) & 0xff;
    }
  }
}

const bitsScratch = new Float32Array(1);
const bitsScratchU32 = new Uint32Array(bitsScratch.buffer);
function f32Bits(x: number): number {
  bitsScratch[0] = x;
  return bitsScratchU32[0]!;
}

/**
 * Encode `count` source elements `src[from …]` as `type` into `out` at byte `at`, which must be
 * aligned to the output element size (2 for F16/BF16, 4 for F32). For Q8_0, `count` is a multiple
 * of 32. Returns the bytes written. Uses the WebAssembly SIMD kernels where there is one for the
 * pair (simd.ts), else the JavaScript ones.
 */
export function encodeElements(
  dtype: SourceDtype,
  src: ElementArray,
  from: number,
  count: number,
  type: GgmlTypeName,
  out: Uint8Array,
  at: number,
  stats: KernelStats = { nonFinite: 0 },
): number {
  const viaSimd = encodeElementsSimd(dtype, src, from, count, type, out, at, stats, encodeElementsJs);
  return viaSimd >= 0 ? viaSimd : encodeElementsJs(dtype, src, from, count, type, out, at, stats);
}

/**
 * How many of the elements are NaN or infinite (all exponent bits set): the SIMD scan where there
 * is one, else a loop. Part of the same pass over the data as the encoding, on bytes in memory.
 */
export function countNonFinite(dtype: SourceDtype, src: ElementArray, from: number, count: number): number {
  const viaSimd = countNonFiniteSimd(dtype, src, from, count);
  if (viaSimd >= 0) return viaSimd;
  const expMask = dtype === 'F32' ? 0x7f800000 : dtype === 'F16' ? 0x7c00 : 0x7f80;
  let found = 0;
  for (let i = from; i < from + count; i++) if ((src[i]! & expMask) === expMask) found++;
  return found;
}

/** The JavaScript kernels: `encodeElements` without SIMD (the values are counted separately). */
export function encodeElementsJs(
  dtype: SourceDtype,
  src: ElementArray,
  from: number,
  count: number,
  type: GgmlTypeName,
  out: Uint8Array,
  at: number,
  stats: KernelStats = { nonFinite: 0 },
): number {
  stats.nonFinite += countNonFinite(dtype, src, from, count);
  const byteOffset = out.byteOffset + at;
  switch (type) {
    case 'F32': {
      const o = new Uint32Array(out.buffer, byteOffset, count);
      if (dtype === 'F32') o.set(src.subarray(from, from + count));
      else if (dtype === 'BF16') for (let i = 0; i < count; i++) o[i] = src[from + i]! << 16;
      else {
        const t = f16ToF32();
        for (let i = 0; i < count; i++) o[i] = t[src[from + i]!]!;
      }
      return count * 4;
    }
    case 'F16': {
      const o = new Uint16Array(out.buffer, byteOffset, count);
      if (dtype === 'F16') o.set(src.subarray(from, from + count));
      else if (dtype === 'BF16') lookup16(bf16ToF16(), src as Uint16Array, from, count, o);
      else f32ToF16(src as Uint32Array, from, count, o);
      return count * 2;
    }
    case 'BF16': {
      const o = new Uint16Array(out.buffer, byteOffset, count);
      if (dtype === 'BF16') {
        o.set(src.subarray(from, from + count));
        quietBf16NaNs(o);
      } else if (dtype === 'F16') lookup16(f16ToBf16(), src as Uint16Array, from, count, o);
      else f32ToBf16(src as Uint32Array, from, count, o);
      return count * 2;
    }
    case 'Q8_0':
      toQ8_0(dtype, src, from, count, out, at);
      return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

/** A typed view of little-endian element bytes, or a copy when `bytes` is not aligned for one. */
export function elementView(bytes: Uint8Array, dtype: SourceDtype): ElementArray {
  const size = dtype === 'F32' ? 4 : 2;
  const n = bytes.byteLength / size;
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  return size === 4 ? new Uint32Array(aligned.buffer, aligned.byteOffset, n) : new Uint16Array(aligned.buffer, aligned.byteOffset, n);
}
