/**
 * Generates the WebAssembly SIMD kernels (src/core/tensor/simd.wat, readable) and their binary
 * (src/core/tensor/simd-module.ts, base64), with wabt's WAT compiler (a devDependency: the app
 * and the CLI load the committed binary and need no compiler).
 *
 *   npx tsx scripts/build-simd.ts          write both files
 *   npx tsx scripts/build-simd.ts --check  exit 1 if the committed files are not what this makes
 *
 * The WAT is written from small expression builders so that the per-lane conversions are
 * inlined into each loop (no calls in the hot loops). Every kernel's semantics are the scalar
 * encoders' (src/core/tensor/f16.ts, bf16.ts, q8_0.ts); kernels.spec.ts proves them bit-identical.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WAT_PATH = join(ROOT, 'src/core/tensor/simd.wat');
const MODULE_PATH = join(ROOT, 'src/core/tensor/simd-module.ts');

const i32x4 = (v: number | string) => `(v128.const i32x4 ${v} ${v} ${v} ${v})`;

/**
 * The module's memory, fixed (never grown, so views of it stay valid): 2 MiB of scratch for
 * copied pieces, then an arena for the converter's reused buffers (up to three read windows of
 * 6 MiB plus alignment slack — a Node file uses two, a browser Blob three — and three 4 MiB output
 * chunks), which then need no copy in or out. 33 MiB, of which only the pages used are resident.
 */
const MEMORY_PAGES = 528;

/**
 * f32 bit patterns (i32x4) → f16 bit patterns in the low half of each lane, as f32BitsToF16Bits:
 * normal range by integer rounding (ties to even, a carry into the exponent is right), results
 * below the f16 normal range by the exact float sum |x| + 0.5 (whose ulp is the f16 subnormal
 * step, rounded to nearest even by the hardware), overflow to infinity, NaN keeping the top 10
 * payload bits (a payload that would vanish becomes 1).
 */
function f32ToF16(f: string, m: string): string[] {
  return [
    `(local.set $f ${f})`,
    `(local.set ${m} (v128.and (local.get $f) ${i32x4('0x7fffffff')}))`,
    `(local.set $nm (v128.and (i32x4.shr_u (local.get ${m}) (i32.const 13)) ${i32x4('0x3ff')}))`,
    `(local.set $h ${f32ToF16Finite(`(local.get ${m})`)})`,
    `(local.set $h (v128.bitselect ${i32x4('0x7c00')} (local.get $h) (i32x4.ge_u (local.get ${m}) ${i32x4('0x47800000')})))`,
    `(local.set $h
      (v128.bitselect
        (v128.or (v128.or (local.get $nm) ${i32x4('0x7c00')}) (v128.and (i32x4.eq (local.get $nm) ${i32x4(0)}) ${i32x4(1)}))
        (local.get $h)
        (i32x4.gt_u (local.get ${m}) ${i32x4('0x7f800000')})))`,
    `(local.set $h (v128.or (local.get $h) (v128.and (i32x4.shr_u (local.get $f) (i32.const 16)) ${i32x4('0x8000')})))`,
  ];
}

/** The low 16 bits of each i32 lane of a and b, as eight 16-bit lanes. */
const narrow16 = (a: string, b: string) => `(i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 ${a} ${b})`;
/** The high 16 bits of each i32 lane of a and b. */
const high16 = (a: string, b: string) => `(i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 ${a} ${b})`;
const widenLow = (v: string) => `(i32x4.shl (i32x4.extend_low_i16x8_u ${v}) (i32.const 16))`;
const widenHigh = (v: string) => `(i32x4.shl (i32x4.extend_high_i16x8_u ${v}) (i32.const 16))`;

/**
 * A loop over `n` elements, `inBytes` of source and `outBytes` of output per iteration of 8.
 * Returns how many values were NaN or infinite: the body adds to $bad (rare lanes, counted from a
 * bitmask) or subtracts 32-bit lane masks from $acc (summed at the end).
 */
