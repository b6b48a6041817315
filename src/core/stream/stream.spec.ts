import { describe, expect, it } from 'vitest';
import { bytesSource, type ByteSink, type ByteSource } from '../io';
import { moveElements, applyOp, rowGatherOf, type MovementOp } from '../tensor/ops';
import { readTensorBytes, type TensorLocation } from '../tensor/read';
import { ChunkWriter } from './chunk-writer';
import { planWindows, ReadAhead, syncReadShare } from './read-ahead';

function randomBytes(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A source that counts its reads, optionally with readInto, over bytes in memory. */
function countingSource(bytes: Uint8Array, withReadInto: boolean): ByteSource & { reads: number; readIntos: number } {
  const inner = bytesSource(bytes);
  const s = {
    byteLength: bytes.byteLength,
    reads: 0,
    readIntos: 0,
    read(offset: number, length: number) {
      s.reads++;
      return inner.read(offset, length);
    },
    ...(withReadInto
      ? {
          async readInto(offset: number, target: Uint8Array) {
            s.readIntos++;
            target.set(await inner.read(offset, target.byteLength));
          },
        }
      : {}),
  };
  return s;
}

const loc = (begin: number, count: number, dtype: 'F16' | 'F32' = 'F16'): TensorLocation => ({
  dtype,
  shape: [count],
  begin,
  end: begin + count * (dtype === 'F32' ? 4 : 2),
});

describe('planWindows', () => {
  it('sorts a window by offset and coalesces adjacent and near ranges', () => {
    // Plan order differs from file order; 0..100 and 100..300 touch, 3000 is far.
    const locs = [loc(100, 100), loc(0, 50), loc(3000, 10), loc(302, 4)];
    const [w] = planWindows(locs, 1 << 20, 16);
    expect(w!.runs).toEqual([
      { begin: 0, end: 310 },
      { begin: 3000, end: 3020 },
    ]);
  });

  it('starts a new window when the budget is full, and gives an oversized tensor its own', () => {
    const locs = [loc(0, 40), loc(80, 40), loc(160, 500), loc(1160, 10)];
    const windows = planWindows(locs, 160, 0);
    expect(windows.map((w) => [w.first, w.last])).toEqual([
      [0, 2],
      [2, 3],
      [3, 4],
    ]);
  });
});

describe('ReadAhead', () => {
  const bytes = randomBytes(1 << 16);
  // Shuffled, overlapping (shared storage) and strided locations, of both widths.
  const locs: TensorLocation[] = [
    loc(4000, 700),
    loc(10, 300),
    loc(610, 1000, 'F32'),
    loc(10, 300),
    // A strided view: element (i, j) at i * 10 + j * 2; the span ends after element 26.
    { dtype: 'F16', shape: [3, 4], begin: 20000, end: 20000 + 2 * 27, strides: [10, 2] },
    loc(30001, 5),
    loc(50000, 4000),
  ];

  for (const withReadInto of [false, true]) {
    for (const windowBytes of [1, 700, 5000, 1 << 20]) {
      it(`returns each tensor's bytes in order (window ${windowBytes}, readInto ${withReadInto})`, async () => {
        const source = countingSource(bytes, withReadInto);
        const reader = new ReadAhead(source, locs, { windowBytes, gapBytes: 64 });
        for (const l of locs) {
          const got = await reader.read();
          expect([...got]).toEqual([...(await readTensorBytes(bytesSource(bytes), l))]);
        }
        await expect(reader.read()).rejects.toThrow(/past the last/);
        if (windowBytes === 1 << 20) expect(source.reads + source.readIntos).toBeLessThan(locs.length);
      });
    }
  }

  for (const ahead of [1, 2, 3]) {
    it(`reads ${ahead} window${ahead > 1 ? 's' : ''} ahead, reads finishing out of order, each tensor's bytes valid until the next read`, async () => {
      const big = randomBytes(1 << 16, 5);
      const many = Array.from({ length: 40 }, (_, i) => loc(i * 1500 + (i % 3), 600 + (i % 5) * 10));
      let inFlight = 0;
      let maxInFlight = 0;
      let delay = 3;
      const slow: ByteSource = {
        byteLength: big.byteLength,
        concurrency: ahead,
        read: (o, l) => bytesSource(big).read(o, l),
        async readInto(offset, target) {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          delay = (delay * 7 + 1) % 5;
          await new Promise((r) => setTimeout(r, delay));
          target.set(big.subarray(offset, offset + target.byteLength));
          inFlight--;
        },
      };
      const reader = new ReadAhead(slow, many, { windowBytes: 2000, gapBytes: 0 });
      for (const l of many) {
        const got = await reader.read();
        // Let the reads ahead land meanwhile: they must not touch the buffer handed out.
        await new Promise((r) => setTimeout(r, 6));
        expect([...got]).toEqual([...big.subarray(l.begin, l.end)]);
      }
      await reader.settle();
      // The window asked for, while it is still being read, and those ahead of it.
      expect(maxInFlight).toBe(ahead + 1);
    });
  }

  it('keeps a file-aligned tensor aligned in its reused buffer', async () => {
    const source = countingSource(bytes, true);
    const reader = new ReadAhead(source, [loc(3, 10), loc(100, 10, 'F32'), loc(1001, 4)], { gapBytes: 0 });
    expect((await reader.read()).byteOffset % 8).toBe(3);
    expect((await reader.read()).byteOffset % 8).toBe(4);
    expect((await reader.read()).byteOffset % 8).toBe(1001 % 8);
  });

  it('surfaces a failed read where the tensor is asked for', async () => {
    let n = 0;
    const failing: ByteSource = { byteLength: bytes.byteLength, read: (o, l) => (++n > 1 ? Promise.reject(new Error('gone')) : bytesSource(bytes).read(o, l)) };
    const reader = new ReadAhead(failing, [loc(0, 10), loc(1000, 10)], { windowBytes: 1 });
    expect((await reader.read()).byteLength).toBe(20);
    await expect(reader.read()).rejects.toThrow('gone');
  });
});

describe('ReadAhead: reads made on the calling thread (syncShare)', () => {
  const bytes = randomBytes(1 << 16, 13);
  // 30 tensors of 150 bytes, 200 apart: with 256-byte windows, one window (one run) each; then a
  // streamed one read in 7 pieces of 128 bytes.
  const locs = [...Array.from({ length: 30 }, (_, i) => loc(i * 200, 75)), loc(8001, 448)];
  const streamable = [...locs.map(() => false).slice(1), true];

  /** A source recording each read as 's' (on this thread) or 'a' (through readInto). */
  function recordingSource(withSync: boolean) {
    const log: string[] = [];
    const source: ByteSource = {
      byteLength: bytes.byteLength,
      read: (o, l) => bytesSource(bytes).read(o, l),
      async readInto(offset, target) {
        log.push('a');
        await new Promise((r) => setTimeout(r, 1));
        target.set(bytes.subarray(offset, offset + target.byteLength));
      },
      ...(withSync
        ? {
            readIntoSync(offset: number, target: Uint8Array) {
              log.push('s');
              target.set(bytes.subarray(offset, offset + target.byteLength));
            },
          }
        : {}),
    };
    return { source, log };
  }

  async function readAll(reader: ReadAhead): Promise<void> {
    for (const l of locs) {
      if (reader.nextIsStreamed()) {
        const all: number[] = [];
        for await (const piece of reader.pieces()) all.push(...piece);
        expect(all).toEqual([...bytes.subarray(l.begin, l.end)]);
      } else {
        expect([...(await reader.read())]).toEqual([...bytes.subarray(l.begin, l.end)]);
      }
    }
  }

  for (const [share, pattern] of [
    [0, /^a+$/],
    [0.5, /^(as)+a?$/],
    [1 / 3, /^(aas)+a?a?$/],
    [1, /^s+$/],
  ] as const) {
    it(`reads a share of ${share.toFixed(2)} of the windows and pieces itself, spread evenly, with the same bytes`, async () => {
      const { source, log } = recordingSource(true);
      await readAll(new ReadAhead(source, locs, { windowBytes: 256, gapBytes: 0, streamable, syncShare: share }));
      // 30 windows and 7 pieces.
      expect(log).toHaveLength(37);
      expect(log.join('')).toMatch(pattern);
    });
  }

  it('ignores the share for a source that cannot read synchronously', async () => {
    const { source, log } = recordingSource(false);
    await readAll(new ReadAhead(source, locs, { windowBytes: 256, gapBytes: 0, streamable, syncShare: 1 }));
    expect(log.join('')).toMatch(/^a{37}$/);
  });

  it('surfaces a failed synchronous read where its tensor or piece is asked for', async () => {
    let n = 0;
    const failing: ByteSource = {
      byteLength: bytes.byteLength,
      read: (o, l) => bytesSource(bytes).read(o, l),
      readInto: async (o, t) => t.set(bytes.subarray(o, o + t.byteLength)),
      readIntoSync(o, t) {
        if (++n === 2) throw new Error('sync read failed');
        t.set(bytes.subarray(o, o + t.byteLength));
      },
    };
    const reader = new ReadAhead(failing, [loc(0, 10), loc(1000, 10), loc(2000, 10)], { windowBytes: 1, syncShare: 1 });
    expect((await reader.read()).byteLength).toBe(20);
    await expect(reader.read()).rejects.toThrow('sync read failed');
    await reader.settle();

    const pieces = new ReadAhead(
      {
        ...failing,
        readIntoSync: () => {
          throw new Error('piece failed');
        },
      },
      [loc(0, 2000)],
      { windowBytes: 512, streamable: [true], syncShare: 1 },
    );
    await expect(
      (async () => {
        for await (const p of pieces.pieces()) expect(p.byteLength).toBeGreaterThan(0);
      })(),
    ).rejects.toThrow('piece failed');
  });

  it('syncReadShare: none up to an output half the input, half for as large, all from twice', () => {
    expect(syncReadShare(0.27e9, 1e9)).toBe(0);
    expect(syncReadShare(0.5e9, 1e9)).toBe(0);
    expect(syncReadShare(0.53e9, 1e9)).toBeCloseTo(0.03);
    expect(syncReadShare(1e9, 1e9)).toBe(0.5);
    expect(syncReadShare(1.5e9, 1e9)).toBe(1);
    expect(syncReadShare(2e9, 1e9)).toBe(1);
    expect(syncReadShare(10, 0)).toBe(0);
  });
});

describe('ReadAhead: tensors larger than a window stream through in pieces', () => {
  const bytes = randomBytes(1 << 16, 11);
  // A small one, a large streamable one at an odd offset, a large one that is not streamable, a small one.
  const locs = [loc(100, 50), loc(3001, 6000), loc(20000, 3000, 'F32'), loc(40000, 10)];
  const streamable = [true, true, false, true];

  for (const withReadInto of [false, true]) {
    it(`delivers the same bytes in 128-byte multiples, reading ahead (readInto ${withReadInto})`, async () => {
      const source = countingSource(bytes, withReadInto);
      const reader = new ReadAhead(source, locs, { windowBytes: 1024, gapBytes: 0, streamable });
      const got: number[][] = [];
      const streamed: number[] = [];
      for (const [i, l] of locs.entries()) {
        if (reader.nextIsStreamed()) {
          streamed.push(i);
          const all: number[] = [];
          const sizes: number[] = [];
          for await (const piece of reader.pieces()) {
            // Pieces keep the file's alignment (offset 3001 → 3001 % 8) when read into the slabs.
            if (withReadInto) expect(piece.byteOffset % 8).toBe(3001 % 8);
            sizes.push(piece.byteLength);
            all.push(...piece);
          }
          expect(sizes.slice(0, -1).every((n) => n === 512)).toBe(true);
          got.push(all);
        } else {
          got.push([...(await reader.read())]);
        }
        expect([...got[got.length - 1]!]).toEqual([...bytes.subarray(l.begin, l.end)]);
      }
      // Only the large streamable tensor was streamed.
      expect(streamed).toEqual([1]);
      expect(got.map((g) => g.length)).toEqual([100, 12000, 12000, 20]);
    });
  }

  it('a failed piece surfaces in the loop, and settle() waits for the read in flight', async () => {
    let reads = 0;
    let inflight = 0;
    const failing: ByteSource = {
      byteLength: bytes.byteLength,
      async read(o, l) {
        inflight++;
        await new Promise((r) => setTimeout(r, 2));
        inflight--;
        if (++reads === 3) throw new Error('pulled out');
        return bytes.subarray(o, o + l);
      },
    };
    const reader = new ReadAhead(failing, [loc(0, 4000), loc(9000, 10)], { windowBytes: 512, streamable: [true, true] });
    expect(reader.nextIsStreamed()).toBe(true);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const p of reader.pieces()) seen.push(p.byteLength);
      })(),
    ).rejects.toThrow('pulled out');
    expect(seen.length).toBeGreaterThan(0);
    await reader.settle();
    expect(inflight).toBe(0);
  });
});

