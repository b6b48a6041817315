/**
 * The software f16 path against independent references computed here by a different method:
 * decoding halves with Math arithmetic, and rounding f32 values by searching the sorted table
 * of every finite half for the nearest one (ties to the even pattern), instead of bit tricks.
 */
import { describe, expect, it } from 'vitest';
import { bitsToF32, f16BitsToF32Bits, f32BitsToF16Bits, f32ToBits } from './f16';
import { encodeTensor } from './encode';

/** The value of a half bit pattern, by arithmetic. 0x7c00 (inf) counts as 2^16 for rounding. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Nearest half to a finite f32 value, ties to even, by table search. */
function referenceF16(x: number, negative: boolean): number {
  const sign = negative ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65536) return sign | 0x7c00;
  // Largest pattern in [0, 0x7c00] whose value (0x7c00 -> 2^16) is <= a.
  const value = (h: number) => (h === 0x7c00 ? 65536 : halfValue(h));
  let lo = 0;
  let hi = 0x7c00;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (value(lo) === a || lo === 0x7c00) return sign | lo;
  const below = a - value(lo);
  const above = value(lo + 1) - a;
  const pick = below < above ? lo : above < below ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | pick;
}

function referenceFromBits(bits: number): number {
  const x = bitsToF32(bits);
  return referenceF16(x, (bits & 0x80000000) !== 0);
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

describe('f16 <-> f32', () => {
  it('decodes all 65536 halves exactly and round-trips them (NaN payloads included)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = f16BitsToF32Bits(h);
      const expected = halfValue(h);
      const got = bitsToF32(f);
      if (Number.isNaN(expected)) {
        expect(Number.isNaN(got), `0x${h.toString(16)}`).toBe(true);
      } else if (!Object.is(got, expected)) {
        expect.fail(`0x${h.toString(16)} decoded to ${got}, expected ${expected}`);
      }
      const back = f32BitsToF16Bits(f);
      if (back !== h) expect.fail(`0x${h.toString(16)} -> 0x${f.toString(16)} -> 0x${back.toString(16)}`);
    }
  });

  it('rounds boundary values like the nearest-half table search', () => {
    const values: number[] = [];
    // Every finite half, the midpoints between neighbours (exact in f32), and one f32 ulp around them.
    for (let h = 0; h < 0x7c00; h++) {
      const v = halfValue(h);
      const mid = (v + (h + 1 === 0x7c00 ? 65536 : halfValue(h + 1))) / 2;
      const midBits = f32ToBits(mid);
      expect(bitsToF32(midBits)).toBe(mid);
      values.push(f32ToBits(v), midBits, midBits + 1, midBits - 1);
    }
    values.push(f32ToBits(65504), f32ToBits(65519.99), f32ToBits(65520), f32ToBits(65536), 0x7f7fffff, 1, 0x007fffff, 0x00800000);
    values.push(
      f32ToBits(2 ** -25),
      f32ToBits(2 ** -25) + 1,
      f32ToBits(3 * 2 ** -25),
      f32ToBits(2 ** -26),
      f32ToBits(2 ** -14),
      f32ToBits(2 ** -14 - 2 ** -25),
    );
    for (const base of values) {
      for (const bits of [base >>> 0, (base | 0x80000000) >>> 0]) {
        const got = f32BitsToF16Bits(bits);
        const want = referenceFromBits(bits);
        if (got !== want) expect.fail(`f32 0x${bits.toString(16)} (${bitsToF32(bits)}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });

  it('rounds 400k random f32 values like the table search', () => {
    const next = rng(12345);
    for (let i = 0; i < 400_000; i++) {
      let bits = next();
      // Half the samples in and around the f16 range (exponents 95..145), the rest anywhere.
      if (i % 2 === 0) bits = ((bits & 0x807fffff) | ((95 + (next() % 51)) << 23)) >>> 0;
      if ((bits & 0x7f800000) === 0x7f800000) continue; // inf/NaN: tested below
      const got = f32BitsToF16Bits(bits);
      const want = referenceFromBits(bits);
      if (got !== want) expect.fail(`f32 0x${bits.toString(16)} (${bitsToF32(bits)}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    }
  });

  it('handles ±0, ±inf, overflow, ties and subnormals', () => {
    expect(f32BitsToF16Bits(f32ToBits(0))).toBe(0x0000);
    expect(f32BitsToF16Bits(f32ToBits(-0))).toBe(0x8000);
    expect(f32BitsToF16Bits(f32ToBits(Infinity))).toBe(0x7c00);
    expect(f32BitsToF16Bits(f32ToBits(-Infinity))).toBe(0xfc00);
    expect(f32BitsToF16Bits(f32ToBits(65504))).toBe(0x7bff);
    expect(f32BitsToF16Bits(f32ToBits(65519))).toBe(0x7bff);
    expect(f32BitsToF16Bits(f32ToBits(65520))).toBe(0x7c00); // tie between 65504 and 2^16: even -> inf
    expect(f32BitsToF16Bits(f32ToBits(-1e10))).toBe(0xfc00);
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0); 1 + 3*2^-11 goes up.
    expect(f32BitsToF16Bits(f32ToBits(1 + 2 ** -11))).toBe(0x3c00);
    expect(f32BitsToF16Bits(f32ToBits(1 + 3 * 2 ** -11))).toBe(0x3c02);
    // Subnormals: 2^-24 is the smallest; half of it ties to 0; a bit more rounds up.
    expect(f32BitsToF16Bits(f32ToBits(2 ** -24))).toBe(0x0001);
    expect(f32BitsToF16Bits(f32ToBits(2 ** -25))).toBe(0x0000);
    expect(f32BitsToF16Bits(f32ToBits(2 ** -25) + 1)).toBe(0x0001);
    expect(f32BitsToF16Bits(f32ToBits(3 * 2 ** -25))).toBe(0x0002);
    expect(f32BitsToF16Bits(f32ToBits(-(2 ** -24) * 1023))).toBe(0x83ff);
    // The largest subnormal + half an ulp ties up to the smallest normal (0x0400 is even).
    expect(f32BitsToF16Bits(f32ToBits(2 ** -24 * 1023.5))).toBe(0x0400);
    // f32 subnormals vanish to signed zero.
    expect(f32BitsToF16Bits(0x00000001)).toBe(0x0000);
    expect(f32BitsToF16Bits(0x80400000)).toBe(0x8000);
  });

  it('keeps NaN payloads (top 10 bits) and never turns a NaN into inf', () => {
    expect(f32BitsToF16Bits(0x7fc00000)).toBe(0x7e00);
    expect(f32BitsToF16Bits(0xffc00000)).toBe(0xfe00);
    expect(f32BitsToF16Bits(0x7fa02000)).toBe(0x7d01); // signalling NaN keeps its payload, stays signalling
    expect(f32BitsToF16Bits(0x7f800001)).toBe(0x7c01); // payload only in the dropped bits
    expect(f32BitsToF16Bits(0xff801fff)).toBe(0xfc01);
    expect(f32BitsToF16Bits(0x7fffffff)).toBe(0x7fff);
  });

  it('encodeTensor(F16) writes the scalar encoder results little-endian', () => {
    const next = rng(7);
    const bits = new Uint32Array(1000).map(() => next());
    const out = encodeTensor(bits, 'F16');
    expect(out.byteLength).toBe(2000);
    for (let i = 0; i < bits.length; i++) expect(out[2 * i]! | (out[2 * i + 1]! << 8)).toBe(f32BitsToF16Bits(bits[i]!));
  });
});
