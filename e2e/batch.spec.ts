/**
 * Converting many in the page: a training run's folder of three checkpoints (one with damaged
 * weights) and the base's config.json is listed with steps, ranks and sizes; all three converted
 * one after another into a folder the user picks: two files with the core's bytes, one clear
 * failure, nothing left of it, and a summary.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REFERENCE } from '../test/helpers/fixtures';
import { bytesEqual, expectedBytes, listOpfs, startHarness, type Harness } from './harness';

const INPUT = join(REFERENCE, 'llama_bf16_f16', 'input');
let h: Harness;
let scratch: string;
let run: string;

/** The folder dialog replaced by an OPFS folder (Playwright cannot click native dialogs). */
const FAKE_DIRECTORY_PICKER = `
  window.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('e2e-batch', { create: true });
`;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-batch-'));
  run = join(scratch, 'my-run');
  const weights = readFileSync(join(INPUT, 'adapter_model.safetensors'));
  for (const [step, broken] of [
    [500, false],
    [1000, true],
    [1500, false],
  ] as const) {
    const dir = join(run, `checkpoint-${step}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(INPUT, 'adapter_config.json'), join(dir, 'adapter_config.json'));
    writeFileSync(join(dir, 'adapter_model.safetensors'), broken ? weights.subarray(0, weights.byteLength - 4096) : weights);
  }
  copyFileSync(join(INPUT, 'base', 'config.json'), join(run, 'config.json'));
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function opfsFile(page: import('playwright-core').Page, name: string): Promise<Uint8Array> {
  const b64 = await page.evaluate(async (n) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('e2e-batch');
    const bytes = new Uint8Array(await (await (await dir.getFileHandle(n)).getFile()).arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, name);
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

describe('a folder of checkpoints', () => {
  test('listed, converted one after another into the picked folder; the broken one fails alone, in words', async () => {
    const page = await h.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.addInitScript(FAKE_DIRECTORY_PICKER);
      await page.goto(h.url);
      await page.getByTestId('adapter-folder-input').setInputFiles(run);
      const batch = page.getByTestId('batch');
      await batch.waitFor();
      const rows = page.getByTestId('batch-item');
      expect(await rows.count()).toBe(3);
      expect(await rows.nth(0).textContent()).toMatch(/checkpoint-500.*500.*8/);
      await page.getByTestId('batch-convert').click();
      await page.getByTestId('batch-summary').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('batch-summary').textContent()).toBe('2 converted, 1 failed.');
      expect(await rows.nth(1).getAttribute('data-status')).toBe('failed');
      expect(await rows.nth(1).getByTestId('batch-status').textContent()).toMatch(/^failed: .+/);
      expect((await listOpfs(page, 'e2e-batch')).sort()).toEqual(['checkpoint-1500-F32-LoRA.gguf', 'checkpoint-500-F32-LoRA.gguf']);
      for (const label of ['checkpoint-500', 'checkpoint-1500']) {
        const staged = join(scratch, 'expected');
        mkdirSync(join(staged, 'base'), { recursive: true });
        copyFileSync(join(run, label, 'adapter_config.json'), join(staged, 'adapter_config.json'));
        copyFileSync(join(run, label, 'adapter_model.safetensors'), join(staged, 'adapter_model.safetensors'));
        copyFileSync(join(run, 'config.json'), join(staged, 'base', 'config.json'));
        expect(bytesEqual(await opfsFile(page, `${label}-F32-LoRA.gguf`), await expectedBytes(staged, { outtype: 'f32', name: label }))).toBe(true);
      }
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
