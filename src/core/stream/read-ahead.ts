/**
 * Reads a known sequence of tensors ahead of their use: the converter asks for them one by one,
 * in plan order, while the next window is already being read. Within a window the byte ranges
 * are sorted by offset and adjacent ones coalesced into one large read, so a file is read in few
 * big sequential requests (a browser `Blob.slice`, an HTTP range, a file read) however the plan
 * orders its tensors. Memory: at most two windows of bytes (plus one tensor larger than a window).
 */
import type { ByteSource } from '../io';
import { contiguousBytes, readTensorBytes, type TensorLocation } from '../tensor/read';

export interface ReadAheadOptions {
  /** Bytes read ahead per window (one tensor larger than this is a window on its own). */
  windowBytes?: number;
  /** Ranges closer than this are read as one (the bytes between are read and dropped). */
  gapBytes?: number;
  /**
   * Per location: may it be delivered in pieces (`pieces()`) when it is larger than a window?
   * True for tensors that are encoded element by element, with no permutation (pieces are
   * multiples of 128 bytes); a number of bytes for tensors whose pieces must be multiples of it
   * (a row permutation within blocks of rows: whole blocks). Memory then stays within the
   * windows whatever the tensor's size.
   */
  streamable?: readonly (boolean | number)[];
  /**
   * Buffers to reuse for sources with readInto (e.g. in the SIMD kernels' memory), one per window
   * in use or being read (`ahead` + 1); those missing are made when first needed.
   */
  slabs?: readonly Uint8Array[];
  /**
   * Windows read ahead of the one in use (default: the source's `concurrency`, else 1). A browser
   * Blob reads 1 GB in 6 MiB slices in 1.5 s one at a time and in 0.9 s two at a time.
   */
  ahead?: number;
  /**
   * The share of windows (and pieces), 0 to 1, read with the source's `readIntoSync` on the
   * calling thread instead of ahead through `readInto` (default 0; ignored by a source without
   * it). Spread evenly: ½ reads every other window itself. See `syncReadShare`.
   */
  syncShare?: number;
}

/**
 * The share of reads the converter's own thread should make itself (`ReadAheadOptions.syncShare`)
 * when its source's reads and its sink's writes share one I/O thread (the CLI: one libuv pool
 * thread). That thread copies every byte in and every byte out, and a byte written costs it more
 * than a byte read (the file system's allocation on top of the copy); the converter's thread
 * mostly encodes. Where the output is at least as large as the input, the I/O thread is the one
 * that holds the pace, and reads moved to the converter's thread even the two out. Measured on a
 * 1 GB adapter, interleaved (docs/benchmarks.md): BF16 → f16 or bf16 fastest at ½ (0.52 → 0.47 s),
 * → f32 at all of them (0.72 → 0.59 s), F32 → f32 at ½ (0.52 → 0.46 s); where the output is about
 * half the input or less (→ q8_0; F32 → f16) it made no difference or, moving more, cost time.
 * Hence the output's share beyond half the input: 0 up to half, ½ for as large, all from twice.
 */
export function syncReadShare(outputBytes: number, inputBytes: number): number {
  if (!(inputBytes > 0)) return 0;
  return Math.min(1, Math.max(0, outputBytes / inputBytes - 0.5));
}

/**
 * 6 MiB windows: large reads, and two of them are a small fixed budget (measured on a 1 GB
 * adapter: as fast as 8 MiB, faster than 4 MiB, whose tensors more often stream in pieces).
 */
export const DEFAULT_WINDOW_BYTES = 6 * 1024 * 1024;
const DEFAULT_GAP_BYTES = 4096;
/** Runs are placed in a reused buffer at their file offset modulo this, keeping typed views aligned. */
const PLACEMENT_ALIGN = 8;
/** Room for the alignment of 64 runs in a slab; a window needing more gets its own buffers. */
const SLAB_SLACK = 64 * 2 * PLACEMENT_ALIGN;
/** Pieces of a streamed tensor are multiples of this: whole elements and whole Q8_0 blocks (32 × 4 bytes). */
const PIECE_ALIGN = 128;

interface Run {
  begin: number;
  end: number;
}

interface Window {
  /** Indexes into the location list, [first, last). */
  first: number;
  last: number;
  runs: Run[];
  /** Where each run's bytes landed. */
  buffers?: Uint8Array[];
  /** One tensor larger than a window, read in pieces (see `pieces`) of a multiple of `unit` bytes. */
  streamed?: boolean;
  unit?: number;
}

/** Bytes a streamed location's pieces are multiples of (0: it does not stream). */
function pieceUnit(streamable: boolean | number | undefined): number {
  if (streamable === true) return PIECE_ALIGN;
  if (typeof streamable === 'number' && streamable > 0) return lcm(streamable, PIECE_ALIGN);
  return 0;
}

function lcm(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y) [x, y] = [y, x % y];
  return (a / x) * b;
}

/**
 * Split the locations into windows, and each window's plain ranges into coalesced runs. A
 * location marked streamable (contiguous, used element by element) that is larger than a window
 * is a window of its own, read in pieces.
 */
