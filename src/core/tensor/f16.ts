/**
 * IEEE 754 half precision <-> single precision, on bit patterns, bit-exact with numpy's
 * `astype(np.float16)` / `astype(np.float32)` (what llama.cpp's Python converter uses):
 * round to nearest, ties to even; overflow to ±inf; f16 subnormals produced and read exactly;
 * NaN keeps the top 10 bits of its payload and stays a NaN.
 *
 * Works on integers only, so it needs no Float16Array (absent in Node 20) and never routes a
 * NaN through a JS double (which could quiet a signalling NaN).
 */

/** f32 bit pattern -> f16 bit pattern. */
export function f32BitsToF16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    const nan = 0x7c00 | (mant >>> 13);
    // A payload that lives only in the low 13 bits would turn into infinity: keep it a NaN.
    return sign | (nan === 0x7c00 ? 0x7c01 : nan);
  }
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (and 65520+ becomes inf).
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
    return sign | h;
  }
  // Below the f16 normal range: the result is a subnormal multiple of 2^-24 (or zero).
  if (exp === 0) return sign; // f32 subnormals are far below half of 2^-24
  const shift = -e - 1; // value / 2^-24 = significand * 2^(e + 1)
  if (shift > 24) return sign;
  const sig = mant | 0x800000;
  let h = sig >>> shift;
  const rest = sig & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** f16 bit pattern -> f32 bit pattern (exact). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Subnormal: normalise.
    let m = mant;
    let e = -14;
    while ((m & 0x400) === 0) {
      m <<= 1;
      e -= 1;
    }
    return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** A JS number, rounded to f32, as its bit pattern. */
export function f32ToBits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}

/** An f32 bit pattern as a JS number. */
export function bitsToF32(bits: number): number {
  u32Scratch[0] = bits;
  return f32Scratch[0]!;
}