function loop(name: string, inBytes: number, outBytes: number, locals: string, body: string[]): string {
  return `
  (func (export "${name}") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (local $end i32) (local $bad i32) (local $acc v128) (local $k v128) ${locals}
    ;; n: elements, a multiple of 8
    (local.set $end (i32.add (local.get $src) (i32.mul (local.get $n) (i32.const ${inBytes / 8}))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        ${body.join('\n        ')}
        (local.set $src (i32.add (local.get $src) (i32.const ${inBytes})))
        (local.set $dst (i32.add (local.get $dst) (i32.const ${outBytes})))
        (br $next)))
    (i32.add (local.get $bad)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
        (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))`;
}

/**
 * `loop` with a fast lane for the common case: four vectors (32 elements) per iteration, one
 * test for all four (`fast.check(k)` is nonzero in a lane that needs the general body), then
 * `fast.store(k)` for each. A group that fails the test goes through the general body vector by
 * vector, as do the last elements that do not fill a group. Bit-identical to `loop` with `body`
 * alone (kernels.spec compares them with the scalar encoders on every edge case).
 */
function unrolledLoop(
  name: string,
  inBytes: number,
  outBytes: number,
  locals: string,
  body: string[],
  fast: { load(k: number): string[]; check(k: number): string; store(k: number): string },
  middle?: { check(k: number): string; store(k: number): string },
): string {
  const groupIn = 4 * inBytes;
  const groupOut = 4 * outBytes;
  const any = (check: (k: number) => string) => `(v128.any_true (v128.or (v128.or ${check(0)} ${check(1)}) (v128.or ${check(2)} ${check(3)})))`;
  const general = `${body.join('\n        ')}
        (local.set $src (i32.add (local.get $src) (i32.const ${inBytes})))
        (local.set $dst (i32.add (local.get $dst) (i32.const ${outBytes})))`;
  const vectorByVector = `(local.set $i (i32.const 4))
            (loop $one
        ${general}
              (local.set $i (i32.sub (local.get $i) (i32.const 1)))
              (br_if $one (local.get $i)))`;
  const groupWith = (store: (k: number) => string) => `${[0, 1, 2, 3].map(store).join('\n            ')}
            (local.set $src (i32.add (local.get $src) (i32.const ${groupIn})))
            (local.set $dst (i32.add (local.get $dst) (i32.const ${groupOut})))`;
  // A group failing the fast test takes the middle lane if it passes the middle test, else the general body.
  const notFast = middle
    ? `(if ${any(middle.check)}
              (then
            ${vectorByVector})
              (else
            ${groupWith(middle.store)}))`
    : vectorByVector;
  return `
  (func (export "${name}") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (local $end i32) (local $groups i32) (local $i i32) (local $bad i32) (local $acc v128) (local $k v128) ${locals}
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    ;; n: elements, a multiple of 8
    (local.set $end (i32.add (local.get $src) (i32.mul (local.get $n) (i32.const ${inBytes / 8}))))
    (local.set $groups (i32.add (local.get $src) (i32.mul (i32.shr_u (local.get $n) (i32.const 5)) (i32.const ${groupIn}))))
    (block $tail
      (loop $group
        (br_if $tail (i32.ge_u (local.get $src) (local.get $groups)))
        ${[0, 1, 2, 3].flatMap((k) => fast.load(k)).join('\n        ')}
        (if ${any(fast.check)}
          (then
            ${notFast})
          (else
            ${groupWith(fast.store)}))
        (br $group)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        ${general}
        (br $next)))
    (i32.add (local.get $bad)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
        (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))`;
}

/** Count the set lanes of a 16-bit lane mask (rare: tested with any_true first). */
const count16 = (mask: string) =>
  `(local.set $k ${mask})
        (if (v128.any_true (local.get $k)) (then (local.set $bad (i32.add (local.get $bad) (i32.popcnt (i16x8.bitmask (local.get $k)))))))`;
/** Count the set lanes of a 32-bit lane mask (each set lane is -1). */
const count32 = (mask: string) => `(local.set $acc (i32x4.sub (local.get $acc) ${mask}))`;

const CONVERT_LOCALS = '(local $f v128) (local $v v128) (local $w v128) (local $m v128) (local $nm v128) (local $h v128) (local $lo v128)';

