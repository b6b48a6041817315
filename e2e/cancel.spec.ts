/**
 * Cancel in the middle of a large conversion (a generated Llama adapter of ~240 MB, ~480 MB of
 * f32 output): no file remains, neither the picked one nor a temporary one, and the next
 * conversion succeeds. A persistent browser profile gives the private file system a disk-sized quota.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIG_LAYERS, FAKE_PICKER, listOpfs, NO_PICKER, startHarness, writeBigAdapter, type Harness } from './harness';

const LAYERS = BIG_LAYERS;

let h: Harness;
let scratch: string;
let adapterDir: string;
let adapterBytes = 0;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-big-'));
  adapterDir = join(scratch, 'big-llama-lora');
  adapterBytes = writeBigAdapter(adapterDir);
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function startAndCancel(page: Page) {
  await page.getByTestId('adapter-folder-input').setInputFiles(adapterDir);
  await page.getByTestId('preflight').waitFor();
  await page.getByTestId('convert').click();
  await page.getByTestId('progress').waitFor();
  // Mid-way: some tensors written, far from the end.
  await expect
    .poll(async () => Number(((await page.getByTestId('progress-tensors').textContent()) ?? '0').split('/')[0]), { timeout: 60_000 })
    .toBeGreaterThanOrEqual(3);
  const done = Number(((await page.getByTestId('progress-tensors').textContent()) ?? '0').split('/')[0]);
  expect(done).toBeLessThan(LAYERS * 14);
  await page.getByTestId('cancel').click();
  await page.getByTestId('notice').waitFor({ timeout: 30_000 });
  expect(await page.getByTestId('notice').textContent()).toMatch(/cancelled\. Nothing was written/i);
}

describe('cancel a large conversion', () => {
  test('the adapter is large enough', () => {
    expect(adapterBytes).toBeGreaterThanOrEqual(200 * 1024 * 1024);
  });

  test('save picker: cancel leaves no file; the next conversion succeeds', async () => {
    const page = await h.context.newPage();
    try {
      await page.addInitScript(FAKE_PICKER);
      await page.goto(h.url);
      await startAndCancel(page);
      await expect.poll(() => listOpfs(page, 'e2e-saved')).toEqual([]);
      // Again (f16, to keep the suite short): it goes through, verified.
      await page.getByTestId('outtype-f16').check();
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toContain('F16');
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor({ timeout: 120_000 });
      expect(await listOpfs(page, 'e2e-saved')).toEqual(['big-llama-lora-F16-LoRA.gguf']);
      expect(await page.getByTestId('result-tensors').textContent()).toBe(String(LAYERS * 14));
    } finally {
      await page.close();
    }
  });

  test('fallback (no picker): cancel removes the temporary OPFS file', async () => {
    const page = await h.context.newPage();
    try {
      await page.addInitScript(NO_PICKER);
      await page.goto(h.url);
      await startAndCancel(page);
      await expect.poll(() => listOpfs(page, 'lora2gguf-tmp')).toEqual([]);
      expect(await page.getByTestId('convert').isEnabled()).toBe(true);
    } finally {
      await page.close();
    }
  });
});
