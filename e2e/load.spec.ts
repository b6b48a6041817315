/**
 * Load: ten conversions in a row in one tab, and two at once from two tabs. Every one completes
 * with the same bytes, and the page's JavaScript heap after a forced garbage collection is back near
 * where it was after the first (nothing is kept from one conversion to the next).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { bytesEqual, FAKE_PICKER, readSaved, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
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

describe('load', () => {
  test('ten conversions in a row in one tab: identical bytes, the heap back near its level after the first', async () => {
    const page = await h.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.addInitScript(FAKE_PICKER);
      await page.goto(h.url);
      const first = await convertSample(page);
      const baseline = await heapAfterGc(page);
      for (let i = 1; i < 10; i++) expect(bytesEqual(await convertSample(page), first), `conversion ${i + 1}`).toBe(true);
      const after = await heapAfterGc(page);
      console.log(`page heap after GC: ${(baseline / 1e6).toFixed(1)} MB after the first conversion, ${(after / 1e6).toFixed(1)} MB after the tenth`);
      // A few MB of slack for lazily created caches; a leak of a result, plan or file per
      // conversion would show as growth proportional to the nine conversions.
      expect(after - baseline).toBeLessThan(8 * 1024 * 1024);
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