/** f16 bits of two f32x4 groups (expressions), stored as 8 halves at $dst. */
function storeF16(a: string, b: string): string[] {
  const nonFinite = count32(`(i32x4.ge_u (local.get $m) ${i32x4('0x7f800000')})`);
  return [
    ...f32ToF16(a, '$m'),
    nonFinite,
    '(local.set $lo (local.get $h))',
    ...f32ToF16(b, '$m'),
    nonFinite,
    `(v128.store (local.get $dst) ${narrow16('(local.get $lo)', '(local.get $h)')})`,
  ];
}

const i16x8 = (v: number | string) => `(v128.const i16x8 ${Array(8).fill(v).join(' ')})`;

/**
 * BF16 → F16 on eight 16-bit lanes at once. A bf16 has 7 mantissa bits, so in the f16 normal
 * range the result is exact: rebias the exponent and shift (no rounding). Overflow is infinity;
 * NaN keeps its payload (never empty: a bf16 NaN has a payload bit in the 7 kept); only results
 * below the f16 normal range round, by the f32 sum |x| + 0.5 as in f32ToF16.
 */
function bf16ToF16(): string[] {
  const sub = (widen: (v: string) => string) => `(i32x4.sub (f32x4.add ${widen('(local.get $m)')} (v128.const f32x4 0.5 0.5 0.5 0.5)) ${i32x4('0x3f000000')})`;
  return [
    '(local.set $v (v128.load (local.get $src)))',
    `(local.set $m (v128.and (local.get $v) ${i16x8('0x7fff')}))`,
    `(local.set $h (i16x8.shl (i16x8.sub (local.get $m) ${i16x8('0x3800')}) (i32.const 3)))`,
    // Only when a lane is outside the f16 normal range (m - 0x3880 wraps past 0x0f00) are the
    // subnormal, overflow and NaN cases worked out.
    `(if (v128.any_true (i16x8.ge_u (i16x8.sub (local.get $m) ${i16x8('0x3880')}) ${i16x8('0x0f00')}))
      (then
        ${count16(`(i16x8.ge_u (local.get $m) ${i16x8('0x7f80')})`)}
        (local.set $h (v128.bitselect ${narrow16(sub(widenLow), sub(widenHigh))} (local.get $h) (i16x8.lt_u (local.get $m) ${i16x8('0x3880')})))
        (local.set $h (v128.bitselect ${i16x8('0x7c00')} (local.get $h) (i16x8.ge_u (local.get $m) ${i16x8('0x4780')})))
        (local.set $h (v128.bitselect
          (v128.or ${i16x8('0x7c00')} (i16x8.shl (v128.and (local.get $m) ${i16x8('0x7f')}) (i32.const 3)))
          (local.get $h)
          (i16x8.gt_u (local.get $m) ${i16x8('0x7f80')})))))`,
    `(v128.store (local.get $dst) (v128.or (local.get $h) (v128.and (local.get $v) ${i16x8('0x8000')})))`,
  ];
}

/**
 * BF16 → F16 of eight magnitudes `m` below the f16 overflow (m < 0x4780): the normal range by
 * rebiasing, and below it the f32 sum |x| + 0.5, whose low 16 bits are |x| in units of 2^-24
 * rounded to even (the f16 subnormal, or 0x400 when it rounds up to the smallest normal). Each
 * 32-bit lane holds two bf16s: the high one is already an f32 (mask the low half off), the low one
 * becomes one shifted up. The two sums' results are put back in their halves without widening or
 * narrowing: measured 4× faster than the general body on data that is mostly below f16's range
 * (LoRA B matrices often are).
 */
function bf16ToF16Finite(m: string): string {
  const half = '(v128.const f32x4 0.5 0.5 0.5 0.5)';
  const lowSum = `(f32x4.add (i32x4.shl ${m} (i32.const 16)) ${half})`;
  const highSum = `(f32x4.add (v128.and ${m} ${i32x4('0xffff0000')}) ${half})`;
  const subnormal = `(v128.bitselect (i32x4.shl ${highSum} (i32.const 16)) ${lowSum} ${i32x4('0xffff0000')})`;
  const normal = `(i16x8.add (i16x8.shl ${m} (i32.const 3)) ${i16x8('0x4000')})`;
  return `(v128.bitselect ${subnormal} ${normal} (i16x8.lt_u ${m} ${i16x8('0x3880')}))`;
}

const abs32 = (v: string) => `(v128.and ${v} ${i32x4('0x7fffffff')})`;

