import { f32BitsToF16Bits, f32ToBits } from './f16';

/**
 * Q8_0, bit-exact with llama.cpp's gguf-py `quants.py`: blocks of 32 consecutive values,
 * d = max|x| / 127 (float32), stored as f16; q = round_half_away_from_zero(x * (1/d)) as int8,
 * where 1/d is computed in float32 from the unrounded d, and is 0 when d is 0.
 * 34 bytes per block.
 */
export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Quantize `values` (length a multiple of 32) into `out` (values.length / 32 * 34 bytes). */
export function encodeQ8_0(values: Float32Array, out: Uint8Array): void {
  const fround = Math.fround;
  const nBlocks = values.length / Q8_0_BLOCK;
  for (let b = 0; b < nBlocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const a = Math.abs(values[base + i]!);
      if (a > amax || Number.isNaN(a)) amax = a;
    }
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    const dBits = f32BitsToF16Bits(f32ToBits(d));
    const o = b * Q8_0_BLOCK_BYTES;
    out[o] = dBits & 0xff;
    out[o + 1] = dBits >>> 8;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const x = fround(values[base + i]! * id);
      // numpy's np_roundf: floor(|x|) + floor(2 * frac), with the sign put back.
      const a = Math.abs(x);
      const fl = Math.floor(a);
      const r = fl + Math.floor(2 * (a - fl));
      out[o + 2 + i] = (x < 0 ? -r : r) & 0xff;
    }
  }
}
