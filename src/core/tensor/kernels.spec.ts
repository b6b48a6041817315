/**
 * Every fast kernel against the plain path it replaces (widen to f32 bits, then encodeTensor):
 * bit-identical on every 16-bit input pattern, and on f32 edge values and random bit patterns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTensor, type GgmlTypeName } from './encode';
import { elementView, encodeElements, OUTPUT_UNIT, type ElementArray } from './kernels';
import { widenToF32Bits, type SourceDtype } from './read';
import { acquireSimdArena, setSimdEnabled, simdAvailable } from './simd';

const TYPES: GgmlTypeName[] = ['F32', 'F16', 'BF16', 'Q8_0'];
const DTYPES: SourceDtype[] = ['F32', 'F16', 'BF16'];

/** A deterministic xorshift generator of 32-bit words. */
function words(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return out;
}

/** f32 bit patterns at the edges of every encoder's behaviour. */
const F32_EDGES = [
  0x00000000,
  0x80000000, // ±0
  0x00000001,
  0x807fffff,
  0x00400000, // f32 subnormals
  0x33000000,
  0x33000001,
  0x337fffff,
  0x33800000,
  0x33c00000, // around half the smallest f16 subnormal
  0x387fc000,
  0x387fe000,
  0x387ff000,
  0x38800000,
  0x38801000,
  0x38802000, // f16 subnormal/normal edge, ties
  0x3f800000,
  0x3f801000,
  0x3f803000,
  0x3f802000,
  0x3f800fff,
  0x3f801001, // ties to even at 1.0
  0x3f808000,
  0x3f818000,
  0x3f817fff, // bf16 ties
  0x477fe000,
  0x477fefff,
  0x477ff000,
  0x477fffff,
  0x47800000, // 65504, f16 overflow edge (65520 → inf)
  0x7f7fffff,
  0xff7fffff,
  0x7f7f8000, // largest finite, rounds to inf in bf16
  0x7f800000,
  0xff800000, // ±inf
  0x7fc00000,
  0xffc00000,
  0x7f800001,
  0x7fa00001,
  0x7f802000,
  0x7fffffff,
  0xffffffff,
  0xff800001,
  0x7f801fff, // NaN payloads
];

