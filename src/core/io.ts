/**
 * All I/O of the core goes through these two interfaces, so the same code reads a browser File,
 * a Node file descriptor, an HTTP range reader or a generated test source, and writes to a
 * File System Access writable, an OPFS access handle or a Node file.
 */

/** Random-access, read-only bytes. Offsets are plain numbers: exact up to 2^53, far past 4 GiB. */
export interface ByteSource {
  readonly byteLength: number;
  /** Bytes [offset, offset + length). Must return exactly `length` bytes or throw. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: fill `target` with the bytes at [offset, offset + target.byteLength), so the
   * converter can reuse its read buffers instead of allocating one per read. Sources that can
   * (a Node file) implement it; the others are read with `read`.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /**
   * Optional: the same as `readInto`, done on the calling thread before returning. A source that
   * reads through a pool of I/O threads (a Node file) offers it so the converter can take some
   * of the reads off that pool when the pool, not the converter, is what holds the pace (see
   * `ReadAheadOptions.syncShare`). Throws where `readInto` would reject.
   */
  readIntoSync?(offset: number, target: Uint8Array): void;
  /**
   * Optional: how many reads it serves well at once (default 1). The converter then reads that
   * many windows ahead (a browser Blob: two; a Node file gains nothing from more than one).
   */
  readonly concurrency?: number;
}

/** Append-only bytes. `write` resolves once the sink has taken the chunk (back-pressure). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional: how many writes may be in flight at once (default 1: each is awaited before the
   * next). Writes are still made in order, each placed after the one before, and a chunk's
   * buffer is not reused before its own write has resolved. A file written by offset (Node) takes
   * several, so the disk is kept busy while the next chunk is encoded.
   */
  readonly concurrency?: number;
}

/** A ByteSource over bytes already in memory (tests, small JSON files). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    byteLength: bytes.byteLength,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) {
        return Promise.reject(new RangeError(`read past the end: ${offset}+${length} > ${bytes.byteLength}`));
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** A ByteSink that keeps everything in memory: for tests and small outputs only. */
export class MemorySink implements ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;

  write(chunk: Uint8Array): Promise<void> {
    // Copy: callers may reuse their buffers after the write resolves.
    this.chunks.push(new Uint8Array(chunk));
    this.length += chunk.byteLength;
    return Promise.resolve();
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

/** A sink that only counts bytes (dry runs, size checks). */
export class CountingSink implements ByteSink {
  length = 0;
  write(chunk: Uint8Array): Promise<void> {
    this.length += chunk.byteLength;
    return Promise.resolve();
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