/** |x| in the f16 normal range, rounded to its 13 dropped bits (ties to even); still to rebias by −0x1c000. */
const f32ToF16Rounded = (m: string) =>
  `(i32x4.shr_u (i32x4.add (i32x4.add ${m} ${i32x4('0xfff')}) (v128.and (i32x4.shr_u ${m} (i32.const 13)) ${i32x4(1)})) (i32.const 13))`;

/**
 * F32 → F16 of four magnitudes below the f16 overflow (|x| < 65536; a carry that rounds up to
 * infinity is right): integer rounding in the normal range, the f32 sum |x| + 0.5 below it — as
 * the general body (f32ToF16) does, without its overflow and NaN cases.
 */
const f32ToF16Finite = (m: string) =>
  `(v128.bitselect (i32x4.sub (f32x4.add ${m} (v128.const f32x4 0.5 0.5 0.5 0.5)) ${i32x4('0x3f000000')}) (i32x4.sub ${f32ToF16Rounded(m)} ${i32x4('0x1c000')}) (i32x4.lt_u ${m} ${i32x4('0x38800000')}))`;

/** The sign bits of the eight f32 values in $v{k} and $m{k}, as f16 sign bits. */
const signs16 = (k: number) => `(v128.and ${high16(`(local.get $v${k})`, `(local.get $m${k})`)} ${i16x8('0x8000')})`;

/** f32 bits → bf16 bits (i32x4, result in the high half): NaN quieted, else ties to even. */
function f32ToBf16(f: string): string {
  return `(v128.bitselect
      (v128.or ${f} ${i32x4('0x00400000')})
      (i32x4.add (i32x4.add ${f} ${i32x4('0x7fff')}) (v128.and (i32x4.shr_u ${f} (i32.const 16)) ${i32x4(1)}))
      (i32x4.gt_u (v128.and ${f} ${i32x4('0x7fffffff')}) ${i32x4('0x7f800000')}))`;
}

/**
 * One Q8_0 block from eight f32x4 locals $v0..$v7, as encodeQ8_0: d = f32(amax / 127) stored as
 * f16, q = round half away from zero of f32(x · f32(1/d)) (1/d is 0 when d is 0), computed as
 * trunc(|x| + 0.5) with its one exception mended (see below). A block holding a NaN or an
 * infinity, or whose 1/d overflows, is left to the caller (the function returns how many blocks
 * it did): NaN bit patterns never depend on the hardware, and every lane here is finite with
 * |x| < 2^8 (|v| ≤ amax and 1/d ≈ 127 / amax).
 */
function q8Block(): string[] {
  return [
    ...q8Amax(),
    '(local.set $amax (f32x4.extract_lane 0 (local.get $a)))',
    '(local.set $d (f32.div (local.get $amax) (f32.const 127)))',
    '(local.set $idf (select (f32.const 0) (f32.div (f32.const 1) (local.get $d)) (f32.eq (local.get $d) (f32.const 0))))',
    // 1/d overflowed (amax is tiny): left to the caller too, so no lane meets an infinity.
    '(br_if $done (f32.eq (local.get $idf) (f32.const inf)))',
    '(local.set $id (f32x4.splat (local.get $idf)))',
    // d as f16, in scalar code: d is positive and finite, so no sign, NaN or infinity.
    '(local.set $db (i32.reinterpret_f32 (local.get $d)))',
    `(i32.store16 (local.get $dst)
      (select
        (i32.sub (i32.reinterpret_f32 (f32.add (local.get $d) (f32.const 0.5))) (i32.const 0x3f000000))
        (select
          (i32.const 0x7c00)
          (i32.sub (i32.shr_u (i32.add (i32.add (local.get $db) (i32.const 0xfff)) (i32.and (i32.shr_u (local.get $db) (i32.const 13)) (i32.const 1))) (i32.const 13)) (i32.const 0x1c000))
          (i32.ge_u (local.get $db) (i32.const 0x47800000)))
        (i32.lt_u (local.get $db) (i32.const 0x38800000))))`,
    ...q8Quantize(0),
  ];
}