describe('ChunkWriter', () => {
  /**
   * A sink taking up to `concurrency` writes at once, each placed where the one before it ends
   * (as a file written by offset) and resolving after a random delay, so writes in flight finish
   * out of order. It checks that no buffer changes while its write is pending, and records how
   * many writes were in flight at most.
   */
  function slowSink(concurrency?: number): ByteSink & { bytes: () => Uint8Array; writes: number[]; maxInFlight: number } {
    const out = new Uint8Array(1 << 16);
    let position = 0;
    let inFlight = 0;
    let delay = 7;
    const sink = {
      concurrency,
      writes: [] as number[],
      maxInFlight: 0,
      bytes: () => out.slice(0, position),
      async write(chunk: Uint8Array) {
        const at = position;
        position += chunk.byteLength;
        const snapshot = new Uint8Array(chunk);
        sink.writes.push(chunk.byteLength);
        sink.maxInFlight = Math.max(sink.maxInFlight, ++inFlight);
        delay = (delay * 5 + 3) % 11;
        await new Promise((r) => setTimeout(r, delay % 4));
        expect(new Uint8Array(chunk)).toEqual(snapshot);
        out.set(chunk, at);
        inFlight--;
      },
    };
    return sink;
  }

  for (const [buffers, concurrency, expectedInFlight] of [
    [2, undefined, 1],
    [2, 4, 1],
    [3, 2, 2],
    [4, 3, 3],
    [4, 1, 1],
  ] as const) {
    it(`hands over the same bytes, in chunks starting at multiples of 32, with aligned positions (${buffers} buffers, sink concurrency ${concurrency ?? 'unset'})`, async () => {
      const sink = slowSink(concurrency);
      const w = new ChunkWriter(
        sink,
        256,
        Array.from({ length: buffers }, () => new Uint8Array(256)),
      );
      const expected: number[] = [];
      const data = randomBytes(5000, 3);
      let k = 0;
      for (let step = 0; k < data.length; step++) {
        if (step % 3 === 0) {
          const piece = data.subarray(k, Math.min(data.length, k + 1 + (step % 401)));
          await w.write(piece);
          expected.push(...piece);
          k += piece.length;
        } else {
          // Encode in place, 34 bytes at a time (a Q8_0 block), checking the alignment invariant.
          await w.ensure(34);
          expect(w.at % 32).toBe(w.position % 32);
          const piece = data.subarray(k, Math.min(data.length, k + 34));
          w.chunk.set(piece, w.at);
          w.advance(piece.length);
          expected.push(...piece);
          k += piece.length;
        }
      }
      await w.finish();
      expect([...sink.bytes()]).toEqual(expected);
      expect(w.flushed).toBe(expected.length);
      // As many writes in flight as the sink takes and the buffers allow, never more.
      expect(sink.maxInFlight).toBe(expectedInFlight);
      // Every write but the last ends at a multiple of 32.
      let at = 0;
      for (const n of sink.writes.slice(0, -1)) {
        at += n;
        expect(at % 32).toBe(0);
      }
    });
  }

  it('rethrows a failed write and can settle quietly', async () => {
    const w = new ChunkWriter({ write: () => Promise.reject(new Error('disk full')) }, 128);
    await w.write(new Uint8Array(200));
    await expect(w.write(new Uint8Array(200))).rejects.toThrow('disk full');
    await w.settle();
  });

  it('with several writes in flight, rethrows the first failure and settles the rest', async () => {
    let n = 0;
    const settled: number[] = [];
    const sink: ByteSink = {
      concurrency: 3,
      write: async () => {
        const k = n++;
        await new Promise((r) => setTimeout(r, 3 - k));
        settled.push(k);
        if (k >= 1) throw new Error(`write ${k} failed`);
      },
    };
    const w = new ChunkWriter(
      sink,
      128,
      Array.from({ length: 4 }, () => new Uint8Array(128)),
    );
    // Three chunks go out at once; the failure rethrown is the first in order (write 1), though
    // later ones finish first.
    await expect(w.write(new Uint8Array(128 * 6))).rejects.toThrow('write 1 failed');
    await w.settle();
    // Every write handed over has finished: nothing is left running against the target.
    expect(n).toBeGreaterThanOrEqual(3);
    expect(settled.sort()).toEqual(Array.from({ length: n }, (_, k) => k));
  });

  it('refuses fewer than two buffers or misaligned ones', () => {
    expect(() => new ChunkWriter({ write: async () => undefined }, 128, [new Uint8Array(128)])).toThrow(RangeError);
    expect(() => new ChunkWriter({ write: async () => undefined }, 128, [new Uint8Array(128), new Uint8Array(256).subarray(8, 136)])).toThrow(RangeError);
  });
});

