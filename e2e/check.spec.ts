/**
 * "Will it load?" in the page: a 3 GiB base GGUF (written sparse here) chosen beside an adapter's
 * preflight is judged from its header alone; a base with fewer layers is refused with its likely
 * cause; a dropped GGUF adapter is inspected (pairs, scale, flags) and checked against a base of
 * another family; a truncated one is flagged.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bytesSource, readGgufHeader, type GgufHeaderRead } from '../src/core';
import type { GgufTensorInfo } from '../src/core/gguf/writer';
import { baseTensorsFor, writeSparseBase } from '../test/helpers/gguf-base';
import { expectedBytes, FAKE_PICKER, stageCase, startHarness, type Harness } from './harness';

let h: Harness;
let scratch: string;
let adapterBytes: Uint8Array;
let adapter: GgufHeaderRead;
const staged = stageCase('llama_bf16_f16', 'llama-lora');

const baseTensors = (keep?: (name: string) => boolean) => baseTensorsFor(adapter, keep);

function writeBase(name: string, arch: string, tensors: GgufTensorInfo[], blocks: number, size = 3 * 2 ** 30): string {
  const path = join(scratch, name);
  // A tokenizer-sized array in the header, as real bases have: stepped over by the reader.
  const tokens = { key: 'tokenizer.ggml.tokens', type: 'ARRAY' as const, itemType: 'STRING' as const, value: Array.from({ length: 32000 }, (_, i) => `tok${i}`) };
  writeSparseBase(path, { arch, name: `Tiny ${arch} base`, blocks, tensors, size, extra: [tokens] });
  return path;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-check-'));
  adapterBytes = await expectedBytes(staged.dir, { outtype: 'f16', name: 'llama-lora' });
  adapter = await readGgufHeader(bytesSource(adapterBytes));
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  staged.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

async function fresh(): Promise<{ page: Page; errors: string[] }> {
  const page = await h.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(FAKE_PICKER);
  await page.goto(h.url);
  return { page, errors };
}

describe('will it load on this base model?', () => {
  test('before converting: a 3 GiB base is judged compatible from its header alone', async () => {
    const base = writeBase('Tiny-Llama-F16.gguf', 'llama', baseTensors(), 2);
    const { page, errors } = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      await page.getByTestId('preflight').waitFor();
      const started = Date.now();
      await page.getByTestId('base-gguf-input').setInputFiles(base);
      const verdict = page.getByTestId('check-verdict');
      await verdict.waitFor();
      console.log(`base check verdict shown ${Date.now() - started} ms after the base was chosen`);
      expect(await verdict.getAttribute('data-compatible')).toBe('true');
      expect(await verdict.textContent()).toContain(`Compatible with Tiny llama base (Tiny-Llama-F16.gguf): ${adapter.tensors.length / 2} LoRA pairs checked.`);
      // Only the header was read: well under 2 MB of the 3 GiB.
      const read = (await page.getByTestId('check-bytes').textContent())!;
      expect(read).toMatch(/^Read [\d.]+ (B|KiB|MiB) of 3\.00 GiB\.$/);
      expect(read).not.toMatch(/Read ([2-9]|\d\d+)(\.\d+)? MiB/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('a base with fewer layers: not compatible, each problem with its likely cause', async () => {
    const base = writeBase('Tiny-Llama-1-layer.gguf', 'llama', baseTensors((n) => !n.startsWith('blk.1.')), 1);
    const { page } = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      await page.getByTestId('preflight').waitFor();
      await page.getByTestId('base-gguf-input').setInputFiles(base);
      await page.getByTestId('check-verdict').waitFor();
      expect(await page.getByTestId('check-verdict').getAttribute('data-compatible')).toBe('false');
      const problem = page.getByTestId('check-problem').first();
      expect(await problem.getAttribute('data-code')).toBe('missing_tensor');
      expect(await problem.textContent()).toContain('Likely cause: The adapter was trained on a model with 2 layers; this base has 1.');
    } finally {
      await page.close();
    }
  });

  test('a dropped GGUF adapter is inspected, and checked against a base of another family', async () => {
    const file = join(scratch, 'llama-lora-F16-LoRA.gguf');
    writeFileSync(file, adapterBytes);
    const base = writeBase('Tiny-Qwen2.gguf', 'qwen2', baseTensors(), 2);
    const { page, errors } = await fresh();
    try {
      await page.getByTestId('adapter-files-input').setInputFiles(file);
      await page.getByTestId('gguf-adapter').waitFor();
      expect(await page.getByTestId('gguf-arch').textContent()).toBe('llama');
      expect(await page.getByTestId('gguf-ok').textContent()).toBe('Nothing llama.cpp would reject.');
      expect(await page.getByTestId('gguf-pair').count()).toBe(adapter.tensors.length / 2);
      await page.getByTestId('base-gguf-input').setInputFiles(base);
      await page.getByTestId('check-verdict').waitFor();
      expect(await page.getByTestId('check-problem').first().getAttribute('data-code')).toBe('architecture');
      expect(await page.getByTestId('check-problem').first().textContent()).toContain('model arch and LoRA arch mismatch');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('a truncated GGUF adapter: flagged, with the likely cause', async () => {
    const file = join(scratch, 'cut-F16-LoRA.gguf');
    writeFileSync(file, adapterBytes.subarray(0, adapterBytes.byteLength - 1000));
    const { page } = await fresh();
    try {
      await page.getByTestId('adapter-files-input').setInputFiles(file);
      await page.getByTestId('gguf-flags').waitFor();
      expect(await page.getByTestId('gguf-flags').textContent()).toMatch(/tensor data past the end of the file.*Likely cause: The file is truncated/);
    } finally {
      await page.close();
    }
  });

  test('a base .gguf dropped together with the adapter folder is checked at once', async () => {
    const withBase = join(scratch, 'llama-lora-with-base');
    cpSync(staged.dir, withBase, { recursive: true });
    writeBase(join('llama-lora-with-base', 'Tiny-Llama-F16.gguf'), 'llama', baseTensors(), 2);
    const { page, errors } = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(withBase);
      await page.getByTestId('preflight').waitFor();
      const verdict = page.getByTestId('check-verdict');
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-compatible')).toBe('true');
      expect(await page.locator('body').textContent()).toContain('is taken as the base model to check the adapter against');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