export function planWindows(locs: readonly TensorLocation[], windowBytes: number, gapBytes: number, streamable: readonly (boolean | number)[] = []): Window[] {
  // Streams only if a piece (half a window) holds at least one unit.
  const streams = (i: number) => {
    const unit = pieceUnit(streamable[i]);
    return unit > 0 && unit <= windowBytes / 2;
  };
  const windows: Window[] = [];
  let i = 0;
  while (i < locs.length) {
    const first = i;
    let bytes = 0;
    // A tensor in a zip-deflated entry is inflated on its own; a strided view is read as its span.
    if (locs[i]!.deflated) {
      windows.push({ first, last: i + 1, runs: [] });
      i++;
      continue;
    }
    if (streams(i) && !locs[i]!.strides && locs[i]!.end - locs[i]!.begin > windowBytes) {
      windows.push({ first, last: i + 1, runs: [], streamed: true, unit: pieceUnit(streamable[i]) });
      i++;
      continue;
    }
    while (i < locs.length && locs[i]!.deflated === undefined) {
      const size = locs[i]!.end - locs[i]!.begin;
      if (i > first && (bytes + size > windowBytes || (streams(i) && size > windowBytes))) break;
      bytes += size;
      i++;
    }
    const ranges = locs
      .slice(first, i)
      .map((l) => ({ begin: l.begin, end: l.end }))
      .sort((a, b) => a.begin - b.begin);
    const runs: Run[] = [];
    for (const r of ranges) {
      const last = runs[runs.length - 1];
      if (last && r.begin <= last.end + gapBytes) last.end = Math.max(last.end, r.end);
      else runs.push({ ...r });
    }
    windows.push({ first, last: i, runs });
  }
  return windows;
}

