/**
 * The ladder of save paths, each rung forced on in Chromium by hiding what the rungs above need
 * (the save dialog, the origin-private file system, service workers), so every rung is proven:
 * the preflight names the path and why the others were passed over, the file has the core's
 * bytes, cancel leaves nothing, and a browser with no way to save says so before Convert.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bytesEqual, cancelAndExpectNothingWritten, expectedBytes, NO_OPFS, NO_PICKER, NO_SW, stageCase, startHarness, waitForTensors, writeBigAdapter, type Harness } from './harness';

let h: Harness;
let scratch: string;
let bigDir: string;
let hugeDir: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-save-'));
  bigDir = join(scratch, 'big-llama-lora');
  writeBigAdapter(bigDir);
  // 14 layers: a 560 MB f16 output, over the 512 MB the memory rung takes (sparse: no disk used).
  hugeDir = join(scratch, 'huge-llama-lora');
  writeBigAdapter(hugeDir, 14);
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function open(scripts: string[], dir: string): Promise<{ page: Page; errors: string[] }> {
  const page = await h.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  for (const s of scripts) await page.addInitScript(s);
  await page.goto(h.url);
  await page.getByTestId('adapter-folder-input').setInputFiles(dir);
  await page.getByTestId('preflight').waitFor();
  return { page, errors };
}

async function savePath(page: Page, label: string): Promise<string> {
  await expect.poll(() => page.getByTestId('save-path').textContent(), { timeout: 15_000 }).toBe(label);
  return (await page.getByTestId('save-path-why').textContent().catch(() => '')) ?? '';
}

async function useF16(page: Page, name: string) {
  await page.getByTestId('outtype-f16').check();
  await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe(`${name}-F16-LoRA.gguf`);
}

describe('save paths, each rung forced on', () => {
  test('no save dialog, no private storage: streamed straight to Downloads through the service worker — the core’s bytes', async () => {
    const staged = stageCase('llama_bf16_f16', 'streamed-lora');
    const { page, errors } = await open([NO_PICKER, NO_OPFS], staged.dir);
    try {
      const why = await savePath(page, 'streamed straight to Downloads');
      expect(why).toContain('no save dialog in this browser');
      expect(why).toContain('no private file storage');
      await useF16(page, 'streamed-lora');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('convert').click()]);
      expect(download.suggestedFilename()).toBe('streamed-lora-F16-LoRA.gguf');
      await page.getByTestId('result').waitFor();
      expect(await page.getByTestId('result').textContent()).toContain('Saved to your Downloads folder');
      const path = await download.path();
      const { readFileSync } = await import('node:fs');
      expect(bytesEqual(new Uint8Array(readFileSync(path)), await expectedBytes(staged.dir, { outtype: 'f16', name: 'streamed-lora' }))).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('streamed: cancel mid-way fails the download (no file kept); the next conversion streams again', async () => {
    const { page, errors } = await open([NO_PICKER, NO_OPFS], bigDir);
    try {
      await savePath(page, 'streamed straight to Downloads');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('convert').click()]);
      await waitForTensors(page);
      await cancelAndExpectNothingWritten(page);
      expect(await download.failure()).not.toBeNull();
      await useF16(page, 'big-llama-lora');
      const [again] = await Promise.all([page.waitForEvent('download'), page.getByTestId('convert').click()]);
      await page.getByTestId('result').waitFor({ timeout: 120_000 });
      expect(await again.failure()).toBeNull();
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('no dialog, no private storage, no service worker: kept in memory, then Download — the core’s bytes', async () => {
    const staged = stageCase('llama_bf16_f16', 'memory-lora');
    const { page, errors } = await open([NO_PICKER, NO_OPFS, NO_SW], staged.dir);
    try {
      const why = await savePath(page, 'memory, then Download — up to 512 MB');
      expect(why).toContain('no service workers here');
      await useF16(page, 'memory-lora');
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      expect(await page.getByTestId('result').textContent()).toContain('kept in this tab’s memory');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
      expect(download.suggestedFilename()).toBe('memory-lora-F16-LoRA.gguf');
      const { readFileSync } = await import('node:fs');
      expect(bytesEqual(new Uint8Array(readFileSync(await download.path())), await expectedBytes(staged.dir, { outtype: 'f16', name: 'memory-lora' }))).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('private storage too small for this output: passed over with the sizes, streamed instead', async () => {
    // The quota the browser reports (navigator.storage.estimate), as a nearly full disk would give.
    const SMALL_QUOTA = `StorageManager.prototype.estimate = async () => ({ quota: 60 * 1024 * 1024, usage: 10 * 1024 * 1024 });`;
    const { page, errors } = await open([NO_PICKER, SMALL_QUOTA], bigDir);
    try {
      const why = await savePath(page, 'streamed straight to Downloads');
      expect(why).toMatch(/browser storage has 50 MB free, the output needs \d+ MB/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('no rung can take it (no dialog, no storage, no service worker, over the memory limit): said before Convert, which is disabled', async () => {
    const { page, errors } = await open([NO_PICKER, NO_OPFS, NO_SW], hugeDir);
    try {
      await useF16(page, 'huge-llama-lora');
      const err = page.getByTestId('save-error');
      await err.waitFor();
      expect(await err.getAttribute('data-code')).toBe('save_unavailable');
      expect(await err.textContent()).toMatch(/This browser cannot save the file here/);
      expect(await err.textContent()).toMatch(/larger than the 512 MB this page keeps in memory/);
      expect(await page.getByTestId('convert').isDisabled()).toBe(true);
      // A smaller output type fits in memory: the page says so at once.
      await page.getByTestId('outtype-q8_0').check();
      await expect.poll(() => page.getByTestId('save-path').textContent()).toBe('memory, then Download — up to 512 MB');
      expect(await page.getByTestId('convert').isEnabled()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
