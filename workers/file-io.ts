/**
 * The worker's adapters between browser files and the core's ByteSource / ByteSink.
 * Inputs are read by `Blob.slice`, one tensor at a time, never whole; outputs are written in
 * bounded chunks, each write awaited, so memory holds one tensor plus one buffer at most.
 */
import { ConversionError, type ByteSink, type ByteSource } from '../src/core';

/** A ByteSource over a File or Blob (disk-backed for dropped files). */
export function blobSource(blob: Blob): ByteSource {
  return {
    byteLength: blob.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > blob.size) {
        throw new RangeError(`read past the end: ${offset}+${length} > ${blob.size}`);
      }
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new ConversionError('io', `Read ${bytes.byteLength} bytes instead of ${length}; the file changed or could not be read.`);
      }
      return bytes;
    },
  };
}

/** The part of FileSystemWritableFileStream a sink needs (tests pass fakes). */
export interface WritableLike {
  write(data: Uint8Array<ArrayBuffer>): Promise<void>;
}

/** The part of FileSystemSyncAccessHandle a sink needs. */
export interface SyncHandleLike {
  write(data: Uint8Array<ArrayBuffer>, options: { at: number }): number;
}

/**
 * Coalesces the core's writes (a header, tensors, 0–31 padding bytes) into chunks of
 * `chunkBytes`, and keeps one chunk in flight while the next is filled (double buffering), so
 * encoding the next tensor overlaps writing the last one. Memory: two chunks. A failed write
 * surfaces at the next write or at `flush()`, which must be called (and awaited) at the end.
 */
export class BufferedSink implements ByteSink {
  private buffer: Uint8Array<ArrayBuffer>;
  private spare: Uint8Array<ArrayBuffer>;
  private used = 0;
  private inflight: Promise<void> | null = null;
  written = 0;

  constructor(
    private readonly out: (chunk: Uint8Array<ArrayBuffer>) => Promise<void>,
    chunkBytes = 8 * 1024 * 1024,
  ) {
    this.buffer = new Uint8Array(new ArrayBuffer(chunkBytes));
    this.spare = new Uint8Array(new ArrayBuffer(chunkBytes));
  }

  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - at, this.buffer.byteLength - this.used);
      this.buffer.set(chunk.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === this.buffer.byteLength) await this.emit();
    }
    this.written += chunk.byteLength;
  }

  /** Hand the filled part of the buffer to the writer; wait only for the previous write. */
  private async emit(): Promise<void> {
    const full = this.buffer.subarray(0, this.used);
    // The previous write used the spare buffer: it must be done before the spare is reused.
    if (this.inflight) await this.inflight;
    const write = this.out(full);
    // Observed here so a failure is never "unhandled"; it is rethrown where it is awaited.
    write.catch(() => undefined);
    this.inflight = write;
    [this.buffer, this.spare] = [this.spare, this.buffer];
    this.used = 0;
  }

  /** Write what is buffered and wait until every write has completed. */
  async flush(): Promise<void> {
    if (this.used > 0) await this.emit();
    const last = this.inflight;
    this.inflight = null;
    if (last) await last;
  }
}

/** A sink writing through a File System Access writable (the file the user picked). */
export function writableSink(writable: WritableLike): BufferedSink {
  return new BufferedSink((chunk) => writable.write(chunk));
}

/** A sink writing through an OPFS sync access handle (the fallback). */
export function syncHandleSink(handle: SyncHandleLike): BufferedSink {
  let at = 0;
  return new BufferedSink((chunk) => {
    const n = handle.write(chunk, { at });
    if (n !== chunk.byteLength) {
      return Promise.reject(
        new ConversionError('io', `Only ${n} of ${chunk.byteLength} bytes could be written; the disk or the browser's storage quota is probably full.`),
      );
    }
    at += n;
    return Promise.resolve();
  });
}
