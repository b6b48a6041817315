/**
 * Load: ten conversions in a row in one tab, with a large one cancelled half-way among them, and
 * two at once from two tabs. Every one completes with the same bytes, and the page's and the
 * worker's memory after a forced garbage collection are back near where they were after the first
 * (nothing is kept from one conversion to the next, nor by the cancelled one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import {
  bytesEqual,
  cancelAndExpectNothingWritten,
  ConverterWorkerCdp,
  FAKE_PICKER,
  readSaved,
  startHarness,
  waitForTensors,
  writeBigAdapter,
  type Harness,
} from './harness';

let h: Harness;
let scratch: string;
let bigDir: string;
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-load-'));
  bigDir = join(scratch, 'big-llama-lora');
  writeBigAdapter(bigDir);
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Convert the sample to f16 under `name` (general.name and the file's stem); the saved bytes. */
async function convertSample(page: Page, name = 'tiny-llama-lora-sample'): Promise<Uint8Array> {
  const file = `${name}-F16-LoRA.gguf`;
  await page.getByRole('button', { name: 'Try a sample' }).click();
  await page.getByTestId('preflight').waitFor();
  await page.getByTestId('outtype-f16').check();
  await page.getByTestId('output-name').fill(name);
  await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe(file);
  await page.getByTestId('convert').click();
  await page.getByTestId('result').waitFor();
  const bytes = await readSaved(page, file);
  await page.getByRole('button', { name: 'Convert another adapter' }).click();
  await page.getByRole('button', { name: 'Try a sample' }).waitFor();
  return bytes;
}

/** The page's used JS heap after a full garbage collection, in bytes. */
async function heapAfterGc(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  await cdp.detach();
  return usedSize;
}

/** The conversion worker's memory, read over CDP. */
class WorkerMemory {
  private constructor(private readonly cdp: ConverterWorkerCdp) {}

  static async attach(page: Page): Promise<WorkerMemory> {
    const cdp = await ConverterWorkerCdp.attach(page);
    await expect.poll(() => cdp.attached).toBe(true);
    return new WorkerMemory(cdp);
  }

  /** The worker's JS heap plus the array buffers it holds, after a full garbage collection, in bytes. */
  async afterGc(): Promise<number> {
    await this.cdp.send('HeapProfiler.collectGarbage');
    return (await this.cdp.heapAndBuffers()) ?? Number.NaN;
  }
}

/** Start converting the large adapter and cancel once a few tensors are written. */
async function cancelLargeHalfWay(page: Page) {
  await page.getByTestId('adapter-folder-input').setInputFiles(bigDir);
  await page.getByTestId('preflight').waitFor();
  await page.getByTestId('convert').click();
  await waitForTensors(page);
  await cancelAndExpectNothingWritten(page);
  await page.getByRole('button', { name: 'Start over' }).click();
  await page.getByRole('button', { name: 'Try a sample' }).waitFor();
}

describe('load', () => {
  test('ten conversions in a row in one tab, a large one cancelled among them: identical bytes, page and worker memory back near their level after the first', async () => {
    const page = await h.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.addInitScript(FAKE_PICKER);
      await page.goto(h.url);
      const first = await convertSample(page);
      const worker = await WorkerMemory.attach(page);
      const baseline = await heapAfterGc(page);
      const workerBaseline = await worker.afterGc();
      for (let i = 1; i < 10; i++) {
        if (i === 5) await cancelLargeHalfWay(page);
        expect(bytesEqual(await convertSample(page), first), `conversion ${i + 1}`).toBe(true);
      }
      const after = await heapAfterGc(page);
      const workerAfter = await worker.afterGc();
      const mb = (n: number) => (n / 1e6).toFixed(1);
      console.log(
        `after GC, first conversion → tenth: page heap ${mb(baseline)} → ${mb(after)} MB; worker heap + buffers ${mb(workerBaseline)} → ${mb(workerAfter)} MB`,
      );
      // A few MB of slack for lazily created caches; a leak of a result, plan or file per
      // conversion would show as growth proportional to the nine conversions, and a buffer kept by
      // the cancelled one as several MiB (its read-ahead windows and chunks).
      expect(after - baseline).toBeLessThan(8 * 1024 * 1024);
      expect(workerAfter - workerBaseline).toBeLessThan(4 * 1024 * 1024);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('two tabs converting at once, each to its own file: both complete, with the bytes their names give', async () => {
    const [a, b] = await Promise.all([h.context.newPage(), h.context.newPage()]);
    try {
      for (const p of [a, b]) {
        await p.addInitScript(FAKE_PICKER);
        await p.goto(h.url);
      }
      const [ba, bb] = await Promise.all([convertSample(a, 'tab-a'), convertSample(b, 'tab-b')]);
      // Same tensors, names of equal length: the files differ only where general.name is written.
      expect(ba.byteLength).toBe(bb.byteLength);
      const differing = ba.reduce((n, x, i) => n + (x === bb[i] ? 0 : 1), 0);
      expect(differing).toBe(1);
      expect(Buffer.from(ba).includes(Buffer.from('tab-a'))).toBe(true);
      expect(Buffer.from(bb).includes(Buffer.from('tab-b'))).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
