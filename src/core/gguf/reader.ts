/**
 * Read a GGUF file's header — metadata and tensor infos — from a ByteSource, a window at a time,
 * never the tensor data: a base model of many GB costs only its header (a few MB, most of it the
 * tokenizer's arrays, which are stepped over, not kept). Hostile input is bounded: the header
 * may not exceed MAX_GGUF_HEADER_BYTES, counts and lengths are checked against what is left.
 */
import { ConversionError } from '../errors';
import type { ByteSource } from '../io';

/** A base model's header is metadata and tensor infos; a tokenizer of 256k tokens makes ~20 MB. */
export const MAX_GGUF_HEADER_BYTES = 256 * 1024 * 1024;
/** GGML_MAX_NAME: llama.cpp keeps tensor names in 64 bytes, NUL included. */
export const GGML_MAX_NAME = 64;
const WINDOW = 1024 * 1024;
/** Arrays up to this many items are kept (e.g. alora invocation tokens); longer ones only counted. */
const KEEP_ARRAY_ITEMS = 64;

/** GGUF value types by id (gguf.h). */
export const GGUF_TYPE_NAMES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
export type GgufTypeName = (typeof GGUF_TYPE_NAMES)[number];
const SCALAR_BYTES: Partial<Record<GgufTypeName, number>> = { UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, UINT32: 4, INT32: 4, FLOAT32: 4, BOOL: 1, UINT64: 8, INT64: 8, FLOAT64: 8 };

/** GGML tensor types by id (ggml.h), for names in messages; ids not listed are unknown to this reader. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K',
  15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16',
  26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export interface GgufKvRead {
  type: GgufTypeName;
  /** Scalars and strings; arrays as { itemType, length, items? } (items kept when short). */
  value: unknown;
}

export interface GgufArrayValue {
  itemType: GgufTypeName;
  length: number;
  items?: unknown[];
}

export interface GgufTensorRead {
  name: string;
  /** GGML dims, fastest first. */
  ne: number[];
  type: number;
  /** Offset in the data section. */
  offset: number;
}

export interface GgufHeaderRead {
  version: number;
  kv: Map<string, GgufKvRead>;
  tensors: GgufTensorRead[];
  alignment: number;
  /** Where the data section starts (the header's size, padded). */
  dataOffset: number;
  /** Bytes read from the source to get here. */
  bytesRead: number;
  fileBytes: number;
}

function bad(file: string, message: string): ConversionError {
  return new ConversionError('malformed_header', `${file}: ${message}`, { file }, 'Check that this is a complete .gguf file (an interrupted download is the usual cause).');
}

/** A forward-only reader over a ByteSource, refilled a window at a time. */
class Cursor {
  private buf = new Uint8Array(0);
  private bufStart = 0;
  pos = 0;
  bytesRead = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly source: ByteSource,
    private readonly file: string,
  ) {}

  private async need(n: number): Promise<void> {
    if (this.pos + n > MAX_GGUF_HEADER_BYTES) throw bad(this.file, `the header is larger than ${MAX_GGUF_HEADER_BYTES / 1024 / 1024} MiB; not a GGUF file this tool reads.`);
    if (this.pos + n > this.source.byteLength) throw bad(this.file, `the header runs past the end of the file (${this.source.byteLength} bytes).`);
    const have = this.bufStart + this.buf.byteLength - this.pos;
    if (have >= n) return;
    const keep = this.buf.subarray(this.pos - this.bufStart);
    const length = Math.min(Math.max(n - keep.byteLength, WINDOW), this.source.byteLength - (this.pos + keep.byteLength));
    const more = await this.source.read(this.pos + keep.byteLength, length);
    this.bytesRead += more.byteLength;
    const next = new Uint8Array(keep.byteLength + more.byteLength);
    next.set(keep);
    next.set(more, keep.byteLength);
    this.buf = next;
    this.bufStart = this.pos;
  }

  private view(n: number): DataView {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return new DataView(this.buf.buffer, this.buf.byteOffset + at, n);
  }

  async u32(): Promise<number> {
    await this.need(4);
    return this.view(4).getUint32(0, true);
  }

  async u64(): Promise<number> {
    await this.need(8);
    const v = this.view(8).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(this.file, `a count or length of ${v} is not plausible.`);
    return Number(v);
  }

  async scalar(type: GgufTypeName): Promise<unknown> {
    const n = SCALAR_BYTES[type]!;
    await this.need(n);
    const v = this.view(n);
    switch (type) {
      case 'UINT8':
        return v.getUint8(0);
      case 'INT8':
        return v.getInt8(0);
      case 'UINT16':
        return v.getUint16(0, true);
      case 'INT16':
        return v.getInt16(0, true);
      case 'UINT32':
        return v.getUint32(0, true);
      case 'INT32':
        return v.getInt32(0, true);
      case 'FLOAT32':
        return v.getFloat32(0, true);
      case 'BOOL':
        return v.getUint8(0) !== 0;
      case 'UINT64':
        return v.getBigUint64(0, true);
      case 'INT64':
        return v.getBigInt64(0, true);
      default:
        return v.getFloat64(0, true);
    }
  }

  async string(): Promise<string> {
    const n = await this.u64();
    await this.need(n);
    const at = this.pos - this.bufStart;
    this.pos += n;
    try {
      return this.decoder.decode(this.buf.subarray(at, at + n));
    } catch {
      throw bad(this.file, 'a string in the header is not valid UTF-8.');
    }
  }

  /** Step over `n` bytes without keeping them. */
  async skip(n: number): Promise<void> {
    if (this.pos + n > Math.min(this.source.byteLength, MAX_GGUF_HEADER_BYTES)) throw bad(this.file, 'the header runs past the end of the file.');
    if (this.pos + n <= this.bufStart + this.buf.byteLength) {
      this.pos += n;
      return;
    }
    this.pos += n;
    this.buf = new Uint8Array(0);
    this.bufStart = this.pos;
  }
}

