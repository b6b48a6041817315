import { describe, expect, test } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type ConversionError } from '../src/core';
import { caseInput, referenceCases } from '../test/helpers/fixtures';
import { blobSource, syncHandleSink, writableSink } from './file-io';
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
    });
    await sink.write(new Uint8Array(6));
    await expect(sink.write(new Uint8Array(6))).rejects.toMatchObject({ code: 'io' });
    expect(writes).toEqual([
      [0, 6],
      [6, 4],
    ]);
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

  test('blobSource reads exact slices and refuses reads past the end', async () => {
    const src = blobSource(new Blob([Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7)]));
    expect(Array.from(await src.read(2, 3))).toEqual([2, 3, 4]);
    await expect(src.read(6, 4)).rejects.toThrow(RangeError);
  });
});
