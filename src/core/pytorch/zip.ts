import { ConversionError } from '../errors';
import { decodeUtf8, type ByteSource } from '../io';

/**
 * A minimal, read-only ZIP reader over a ByteSource: the central directory (ZIP64 included),
 * and each entry's data offset, so stored entries can be read by range like safetensors data.
 * Deflated entries are inflated whole, one at a time, with the platform's DecompressionStream.
 */

/** An entry's name and where its bytes are. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated; anything else is refused when read. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
}

/** Where a deflated entry's compressed bytes are, and how long it is once inflated. */
export interface DeflatedEntry {
  /** Absolute offset of the compressed bytes. */
  offset: number;
  compressedSize: number;
  size: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
/** The EOCD record ends the file, after a comment of at most 65535 bytes. */
const MAX_COMMENT = 0xffff;
/** The central directory is read whole; a checkpoint has a few entries per tensor. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** An inflated entry is held in memory (one at a time): the biggest single storage we accept. */
export const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04] as const;

function malformed(message: string, file: string): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file} is not a valid PyTorch checkpoint: ${message}`,
    { file },
    'Re-save the adapter with PEFT (save_pretrained, preferably with safe_serialization=True) or check that the download is complete.',
  );
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(v: DataView, at: number, file: string): number {
  const lo = v.getUint32(at, true);
  const hi = v.getUint32(at + 4, true);
  const n = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(n)) throw malformed('a ZIP64 size or offset is beyond 2^53', file);
  return n;
}

/** Read the central directory: every entry's name, method, sizes and local header offset. */
export async function readZipDirectory(source: ByteSource, file: string): Promise<ZipEntry[]> {
  const size = source.byteLength;
  if (size < EOCD_SIZE) throw malformed('the file is too short for a ZIP archive', file);
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT + 20);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tail.byteLength - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tail.byteLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw malformed('no end-of-central-directory record (truncated download?)', file);
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) throw malformed('a ZIP64 archive without its locator', file);
    const z64Offset = u64(tv, loc + 8, file);
    if (z64Offset + 56 > size) throw malformed('the ZIP64 end record lies past the end of the file', file);
    const rec = view(await source.read(z64Offset, 56));
    if (rec.getUint32(0, true) !== ZIP64_EOCD_SIG) throw malformed('the ZIP64 end record has a bad signature', file);
    count = u64(rec, 32, file);
    cdSize = u64(rec, 40, file);
    cdOffset = u64(rec, 48, file);
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw malformed(`the central directory claims ${cdSize} bytes (the limit is ${MAX_CENTRAL_DIRECTORY_BYTES})`, file);
  if (cdOffset + cdSize > size) throw malformed('the central directory lies past the end of the file (truncated download?)', file);
  const cd = await source.read(cdOffset, cdSize);
  const cv = view(cd);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.byteLength || cv.getUint32(at, true) !== CENTRAL_SIG) throw malformed(`central directory entry ${i} is malformed`, file);
    const flags = cv.getUint16(at + 8, true);
    const method = cv.getUint16(at + 10, true);
    let compressedSize = cv.getUint32(at + 20, true);
    let uncompressedSize = cv.getUint32(at + 24, true);
    const nameLength = cv.getUint16(at + 28, true);
    const extraLength = cv.getUint16(at + 30, true);
    const commentLength = cv.getUint16(at + 32, true);
    let localHeaderOffset = cv.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > cd.byteLength) throw malformed(`central directory entry ${i} runs past the directory`, file);
    let name: string;
    try {
      name = decodeUtf8(cd.subarray(at + 46, at + 46 + nameLength));
    } catch {
      throw malformed(`central directory entry ${i} has a name that is not UTF-8`, file);
    }
    if (flags & 1) throw malformed(`entry "${name}" is encrypted`, file);
    // ZIP64 extended information: the 8-byte values present are those whose 4-byte field is 0xffffffff.
    let e = at + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (): number => {
          if (p + 8 > e + 4 + len) throw malformed(`entry "${name}" has a short ZIP64 extra field`, file);
          const v = u64(cv, p, file);
          p += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    if (localHeaderOffset + 30 + compressedSize > size) throw malformed(`entry "${name}" lies past the end of the file (truncated download?)`, file);
    entries.push({ name, method, compressedSize, size: uncompressedSize, localHeaderOffset });
    at = end;
  }
  return entries;
}

/** Absolute offset of an entry's (possibly compressed) data: after its local header. */
export async function entryDataOffset(source: ByteSource, entry: ZipEntry, file: string): Promise<number> {
  const h = view(await source.read(entry.localHeaderOffset, 30));
  if (h.getUint32(0, true) !== LOCAL_SIG) throw malformed(`entry "${entry.name}" has no local header where the directory says`, file);
  const offset = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  if (offset + entry.compressedSize > source.byteLength) throw malformed(`entry "${entry.name}" lies past the end of the file (truncated download?)`, file);
  return offset;
}

/** Read a whole entry, inflating it if needed (for data.pkl and other small entries). */
export async function readEntry(source: ByteSource, entry: ZipEntry, file: string): Promise<Uint8Array> {
  const offset = await entryDataOffset(source, entry, file);
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) throw malformed(`stored entry "${entry.name}" has different compressed and uncompressed sizes`, file);
    return source.read(offset, entry.size);
  }
  if (entry.method === 8) return inflateEntry(source, { offset, compressedSize: entry.compressedSize, size: entry.size }, file);
  throw unsupportedMethod(entry, file);
}

export function unsupportedMethod(entry: ZipEntry, file: string): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file}: entry "${entry.name}" uses ZIP compression method ${entry.method}; only stored (0) and deflated (8) entries can be read.`,
    { file },
    'Re-save the adapter with torch.save or PEFT save_pretrained (which store entries uncompressed).',
  );
}

interface StreamLike {
  readable: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> } };
  writable: { getWriter(): { write(chunk: Uint8Array): Promise<void>; close(): Promise<void> } };
}
type DecompressionStreamCtor = new (format: string) => StreamLike;

/**
 * Inflate a raw-deflate entry whole. Uses the DecompressionStream every target runtime has
 * (browsers, workers, Node >= 18); the output is checked against the declared size.
 */
export async function inflateEntry(source: ByteSource, entry: DeflatedEntry, file = 'adapter_model.bin'): Promise<Uint8Array> {
  if (entry.size > MAX_INFLATED_BYTES) throw malformed(`a deflated entry inflates to ${entry.size} bytes (the limit is ${MAX_INFLATED_BYTES})`, file);
  const Ctor = (globalThis as unknown as { DecompressionStream?: DecompressionStreamCtor }).DecompressionStream;
  if (!Ctor) {
    throw new ConversionError('io', 'This runtime has no DecompressionStream, needed to read a compressed (deflated) checkpoint entry.', { file });
  }
  const compressed = await source.read(entry.offset, entry.compressedSize);
  const stream = new Ctor('deflate-raw');
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const out = new Uint8Array(entry.size);
  let filled = 0;
  // Write and read concurrently: a stream with back-pressure would stall otherwise.
  const writing = writer.write(compressed).then(() => writer.close());
  writing.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value) continue;
      if (filled + value.byteLength > out.byteLength) throw malformed('a deflated entry inflates to more bytes than its header says', file);
      out.set(value, filled);
      filled += value.byteLength;
    }
    await writing;
  } catch (e) {
    if (e instanceof ConversionError) throw e;
    throw malformed(`a deflated entry is corrupt (${(e as Error).message})`, file);
  }
  if (filled !== entry.size) throw malformed(`a deflated entry inflates to ${filled} bytes, its header says ${entry.size}`, file);
  return out;
}
