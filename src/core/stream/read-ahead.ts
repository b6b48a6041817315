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
  /** Two buffers to reuse for sources with readInto (e.g. in the SIMD kernels' memory); made if absent. */
  slabs?: [Uint8Array, Uint8Array];
}

/** 8 MiB windows: large reads, while two windows stay far below any memory concern. */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;
const DEFAULT_GAP_BYTES = 4096;
/** Runs are placed in a reused buffer at their file offset modulo this, keeping typed views aligned. */
const PLACEMENT_ALIGN = 8;
/** Room for the alignment of 64 runs in a slab; a window needing more gets its own buffers. */
const SLAB_SLACK = 64 * 2 * PLACEMENT_ALIGN;

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
}

/** Split the locations into windows, and each window's plain ranges into coalesced runs. */
export function planWindows(locs: readonly TensorLocation[], windowBytes: number, gapBytes: number): Window[] {
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
    while (i < locs.length && locs[i]!.deflated === undefined) {
      const size = locs[i]!.end - locs[i]!.begin;
      if (i > first && bytes + size > windowBytes) break;
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
  /** Two reusable buffers for sources with readInto; window k uses slab k % 2. */
  private readonly slabs: (Uint8Array | undefined)[] = [undefined, undefined];

  constructor(
    private readonly source: ByteSource,
    private readonly locs: readonly TensorLocation[],
    options: ReadAheadOptions = {},
  ) {
    this.windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.windows = planWindows(locs, this.windowBytes, options.gapBytes ?? DEFAULT_GAP_BYTES);
    if (options.slabs) [this.slabs[0], this.slabs[1]] = options.slabs;
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
    const index = this.next;
    const loc = this.locs[index];
    if (!loc) throw new Error('internal: read past the last planned tensor');
    while (this.windows[this.w]!.last <= index) this.w++;
    const k = this.w;
    const windowPromise = this.load(k);
    // Start the next window while this one is used: its slab is the one the previous window
    // used, which is fully consumed by now.
    if (k + 1 < this.windows.length) this.load(k + 1).catch(() => undefined);
    const window = await windowPromise;
    this.next++;
    if (this.next >= window.last) this.loading.delete(k);
    if (!window.buffers) return readTensorBytes(this.source, loc);
    const r = window.runs.findIndex((run) => run.begin <= loc.begin && loc.end <= run.end);
    const buf = window.buffers[r]!;
    return contiguousBytes(buf.subarray(loc.begin - window.runs[r]!.begin, loc.end - window.runs[r]!.begin), loc);
  }

  /** Wait until no read is in flight (their results or failures are dropped). */
  async settle(): Promise<void> {
    await Promise.all([...this.loading.values()].map((p) => p.catch(() => undefined)));
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
    if (window.runs.length === 0) return window;
    const buffers: Uint8Array[] = [];
    const readInto = this.source.readInto?.bind(this.source);
    const need = window.runs.reduce((a, r) => a + (r.end - r.begin) + 2 * PLACEMENT_ALIGN, 0);
    if (readInto && need <= this.windowBytes + SLAB_SLACK) {
      let slab = this.slabs[k % 2];
      if (!slab || slab.byteLength < need) slab = this.slabs[k % 2] = new Uint8Array(Math.max(need, this.windowBytes + SLAB_SLACK));
      let at = 0;
      for (const run of window.runs) {
        // Same alignment as in the file, so element views need no copy when the file's are aligned.
        at = Math.ceil(at / PLACEMENT_ALIGN) * PLACEMENT_ALIGN + (run.begin % PLACEMENT_ALIGN);
        const target = slab.subarray(at, at + (run.end - run.begin));
        await readInto(run.begin, target);
        buffers.push(target);
        at += run.end - run.begin;
      }
    } else {
      for (const run of window.runs) buffers.push(await this.source.read(run.begin, run.end - run.begin));
    }
    return { ...window, buffers };
  }
}