function sourceOf(dtype: SourceDtype, n: number, seed: number): ElementArray {
  if (dtype === 'F32') {
    const w = words(n, seed);
    // Mix in edges and plain numbers in the f16 range so every branch is taken.
    for (let i = 0; i < n; i++) {
      if (i % 7 === 0) w[i] = F32_EDGES[(i / 7) % F32_EDGES.length]!;
      else if (i % 3 === 0) w[i] = new Uint32Array(new Float32Array([(w[i]! / 2 ** 32 - 0.5) * 2 ** ((i % 40) - 20)]).buffer)[0]!;
    }
    return w;
  }
  // Every 16-bit pattern, in a shuffled order so that Q8_0 blocks mix magnitudes and NaNs.
  const all = new Uint16Array(n);
  const r = words(n, seed);
  for (let i = 0; i < n; i++) all[i] = i % 65536;
  for (let i = n - 1; i > 0; i--) {
    const j = r[i]! % (i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

function bytesOf(src: ElementArray): Uint8Array {
  return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
}

function plain(dtype: SourceDtype, src: ElementArray, type: GgmlTypeName): Uint8Array {
  return encodeTensor(widenToF32Bits(bytesOf(src), dtype), type);
}

function fast(dtype: SourceDtype, src: ElementArray, type: GgmlTypeName, at = 0, pieces = 1): Uint8Array {
  const unit = OUTPUT_UNIT[type];
  const units = src.length / unit.elements;
  const out = new Uint8Array(at + units * unit.bytes);
  let pos = at;
  const stats = { nonFinite: 0 };
  // Encode in several calls, as the converter does across chunk boundaries.
  const per = Math.ceil(units / pieces) * unit.elements;
  for (let from = 0; from < src.length; from += per) {
    pos += encodeElements(dtype, src, from, Math.min(per, src.length - from), type, out, pos, stats);
  }
  expect(pos).toBe(out.byteLength);
  // Every kernel counts the NaN and infinite values it met, whichever path it took.
  expect(stats.nonFinite, `non-finite values, ${dtype} → ${type}`).toBe(nonFiniteIn(dtype, src));
  return out.subarray(at);
}

/** The oracle for the count: widen to f32 bits, and count all-ones exponents. */
function nonFiniteIn(dtype: SourceDtype, src: ElementArray): number {
  let n = 0;
  for (const b of widenToF32Bits(bytesOf(src), dtype)) if ((b & 0x7f800000) === 0x7f800000) n++;
  return n;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.byteLength !== b.byteLength) return -2;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.each([
  ['WebAssembly SIMD', true],
  ['JavaScript', false],
] as const)('%s kernels are bit-identical to the plain path', (_name, simd) => {
  beforeAll(() => {
    setSimdEnabled(simd);
  });
  afterAll(() => {
    setSimdEnabled(true);
  });

  for (const dtype of DTYPES) {
    for (const type of TYPES) {
      it(`${dtype} → ${type}`, () => {
        // 16-bit sources: all 65,536 patterns (twice, shuffled); F32: 2^17 mixed patterns.
        const src = sourceOf(dtype, 131072, 0x9e3779b9);
        expect(firstDifference(fast(dtype, src, type), plain(dtype, src, type))).toBe(-1);
        // Split into pieces and written at an aligned offset other than 0.
        expect(firstDifference(fast(dtype, src, type, 64, 5), plain(dtype, src, type))).toBe(-1);
      });
    }
  }

  it('F32 → F16/BF16 on every edge value and every exponent', () => {
    const edges = new Uint32Array(F32_EDGES.length + 512 * 4);
    edges.set(F32_EDGES);
    // Every sign and exponent, with mantissas that round down, tie, tie-to-odd and round up.
    let k = F32_EDGES.length;
    for (let se = 0; se < 512; se++) for (const m of [0, 0x1000, 0x3000, 0x7fffff]) edges[k++] = ((se << 23) | m) >>> 0;
    for (const type of ['F16', 'BF16', 'F32'] as const) {
      expect(firstDifference(fast('F32', edges, type), plain('F32', edges, type))).toBe(-1);
    }
  });

  it('Q8_0 on blocks of zeros, a NaN, an infinity, subnormals and ties', () => {
    const f = new Float32Array(32 * 7);
    f[32] = NaN;
    f[33] = 1;
    f[64] = Infinity;
    f[65] = -2;
    for (let i = 96; i < 128; i++) f[i] = (i - 100) * 1e-43; // amax subnormal: 1/d overflows
    for (let i = 128; i < 160; i++) f[i] = (i - 144) * 0.5 * (127 / 16); // x·(1/d) on halves
    for (let i = 160; i < 192; i++) f[i] = -((i - 160) % 3) / 254;
    // amax 127, so 1/d = 1 and x is the value itself: exact ties, and ±(0.5 - 2^-25), the one
    // value whose |x| + 0.5 rounds up to 1 in f32 (it must round to 0).
    const ties = [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 0.49999997, -0.49999997, 0.5000001, 1.4999999, 0.25, -0];
    f.set(ties, 192);
    expect(Math.fround(0.49999997)).toBe(0.5 - 2 ** -25);
    const bits = new Uint32Array(f.buffer);
    expect(firstDifference(fast('F32', bits, 'Q8_0'), plain('F32', bits, 'Q8_0'))).toBe(-1);
  });

  it("on data like a trained adapter's (the kernels' fast lane for whole groups) with an edge value now and then", () => {
    // Mostly values in the f16 normal range, as real LoRA factors are; one lane in 97 is any
    // 16-bit pattern (zeros, subnormals, infinities, NaNs), so some groups of 32 take the fast
    // lane whole, others fall back vector by vector, at every position in the group.
    const n = 200_003;
    const r = words(n, 777);
    const bf16 = new Uint16Array(n);
    for (let i = 0; i < n; i++) bf16[i] = i % 97 === 0 ? r[i]! & 0xffff : (r[i]! & 0x8000) | (0x3880 + (r[i]! % 0x0f00));
    let clean = 0;
    for (let g = 0; g + 32 <= n; g += 32) if (bf16.subarray(g, g + 32).every((b) => ((b & 0x7fff) - 0x3880) >>> 0 < 0x0f00)) clean++;
    expect(clean).toBeGreaterThan(1000);
    expect(clean).toBeLessThan(n / 32 - 1000);
    const f32 = widenToF32Bits(bytesOf(bf16), 'BF16');
    for (const [dtype, all] of [
      ['BF16', bf16],
      ['F32', f32],
    ] as const) {
      for (const type of TYPES) {
        // Q8_0 takes whole blocks; the others also a tail that fills neither a group nor a vector.
        const src = type === 'Q8_0' ? all.subarray(0, n - (n % 32)) : all;
        expect(firstDifference(fast(dtype, src, type, 32, 3), plain(dtype, src, type)), `${dtype} → ${type}`).toBe(-1);
        expect(firstDifference(fast(dtype, src, type), plain(dtype, src, type)), `${dtype} → ${type}`).toBe(-1);
      }
    }
  });

  it('BF16 → F16 on data mostly below the f16 normal range (a LoRA B): its middle lane for groups with nothing to overflow', () => {
    // Runs of groups whose values are all below 2^-14 (f16 subnormals, zeros, bf16 subnormals,
    // and those that round up to the smallest normal), runs mixing them with normal values —
    // the two bf16s of a 32-bit lane differing in kind both ways — and now and then a value at
    // or past the overflow edge (0x4780) or NaN/Inf, which sends its group to the general body.
    const n = 100_003;
    const r = words(n, 4242);
    const bf16 = new Uint16Array(n);
    const edges = [0x0000, 0x0001, 0x007f, 0x0080, 0x3300, 0x337f, 0x3380, 0x3381, 0x387f, 0x3880, 0x477f, 0x4780, 0x7f80, 0x7fc1];
    for (let i = 0; i < n; i++) {
      const w = r[i]!;
      const sign = w & 0x8000;
      const run = Math.floor(i / 256) % 3;
      let m = w % 0x3880; // below the f16 normal range
      if (run === 1 && w & 0x10000) m = 0x3880 + (w % 0x0f00); // mixed with normal values
      if (run === 2 && i % 61 === 0) m = edges[(w >>> 20) % edges.length]!;
      bf16[i] = sign | m;
    }
    let middle = 0;
    for (let g = 0; g + 32 <= n; g += 32)
      if (bf16.subarray(g, g + 32).every((b) => (b & 0x7fff) < 0x4780) && bf16.subarray(g, g + 32).some((b) => (b & 0x7fff) < 0x3880)) middle++;
    expect(middle).toBeGreaterThan(2000);
    expect(firstDifference(fast('BF16', bf16, 'F16', 32, 3), plain('BF16', bf16, 'F16'))).toBe(-1);
    expect(firstDifference(fast('BF16', bf16, 'F16'), plain('BF16', bf16, 'F16'))).toBe(-1);
  });

  it('Q8_0 with block scales across f16 (subnormal, normal, overflowing d), four blocks at a time and an odd one among them', () => {
    // Each block is scaled so its d = amax / 127 falls anywhere from far below f16's subnormals
    // to past its largest value; now and then a block holds a NaN, an infinity, or an amax so
    // small that 1/d overflows, which sends its four to the block-by-block path.
    const blocks = 6000;
    const r = words(blocks * 33, 5150);
    const f32 = new Float32Array(blocks * 32);
    const f32Bits = new Uint32Array(f32.buffer);
    for (let b = 0; b < blocks; b++) {
      const e = -40 + (r[b * 33]! % 60); // d from ~2^-47 to ~2^19
      // amax itself is in the block (at a random place, either sign), with any mantissa.
      const scale = 2 ** e * 127 * (1 + (r[b * 33 + 1]! >>> 8) / 2 ** 24);
      for (let j = 0; j < 32; j++) f32[b * 32 + j] = ((r[b * 33 + 1 + j]! / 2 ** 32) * 2 - 1) * scale;
      f32[b * 32 + (r[b * 33 + 2]! % 32)] = r[b * 33 + 3]! & 1 ? scale : -scale;
      const odd = r[b * 33]! >>> 24;
      if (odd < 3) f32Bits[b * 32 + odd * 7] = [0x7fc00000, 0x7f800000, 0x00000001][odd]!;
      if (odd === 3) f32.fill(0, b * 32, b * 32 + 32);
    }
    const bf16 = new Uint16Array(f32Bits.length);
    for (let i = 0; i < bf16.length; i++) bf16[i] = f32Bits[i]! >>> 16;
    for (const [dtype, src] of [
      ['F32', f32Bits],
      ['BF16', bf16],
    ] as const) {
      expect(firstDifference(fast(dtype, src, 'Q8_0', 32, 3), plain(dtype, src, 'Q8_0')), dtype).toBe(-1);
      expect(firstDifference(fast(dtype, src, 'Q8_0'), plain(dtype, src, 'Q8_0')), dtype).toBe(-1);
    }
  });

  it('F32 → F16 in all three lanes: groups in the normal range, groups with small values, groups with an overflow, NaN or infinity', () => {
    // Full 23-bit mantissas, so every rounding case (ties to even, carries into the exponent and
    // up to infinity) is met in the fast lane (all normal), the middle one (some below 2^-14)
    // and the general body (something at or past 65536, NaN, ±Inf).
    const n = 120_007;
    const r = words(n, 9090);
    const f32 = new Uint32Array(n);
    const edges = [
      0x00000000, 0x00000001, 0x007fffff, 0x00800000, 0x33000000, 0x33000001, 0x337fffff, 0x33800000, 0x387fefff, 0x387ff000, 0x387fffff, 0x38800000,
      0x38801000, 0x38803000, 0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff, 0x47800000, 0x7f7fffff, 0x7f800000, 0x7f800001, 0x7fc00000, 0x7f802000,
    ];
    for (let i = 0; i < n; i++) {
      const w = r[i]!;
      const sign = (w & 1) << 31;
      const run = Math.floor(i / 320) % 4;
      const mantissa = (w >>> 1) & 0x7fffff;
      // run 0: normal only; 1: mostly below 2^-14; 2: mixed; 3: normal with an edge value now and then.
      let exponent = 113 + ((w >>> 24) % 30); // 2^-14 … 2^15
      if (run === 1 || (run === 2 && w & 0x80000000)) exponent = (w >>> 24) % 113;
      let bits = (exponent << 23) | mantissa;
      if (i % 3 === 0) bits = (bits & ~0x1fff) | ((w >>> 9) & 1 ? 0x1000 : 0x0fff); // ties and near-ties
      if (run === 3 && i % 53 === 0) bits = edges[(w >>> 8) % edges.length]!;
      f32[i] = (sign | bits) >>> 0;
    }
    expect(firstDifference(fast('F32', f32, 'F16', 32, 3), plain('F32', f32, 'F16'))).toBe(-1);
    expect(firstDifference(fast('F32', f32, 'F16'), plain('F32', f32, 'F16'))).toBe(-1);
  });

  it('across the SIMD pieces (over 1 MiB) with a tail that fills no vector', () => {
    for (const dtype of DTYPES) {
      for (const type of TYPES) {
        const n = type === 'Q8_0' ? 32 * 9001 : 300_005;
        const src = sourceOf(dtype, n, 12345);
        expect(firstDifference(fast(dtype, src, type, 32, 3), plain(dtype, src, type)), `${dtype} → ${type}`).toBe(-1);
      }
    }
  });
});

describe("SIMD kernels on buffers in their own memory (the converter's arena)", () => {
  it('are bit-identical for every count, tails of 1 to 7 values included, and count the non-finite values there', () => {
    const arena = acquireSimdArena(1 << 16, 1 << 16, 2, 2)!;
    expect(arena).not.toBeNull();
    try {
      for (const dtype of ['BF16', 'F32'] as const) {
        const all = sourceOf(dtype, 4096, 99);
        for (const type of ['F16', 'BF16', 'F32'] as const) {
          if (dtype === 'F32' && type === 'F32') continue;
          for (const count of [1, 3, 7, 8, 9, 15, 16, 17, 195, 781]) {
            for (const from of [0, 5]) {
              const slab = arena.slabs[0]!;
              const src = dtype === 'F32' ? new Uint32Array(slab.buffer, slab.byteOffset, 4096) : new Uint16Array(slab.buffer, slab.byteOffset, 4096);
              src.set(all);
              const out = arena.chunks[0]!;
              out.fill(0xee);
              const stats = { nonFinite: 0 };
              const at = 32;
              const n = encodeElements(dtype, src, from, count, type, out, at, stats);
              const part = all.subarray(from, from + count);
              const expected = plain(dtype, part, type);
              expect(n, `${dtype} → ${type}, ${count} from ${from}`).toBe(expected.byteLength);
              expect(firstDifference(out.subarray(at, at + n), expected), `${dtype} → ${type}, ${count} from ${from}`).toBe(-1);
              // Nothing written past the values.
              expect(out[at + n]).toBe(0xee);
              expect(stats.nonFinite).toBe(nonFiniteIn(dtype, part));
            }
          }
        }
      }
    } finally {
      arena.release();
    }
  });
});

describe('SIMD kernels', () => {
  it('are available in this engine (Node has WebAssembly SIMD)', () => {
    expect(simdAvailable()).toBe(true);
  });
});

describe('elementView', () => {
  it('views aligned bytes without a copy and copies unaligned ones', () => {
    const buf = new Uint8Array(16);
    buf.set([1, 0, 2, 0, 3, 0, 4, 0], 4);
    const aligned = elementView(buf.subarray(4, 12), 'F16');
    expect([...aligned]).toEqual([1, 2, 3, 4]);
    expect(aligned.buffer).toBe(buf.buffer);
    const shifted = new Uint8Array(17);
    shifted.set([1, 0, 0, 0, 2, 0, 0, 0], 1);
    const unaligned = elementView(shifted.subarray(1, 9), 'F32');
    expect([...unaligned]).toEqual([1, 2]);
    expect(unaligned.buffer).not.toBe(shifted.buffer);
  });
});
