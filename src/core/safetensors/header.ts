import { ConversionError } from '../errors';
import { decodeUtf8, type ByteSource } from '../io';

/** The dtypes we read. Anything else is refused by name. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Every dtype the safetensors format defines, so an unsupported one is named, not "unknown". */
const KNOWN_OTHER_DTYPES = new Set([
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'I32',
  'U32',
  'I64',
  'U64',
  'F64',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
  'F6_E2M3',
  'F6_E3M2',
  'F4',
  'C64',
]);

/**
 * Safety limits. The header is read into memory whole, so its size is capped: real adapters
 * have headers of a few hundred KiB (one entry per tensor); 100 MiB matches the limit of the
 * reference safetensors implementation.
 */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** No tensor in a LoRA adapter has more dimensions than this (3-D experts, 4-D convs at most). */
export const MAX_DIMS = 8;

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offsets of the data in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: SafetensorsTensor[];
  /** The optional `__metadata__` string map. */
  metadata: Record<string, string>;
  /** Absolute offset where the data section starts (8 + header length). */
  dataOffset: number;
}

function malformed(message: string, file: string, extra: Record<string, unknown> = {}): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file} is not a valid safetensors file: ${message}`,
    { file, ...extra },
    'Re-save the adapter with PEFT (save_pretrained) or check that the download is complete.',
  );
}

/**
 * Parse and validate a safetensors header: 8-byte little-endian length, bounded UTF-8 JSON,
 * and every entry checked against the file size. Offsets (not shape × dtype) are the ground
 * truth for where data lives; shape × dtype must agree with them.
 */
export async function parseSafetensorsHeader(source: ByteSource, file = 'adapter_model.safetensors'): Promise<SafetensorsHeader> {
  if (source.byteLength < 8) throw malformed(`the file is ${source.byteLength} bytes long, too short for a header`, file);
  const lenBytes = await source.read(0, 8);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLength = hi * 2 ** 32 + lo;
  if (headerLength > MAX_HEADER_BYTES) {
    throw malformed(`the header claims ${headerLength} bytes (the limit is ${MAX_HEADER_BYTES})`, file);
  }
  if (8 + headerLength > source.byteLength) {
    throw malformed(`the header claims ${headerLength} bytes but the file has only ${source.byteLength - 8} after the length`, file);
  }
  if (headerLength < 2) throw malformed('the header is empty', file);
  const headerBytes = await source.read(8, headerLength);
  if (headerBytes[0] !== 0x7b /* { */) throw malformed('the header does not start with "{"', file);

  let json: unknown;
  try {
    // Trailing spaces are allowed by the format (padding to alignment).
    json = JSON.parse(decodeUtf8(headerBytes));
  } catch (e) {
    throw malformed(`the header is not valid UTF-8 JSON (${(e as Error).message})`, file);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed('the header is not a JSON object', file);

  const dataOffset = 8 + headerLength;
  const dataLength = source.byteLength - dataOffset;
  const tensors: SafetensorsTensor[] = [];
  let metadata: Record<string, string> = {};

  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw malformed('__metadata__ is not an object', file);
      metadata = {};
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw malformed(`__metadata__.${k} is not a string`, file);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw malformed(`entry "${name}" is not an object`, file, { tensors: [name] });
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') throw malformed(`tensor "${name}" has no dtype`, file, { tensors: [name] });
    if (!(dtype in DTYPE_BYTES)) {
      const known = KNOWN_OTHER_DTYPES.has(dtype);
      throw new ConversionError(
        known ? 'unsupported_dtype' : 'malformed_header',
        known
          ? `Tensor "${name}" is stored as ${dtype}; only F32, F16 and BF16 LoRA weights can be converted.`
          : `Tensor "${name}" has an unknown dtype "${dtype}".`,
        { file, tensors: [name], dtype },
        known ? 'Save the adapter in float32, float16 or bfloat16 (quantised adapters cannot be converted losslessly).' : undefined,
      );
    }
    if (!Array.isArray(shape) || shape.length > MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw malformed(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`, file, { tensors: [name] });
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      throw malformed(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`, file, { tensors: [name] });
    }
    const [b, e] = offsets as [number, number];
    if (e > dataLength) {
      throw malformed(`tensor "${name}" ends at byte ${e} of the data section, but the data section is ${dataLength} bytes (truncated file?)`, file, {
        tensors: [name],
      });
    }
    const elements = (shape as number[]).reduce((a, d) => a * d, 1);
    const bytes = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (bytes !== e - b) {
      throw malformed(`tensor "${name}" has shape ${JSON.stringify(shape)} (${bytes} bytes of ${dtype}) but ${e - b} bytes of data`, file, {
        tensors: [name],
      });
    }
    tensors.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: dataOffset + b, end: dataOffset + e });
  }

  // Tensors must not overlap (a crafted file could otherwise alias data).
  const byOffset = [...tensors].sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (cur.begin < prev.end) {
      throw malformed(`tensors "${prev.name}" and "${cur.name}" overlap`, file, { tensors: [prev.name, cur.name] });
    }
  }
  return { tensors, metadata, dataOffset };
}
