/**
 * The WebAssembly SIMD kernels (scripts/build-simd.ts → simd.wat → simd-module.ts): BF16/F32 →
 * F16, F32 → BF16, BF16 → BF16 (NaNs quieted), BF16 → F32, and BF16/F32 → Q8_0, eight or more
 * values per instruction where the JavaScript loops do one. Used when the engine has WebAssembly
 * with SIMD (every current browser and Node); otherwise, or when switched off, the JavaScript
 * kernels do the same work. Both are bit-identical to the scalar encoders (kernels.spec.ts).
 *
 * Data is copied into the module's memory in pieces of at most 1 MiB, converted there, and
 * copied out: two memory copies are far cheaper than the per-element loops they replace.
 */
import type { GgmlTypeName } from './encode';
import { SIMD_MODULE_BASE64 } from './simd-module';
import type { SourceDtype } from './read';

/** Conversions return how many values were NaN or infinite; Q8_0 returns the blocks it did. */
interface SimdExports {
  memory: { buffer: ArrayBuffer };
  bf16_to_f16(src: number, dst: number, n: number): number;
  f32_to_f16(src: number, dst: number, n: number): number;
  f32_to_bf16(src: number, dst: number, n: number): number;
  bf16_to_bf16(src: number, dst: number, n: number): number;
  bf16_to_f32(src: number, dst: number, n: number): number;
  count_f32(src: number, dst: number, n: number): number;
  count_f16(src: number, dst: number, n: number): number;
  count_bf16(src: number, dst: number, n: number): number;
  q8_0_f32(src: number, dst: number, blocks: number): number;
  q8_0_bf16(src: number, dst: number, blocks: number): number;
}

/** The engine's WebAssembly API, as far as it is used here (the core compiles without DOM or Node types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** Input at 0, output at 1 MiB: each at most 1 MiB per call. The arena follows (see acquireSimdArena). */
const IN = 0;
const OUT = 1 << 20;
export const SIMD_PIECE_BYTES = 1 << 20;
const ARENA = 2 << 20;

let loaded: SimdExports | null | undefined;
/** A view of the module's memory (fixed: never grown, so the view stays valid). */
let memoryView: Uint8Array | undefined;
let enabled = true;