/**
 * |v| of the block's eight vectors into $u0..$u7 (as integer bit patterns their order is the
 * magnitudes' order, and a NaN is above +inf), and their largest in every lane of $a; a block
 * holding a NaN or an infinity is left to the caller.
 */
function q8Amax(exit = '$done'): string[] {
  const absBits = (k: number) => `(local.get $u${k})`;
  const max = (a: string, b: string) => `(i32x4.max_u ${a} ${b})`;
  return [
    ...q8Abs(),
    `(local.set $a ${max(max(max(absBits(0), absBits(1)), max(absBits(2), absBits(3))), max(max(absBits(4), absBits(5)), max(absBits(6), absBits(7))))})`,
    '(local.set $a (i32x4.max_u (local.get $a) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a))))',
    '(local.set $a (i32x4.max_u (local.get $a) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $a) (local.get $a))))',
    // A NaN or an infinity in the block: out to `exit` (the caller's, or the four's block-by-block path).
    `(br_if ${exit} (i32.ge_u (i32x4.extract_lane 0 (local.get $a)) (i32.const 0x7f800000)))`,
  ];
}

/** |v| of the block's eight vectors $v0..$v7 into $u0..$u7. */
const q8Abs = () => Array.from({ length: 8 }, (_, k) => `(local.set $u${k} ${abs32(`(local.get $v${k})`)})`);

/** The 32 quantized values of the block in $v/$u with 1/d in every lane of $id, stored after its d at `at`. */
function q8Quantize(at: number): string[] {
  const v = (k: number) => `(local.get $v${k})`;
  const lanes: string[] = [];
  for (let k = 0; k < 8; k++) {
    lanes.push(
      // |x| = |v| · (1/d): 1/d is positive or 0.
      `(local.set $a (f32x4.mul (local.get $u${k}) (local.get $id)))`,
      // Round half away from zero: trunc(|x| + 0.5). For |x| < 2^8 the sum is exact, or rounds
      // to the right integer, except for |x| = 0.5 - 2^-25 (bits 0x3effffff), whose sum ties up
      // to 1.0: that one is 0.
      '(local.set $t (f32x4.trunc (f32x4.add (local.get $a) (v128.const f32x4 0.5 0.5 0.5 0.5))))',
      `(local.set $t (v128.andnot (local.get $t) (i32x4.eq (local.get $a) ${i32x4('0x3effffff')})))`,
      // x's sign (v's), then the integer: |t| ≤ 127, so t + 1.5·2^23 holds it in its low mantissa bits.
      `(local.set $q${k}
        (i32x4.sub
          (f32x4.add (v128.or (local.get $t) (v128.and ${v(k)} ${i32x4('0x80000000')})) (v128.const f32x4 12582912 12582912 12582912 12582912))
          ${i32x4('0x4b400000')}))`,
    );
  }
  // |q| ≤ 127: the saturating narrowings are exact, and keep the lanes in order.
  const words8 = (a: number) => `(i16x8.narrow_i32x4_s (local.get $q${a}) (local.get $q${a + 1}))`;
  const bytes16 = (a: number) => `(i8x16.narrow_i16x8_s ${words8(a)} ${words8(a + 2)})`;
  return [
    ...lanes,
    `(v128.store offset=${at + 2} align=1 (local.get $dst) ${bytes16(0)})`,
    `(v128.store offset=${at + 18} align=1 (local.get $dst) ${bytes16(4)})`,
  ];
}

/**
 * Four blocks at once where the four are ordinary (no NaN or infinity, no 1/d that overflows):
 * their amax gathered into one vector, d and 1/d by two vector divisions instead of eight scalar
 * ones (each result exactly the scalar one's: IEEE division, lane by lane), the four d stored as
 * f16 by f32ToF16Finite (infinity past f16's range), then each block quantized with its lane of
 * 1/d. Any other four go block by block through `q8Block`. `load(base)` loads a block from `base`
 * bytes past $src.
 */
