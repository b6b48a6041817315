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
    // Two slices read at once: 1 GB in 6 MiB slices took 1.5 s one at a time, 0.9 s two at a time (Chromium).
    concurrency: 2,
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
  getSize(): number;
  truncate(size: number): void;
}

/**
 * A sink the worker flushes before closing its target. The core's `convert` already writes in
 * large chunks (4 MiB), one or two in flight while the next is encoded, and awaits each write
 * before it reuses the chunk, so the sinks hand the chunks straight over: no second buffer, no copy.
 */
export interface FlushableSink extends ByteSink {
  /** Resolves once everything written has reached the target. */
  flush(): Promise<void>;
}

/**
 * A sink writing through a File System Access writable (the file the user picked). Two writes in
 * flight (the writable queues them in order, and the converter leaves a chunk alone until its
 * own write has resolved): Chromium took 3.7 s per GB with writes queued, 4.2–4.5 s one at a time.
 */
export function writableSink(writable: WritableLike): FlushableSink {
  return {
    concurrency: 2,
    write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
    flush: () => Promise.resolve(),
  };
}

/**
 * A sink writing through an OPFS sync access handle (the fallback), from the file's start. A file
 * holding bytes already is emptied first; an empty one (the worker always makes a new one) is
 * left alone: on ext4 (most Linux disks) truncating a file to zero marks it as "rewritten in
 * place", and its close then waits while the kernel starts writing all of it to the disk
 * (`auto_da_alloc`): 0.35 s of a 1 GB conversion in Chromium, for a file that needs no such care.
 */
export function syncHandleSink(handle: SyncHandleLike): FlushableSink {
  if (handle.getSize() > 0) handle.truncate(0);
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

/** The part of a MessagePort the stream sink needs (tests pass a MessageChannel's port). */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** How long the browser may take to start a streamed download before the conversion gives up. */
export const FIRST_PULL_MS = 30_000;

/**
 * A sink feeding a download streamed by the service worker (public/download-sw.js): each chunk
 * is sent only when the download's stream asks for one (a `pull`), so the worker never runs
 * ahead of the disk; the chunk is copied (the converter reuses its buffers) and the copy
 * transferred. The header's first bytes are kept, to verify them before the download is
 * completed with `finish()`; `fail()` makes the browser fail the download (no partial file).
 */
export function streamSink(
  port: PortLike,
  headerBytes: number,
  firstPullMs = FIRST_PULL_MS,
): FlushableSink & {
  finish(): void;
  fail(message: string): void;
  header(): Uint8Array;
  readonly bytesWritten: number;
} {
  let pulls = 0;
  let pulled = false;
  let cancelled = false;
  let wake: (() => void) | null = null;
  port.onmessage = (e: MessageEvent) => {
    const type = (e.data as { type?: string } | null)?.type;
    if (type === 'pull') {
      pulls++;
      pulled = true;
    } else if (type === 'cancel') {
      cancelled = true;
    }
    const w = wake;
    wake = null;
    w?.();
  };
  const turn = async () => {
    while (pulls === 0 && !cancelled) {
      const waited = new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        if (!pulled) setTimeout(() => resolve(false), firstPullMs);
      });
      if (!(await waited) && !pulled) {
        throw new ConversionError(
          'io',
          `The browser did not start the download within ${Math.round(firstPullMs / 1000)} s.`,
          {},
          'Allow this site to download files (the browser may have asked), then convert again.',
        );
      }
    }
    if (cancelled) throw new ConversionError('aborted', 'The download was cancelled in the browser; nothing was kept.');
    pulls--;
  };
  const head = new Uint8Array(headerBytes);
  let headAt = 0;
  let written = 0;
  return {
    async write(chunk) {
      if (headAt < headerBytes) {
        const n = Math.min(headerBytes - headAt, chunk.byteLength);
        head.set(chunk.subarray(0, n), headAt);
        headAt += n;
      }
      await turn();
      const copy = chunk.slice();
      port.postMessage({ type: 'chunk', buffer: copy.buffer }, [copy.buffer]);
      written += chunk.byteLength;
    },
    flush: () => Promise.resolve(),
    finish() {
      port.postMessage({ type: 'done' });
    },
    fail(message) {
      port.postMessage({ type: 'error', message });
    },
    header: () => head.subarray(0, headAt),
    get bytesWritten() {
      return written;
    },
  };
}

/** A sink keeping the output in memory as a Blob (the last rung, for outputs under a stated limit). */
export function memorySink(): FlushableSink & { blob(): Blob } {
  const parts: Blob[] = [];
  return {
    write(chunk) {
      // A Blob per chunk: the browser owns the bytes (and may keep them out of the worker's heap).
      parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    blob: () => new Blob(parts, { type: 'application/octet-stream' }),
  };
}
