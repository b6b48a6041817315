/**
 * Fixture adapters of several architectures given through the folder picker → preflight →
 * convert (f16 and q8_0) → the saved file is byte-identical to the core's output for the same
 * inputs, options and name (what the CLI writes). Then the same without the save picker: the
 * download's bytes are identical too, and the temporary OPFS file goes away afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceCases } from '../test/helpers/fixtures';
import { bytesEqual, expectedBytes, FAKE_PICKER, listOpfs, NO_PICKER, readSaved, stageCase, startHarness, type Harness } from './harness';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const CASES = [
  { caseName: 'llama_bf16_f16', architecture: 'LlamaForCausalLM' },
  { caseName: 'gemma2_bf16_f16', architecture: 'Gemma2ForCausalLM' },
  { caseName: 'qwen2_bf16_f16', architecture: 'Qwen2ForCausalLM' },
  { caseName: 'phi3_bf16_f16', architecture: 'Phi3ForCausalLM' },
  { caseName: 'mixtral_bf16_f16', architecture: 'MixtralForCausalLM' },
];

function reference(caseName: string) {
  return referenceCases().find((c) => c.name === caseName)!;
}

async function openWith(page: Page, dir: string) {
  await page.goto(h.url);
  await page.getByTestId('adapter-folder-input').setInputFiles(dir);
  await page.getByTestId('preflight').waitFor();
}

async function convertWith(page: Page, outtype: 'f16' | 'q8_0') {
  await page.getByTestId(`outtype-${outtype}`).check();
  // The plan follows the outtype: the file name shows it before converting.
  await expect.poll(() => page.getByTestId('output-file-name').textContent()).toContain(`-${outtype.toUpperCase()}-LoRA.gguf`);
  await page.getByTestId('convert').click();
  await page.getByTestId('result').waitFor();
}

describe('convert through the save picker (replaced by an OPFS handle)', () => {
  test.each(CASES)('$caseName: preflight, then f16 and q8_0 byte-identical to the core', async ({ caseName, architecture }) => {
    const c = reference(caseName);
    const staged = stageCase(caseName, c.adapterDirName);
    const page = await h.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.addInitScript(FAKE_PICKER);
      await openWith(page, staged.dir);
      expect(await page.getByTestId('architecture').textContent()).toBe(architecture);
      // The reference converter's tensor count for this adapter (independent of our code).
      const expectedCount = (c.expected as { file: { tensor_count: number } }).file.tensor_count;
      expect(await page.getByTestId('output-tensor-count').textContent()).toBe(String(expectedCount));
      expect(await page.getByTestId('tensor-count').textContent()).toBe(`${expectedCount} output tensors`);
      // The name defaults to the dropped folder's name.
      expect(await page.getByTestId('output-name').inputValue()).toBe(c.adapterDirName);

      for (const outtype of ['f16', 'q8_0'] as const) {
        await convertWith(page, outtype);
        const fileName = `${c.adapterDirName}-${outtype.toUpperCase()}-LoRA.gguf`;
        const saved = await readSaved(page, fileName);
        const expected = await expectedBytes(staged.dir, { outtype, name: c.adapterDirName });
        expect(saved.byteLength).toBe(expected.byteLength);
        expect(bytesEqual(saved, expected), `${caseName} ${outtype} bytes`).toBe(true);
        expect(await page.getByTestId('result-tensors').textContent()).toBe(String(expectedCount));
        // How it went: the elapsed time and the speed, and the shareable link offered again.
        expect(await page.getByTestId('result-time').textContent()).toMatch(/^\d+(\.\d+)? s$|^\d+ min \d+ s$/);
        expect(await page.getByTestId('result-speed').textContent()).toMatch(/^\d+(\.\d)? MB\/s of input$/);
        expect(await page.getByTestId('copy-link').isVisible()).toBe(true);
        expect(await page.getByTestId('usage-cli').textContent()).toContain(`--lora ${fileName}`);
        await page.getByRole('button', { name: 'Convert again with other options' }).click();
        await page.getByTestId('preflight').waitFor();
      }
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('an edited name goes into general.name and the file name', async () => {
    const c = reference('llama_bf16_f16');
    const staged = stageCase(c.name, 'some-folder');
    const page = await h.context.newPage();
    try {
      await page.addInitScript(FAKE_PICKER);
      await openWith(page, staged.dir);
      expect(await page.getByTestId('output-name').inputValue()).toBe('some-folder');
      await page.getByTestId('output-name').fill('My Adapter v2');
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe('My-Adapter-v2-F32-LoRA.gguf');
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      const saved = await readSaved(page, 'My-Adapter-v2-F32-LoRA.gguf');
      expect(bytesEqual(saved, await expectedBytes(staged.dir, { outtype: 'f32', name: 'My Adapter v2' }))).toBe(true);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });
});

describe('other ways in', () => {
  test('several files dropped on the drop zone (no folder): recognised, converted byte-identically', async () => {
    const c = reference('qwen2_bf16_f16');
    const staged = stageCase(c.name, c.adapterDirName);
    const page = await h.context.newPage();
    try {
      await page.addInitScript(FAKE_PICKER);
      await page.goto(h.url);
      const files = ['adapter_config.json', 'adapter_model.safetensors', 'base/config.json'].map((p) => ({
        name: p.split('/').pop()!,
        b64: readFileSync(join(staged.dir, p)).toString('base64'),
      }));
      const dt = await page.evaluateHandle((list) => {
        const t = new DataTransfer();
        for (const f of list) t.items.add(new File([Uint8Array.from(atob(f.b64), (ch) => ch.charCodeAt(0))], f.name));
        return t;
      }, files);
      await page.dispatchEvent('[data-testid="adapter-dropzone"]', 'drop', { dataTransfer: dt });
      await page.getByTestId('preflight').waitFor();
      expect(await page.getByTestId('architecture').textContent()).toBe('Qwen2ForCausalLM');
      // Loose files have no folder: the name falls back to "adapter".
      expect(await page.getByTestId('output-name').inputValue()).toBe('adapter');
      await convertWith(page, 'f16');
      const saved = await readSaved(page, 'adapter-F16-LoRA.gguf');
      expect(bytesEqual(saved, await expectedBytes(staged.dir, { outtype: 'f16', name: 'adapter' }))).toBe(true);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('keyboard only: the sample, an output type and Convert, with a visible focus ring', async () => {
    const page = await h.context.newPage();
    try {
      await page.addInitScript(FAKE_PICKER);
      await page.goto(h.url);
      const focusTo = async (name: string) => {
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press('Tab');
          if ((await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '')) === name) return;
        }
        throw new Error(`could not Tab to ${name}`);
      };
      await focusTo('Choose files');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      expect(outline).toBe('solid');
      await focusTo('Try a sample');
      await page.keyboard.press('Enter');
      await page.getByTestId('preflight').waitFor();
      await page.getByTestId('outtype-f32').focus();
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toContain('-F16-LoRA.gguf');
      await focusTo('Convert and save…');
      await page.keyboard.press('Enter');
      await page.getByTestId('result').waitFor();
      expect(await page.getByTestId('result-tensors').textContent()).toBe('28');
    } finally {
      await page.close();
    }
  });
});

describe('fallback without the save picker: OPFS then a download', () => {
  test.each([CASES[0]!, CASES[4]!])('$caseName q8_0: the download is byte-identical; the temporary file is removed afterwards', async ({ caseName }) => {
    const c = reference(caseName);
    const staged = stageCase(caseName, c.adapterDirName);
    const page = await h.context.newPage();
    try {
      await page.addInitScript(NO_PICKER);
      await openWith(page, staged.dir);
      expect(await page.getByTestId('convert').textContent()).toBe('Convert');
      await convertWith(page, 'q8_0');
      expect(await listOpfs(page, 'lora2gguf-tmp')).toHaveLength(1);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
      const fileName = `${c.adapterDirName}-Q8_0-LoRA.gguf`;
      expect(download.suggestedFilename()).toBe(fileName);
      const got = new Uint8Array(readFileSync((await download.path())!));
      expect(bytesEqual(got, await expectedBytes(staged.dir, { outtype: 'q8_0', name: c.adapterDirName }))).toBe(true);
      await page.getByRole('button', { name: 'Convert another adapter' }).click();
      await expect.poll(() => listOpfs(page, 'lora2gguf-tmp')).toEqual([]);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('a temporary file left by a closed tab is removed at the next start', async () => {
    const page = await h.context.newPage();
    try {
      await page.goto(h.url);
      await page.evaluate(async () => {
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle('lora2gguf-tmp', { create: true });
        const w = await (await dir.getFileHandle('left-over.gguf', { create: true })).createWritable();
        await w.write(new Uint8Array(1000));
        await w.close();
      });
      expect(await listOpfs(page, 'lora2gguf-tmp')).toEqual(['left-over.gguf']);
      await page.reload();
      await expect.poll(() => listOpfs(page, 'lora2gguf-tmp')).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
