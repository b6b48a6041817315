/**
 * bfloat16 <-> float32 on bit patterns, bit-exact with llama.cpp's gguf-py encoder:
 * NaNs are quieted first (`(bits & 0xffff0000) | 0x00400000`), then rounded to nearest even on
 * the bit pattern (`(bits + 0x7fff + ((bits >> 16) & 1)) >> 16`), so large finite values may
 * round to infinity, exactly as the reference does.
 */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) >>> 0 > 0x7f800000) {
    return (((bits & 0xffff0000) | 0x00400000) >>> 16) & 0xffff;
  }
  // The sum can exceed 2^32 only for NaN patterns, handled above; doubles hold it exactly anyway.
  return Math.floor((bits + 0x7fff + ((bits >>> 16) & 1)) / 65536) & 0xffff;
}

export function bf16BitsToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}
