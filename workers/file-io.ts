/**
 * The worker's adapters between browser files and the core's ByteSource / ByteSink.
 * Inputs are read by `Blob.slice`, a read-ahead window (a few tensors, coalesced) at a time,
 * never whole; outputs are the core's chunks, each write awaited.
 */
import { ConversionError, type ByteSink, type ByteSource } from '../src/core';

/** Reads a slice to an ArrayBuffer (tests pass fakes). */
export type SliceReader = (slice: Blob) => Promise<ArrayBuffer>;

/**
 * A ByteSource over a File or Blob (disk-backed for dropped files), read slice by slice with
 * `readSlice` (default `arrayBuffer()`). `readInto` lets the converter land the bytes in its
 * reused buffers (in the SIMD kernels' memory). A failed read (the file was moved or changed) is
 * an `io` error. Reads stay asynchronous: FileReaderSync reads 1 GB in 6 MiB slices faster in
 * Chromium (1.2 s against 2.3 s), but it blocks the worker, and end to end it measured slower
 * (save dialog: 7.5 s against 5.4 s for 1 GB BF16 → f16; storage: 4.9 s against 3.4 s).
 */
export function blobSource(blob: Blob, readSlice: SliceReader = (slice) => slice.arrayBuffer()): ByteSource {
  const check = (offset: number, length: number) => {
    if (offset < 0 || length < 0 || offset + length > blob.size) {
      throw new RangeError(`read past the end: ${offset}+${length} > ${blob.size}`);
    }
  };
  const readBytes = async (offset: number, length: number): Promise<Uint8Array> => {
    check(offset, length);
    const slice = blob.slice(offset, offset + length);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readSlice(slice));
    } catch (e) {
      throw new ConversionError('io', `The adapter file could not be read (${(e as Error)?.message ?? e}); it may have been moved, changed or deleted.`);
    }
    if (bytes.byteLength !== length) {
      throw new ConversionError('io', `Read ${bytes.byteLength} bytes instead of ${length}; the file changed or could not be read.`);
    }
    return bytes;
  };
  return {
    byteLength: blob.size,
    read: readBytes,
    async readInto(offset, target) {
      target.set(await readBytes(offset, target.byteLength));
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
 * A sink the worker flushes before closing its target. The core's `convert` already writes in
 * large chunks (2 MiB), one in flight while the next is encoded, and awaits each write before it
 * reuses the chunk, so the sinks hand the chunks straight over: no second buffer, no copy.
 */
export interface FlushableSink extends ByteSink {
  /** Resolves once everything written has reached the target. */
  flush(): Promise<void>;
}

/** A sink writing through a File System Access writable (the file the user picked). */
export function writableSink(writable: WritableLike): FlushableSink {
  return {
    write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
    flush: () => Promise.resolve(),
  };
}

/** A sink writing through an OPFS sync access handle (the fallback). */
export function syncHandleSink(handle: SyncHandleLike): FlushableSink {
  let at = 0;
  return {
    write(chunk) {
      const n = handle.write(chunk as Uint8Array<ArrayBuffer>, { at });
      if (n !== chunk.byteLength) {
        return Promise.reject(
          new ConversionError('io', `Only ${n} of ${chunk.byteLength} bytes could be written; the disk or the browser's storage quota is probably full.`),
        );
      }
      at += n;
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
  };
}