describe('moveElements', () => {
  const ops: MovementOp[] = [
    { op: 'transpose' },
    { op: 'rows', start: 2, count: 3 },
    { op: 'rowAxes', dims: [2, 2, -1], perm: [0, 2, 1] },
    { op: 'rowBlocks', blockRows: 4, order: [2, 0, 1] },
  ];
  for (const op of ops) {
    it(`${op.op} moves 16-bit elements as applyOp moves 32-bit ones`, () => {
      const shape = [12, 5];
      const bits = Uint32Array.from({ length: 60 }, (_, i) => i * 7919);
      const wide = applyOp({ shape, bits }, op);
      const narrow = moveElements(
        Uint16Array.from(bits, (b) => b & 0xffff),
        shape,
        op,
      );
      expect(narrow.shape).toEqual(wide.shape);
      expect([...narrow.data]).toEqual([...wide.bits].map((b) => b & 0xffff));
      expect(narrow.data).toBeInstanceOf(Uint16Array);
    });
  }
});

describe('rowGatherOf', () => {
  /** The rows in the gather's order, as one flat list of row indices. */
  function gathered(rows: number, g: { blockRows: number; order: Int32Array }): number[] {
    const out: number[] = [];
    for (let base = 0; base < rows; base += g.blockRows) for (const o of g.order) out.push(base + o);
    return out;
  }

  for (const op of [
    { op: 'rowAxes', dims: [2, 2, -1], perm: [0, 2, 1] },
    { op: 'rowAxes', dims: [8, 2, -1], perm: [0, 2, 1] },
    { op: 'rowAxes', dims: [3, 2, 2, -1], perm: [0, 3, 1, 2] },
    { op: 'rowAxes', dims: [4, -1], perm: [0, 1] },
  ] as MovementOp[]) {
    it(`puts rows where moveElements does: ${JSON.stringify(op)}`, () => {
      const rows = 48;
      const ids = Uint32Array.from({ length: rows }, (_, i) => i);
      const moved = moveElements(ids, [rows, 1], op);
      const g = rowGatherOf(op, [rows, 1])!;
      expect(gathered(rows, g)).toEqual([...moved.data]);
    });
  }

  it('is undefined where rows leave their block, or for other ops', () => {
    expect(rowGatherOf({ op: 'rowAxes', dims: [4, 3, -1], perm: [1, 0, 2] }, [48, 2])).toBeUndefined();
    expect(rowGatherOf({ op: 'transpose' }, [48, 2])).toBeUndefined();
    expect(rowGatherOf({ op: 'rowAxes', dims: [5, -1], perm: [0, 1] }, [48, 2])).toBeUndefined();
  });
});
