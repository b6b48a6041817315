/**
 * Faults in the middle of a large conversion (the generated ~240 MB Llama adapter of cancel.spec):
 * the browser's storage quota running out (set with CDP's Storage.overrideQuotaForOrigin), on both
 * save paths; the worker crashing (an uncaught exception: the Worker's error event); and the worker
 * dying without a word (self.close(): only the page's watchdog can tell). Each ends in a specific
 * error, no file is left in either folder, and the next conversion in the same page succeeds.
 * And a tab closed mid-way: the next start removes what it left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIG_LAYERS, FAKE_PICKER, listOpfs, NO_PICKER, startHarness, waitForTensors, writeBigAdapter, type Harness } from './harness';

let h: Harness;
let scratch: string;
let adapterDir: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-faults-'));
  adapterDir = join(scratch, 'big-llama-lora');
  writeBigAdapter(adapterDir);
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

type SavePath = 'picker' | 'storage';
const FOLDER: Record<SavePath, string> = { picker: 'e2e-saved', storage: 'lora2gguf-tmp' };

async function openPage(path: SavePath): Promise<{ page: Page; errors: string[] }> {
  const page = await h.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(path === 'picker' ? FAKE_PICKER : NO_PICKER);
  await page.goto(h.url);
  // Leftovers of an earlier test in this profile must not count.
  await page.evaluate(async (folders) => {
    const root = await navigator.storage.getDirectory();
    for (const f of folders) await root.removeEntry(f, { recursive: true }).catch(() => undefined);
  }, Object.values(FOLDER));
  await page.getByTestId('adapter-folder-input').setInputFiles(adapterDir);
  await page.getByTestId('preflight').waitFor();
  await page.getByTestId('outtype-f16').check();
  await expect.poll(() => page.getByTestId('output-file-name').textContent()).toContain('F16');
  return { page, errors };
}

/** Convert and wait until at least `tensors` tensors are written. */
async function startConversion(page: Page, tensors = 3) {
  await page.getByTestId('convert').click();
  await waitForTensors(page, tensors);
}

/** After a fault: an error in words, and nothing left in the output folder. */
async function expectCleanFailure(page: Page, path: SavePath, words: RegExp[]) {
  const panel = page.getByTestId('convert-error');
  await panel.waitFor({ timeout: 60_000 });
  const text = (await panel.textContent()) ?? '';
  for (const w of words) expect(text).toMatch(w);
  expect(text).not.toMatch(/Something unexpected/i);
  await expect.poll(() => listOpfs(page, FOLDER[path]), { timeout: 15_000 }).toEqual([]);
}

/** The next conversion in the same page goes through. */
async function expectNextSucceeds(page: Page, path: SavePath, errors: string[]) {
  expect(await page.getByTestId('convert').isEnabled()).toBe(true);
  await page.getByTestId('convert').click();
  await page.getByTestId('result').waitFor({ timeout: 120_000 });
  expect(await page.getByTestId('result-tensors').textContent()).toBe(String(BIG_LAYERS * 14));
  if (path === 'picker') expect(await listOpfs(page, FOLDER[path])).toEqual(['big-llama-lora-F16-LoRA.gguf']);
  expect(errors).toEqual([]);
}

/** Override the origin's storage quota; it holds while the returned session stays attached, and `reset()` ends it. */
async function setQuota(page: Page, quotaSize: number): Promise<{ reset(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(h.url).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize });
  return {
    async reset() {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await cdp.detach();
    },
  };
}

/** The conversion worker of `page`. */
async function converterWorker(page: Page): Promise<Worker> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('converter'))).toBe(true);
  return page.workers().find((w) => w.url().includes('converter'))!;
}

const SAVE_PATHS = ['picker', 'storage'] as const;
const label = (path: SavePath) => (path === 'picker' ? 'the picked file' : 'private storage, then Download');

describe('faults mid-way', () => {
  for (const path of SAVE_PATHS) {
    test(`storage quota runs out mid-way (${label(path)}): "Not enough storage space", no file left, the next conversion works`, async () => {
      const { page, errors } = await openPage(path);
      try {
        const { usage } = await page.evaluate(() => navigator.storage.estimate());
        // Room for ~120 MB of the 229 MiB output: the write fails in the middle, not at the start.
        const quota = await setQuota(page, (usage ?? 0) + 120 * 1024 * 1024);
        try {
          await startConversion(page, 1);
          await expectCleanFailure(page, path, [/Not enough storage space/, /quota is full/, path === 'storage' ? /temporary file in browser storage was removed/ : /nothing reached the file you chose/]);
        } finally {
          await quota.reset();
        }
        await expectNextSucceeds(page, path, errors);
      } finally {
        await page.close();
      }
    });
  }

  for (const path of SAVE_PATHS) {
    test(`the worker crashes mid-way (${label(path)}): "worker stopped", no file left, a new worker converts next`, async () => {
      const { page, errors } = await openPage(path);
      try {
        const worker = await converterWorker(page);
        await startConversion(page);
        await worker.evaluate(() => {
          setTimeout(() => {
            throw new Error('injected crash');
          });
        });
        await expectCleanFailure(page, path, [/conversion worker stopped/, /injected crash/]);
        await expectNextSucceeds(page, path, errors);
      } finally {
        await page.close();
      }
    });
  }

  for (const path of SAVE_PATHS) {
    test(`the worker dies without a word mid-way (${label(path)}): the watchdog says so, no file left, the next conversion works`, async () => {
      const { page, errors } = await openPage(path);
      try {
        const worker = await converterWorker(page);
        await startConversion(page);
        await worker.evaluate(() => (self as unknown as { close(): void }).close());
        await expectCleanFailure(page, path, [/stopped answering/]);
        await expectNextSucceeds(page, path, errors);
      } finally {
        await page.close();
      }
    });
  }

  test('the tab closed mid-way (private storage): the next start removes the temporary file the closed tab left', async () => {
    const { page } = await openPage('storage');
    await startConversion(page);
    // The temporary output exists and is being written.
    expect((await listOpfs(page, FOLDER.storage)).length).toBe(1);
    await page.close();
    const next = await h.context.newPage();
    try {
      await next.goto(h.url);
      await expect.poll(() => listOpfs(next, FOLDER.storage), { timeout: 15_000 }).toEqual([]);
    } finally {
      await next.close();
    }
  });
});