/** Each base64 character's 6-bit value, by character code (the module's text is plain base64). */
const BASE64_VALUES = (() => {
  const values = new Uint8Array(128);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/**
 * The module's bytes from its base64 text: four characters to three bytes through a table (a
 * character-by-character `indexOf` took 3–6 ms of every start).
 */
export function decodeBase64(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  const v = (i: number) => BASE64_VALUES[text.charCodeAt(i)]!;
  let at = 0;
  let i = 0;
  for (; i + 4 <= end; i += 4) {
    const n = (v(i) << 18) | (v(i + 1) << 12) | (v(i + 2) << 6) | v(i + 3);
    out[at++] = n >>> 16;
    out[at++] = (n >>> 8) & 0xff;
    out[at++] = n & 0xff;
  }
  // The last group of two or three characters: one or two bytes.
  if (end - i >= 2) {
    const n = (v(i) << 18) | (v(i + 1) << 12) | (end - i === 3 ? v(i + 2) << 6 : 0);
    out[at] = n >>> 16;
    if (end - i === 3) out[at + 1] = (n >>> 8) & 0xff;
  }
  return out;
}

function load(): SimdExports | null {
  if (loaded === undefined) {
    try {
      const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
      // Compiling fails where SIMD is not supported: then the JavaScript kernels serve.
      loaded = wasm ? (new wasm.Instance(new wasm.Module(decodeBase64(SIMD_MODULE_BASE64)), {}).exports as SimdExports) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** Turn the SIMD kernels off or on (tests and benchmarks compare both). Returns whether they are available. */
export function setSimdEnabled(on: boolean): boolean {
  enabled = on;
  return load() !== null;
}

export function simdAvailable(): boolean {
  return load() !== null;
}

/** Counts of what the kernels saw, added to as they go. */
export interface KernelStats {
  /** Values that are NaN or ±infinity. */
  nonFinite: number;
}

type ConvName = 'bf16_to_f16' | 'f32_to_f16' | 'f32_to_bf16' | 'bf16_to_bf16' | 'bf16_to_f32';
type Kernel = { name: ConvName | 'q8_0_f32' | 'q8_0_bf16'; inBytes: number; outBytes: number; q8: boolean };

const conv = (name: ConvName, inBytes: number, outBytes: number): Kernel => ({ name, inBytes, outBytes, q8: false });
const q8 = (name: 'q8_0_f32' | 'q8_0_bf16', inBytes: number): Kernel => ({ name, inBytes, outBytes: 34 / 32, q8: true });

const KERNELS: Partial<Record<SourceDtype, Partial<Record<GgmlTypeName, Kernel>>>> = {
  BF16: { F16: conv('bf16_to_f16', 2, 2), BF16: conv('bf16_to_bf16', 2, 2), F32: conv('bf16_to_f32', 2, 4), Q8_0: q8('q8_0_bf16', 2) },
  F32: { F16: conv('f32_to_f16', 4, 2), BF16: conv('f32_to_bf16', 4, 2), Q8_0: q8('q8_0_f32', 4) },
};

/** An encoder's arguments: `count` elements of `src` from `from`, into `out` at `at`, NaN/Inf counted in `stats`. */
type EncodeArgs = [
  dtype: SourceDtype,
  src: Uint16Array | Uint32Array,
  from: number,
  count: number,
  type: GgmlTypeName,
  out: Uint8Array,
  at: number,
  stats: KernelStats,
];

/** What the JavaScript kernels do for the few elements the SIMD ones leave (tails, NaN blocks). */
export type FallbackKernel = (...args: EncodeArgs) => number;

/**
 * Encode with a SIMD kernel if there is one for this pair; returns the bytes written, or -1 when
 * the caller's JavaScript kernel must do it. `fallback` encodes the leftovers: the last elements
 * that do not fill a vector, and Q8_0 blocks holding a NaN. Called once per chunk, and once per
 * row of a permuted tensor: no allocation on the in-place path (0.4 µs a call measured before).
 * (Typed from EncodeArgs, but with plain parameters: no rest array per call.)
 */
export const encodeElementsSimd: (...args: [...EncodeArgs, fallback: FallbackKernel]) => number = (dtype, src, from, count, type, out, at, stats, fallback) => {
  const kernel = enabled ? KERNELS[dtype]?.[type] : undefined;
  const e = kernel ? load() : null;
  if (!kernel || !e) return -1;
  const memory = e.memory.buffer;
  // Buffers from the arena are in the module's memory already: the kernel works on them in place.
  if (src.buffer === memory && out.buffer === memory) {
    if (!kernel.q8) {
      const n = count - (count % 8);
      if (n > 0) stats.nonFinite += e[kernel.name](src.byteOffset + from * kernel.inBytes, out.byteOffset + at, n);
      const bytes = n * kernel.outBytes;
      const tail = count - n;
      if (tail === 0) return bytes;
      // The last few values (a row of a permuted tensor often ends with some): one vector padded
      // with zeros in the scratch area, converted, and only the values' bytes copied out. The
      // kernels work value by value, and zeros are finite, so this is exact.
      const m = (memoryView ??= new Uint8Array(memory));
      const begin = src.byteOffset + (from + n) * kernel.inBytes;
      m.fill(0, IN, IN + 8 * kernel.inBytes);
      m.copyWithin(IN, begin, begin + tail * kernel.inBytes);
      stats.nonFinite += e[kernel.name](IN, OUT, 8);
      m.copyWithin(out.byteOffset + at + bytes, OUT, OUT + tail * kernel.outBytes);
      return bytes + tail * kernel.outBytes;
    }
    const blocks = count / 32;
    let b = 0;
    const base = out.byteOffset + at;
    while (b < blocks) {
      b += e[kernel.name](src.byteOffset + (from + b * 32) * kernel.inBytes, base + b * 34, blocks - b);
      if (b < blocks) {
        fallback(dtype, src, from + b * 32, 32, type, out, at + b * 34, stats);
        b++;
      }
    }
    return blocks * 34;
  }
  const run = (s: number, d: number, n: number): number => e[kernel.name](s, d, n);
  const mem = new Uint8Array(memory);
  const srcBytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  // Whole vectors (8 values) or whole Q8_0 blocks (32) per piece; the piece fits in 1 MiB both ways.
  const unit = kernel.q8 ? 32 : 8;
  const perPiece = Math.floor(SIMD_PIECE_BYTES / Math.max(kernel.inBytes, kernel.outBytes) / unit) * unit;
  const outPerElement = kernel.outBytes;
  let done = 0;
  let pos = at;
  while (done < count) {
    const n = Math.min(perPiece, count - done);
    const vectorised = Math.floor(n / unit) * unit;
    if (vectorised > 0) {
      const first = from + done;
      mem.set(srcBytes.subarray(first * kernel.inBytes, (first + vectorised) * kernel.inBytes), IN);
      if (kernel.q8) {
        const blocks = vectorised / 32;
        let b = 0;
        while (b < blocks) {
          b += run(IN + b * 32 * kernel.inBytes, OUT + b * 34, blocks - b);
          if (b < blocks) {
            fallback(dtype, src, first + b * 32, 32, type, mem, OUT + b * 34, stats);
            b++;
          }
        }
      } else {
        stats.nonFinite += run(IN, OUT, vectorised);
      }
      const bytes = vectorised * outPerElement;
      out.set(mem.subarray(OUT, OUT + bytes), pos);
      pos += bytes;
    }
    if (vectorised < n) pos += fallback(dtype, src, from + done + vectorised, n - vectorised, type, out, pos, stats);
    done += n;
  }
  return pos - at;
};

/**
 * How many of `count` elements from `src[from]` are NaN or infinite, with the SIMD scan (in place
 * when the elements are in the module's memory, else copied through in pieces); -1 when there is
 * no SIMD, and the caller counts.
 */
export function countNonFiniteSimd(dtype: SourceDtype, src: Uint16Array | Uint32Array, from: number, count: number): number {
  const e = enabled ? load() : null;
  if (!e) return -1;
  const size = dtype === 'F32' ? 4 : 2;
  const scan = (at: number, n: number): number => (dtype === 'F32' ? e.count_f32(at, 0, n) : dtype === 'F16' ? e.count_f16(at, 0, n) : e.count_bf16(at, 0, n));
  const whole = count - (count % 8);
  let found = 0;
  if (src.buffer === e.memory.buffer) {
    found = scan(src.byteOffset + from * size, whole);
  } else {
    const mem = new Uint8Array(e.memory.buffer);
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const per = Math.floor(SIMD_PIECE_BYTES / size / 8) * 8;
    for (let done = 0; done < whole; done += per) {
      const n = Math.min(per, whole - done);
      mem.set(bytes.subarray((from + done) * size, (from + done + n) * size), IN);
      found += scan(IN, n);
    }
  }
  const expMask = dtype === 'F32' ? 0x7f800000 : dtype === 'F16' ? 0x7c00 : 0x7f80;
  for (let i = from + whole; i < from + count; i++) if ((src[i]! & expMask) === expMask) found++;
  return found;
}

/**
 * The converter's reused buffers, placed in the module's memory so the kernels read and write
 * them in place: `slabCount` read slabs and `chunkCount` output chunks. One conversion holds the arena at a
 * time; another one running meanwhile gets null and uses ordinary buffers (and the copying path).
 */
export interface SimdArena {
  slabs: Uint8Array[];
  chunks: Uint8Array<ArrayBuffer>[];
  release(): void;
}

let arenaHeld = false;

export function acquireSimdArena(slabBytes: number, chunkBytes: number, chunkCount = 2, slabCount = 2): SimdArena | null {
  const e = enabled ? load() : null;
  if (!e || arenaHeld) return null;
  const size = e.memory.buffer.byteLength;
  // 64-byte boundaries: every view is aligned for any element type.
  const round = (n: number) => Math.ceil(n / 64) * 64;
  if (ARENA + slabCount * round(slabBytes) + chunkCount * round(chunkBytes) > size) return null;
  arenaHeld = true;
  const buffer = e.memory.buffer;
  let at = ARENA;
  const take = (n: number) => {
    const view = new Uint8Array(buffer, at, n);
    at += round(n);
    return view;
  };
  let released = false;
  return {
    slabs: Array.from({ length: slabCount }, () => take(slabBytes)),
    chunks: Array.from({ length: chunkCount }, () => take(chunkBytes)),
    release() {
      if (!released) arenaHeld = false;
      released = true;
    },
  };
}
