import { describe, expect, test } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type ConversionError } from '../src/core';
import { caseInput, referenceCases } from '../test/helpers/fixtures';
import { blobSource, memorySink, streamSink, syncHandleSink, writableSink, type PortLike } from './file-io';
import { verifyOutput } from './verify';

async function converted(caseName: string, outtype: 'f16' | 'q8_0' | 'f32') {
  const c = referenceCases().find((x) => x.name === caseName)!;
  const input = caseInput(c);
  const plan = await inspect(
    { adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(input.adapter) },
    { outtype, name: 'verify me' },
  );
  const sink = new MemorySink();
  await convert(plan, bytesSource(input.adapter), sink);
  return { plan, bytes: sink.bytes() };
}

describe('verifyOutput (read back with @huggingface/gguf)', () => {
  test('accepts the core’s own output and summarises it', async () => {
    const { plan, bytes } = await converted('llama_bf16_f16', 'q8_0');
    const summary = await verifyOutput(new Blob([bytes as BlobPart]), plan);
    expect(summary.tensorCount).toBe(plan.tensors.length);
    expect(summary.size).toBe(bytes.byteLength);
    expect(summary.ggufVersion).toBe(3);
    expect(summary.keys.find((k) => k.key === 'general.name')?.value).toBe('verify me');
    expect(summary.keys.map((k) => k.key)).toEqual(plan.kvs.map((k) => k.key));
  });

  test('rejects a file whose header differs from the plan', async () => {
    const { plan, bytes } = await converted('llama_bf16_f16', 'f16');
    const tampered = bytes.slice();
    // "verify me" → "verify mE": same size, different general.name.
    const at = Buffer.from(tampered).indexOf('verify me');
    tampered[at + 8] = 'E'.charCodeAt(0);
    const err = (await verifyOutput(new Blob([tampered as BlobPart]), plan).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('io');
    expect(err.message).toMatch(/general\.name/);
  });

  test('rejects a file of the wrong size', async () => {
    const { plan, bytes } = await converted('llama_bf16_f16', 'f16');
    const err = (await verifyOutput(new Blob([bytes.slice(0, bytes.length - 32) as BlobPart]), plan).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('io');
    expect(err.message).toMatch(/size/);
  });

  test('rejects a plan for another outtype (tensor types differ)', async () => {
    const a = await converted('llama_bf16_f16', 'f16');
    const b = await converted('llama_bf16_f16', 'f32');
    await expect(verifyOutput(new Blob([a.bytes as BlobPart]), { ...b.plan, totalBytes: a.bytes.byteLength })).rejects.toMatchObject({ code: 'io' });
  });
});

describe('verifyOutput of a streamed download: the header it sent, and the count', () => {
  test('the header bytes alone verify, with the size the stream sent; a short stream does not', async () => {
    const { plan, bytes } = await converted('llama_bf16_f16', 'f16');
    const header = new Blob([bytes.slice(0, plan.headerBytes) as Uint8Array<ArrayBuffer>]);
    expect((await verifyOutput(header, plan, bytes.byteLength)).size).toBe(bytes.byteLength);
    await expect(verifyOutput(header, plan, bytes.byteLength - 1)).rejects.toMatchObject({ code: 'io' });
  });
});

describe('worker sinks and sources', () => {
  test('writableSink hands each chunk to the writable, in order, and passes its failures on', async () => {
    const got: number[][] = [];
    const sink = writableSink({ write: async (c) => void got.push([...c]) });
    await sink.write(Uint8Array.of(1, 2));
    await sink.write(Uint8Array.of(3));
    await sink.flush();
    expect(got).toEqual([[1, 2], [3]]);
    const failing = writableSink({ write: () => Promise.reject(new Error('permission revoked')) });
    await expect(failing.write(Uint8Array.of(1))).rejects.toThrow('permission revoked');
  });

  test('syncHandleSink writes at increasing offsets and fails loudly on a short write (full disk)', async () => {
    const writes: [number, number][] = [];
    let budget = 10;
    const sink = syncHandleSink({
      write(data, { at }) {
        const n = Math.min(budget, data.byteLength);
        budget -= n;
        writes.push([at, n]);
        return n;
      },
      getSize: () => 0,
      truncate: () => {
        throw new Error('an empty file must not be truncated');
      },
    });
    await sink.write(new Uint8Array(6));
    await expect(sink.write(new Uint8Array(6))).rejects.toMatchObject({ code: 'io' });
    expect(writes).toEqual([
      [0, 6],
      [6, 4],
    ]);
  });

  test('syncHandleSink empties a file that holds bytes, and leaves an empty one alone (no truncate: ext4 would flush it on close)', async () => {
    const calls: string[] = [];
    const handle = (size: number) => ({
      write(data: Uint8Array, { at }: { at: number }) {
        calls.push(`write ${at}+${data.byteLength}`);
        return data.byteLength;
      },
      getSize: () => size,
      truncate(n: number) {
        calls.push(`truncate ${n}`);
      },
    });
    await syncHandleSink(handle(5)).write(new Uint8Array(3));
    expect(calls).toEqual(['truncate 0', 'write 0+3']);
    calls.length = 0;
    await syncHandleSink(handle(0)).write(new Uint8Array(3));
    expect(calls).toEqual(['write 0+3']);
  });

  test("blobSource reads slices, into the caller's buffer too, and turns a failed read into an io error", async () => {
    const blob = new Blob([Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7)]);
    const src = blobSource(blob);
    expect(Array.from(await src.read(1, 3))).toEqual([1, 2, 3]);
    const target = new Uint8Array(4);
    await src.readInto!(4, target);
    expect(Array.from(target)).toEqual([4, 5, 6, 7]);
    // A dropped file that was moved or changed since: the browser's NotReadableError.
    const failing = blobSource(blob, () => Promise.reject(new DOMException('The requested file could not be read', 'NotReadableError')));
    await expect(failing.read(0, 2)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/could not be read/) });
  });

  test('blobSource.readInto lands the right bytes at every size and offset, reads in flight together too', async () => {
    const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
    const src = blobSource(new Blob([bytes]));
    // Large then small then large again, and reads in flight together, as the read-ahead makes them.
    for (const [offset, length] of [
      [0, 2 << 20],
      [5, 1000],
      [123_457, 1 << 20],
      [(3 << 20) - 7, 7],
      [1, (3 << 20) - 1],
    ] as const) {
      const target = new Uint8Array(length + 16).fill(0xaa).subarray(8, 8 + length);
      await src.readInto!(offset, target);
      expect(Buffer.compare(target, bytes.subarray(offset, offset + length))).toBe(0);
      // Nothing written around the target.
      expect(new Uint8Array(target.buffer, 0, 8).every((b) => b === 0xaa)).toBe(true);
      expect(new Uint8Array(target.buffer, 8 + length, 8).every((b) => b === 0xaa)).toBe(true);
    }
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    await Promise.all([src.readInto!(0, a), src.readInto!(4096, b)]);
    expect(Buffer.compare(a, bytes.subarray(0, 4096))).toBe(0);
    expect(Buffer.compare(b, bytes.subarray(4096, 8192))).toBe(0);
    await expect(src.readInto!((3 << 20) - 2, new Uint8Array(4))).rejects.toThrow(RangeError);
  });

  test('blobSource reads exact slices and refuses reads past the end', async () => {
    const src = blobSource(new Blob([Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7)]));
    expect(Array.from(await src.read(2, 3))).toEqual([2, 3, 4]);
    await expect(src.read(6, 4)).rejects.toThrow(RangeError);
  });

  /**
   * The service worker's end of a streamed download (public/download-sw.js's protocol): it
   * records what arrives and pulls when told to.
   */
  function fakeServiceWorker() {
    const { port1, port2 } = new MessageChannel();
    const got: { type: string; bytes?: number[]; message?: string }[] = [];
    port1.onmessage = (e: MessageEvent) => {
      const m = e.data as { type: string; buffer?: ArrayBuffer; message?: string };
      got.push(m.buffer ? { type: m.type, bytes: [...new Uint8Array(m.buffer)] } : { type: m.type, ...(m.message ? { message: m.message } : {}) });
    };
    const settle = () => new Promise((r) => setTimeout(r, 20));
    return {
      port: port2 as unknown as PortLike,
      got,
      pull: () => port1.postMessage({ type: 'pull' }),
      cancel: () => port1.postMessage({ type: 'cancel' }),
      settle,
      close: () => port1.close(),
    };
  }

  test('streamSink sends a chunk only when the download pulls one (backpressure), copies it, and keeps the header', async () => {
    const sw = fakeServiceWorker();
    const sink = streamSink(sw.port, 3);
    const chunk = Uint8Array.of(1, 2);
    let done = false;
    const first = sink.write(chunk).then(() => (done = true));
    await sw.settle();
    expect(done).toBe(false);
    expect(sw.got).toEqual([]);
    sw.pull();
    await first;
    // The converter reuses its chunk: the one sent is a copy, the caller's buffer is intact.
    chunk[0] = 9;
    sw.pull();
    await sink.write(Uint8Array.of(3, 4));
    expect(Array.from(sink.header())).toEqual([1, 2, 3]);
    expect(sink.bytesWritten).toBe(4);
    sink.finish();
    await sw.settle();
    expect(sw.got).toEqual([{ type: 'chunk', bytes: [1, 2] }, { type: 'chunk', bytes: [3, 4] }, { type: 'done' }]);
    sw.close();
  });

  test('streamSink: the download cancelled in the browser stops the conversion; fail() fails the download', async () => {
    const sw = fakeServiceWorker();
    const sink = streamSink(sw.port, 0);
    const write = sink.write(Uint8Array.of(1));
    sw.cancel();
    await expect(write).rejects.toMatchObject({ code: 'aborted' });
    sink.fail('disk gone');
    await sw.settle();
    expect(sw.got).toEqual([{ type: 'error', message: 'disk gone' }]);
    sw.close();
  });

  test('streamSink: a download the browser never starts is an io error after the first-pull timeout', async () => {
    const sw = fakeServiceWorker();
    const sink = streamSink(sw.port, 0, 50);
    await expect(sink.write(Uint8Array.of(1))).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/did not start the download/) });
    sw.close();
  });

  test('memorySink keeps every chunk, in order, in one Blob', async () => {
    const sink = memorySink();
    const chunk = Uint8Array.of(1, 2);
    await sink.write(chunk);
    chunk[0] = 9;
    await sink.write(Uint8Array.of(3));
    expect(Array.from(new Uint8Array(await sink.blob().arrayBuffer()))).toEqual([1, 2, 3]);
  });
});
