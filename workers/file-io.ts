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
 * Coalesces the core's writes (a header, tensors, 0–31 padding bytes) into chunks of about
 * `chunkBytes`, so a file of many tiny tensors does not cost a round trip per padding write.
 * Chunks larger than the buffer go straight through. Call `flush()` before closing.
 */
export class BufferedSink implements ByteSink {
  private buffer: Uint8Array<ArrayBuffer>;
  private used = 0;
  written = 0;

  constructor(
    private readonly out: (chunk: Uint8Array<ArrayBuffer>) => Promise<void>,
    chunkBytes = 4 * 1024 * 1024,
  ) {
    this.buffer = new Uint8Array(new ArrayBuffer(chunkBytes));
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.used + chunk.byteLength > this.buffer.byteLength) await this.flush();
    if (chunk.byteLength >= this.buffer.byteLength) {
      // Browser writers take ArrayBuffer-backed views only.
      await this.out(chunk.buffer instanceof ArrayBuffer ? (chunk as Uint8Array<ArrayBuffer>) : chunk.slice());
    } else {
      this.buffer.set(chunk, this.used);
      this.used += chunk.byteLength;
    }
    this.written += chunk.byteLength;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    // A copy: the writer may hold on to the bytes until its promise settles, and we reuse the buffer.
    const chunk = this.buffer.slice(0, this.used);
    this.used = 0;
    await this.out(chunk);
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
