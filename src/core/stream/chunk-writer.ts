/**
 * The converter's output side: kernels encode straight into one of two reused chunk buffers,
 * and a full chunk goes to the sink while the other is filled (one write in flight at a time,
 * so the sink sees writes in order, each awaited before its buffer is reused).
 *
 * Alignment: a chunk always starts at a stream position that is a multiple of 32 (a rotation
 * hands over only whole 32-byte units and carries the few bytes after them into the next chunk),
 * so `at` has the stream position's alignment and typed views of 2- and 4-byte elements over
 * the chunk are always aligned: GGUF puts every tensor's data at a multiple of 32.
 */
import type { ByteSink } from '../io';

/** 2 MiB: writes large enough to cost little per call (4 MiB measured no faster), two buffers. */
export const DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024;
const CARRY_ALIGN = 32;

export class ChunkWriter {
  private current: Uint8Array<ArrayBuffer>;
  private other: Uint8Array<ArrayBuffer>;
  private used = 0;
  private inflight: Promise<void> | null = null;
  /** Bytes handed to the sink so far. */
  flushed = 0;

  /**
   * `buffers`: two chunks to use (e.g. in the SIMD kernels' memory, aligned to 32 bytes, so the
   * kernels write in place); made if absent.
   */
  constructor(
    private readonly sink: ByteSink,
    chunkBytes = DEFAULT_CHUNK_BYTES,
    buffers?: [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>],
  ) {
    if (chunkBytes < 4 * CARRY_ALIGN || chunkBytes % CARRY_ALIGN !== 0)
      throw new RangeError(`chunk size ${chunkBytes} must be a multiple of ${CARRY_ALIGN}, at least ${4 * CARRY_ALIGN}`);
    if (buffers && buffers.some((b) => b.byteLength !== chunkBytes || b.byteOffset % CARRY_ALIGN !== 0))
      throw new RangeError('chunk buffers must be aligned and of the chunk size');
    this.current = buffers?.[0] ?? new Uint8Array(new ArrayBuffer(chunkBytes));
    this.other = buffers?.[1] ?? new Uint8Array(new ArrayBuffer(chunkBytes));
  }

  /** The buffer to encode into, from `at`, at most `room` bytes. */
  get chunk(): Uint8Array<ArrayBuffer> {
    return this.current;
  }

  get at(): number {
    return this.used;
  }

  get room(): number {
    return this.current.byteLength - this.used;
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
      this.current.set(bytes.subarray(from, from + n), this.used);
      this.used += n;
      from += n;
    }
  }

  /** Hand everything over and wait until the sink has taken it. */
  async finish(): Promise<void> {
    if (this.used > 0) await this.rotate(true);
    await this.settle(false);
  }

  /** Wait for the write in flight; with `quiet`, ignore its failure (when already failing). */
  async settle(quiet = true): Promise<void> {
    const w = this.inflight;
    this.inflight = null;
    if (!w) return;
    if (quiet) await w.catch(() => undefined);
    else await w;
  }

  private async rotate(all: boolean): Promise<void> {
    const cut = all ? this.used : this.used - ((this.flushed + this.used) % CARRY_ALIGN);
    // The other buffer's write must be done before it is reused.
    await this.settle(false);
    const carry = this.used - cut;
    this.other.set(this.current.subarray(cut, this.used), 0);
    const write = this.sink.write(this.current.subarray(0, cut));
    // Observed so a failure is never "unhandled"; it is rethrown where it is awaited.
    write.catch(() => undefined);
    this.inflight = write;
    this.flushed += cut;
    [this.current, this.other] = [this.other, this.current];
    this.used = carry;
  }
}
