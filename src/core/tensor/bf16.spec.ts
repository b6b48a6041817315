/**
 * bfloat16 against a reference computed by arithmetic: the two bf16 neighbours of a value are
 * decoded as numbers and the nearer one is taken (ties to the even pattern), with 2^128 standing
 * in for the pattern after the largest finite bf16 (so overflow rounds to infinity).
 */
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32Bits, f32BitsToBf16Bits } from './bf16';
import { encodeTensor } from './encode';
import { bitsToF32, f32ToBits } from './f16';

function bf16Value(h: number): number {
  if ((h & 0x7fff) === 0x7f80) return h & 0x8000 ? -(2 ** 128) : 2 ** 128;
  return bitsToF32((h << 16) >>> 0);
}

function referenceBf16(bits: number): number {
  const x = bitsToF32(bits);
  const low = bits >>> 16; // truncation: same sign, magnitude <= |x|
  if (bitsToF32((low << 16) >>> 0) === x) return low;
  const below = Math.abs(x - bf16Value(low));
  const above = Math.abs(bf16Value(low + 1) - x);
  return below < above ? low : above < below ? low + 1 : low % 2 === 0 ? low : low + 1;
}

describe('bf16', () => {
  it('rounds to nearest even like the arithmetic reference (random and boundary values)', () => {
    let s = 99;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>>= 0);
    };
    const samples: number[] = [];
    for (let i = 0; i < 300_000; i++) samples.push(next());
    for (let h = 0; h < 0x7f80; h += 97) samples.push((h << 16) >>> 0, ((h << 16) | 0x8000) >>> 0, ((h << 16) | 0x7fff) >>> 0, ((h << 16) | 0x8001) >>> 0);
    samples.push(0x7f7f8000, 0x7f7fffff, 0x7f7f7fff, 0x00008000, 0x00018000, 0x00000001);
    for (const b of samples) {
      for (const bits of [b >>> 0, (b | 0x80000000) >>> 0]) {
        if ((bits & 0x7f800000) === 0x7f800000) continue;
        const got = f32BitsToBf16Bits(bits);
        const want = referenceBf16(bits);
        if (got !== want) expect.fail(`0x${bits.toString(16)}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });

  it('handles ±0, ±inf, overflow, ties and subnormals', () => {
    expect(f32BitsToBf16Bits(f32ToBits(0))).toBe(0x0000);
    expect(f32BitsToBf16Bits(f32ToBits(-0))).toBe(0x8000);
    expect(f32BitsToBf16Bits(f32ToBits(Infinity))).toBe(0x7f80);
    expect(f32BitsToBf16Bits(f32ToBits(-Infinity))).toBe(0xff80);
    expect(f32BitsToBf16Bits(0x7f7fffff)).toBe(0x7f80); // max f32 rounds up to inf
    expect(f32BitsToBf16Bits(0xff7f8000)).toBe(0xff80); // tie at the top: even is inf
    expect(f32BitsToBf16Bits(0x7f7f7fff)).toBe(0x7f7f);
    expect(f32BitsToBf16Bits(0x3f808000)).toBe(0x3f80); // tie, even below
    expect(f32BitsToBf16Bits(0x3f818000)).toBe(0x3f82); // tie, even above
    expect(f32BitsToBf16Bits(0x3f808001)).toBe(0x3f81);
    expect(f32BitsToBf16Bits(0x00008000)).toBe(0x0000); // subnormal tie to even zero
    expect(f32BitsToBf16Bits(0x00018000)).toBe(0x0002);
    expect(f32BitsToBf16Bits(0x007fffff)).toBe(0x0080); // largest subnormal rounds to the smallest normal
  });

  it('quiets NaNs (sign kept, top payload bits kept) and never rounds a NaN to inf', () => {
    expect(f32BitsToBf16Bits(0x7fc00000)).toBe(0x7fc0);
    expect(f32BitsToBf16Bits(0x7f800001)).toBe(0x7fc0);
    expect(f32BitsToBf16Bits(0xff810000)).toBe(0xffc1);
    expect(f32BitsToBf16Bits(0x7fffffff)).toBe(0x7fff);
    expect(f32BitsToBf16Bits(0xffbfffff)).toBe(0xffff); // quieting sets bit 22; no carry into the exponent
  });

  it('widens every bf16 pattern exactly and round-trips it (NaNs become quiet)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = bf16BitsToF32Bits(h);
      if (f >>> 16 !== h || (f & 0xffff) !== 0) expect.fail(`0x${h.toString(16)} widened to 0x${f.toString(16)}`);
      const back = f32BitsToBf16Bits(f);
      const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (back !== (isNaN ? h | 0x40 : h)) expect.fail(`0x${h.toString(16)} -> 0x${back.toString(16)}`);
    }
  });

  it('encodeTensor(BF16) writes the scalar encoder results little-endian', () => {
    const bits = Uint32Array.from([0, 0x80000000, 0x3f808000, 0x7fc00001, 0x7f7fffff, 0x12345678]);
    const out = encodeTensor(bits, 'BF16');
    for (let i = 0; i < bits.length; i++) expect(out[2 * i]! | (out[2 * i + 1]! << 8)).toBe(f32BitsToBf16Bits(bits[i]!));
  });
});