function q8Four(load: (base: number) => string[], inBytesPerBlock: number): string[] {
  const gather = (a: string, b: string) => `(i8x16.shuffle 0 1 2 3 16 17 18 19 0 1 2 3 16 17 18 19 ${a} ${b})`;
  const splatLane = (b: number) =>
    `(i8x16.shuffle ${Array(4)
      .fill([0, 1, 2, 3].map((i) => 4 * b + i).join(' '))
      .join(' ')} (local.get $id4) (local.get $id4))`;
  const phase1 = [0, 1, 2, 3].flatMap((b) => [...load(b * inBytesPerBlock), ...q8Amax('$single'), `(local.set $mb${b} (local.get $a))`]);
  // d is positive and finite: f32ToF16Finite, and infinity past f16's range.
  const f16Of = (d: string) => `(v128.bitselect ${i32x4('0x7c00')} ${f32ToF16Finite(d)} (i32x4.ge_u ${d} ${i32x4('0x47800000')}))`;
  return [
    '(block $single',
    '(br_if $single (i32.gt_u (i32.add (local.get $count) (i32.const 4)) (local.get $blocks)))',
    ...phase1,
    `(local.set $d4 (f32x4.div (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 ${gather('(local.get $mb0)', '(local.get $mb1)')} ${gather('(local.get $mb2)', '(local.get $mb3)')}) (v128.const f32x4 127 127 127 127)))`,
    `(local.set $id4 (v128.andnot (f32x4.div (v128.const f32x4 1 1 1 1) (local.get $d4)) (f32x4.eq (local.get $d4) (v128.const f32x4 0 0 0 0))))`,
    // A 1/d that overflowed: those four go block by block (the one with it is left to the caller).
    `(br_if $single (v128.any_true (i32x4.eq (local.get $id4) ${i32x4('0x7f800000')})))`,
    `(local.set $h ${f16Of('(local.get $d4)')})`,
    ...[0, 1, 2, 3].map((b) => `(i32.store16 offset=${34 * b} (local.get $dst) (i32x4.extract_lane ${b} (local.get $h)))`),
    ...[0, 1, 2, 3].flatMap((b) => [
      ...load(b * inBytesPerBlock),
      // Loaded again rather than kept from the first pass: four blocks' values would not stay in registers.
      ...q8Abs(),
      `(local.set $id ${splatLane(b)})`,
      ...q8Quantize(34 * b),
    ]),
    `(local.set $src (i32.add (local.get $src) (i32.const ${4 * inBytesPerBlock})))`,
    '(local.set $dst (i32.add (local.get $dst) (i32.const 136)))',
    '(local.set $count (i32.add (local.get $count) (i32.const 4)))',
    '(br $next))',
  ];
}

function q8Loop(name: string, inBytesPerBlock: number, load: (base: number) => string[]): string {
  const locals = [
    ...Array.from({ length: 8 }, (_, k) => `(local $v${k} v128) (local $q${k} v128) (local $u${k} v128)`),
    '(local $f v128) (local $a v128) (local $x v128) (local $t v128) (local $id v128) (local $m v128) (local $nm v128) (local $h v128)',
    '(local $mb0 v128) (local $mb1 v128) (local $mb2 v128) (local $mb3 v128) (local $d4 v128) (local $id4 v128)',
    '(local $amax f32) (local $d f32) (local $idf f32) (local $db i32) (local $count i32) (local $v v128) (local $w v128)',
  ].join(' ');
  return `
  (func (export "${name}") (param $src i32) (param $dst i32) (param $blocks i32) (result i32)
    ${locals}
    ;; returns the blocks done: all of them, or up to the first whose amax is NaN
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $count) (local.get $blocks)))
        ${[...q8Four(load, inBytesPerBlock), ...load(0), ...q8Block()].join('\n        ')}
        (local.set $src (i32.add (local.get $src) (i32.const ${inBytesPerBlock})))
        (local.set $dst (i32.add (local.get $dst) (i32.const 34)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count))`;
}

