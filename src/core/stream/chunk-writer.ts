/**
 * The converter's output side: kernels encode straight into one of a ring of reused chunk
 * buffers; a full chunk goes to the sink while the next is filled. Up to `sink.concurrency`
 * writes (at most buffers - 1) are in flight at once, handed over in order; a buffer is reused
 * only after its write is done.
 *
 * Alignment: a chunk always starts at a stream position that is a multiple of 32 (a rotation
 * hands over only whole 32-byte units and carries the few bytes after them into the next chunk),
 * so `at` has the stream position's alignment and typed views of 2- and 4-byte elements over
 * the chunk are always aligned: GGUF puts every tensor's data at a multiple of 32.
 */
import type { ByteSink } from '../io';

/**
 * 4 MiB: each write is a round trip to another thread (Node's thread pool, the browser's file
 * system); measured on a 1 GB BF16 -> f16 conversion, 4 MiB chunks took 0.48 s and 2 MiB 0.52 s.
 */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * Three buffers: with a sink taking two writes at once (a Node file), two are written while the
 * third is filled.
 */
export const DEFAULT_CHUNKS = 3;
const CARRY_ALIGN = 32;

export class ChunkWriter {
  private readonly ring: Uint8Array<ArrayBuffer>[];
  private readonly pending: (Promise<void> | null)[];
  private index = 0;
  private used = 0;
  private readonly maxInFlight: number;
  /** Bytes handed to the sink so far. */
  flushed = 0;

  /**
   * `buffers`: the chunks to use, two or more (e.g. in the SIMD kernels' memory, aligned to 32
   * bytes, so the kernels write in place), or how many to make (default 3).
   */
  constructor(
    private readonly sink: ByteSink,
    chunkBytes = DEFAULT_CHUNK_BYTES,
    buffers: readonly Uint8Array<ArrayBuffer>[] | number = DEFAULT_CHUNKS,
  ) {
    if (chunkBytes < 4 * CARRY_ALIGN || chunkBytes % CARRY_ALIGN !== 0)
      throw new RangeError(`chunk size ${chunkBytes} must be a multiple of ${CARRY_ALIGN}, at least ${4 * CARRY_ALIGN}`);
    const ring = typeof buffers === 'number' ? Array.from({ length: buffers }, () => new Uint8Array(new ArrayBuffer(chunkBytes))) : [...buffers];
    if (ring.length < 2 || ring.some((b) => b.byteLength !== chunkBytes || b.byteOffset % CARRY_ALIGN !== 0))
      throw new RangeError('chunk buffers must be two or more, aligned and of the chunk size');
    this.ring = ring;
    this.pending = this.ring.map(() => null);
    this.maxInFlight = Math.max(1, Math.min(this.ring.length - 1, Math.floor(sink.concurrency ?? 1)));
  }

  /** The buffer to encode into, from `at`, at most `room` bytes. */
  get chunk(): Uint8Array<ArrayBuffer> {
    return this.ring[this.index]!;
  }

  get at(): number {
    return this.used;
  }

  get room(): number {
    return this.ring[this.index]!.byteLength - this.used;
  }

  /** Bytes written so far (handed over or buffered). */
  get position(): number {
    return this.flushed + this.used;
  }

  /** Mark `n` bytes after `at` as written. */
  advance(n: number): void {
    if (n > this.room) throw new Error('internal: chunk overrun');
    this.used += n;
  }

  /** Make sure `n` bytes (at most a quarter of a chunk) fit, handing a full chunk over if not. */
  async ensure(n: number): Promise<void> {
    if (this.room < n) await this.rotate(false);
  }

  /** Copy bytes in (headers, padding). */
  async write(bytes: Uint8Array): Promise<void> {
    let from = 0;
    while (from < bytes.byteLength) {
      if (this.room === 0) await this.rotate(false);
      const n = Math.min(this.room, bytes.byteLength - from);
      this.chunk.set(bytes.subarray(from, from + n), this.used);
      this.used += n;
      from += n;
    }
  }

  /** Hand everything over and wait until the sink has taken it. */
  async finish(): Promise<void> {
    if (this.used > 0) await this.rotate(true);
    await this.settle(false);
  }

  /** Wait for every write in flight; with `quiet`, ignore their failures (when already failing). */
  async settle(quiet = true): Promise<void> {
    const writes = this.pending.filter((w): w is Promise<void> => w !== null);
    this.pending.fill(null);
    if (quiet) await Promise.all(writes.map((w) => w.catch(() => undefined)));
    else await Promise.all(writes);
  }

  private async rotate(all: boolean): Promise<void> {
    const cut = all ? this.used : this.used - ((this.flushed + this.used) % CARRY_ALIGN);
    const ring = this.ring.length;
    // At most maxInFlight writes out at once, this one included: the oldest that would exceed
    // it must be done first (earlier ones were awaited by earlier rotations).
    await this.wait((this.index + ring - this.maxInFlight) % ring);
    const current = this.ring[this.index]!;
    const write = this.sink.write(current.subarray(0, cut));
    // Observed so a failure is never "unhandled"; it is rethrown where it is awaited.
    write.catch(() => undefined);
    this.pending[this.index] = write;
    this.flushed += cut;
    const carry = this.used - cut;
    // The next buffer is reused only once its own write is done.
    const next = (this.index + 1) % ring;
    await this.wait(next);
    this.ring[next]!.set(current.subarray(cut, cut + carry), 0);
    this.index = next;
    this.used = carry;
  }

  private async wait(k: number): Promise<void> {
    const w = this.pending[k];
    if (!w) return;
    this.pending[k] = null;
    await w;
  }
}