export class ReadAhead {
  private readonly windows: Window[];
  private readonly windowBytes: number;
  /** Index of the window holding the next location, and the next location. */
  private w = 0;
  private next = 0;
  private readonly loading = new Map<number, Promise<Window>>();
  /** Pieces of a streamed tensor being read. */
  private readonly streaming = new Set<Promise<Uint8Array>>();
  /** Windows read ahead of the one in use. */
  private readonly ahead: number;
  /** Reusable buffers for sources with readInto; window k uses slab k % (ahead + 1). */
  private readonly slabs: (Uint8Array | undefined)[];
  /**
   * As many more for a tensor larger than a window that cannot stream (it is permuted or
   * transposed whole): grown to the largest such tensor once, then reused, instead of a new
   * buffer per tensor.
   */
  private readonly oversized: (Uint8Array | undefined)[];
  /** Reads made on the calling thread: the share asked for, and its running balance (error diffusion). */
  private readonly syncShare: number;
  private syncCredit = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly locs: readonly TensorLocation[],
    options: ReadAheadOptions = {},
  ) {
    this.windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.windows = planWindows(locs, this.windowBytes, options.gapBytes ?? DEFAULT_GAP_BYTES, options.streamable);
    this.ahead = options.ahead ?? ReadAhead.aheadFor(source);
    this.slabs = Array.from({ length: this.ahead + 1 }, (_, i) => options.slabs?.[i]);
    this.oversized = Array.from({ length: this.ahead + 1 }, () => undefined);
    this.syncShare = source.readIntoSync ? Math.min(1, Math.max(0, options.syncShare ?? 0)) : 0;
  }

  /** Whether the next read (a window's or a piece's) is made on this thread: `syncShare` of them, spread evenly. */
  private takeSync(): boolean {
    if (this.syncShare === 0) return false;
    this.syncCredit += this.syncShare;
    if (this.syncCredit < 1 - 1e-9) return false;
    this.syncCredit -= 1;
    return true;
  }

  /** Windows to read ahead for a source: as many as it serves at once, 1 to 3. */
  static aheadFor(source: ByteSource): number {
    return Math.max(1, Math.min(3, Math.floor(source.concurrency ?? 1)));
  }

  /** Bytes of a slab: a window plus the slack its runs' alignment may take. */
  static slabBytes(windowBytes = DEFAULT_WINDOW_BYTES): number {
    return windowBytes + SLAB_SLACK;
  }

  /**
   * The next location's contiguous row-major bytes. Valid until the next call (its buffer may
   * then be refilled): use them, don't keep them.
   */
  async read(): Promise<Uint8Array> {
    const { loc, k } = this.advance();
    if (this.windows[k]!.streamed) throw new Error('internal: a streamed tensor is read with pieces()');
    const loading = this.load(k);
    this.readAheadOf(k);
    const window = await loading;
    this.next++;
    if (this.next >= window.last) this.loading.delete(k);
    if (!window.buffers) return readTensorBytes(this.source, loc);
    const r = window.runs.findIndex((run) => run.begin <= loc.begin && loc.end <= run.end);
    const buf = window.buffers[r]!;
    return contiguousBytes(buf.subarray(loc.begin - window.runs[r]!.begin, loc.end - window.runs[r]!.begin), loc);
  }

  /** Whether the next location is delivered in pieces (call `pieces()`) rather than by `read()`. */
  nextIsStreamed(): boolean {
    const index = this.next;
    let w = this.w;
    while (this.windows[w] && this.windows[w]!.last <= index) w++;
    return this.windows[w]?.streamed === true;
  }

  /**
   * The next location's bytes in consecutive pieces (multiples of its unit — 128 bytes, or whole
   * row blocks — the last excepted),
   * each valid until the next one is asked for. Two half-slabs take turns: the next piece is read
   * while this one is used, and the next window is read ahead meanwhile as usual.
   */
  async *pieces(): AsyncGenerator<Uint8Array> {
    const { loc, k } = this.advance();
    if (!this.windows[k]!.streamed) throw new Error('internal: pieces() of a tensor that is not streamed');
    this.next++;
    const total = loc.end - loc.begin;
    const unit = this.windows[k]!.unit ?? PIECE_ALIGN;
    const piece = Math.floor(this.windowBytes / 2 / unit) * unit;
    let halves: Uint8Array[] | undefined;
    if (this.source.readInto) {
      const slab = (this.slabs[k % this.slabs.length] ??= new Uint8Array(this.windowBytes + SLAB_SLACK));
      // Each half starts at the file offset's alignment, as the pieces do (their size is a multiple of 128).
      const shift = loc.begin % PLACEMENT_ALIGN;
      const second = Math.ceil((shift + piece) / PLACEMENT_ALIGN) * PLACEMENT_ALIGN + shift;
      halves = [slab.subarray(shift, shift + piece), slab.subarray(second, second + piece)];
    }
    const readPiece = (j: number): Promise<Uint8Array> => {
      const from = j * piece;
      const length = Math.min(piece, total - from);
      const half = halves?.[j % 2]!.subarray(0, length);
      const p = half ? this.readRange(loc.begin + from, half, this.takeSync()).then(() => half) : this.source.read(loc.begin + from, length);
      this.streaming.add(p);
      void p.then(
        () => this.streaming.delete(p),
        () => this.streaming.delete(p),
      );
      return p;
    };
    let pending = readPiece(0);
    this.readAheadOf(k);
    for (let j = 0; j * piece < total; j++) {
      const current = await pending;
      if ((j + 1) * piece < total) pending = readPiece(j + 1);
      yield current;
    }
    this.loading.delete(k);
  }

  /** Wait until no read is in flight (their results or failures are dropped). */
  async settle(): Promise<void> {
    await Promise.all([...this.loading.values(), ...this.streaming].map((p) => p.catch(() => undefined)));
  }

  /** Move to the next location's window, and start reading the window after it. */
  private advance(): { loc: TensorLocation; k: number } {
    const index = this.next;
    const loc = this.locs[index];
    if (!loc) throw new Error('internal: read past the last planned tensor');
    while (this.windows[this.w]!.last <= index) this.w++;
    return { loc, k: this.w };
  }

  /**
   * Start reading windows k + 1 … k + ahead while window k is used (after k's own first read, so
   * reads go out in order): their slabs are those windows before k used, fully consumed by now.
   */
  private readAheadOf(k: number): void {
    for (let j = k + 1; j <= k + this.ahead && j < this.windows.length; j++) this.load(j).catch(() => undefined);
  }

  private load(k: number): Promise<Window> {
    let p = this.loading.get(k);
    if (!p) {
      p = this.fill(k);
      this.loading.set(k, p);
    }
    return p;
  }

  private async fill(k: number): Promise<Window> {
    const window = this.windows[k]!;
    // Nothing to read ahead for a streamed tensor (its pieces come as they are used) or a deflated one.
    if (window.runs.length === 0) return window;
    const buffers: Uint8Array[] = [];
    const need = window.runs.reduce((a, r) => a + (r.end - r.begin) + 2 * PLACEMENT_ALIGN, 0);
    if (this.source.readInto) {
      const sync = this.takeSync();
      const pool = need <= this.windowBytes + SLAB_SLACK ? this.slabs : this.oversized;
      const index = k % pool.length;
      let slab = pool[index];
      if (!slab || slab.byteLength < need) slab = pool[index] = new Uint8Array(Math.max(need, this.windowBytes + SLAB_SLACK));
      let at = 0;
      for (const run of window.runs) {
        // Same alignment as in the file, so element views need no copy when the file's are aligned.
        at = Math.ceil(at / PLACEMENT_ALIGN) * PLACEMENT_ALIGN + (run.begin % PLACEMENT_ALIGN);
        const target = slab.subarray(at, at + (run.end - run.begin));
        await this.readRange(run.begin, target, sync);
        buffers.push(target);
        at += run.end - run.begin;
      }
    } else {
      for (const run of window.runs) buffers.push(await this.source.read(run.begin, run.end - run.begin));
    }
    return { ...window, buffers };
  }

  /** Fill `target` from `offset`: on this thread (`sync`, from `takeSync`) or through `readInto`. */
  private readRange(offset: number, target: Uint8Array, sync: boolean): Promise<void> {
    if (!sync) return this.source.readInto!(offset, target);
    try {
      this.source.readIntoSync!(offset, target);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
