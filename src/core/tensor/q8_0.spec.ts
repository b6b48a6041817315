/**
 * Q8_0 against a reference written here from the format's definition: per block of 32,
 * d = f32(max|x| / 127), stored as f16; q = round half away from zero of f32(x * f32(1/d)),
 * computed as floor(|v| + 0.5) (exact in doubles), 0 when d is 0.
 */
import { describe, expect, it } from 'vitest';
import { encodeTensor } from './encode';
import { f16BitsToF32Bits, f32BitsToF16Bits, f32ToBits, bitsToF32 } from './f16';
import { encodeQ8_0, Q8_0_BLOCK_BYTES } from './q8_0';

function reference(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / 32) * 34);
  for (let b = 0; b < values.length / 32; b++) {
    const block = values.subarray(b * 32, b * 32 + 32);
    const amax = Math.max(...Array.from(block, Math.abs));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    const dh = f32BitsToF16Bits(f32ToBits(d));
    out[b * 34] = dh & 0xff;
    out[b * 34 + 1] = dh >> 8;
    for (let i = 0; i < 32; i++) {
      const v = Math.fround(block[i]! * id);
      const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
      out[b * 34 + 2 + i] = q & 0xff;
    }
  }
  return out;
}

function encode(values: number[] | Float32Array): Uint8Array {
  const v = values instanceof Float32Array ? values : Float32Array.from(values);
  const out = new Uint8Array((v.length / 32) * Q8_0_BLOCK_BYTES);
  encodeQ8_0(v, out);
  return out;
}

const int8 = (b: number) => (b << 24) >> 24;

describe('q8_0', () => {
  it('rounds halves away from zero', () => {
    // max |x| = 127 makes d = 1 exactly, so q = round(x).
    const values = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 0.49999997, -0.49999997, 3.4999998, ...new Array<number>(20).fill(0)];
    const out = encode(values);
    expect(out[0]! | (out[1]! << 8)).toBe(0x3c00); // d = 1.0 in f16
    expect(Array.from(out.subarray(2, 14), int8)).toEqual([127, 1, 2, 3, -1, -2, -3, 127, -127, 0, 0, 3]);
  });

  it('writes a zero block as d = 0 and q = 0 (also for -0)', () => {
    const out = encode([...new Array<number>(31).fill(0), -0]);
    expect(Array.from(out)).toEqual(new Array<number>(34).fill(0));
  });

  it('keeps q from the unrounded scale when d underflows in f16 (tiny scale)', () => {
    const values = Float32Array.from({ length: 32 }, (_, i) => (i - 16) * 1e-10);
    const out = encode(values);
    expect(out[0]! | (out[1]! << 8)).toBe(0); // 16e-10 / 127 is below half the smallest f16 subnormal
    expect(int8(out[2]!)).toBe(-127); // the largest |x| still maps to -127
    expect(Array.from(out)).toEqual(Array.from(reference(values)));
  });

  it('stores d as the f16 rounding of max|x| / 127 and bounds the error by d / 2', () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * (i < 32 ? 0.03 : 300));
    const out = encode(values);
    for (let b = 0; b < 2; b++) {
      const block = values.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...Array.from(block, Math.abs));
      const d = bitsToF32(f16BitsToF32Bits(out[b * 34]! | (out[b * 34 + 1]! << 8)));
      expect(Math.abs(d - amax / 127)).toBeLessThanOrEqual((amax / 127) * 2 ** -10);
      for (let i = 0; i < 32; i++) expect(Math.abs(int8(out[b * 34 + 2 + i]!) * d - block[i]!)).toBeLessThanOrEqual(d * 0.51 + amax * 2 ** -10);
    }
  });

  it('matches the reference on random blocks of every magnitude', () => {
    let s = 2024;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>>= 0) / 2 ** 32;
    };
    const values = new Float32Array(32 * 2000);
    for (let b = 0; b < 2000; b++) {
      const scale = 10 ** (next() * 16 - 10);
      for (let i = 0; i < 32; i++) values[b * 32 + i] = (next() - 0.5) * scale;
    }
    expect(Buffer.from(encode(values)).equals(Buffer.from(reference(values)))).toBe(true);
  });

  it('encodeTensor(Q8_0) is encodeQ8_0 over the f32 bit patterns', () => {
    const values = Float32Array.from({ length: 96 }, (_, i) => Math.cos(i) / (i + 1));
    const bits = new Uint32Array(values.buffer.slice(0));
    expect(Array.from(encodeTensor(bits, 'Q8_0'))).toEqual(Array.from(encode(values)));
  });
});