export function simdWat(): string {
  const f32Loads = (base: number) => Array.from({ length: 8 }, (_, k) => `(local.set $v${k} (v128.load offset=${base + 16 * k} (local.get $src)))`);
  const bf16Loads = (base: number) =>
    Array.from({ length: 4 }, (_, k) => [
      `(local.set $v (v128.load offset=${base + 16 * k} (local.get $src)))`,
      `(local.set $v${2 * k} ${widenLow('(local.get $v)')})`,
      `(local.set $v${2 * k + 1} ${widenHigh('(local.get $v)')})`,
    ]).flat();
  return `;; Generated by scripts/build-simd.ts: edit that file, then run it.
(module
  (memory (export "memory") ${MEMORY_PAGES} ${MEMORY_PAGES})
${unrolledLoop(
  'bf16_to_f16',
  16,
  16,
  CONVERT_LOCALS,
  bf16ToF16(),
  {
    load: (k) => [`(local.set $v${k} (v128.load offset=${16 * k} (local.get $src)))`, `(local.set $m${k} (v128.and (local.get $v${k}) ${i16x8('0x7fff')}))`],
    // Zero unless the lane is outside the f16 normal range (m - 0x3880 wraps past 0x0eff).
    check: (k) => `(i16x8.sub_sat_u (i16x8.sub (local.get $m${k}) ${i16x8('0x3880')}) ${i16x8('0x0eff')})`,
    // In range: rebias the exponent by shifting, (m - 0x3800) << 3 = (m << 3) + 0x4000 in 16 bits.
    store: (k) =>
      `(v128.store offset=${16 * k} (local.get $dst) (v128.or (i16x8.add (i16x8.shl (local.get $m${k}) (i32.const 3)) ${i16x8('0x4000')}) (v128.and (local.get $v${k}) ${i16x8('0x8000')})))`,
  },
  {
    // Zero unless the lane overflows f16 or is NaN or infinite (m ≥ 0x4780).
    check: (k) => `(i16x8.sub_sat_u (local.get $m${k}) ${i16x8('0x477f')})`,
    store: (k) =>
      `(v128.store offset=${16 * k} (local.get $dst) (v128.or ${bf16ToF16Finite(`(local.get $m${k})`)} (v128.and (local.get $v${k}) ${i16x8('0x8000')})))`,
  },
)}
${unrolledLoop(
  'f32_to_f16',
  32,
  16,
  CONVERT_LOCALS,
  storeF16('(v128.load (local.get $src))', '(v128.load offset=16 (local.get $src))'),
  {
    // Eight values per k: $v{k} holds the first four, $m{k} the next four (as loaded, signs and all).
    load: (k) => [`(local.set $v${k} (v128.load offset=${32 * k} (local.get $src)))`, `(local.set $m${k} (v128.load offset=${32 * k + 16} (local.get $src)))`],
    // Zero unless a lane is outside the f16 normal range: |x| - 2^-14 wraps past 0x0f000000.
    check: (k) =>
      `(v128.or (i32x4.ge_u (i32x4.sub ${abs32(`(local.get $v${k})`)} ${i32x4('0x38800000')}) ${i32x4('0x0f000000')}) (i32x4.ge_u (i32x4.sub ${abs32(`(local.get $m${k})`)} ${i32x4('0x38800000')}) ${i32x4('0x0f000000')}))`,
    // In range: integer rounding alone; the exponent's rebias (−0x1c000) is taken in 16 bits.
    store: (k) =>
      `(v128.store offset=${16 * k} (local.get $dst) (v128.or (i16x8.sub ${narrow16(f32ToF16Rounded(abs32(`(local.get $v${k})`)), f32ToF16Rounded(abs32(`(local.get $m${k})`)))} ${i16x8('0xc000')}) ${signs16(k)}))`,
  },
  {
    // Zero unless a lane overflows f16 or is NaN or infinite (|x| ≥ 65536).
    check: (k) =>
      `(v128.or (i32x4.ge_u ${abs32(`(local.get $v${k})`)} ${i32x4('0x47800000')}) (i32x4.ge_u ${abs32(`(local.get $m${k})`)} ${i32x4('0x47800000')}))`,
    store: (k) =>
      `(v128.store offset=${16 * k} (local.get $dst) (v128.or ${narrow16(f32ToF16Finite(abs32(`(local.get $v${k})`)), f32ToF16Finite(abs32(`(local.get $m${k})`)))} ${signs16(k)}))`,
  },
)}
${loop('f32_to_bf16', 32, 16, CONVERT_LOCALS, [
  '(local.set $v (v128.load (local.get $src)))',
  '(local.set $w (v128.load offset=16 (local.get $src)))',
  count32(`(i32x4.ge_u (v128.and (local.get $v) ${i32x4('0x7fffffff')}) ${i32x4('0x7f800000')})`),
  count32(`(i32x4.ge_u (v128.and (local.get $w) ${i32x4('0x7fffffff')}) ${i32x4('0x7f800000')})`),
  `(v128.store (local.get $dst) ${high16(f32ToBf16('(local.get $v)'), f32ToBf16('(local.get $w)'))})`,
])}
${unrolledLoop(
  'bf16_to_bf16',
  16,
  16,
  CONVERT_LOCALS,
  [
    '(local.set $v (v128.load (local.get $src)))',
    `(local.set $m (v128.and (local.get $v) ${i16x8('0x7fff')}))`,
    count16(`(i16x8.ge_u (local.get $m) ${i16x8('0x7f80')})`),
    `(v128.store (local.get $dst) (v128.or (local.get $v) (v128.and (i16x8.gt_u (local.get $m) ${i16x8('0x7f80')}) ${i16x8('0x40')})))`,
  ],
  {
    load: (k) => [`(local.set $v${k} (v128.load offset=${16 * k} (local.get $src)))`],
    // Zero unless the lane is NaN or infinite (|bits| ≥ 0x7f80).
    check: (k) => `(i16x8.sub_sat_u (v128.and (local.get $v${k}) ${i16x8('0x7fff')}) ${i16x8('0x7f7f')})`,
    store: (k) => `(v128.store offset=${16 * k} (local.get $dst) (local.get $v${k}))`,
  },
)}
${loop('bf16_to_f32', 16, 32, CONVERT_LOCALS, [
  '(local.set $v (v128.load (local.get $src)))',
  count16(`(i16x8.ge_u (v128.and (local.get $v) ${i16x8('0x7fff')}) ${i16x8('0x7f80')})`),
  `(v128.store (local.get $dst) ${widenLow('(local.get $v)')})`,
  `(v128.store offset=16 (local.get $dst) ${widenHigh('(local.get $v)')})`,
])}
${loop('count_f32', 32, 0, CONVERT_LOCALS, [
  count32(`(i32x4.ge_u (v128.and (v128.load (local.get $src)) ${i32x4('0x7fffffff')}) ${i32x4('0x7f800000')})`),
  count32(`(i32x4.ge_u (v128.and (v128.load offset=16 (local.get $src)) ${i32x4('0x7fffffff')}) ${i32x4('0x7f800000')})`),
])}
${loop('count_f16', 16, 0, CONVERT_LOCALS, [count16(`(i16x8.eq (v128.and (v128.load (local.get $src)) ${i16x8('0x7c00')}) ${i16x8('0x7c00')})`)])}
${loop('count_bf16', 16, 0, CONVERT_LOCALS, [count16(`(i16x8.eq (v128.and (v128.load (local.get $src)) ${i16x8('0x7f80')}) ${i16x8('0x7f80')})`)])}
${q8Loop('q8_0_f32', 128, f32Loads)}
${q8Loop('q8_0_bf16', 64, bf16Loads)}
)
`;
}