async function valueOf(c: Cursor, type: GgufTypeName, file: string): Promise<unknown> {
  if (type === 'STRING') return c.string();
  if (type !== 'ARRAY') return c.scalar(type);
  const itemId = await c.u32();
  const itemType = GGUF_TYPE_NAMES[itemId];
  if (!itemType || itemType === 'ARRAY') throw bad(file, `an array holds values of unknown type ${itemId}.`);
  const length = await c.u64();
  const out: GgufArrayValue = { itemType, length };
  if (length <= KEEP_ARRAY_ITEMS) {
    out.items = [];
    for (let i = 0; i < length; i++) out.items.push(await valueOf(c, itemType, file));
  } else if (itemType === 'STRING') {
    for (let i = 0; i < length; i++) await c.skip(await c.u64());
  } else {
    await c.skip(length * SCALAR_BYTES[itemType]!);
  }
  return out;
}

/** Read the header of the GGUF in `source`; `file` names it in errors. */
export async function readGgufHeader(source: ByteSource, file = 'the GGUF file'): Promise<GgufHeaderRead> {
  const c = new Cursor(source, file);
  if (source.byteLength < 24) throw bad(file, 'it is too short to be a GGUF file.');
  if ((await c.u32()) !== 0x46554747) throw bad(file, 'it does not start with "GGUF": not a GGUF file.');
  const version = await c.u32();
  if (version !== 2 && version !== 3) throw bad(file, `GGUF version ${version} is not one this tool reads (2 or 3).`);
  const nTensors = await c.u64();
  const nKv = await c.u64();
  // Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value at least 8 + 4.
  if (nTensors * 32 + nKv * 12 > source.byteLength) throw bad(file, `it claims ${nTensors} tensors and ${nKv} keys, more than the file could hold.`);
  const kv = new Map<string, GgufKvRead>();
  for (let i = 0; i < nKv; i++) {
    const key = await c.string();
    const typeId = await c.u32();
    const type = GGUF_TYPE_NAMES[typeId];
    if (!type) throw bad(file, `key ${key} has an unknown value type ${typeId}.`);
    kv.set(key, { type, value: await valueOf(c, type, file) });
  }
  const tensors: GgufTensorRead[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = await c.string();
    const nDims = await c.u32();
    if (nDims < 1 || nDims > 4) throw bad(file, `tensor ${name} has ${nDims} dimensions (GGML allows 1 to 4).`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(await c.u64());
    const type = await c.u32();
    const offset = await c.u64();
    tensors.push({ name, ne, type, offset });
  }
  const alignmentKv = kv.get('general.alignment');
  const alignment = alignmentKv && typeof alignmentKv.value === 'number' && alignmentKv.value > 0 ? alignmentKv.value : 32;
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  return { version, kv, tensors, alignment, dataOffset, bytesRead: c.bytesRead, fileBytes: source.byteLength };
}

/** A string key's value, or undefined. */
export function kvString(h: GgufHeaderRead, key: string): string | undefined {
  const v = h.kv.get(key);
  return v?.type === 'STRING' ? (v.value as string) : undefined;
}

/** A numeric key's value (any integer or float type), or undefined. */
export function kvNumber(h: GgufHeaderRead, key: string): number | undefined {
  const v = h.kv.get(key);
  if (!v) return undefined;
  if (typeof v.value === 'number') return v.value;
  if (typeof v.value === 'bigint') return Number(v.value);
  return undefined;
}
