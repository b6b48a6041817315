import { encodeUtf8 } from '../io';
import { GGML_TYPE, type GgmlTypeName } from '../tensor/encode';

/**
 * GGUF value types: the numbers of the GGUF format (gguf-py constants.GGUFValueType, ggml's
 * gguf_type). Written here rather than imported from @huggingface/gguf, whose package also pulls
 * in @huggingface/tasks (300 KB the CLI would parse at every start); writer.spec checks that they
 * agree with it.
 */
export const GGUF_VALUE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE, 'ARRAY'>;

/** One key/value of the header. Arrays are homogeneous. */
export type GgufKv =
  | { key: string; type: 'STRING'; value: string }
  | { key: string; type: 'UINT32' | 'INT32' | 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'FLOAT32' | 'FLOAT64'; value: number }
  | { key: string; type: 'UINT64' | 'INT64'; value: bigint | number }
  | { key: string; type: 'BOOL'; value: boolean }
  | { key: string; type: 'ARRAY'; itemType: GgufScalarType; value: (string | number | bigint | boolean)[] };

export interface GgufTensorInfo {
  name: string;
  /** GGML dims, fastest-varying first. */
  ne: number[];
  type: GgmlTypeName;
  /** Offset of the data relative to the start of the data section (a multiple of the alignment). */
  offset: number;
}

export function alignUp(n: number, alignment = GGUF_ALIGNMENT): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Little-endian byte builder for the header. */
class HeaderBuilder {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.ensure(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.ensure(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint) {
    this.ensure(8);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      // Sizes, counts and offsets: two 32-bit halves, no BigInt made per value.
      this.view.setUint32(this.length, v % 0x1_0000_0000, true);
      this.view.setUint32(this.length + 4, Math.floor(v / 0x1_0000_0000), true);
    } else {
      this.view.setBigUint64(this.length, BigInt(v), true);
    }
    this.length += 8;
  }
  i64(v: number | bigint) {
    this.ensure(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  str(s: string) {
    const b = encodeUtf8(s);
    this.u64(b.length);
    this.bytes(b);
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  zeros(n: number) {
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeScalar(h: HeaderBuilder, type: GgufScalarType, v: string | number | bigint | boolean): void {
  switch (type) {
    case 'UINT8':
      return h.u8(Number(v));
    case 'INT8':
      return h.i8(Number(v));
    case 'UINT16':
      return h.u16(Number(v));
    case 'INT16':
      return h.i16(Number(v));
    case 'UINT32':
      return h.u32(Number(v));
    case 'INT32':
      return h.i32(Number(v));
    case 'FLOAT32':
      return h.f32(Number(v));
    case 'FLOAT64':
      return h.f64(Number(v));
    case 'BOOL':
      return h.u8(v ? 1 : 0);
    case 'STRING':
      return h.str(String(v));
    case 'UINT64':
      return h.u64(typeof v === 'bigint' ? v : Number(v));
    case 'INT64':
      return h.i64(typeof v === 'bigint' ? v : Number(v));
  }
}

/**
 * Serialize a GGUF v3 header: magic, version, counts, key/values, tensor infos, and zero
 * padding up to the alignment, so that tensor data can follow directly.
 */
export function serializeGgufHeader(kvs: readonly GgufKv[], tensors: readonly GgufTensorInfo[], alignment = GGUF_ALIGNMENT): Uint8Array {
  const h = new HeaderBuilder();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(kvs.length);
  for (const kv of kvs) {
    h.str(kv.key);
    h.u32(GGUF_VALUE[kv.type]);
    if (kv.type === 'ARRAY') {
      h.u32(GGUF_VALUE[kv.itemType]);
      h.u64(kv.value.length);
      for (const item of kv.value) writeScalar(h, kv.itemType, item);
    } else {
      writeScalar(h, kv.type, kv.value);
    }
  }
  for (const t of tensors) {
    h.str(t.name);
    h.u32(t.ne.length);
    for (const d of t.ne) h.u64(d);
    h.u32(GGML_TYPE[t.type]);
    h.u64(t.offset);
  }
  h.zeros(alignUp(h.length, alignment) - h.length);
  return h.result();
}