async function compile(wat: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('simd.wat', wat, { simd: true });
  mod.resolveNames();
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return buffer;
}

export async function simdModuleSource(): Promise<{ wat: string; ts: string }> {
  const wat = simdWat();
  const b64 = Buffer.from(await compile(wat)).toString('base64');
  const lines = b64.match(/.{1,120}/g) ?? [];
  const ts = `// Generated by scripts/build-simd.ts from simd.wat: do not edit.
/** The SIMD kernels' WebAssembly module, base64. */
export const SIMD_MODULE_BASE64 =
${lines.map((l, i) => `  '${l}'${i < lines.length - 1 ? ' +' : ';'}`).join('\n')}
`;
  return { wat, ts };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { wat, ts } = await simdModuleSource();
  if (process.argv.includes('--check')) {
    const same = readFileSync(WAT_PATH, 'utf8') === wat && readFileSync(MODULE_PATH, 'utf8') === ts;
    if (!same) {
      console.error('src/core/tensor/simd.wat / simd-module.ts are stale: run npx tsx scripts/build-simd.ts');
      process.exit(1);
    }
  } else {
    writeFileSync(WAT_PATH, wat);
    writeFileSync(MODULE_PATH, ts);
    console.log(`wrote ${WAT_PATH} and ${MODULE_PATH}`);
  }
}
