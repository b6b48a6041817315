/**
 * Hermetic safetensors builders for tests: well-formed files from {name, dtype, shape, data}
 * entries, and the pieces to craft malformed ones (raw header JSON, wrong lengths, truncation).
 * Everything happens in memory; nothing is read from disk.
 */

export type BuildDtype = 'F32' | 'F16' | 'BF16' | (string & {});

export interface BuildTensor {
  name: string;
  dtype: BuildDtype;
  shape: number[];
  /**
   * The tensor's raw little-endian bytes, or numbers: encoded as F32 for 'F32', and for
   * 'F16'/'BF16' taken as the 16-bit patterns themselves (so tests control every bit).
   * Omitted: zero bytes of the size shape × dtype implies.
   */
  data?: Uint8Array | ArrayLike<number>;
}

const DTYPE_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I8: 1, U8: 1, F8_E4M3: 1, F8_E5M2: 1, I32: 4, I64: 8 };

/** Bytes per element of a dtype (1 for anything this helper does not know). */
export function dtypeSize(dtype: string): number {
  return DTYPE_SIZE[dtype] ?? 1;
}

function tensorBytes(t: BuildTensor): Uint8Array {
  const n = t.shape.reduce((a, d) => a * d, 1);
  if (t.data === undefined) return new Uint8Array(n * dtypeSize(t.dtype));
  if (t.data instanceof Uint8Array) return t.data;
  const values = t.data;
  if (t.dtype === 'F32') {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return out;
  }
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const out = new Uint8Array(values.length * 2);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setUint16(i * 2, values[i]!, true);
    return out;
  }
  throw new Error(`safetensors-build: give raw bytes for dtype ${t.dtype}`);
}

/** The 8-byte little-endian length prefix followed by the header bytes. */
export function headerPrefix(headerLength: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * A file from a raw header value (any JSON-serialisable value, or a string used verbatim) and
 * raw data bytes: the building block for malformed files.
 */
export function buildRawSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), options: { pad?: boolean } = {}): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  // The format pads the header with spaces to a multiple of 8 so the data is aligned.
  if (options.pad !== false) while ((8 + new TextEncoder().encode(text).byteLength) % 8 !== 0) text += ' ';
  const json = new TextEncoder().encode(text);
  return concatBytes(headerPrefix(json.byteLength), json, data);
}

export interface BuildOptions {
  metadata?: Record<string, string>;
}

/** The header JSON object and data section for `tensors`, laid out back to back in order. */
export function layoutSafetensors(tensors: BuildTensor[], options: BuildOptions = {}): { header: Record<string, unknown>; data: Uint8Array } {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + bytes.byteLength] };
    chunks.push(bytes);
    at += bytes.byteLength;
  }
  return { header, data: concatBytes(...chunks) };
}

/** A well-formed safetensors file holding `tensors` in the given order. */
export function buildSafetensors(tensors: BuildTensor[], options: BuildOptions = {}): Uint8Array {
  const { header, data } = layoutSafetensors(tensors, options);
  return buildRawSafetensors(header, data);
}

/**
 * A safetensors file whose header entries are edited after layout (e.g. to make offsets
 * overlap or disagree with the shape): `edit` receives the header object and may mutate it.
 */
export function buildEditedSafetensors(tensors: BuildTensor[], edit: (header: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const { header, data } = layoutSafetensors(tensors);
  edit(header as Record<string, Record<string, unknown>>);
  return buildRawSafetensors(header, data);
}

/** The first `length` bytes of a file (a truncated download). */
export function truncateBytes(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.slice(0, length);
}

export interface GeneratedTensor {
  name: string;
  shape: number[];
}

/** A random-access source with a `byteLength` and `read`, structurally a core ByteSource. */
export interface GeneratedSource {
  readonly byteLength: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Absolute offset where the data section starts. */
  readonly dataOffset: number;
  /** Absolute [begin, end) of each tensor's data. */
  readonly tensors: Map<string, { begin: number; end: number }>;
  /** Whether `bytes` equal the source's bytes at `offset` (compared in place, no copy). */
  equals(offset: number, bytes: Uint8Array): boolean;
}

/**
 * A safetensors file that is never stored: the header is real, the data bytes are computed from
 * their position (a fixed pseudo-random period of `period` bytes repeated over the data
 * section), so files of many GiB cost no memory. All tensors share `dtype`; values are small
 * finite numbers in that dtype.
 */
export function generatedSafetensors(
  tensors: GeneratedTensor[],
  dtype: 'F32' | 'F16' | 'BF16',
  options: { period?: number; seed?: number } = {},
): GeneratedSource {
  const size = dtypeSize(dtype);
  const header: Record<string, unknown> = {};
  const spans = new Map<string, { begin: number; end: number }>();
  let at = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, d) => a * d, 1) * size;
    header[t.name] = { dtype, shape: t.shape, data_offsets: [at, at + bytes] };
    spans.set(t.name, { begin: at, end: at + bytes });
    at += bytes;
  }
  const head = buildRawSafetensors(header);
  const dataOffset = head.byteLength;
  for (const s of spans.values()) {
    s.begin += dataOffset;
    s.end += dataOffset;
  }
  // A period that is a multiple of 4 keeps every element whole; an odd number of KiB keeps it
  // from lining up with tensor boundaries.
  const period = options.period ?? 1021 * 1024;
  const pattern = new Uint8Array(period);
  const view = new DataView(pattern.buffer);
  let state = (options.seed ?? 0x9e3779b9) >>> 0 || 1;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < period; i += size) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    f32[0] = (state / 2 ** 32 - 0.5) * 0.1;
    if (dtype === 'F32') view.setUint32(i, u32[0]!, true);
    else if (dtype === 'BF16') view.setUint16(i, u32[0]! >>> 16, true);
    else {
      // f16 from the value's bits by truncation: any finite small half will do for inputs.
      const bits = u32[0]!;
      const exp = ((bits >>> 23) & 0xff) - 127 + 15;
      const half = exp <= 0 ? (bits >>> 16) & 0x8000 : ((bits >>> 16) & 0x8000) | (exp << 10) | ((bits >>> 13) & 0x3ff);
      view.setUint16(i, half, true);
    }
  }
  const byteLength = dataOffset + at;
  return {
    byteLength,
    dataOffset,
    tensors: spans,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > byteLength) return Promise.reject(new RangeError(`read past the end: ${offset}+${length}`));
      // allocUnsafe: every byte is overwritten below, so zero-filling GiBs would be wasted time.
      const out: Uint8Array = Buffer.allocUnsafe(length);
      let done = 0;
      if (offset < dataOffset) {
        const n = Math.min(length, dataOffset - offset);
        out.set(head.subarray(offset, offset + n));
        done = n;
      }
      while (done < length) {
        const k = (offset + done - dataOffset) % period;
        const n = Math.min(length - done, period - k);
        out.set(pattern.subarray(k, k + n), done);
        done += n;
      }
      return Promise.resolve(out);
    },
    equals(offset, bytes) {
      if (offset < dataOffset || offset + bytes.byteLength > byteLength) return false;
      const got = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const ref = Buffer.from(pattern.buffer, pattern.byteOffset, pattern.byteLength);
      let done = 0;
      while (done < bytes.byteLength) {
        const k = (offset + done - dataOffset) % period;
        const n = Math.min(bytes.byteLength - done, period - k);
        if (got.compare(ref, k, k + n, done, done + n) !== 0) return false;
        done += n;
      }
      return true;
    },
  };
}
