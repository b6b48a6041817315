/**
 * Refusals and broken inputs: the tied lm_head refusal (nothing written) and its opt-in (converts,
 * the warning stays visible); a corrupt safetensors file, a base model folder instead of an
 * adapter, an unsupported architecture, a missing base config — each gets a clear message and
 * the page keeps working.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REFERENCE } from '../test/helpers/fixtures';
import { buildSafetensors } from '../test/helpers/safetensors-build';
import { bytesEqual, expectedBytes, FAKE_PICKER, listOpfs, readSaved, stageCase, startHarness, type Harness } from './harness';

let h: Harness;
let scratch: string;
beforeAll(async () => {
  h = await startHarness();
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-problems-'));
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function fresh(): Promise<Page> {
  const page = await h.context.newPage();
  await page.addInitScript(FAKE_PICKER);
  await page.goto(h.url);
  return page;
}

/** The page still works: start over, try the sample, see its preflight. */
async function stillWorks(page: Page) {
  await page.getByRole('button', { name: 'Start over' }).click();
  await page.getByRole('button', { name: 'Try a sample' }).click();
  await page.getByTestId('architecture').waitFor();
  expect(await page.getByTestId('architecture').textContent()).toBe('LlamaForCausalLM');
  expect(await page.getByTestId('convert').isEnabled()).toBe(true);
}

describe('tied lm_head (Gemma 2)', () => {
  test('refused with the explanation, nothing written; with the opt-in it converts and the warning stays', async () => {
    const staged = stageCase('gemma2_lm_head', 'gemma2-lm-head');
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      const refusal = page.getByTestId('refusal');
      await refusal.first().waitFor();
      expect(await refusal.first().getAttribute('data-code')).toBe('tied_head');
      const text = (await refusal.first().textContent())!;
      expect(text).toMatch(/lm_head/);
      expect(text).toMatch(/tie/);
      expect(text).toMatch(/What to do/);
      expect(await page.getByTestId('convert').isDisabled()).toBe(true);
      expect(await page.evaluate(() => (window as unknown as { __picked: string[] }).__picked)).toEqual([]);
      expect(await listOpfs(page, 'e2e-saved')).toEqual([]);

      await page.getByTestId('drop-unapplied').check();
      await expect.poll(() => page.getByTestId('refusal').count()).toBe(0);
      const warning = page.locator('[data-testid="warning"][data-code="dropped"]');
      await warning.waitFor();
      expect(await warning.textContent()).toMatch(/lm_head/);
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      expect(await page.locator('[data-testid="result"] [data-testid="warning"][data-code="dropped"]').count()).toBe(1);
      const saved = await readSaved(page, 'gemma2-lm-head-F32-LoRA.gguf');
      expect(bytesEqual(saved, await expectedBytes(staged.dir, { outtype: 'f32', name: 'gemma2-lm-head', dropUnapplied: true }))).toBe(true);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });
});

describe('NaN and infinite values', () => {
  test('found as the values stream: the conversion stops naming the tensor, nothing is left; "write them as they are" converts', async () => {
    const staged = stageCase('llama_edge_f32_bf16', 'nan-adapter');
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      await page.getByTestId('preflight').waitFor();
      expect(await page.getByTestId('values-checked').textContent()).toMatch(/checked as they stream/);
      await page.getByTestId('outtype-bf16').check();
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toContain('-BF16-');
      await page.getByTestId('convert').click();
      const error = page.getByTestId('convert-error');
      await error.waitFor();
      expect(await error.textContent()).toMatch(/NaN or infinite/);
      expect(await error.textContent()).toMatch(/blk\.\d+\.\w+\.weight\.lora_[ab]/);
      // The picked file was created by the picker, then removed: nothing is left.
      expect((await listOpfs(page, 'e2e-saved')).filter((f) => f.startsWith('nan-adapter'))).toEqual([]);

      await page.getByTestId('keep-non-finite').check();
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      expect(await page.getByTestId('result-non-finite').textContent()).toMatch(/blk\.\d+/);
      expect((await listOpfs(page, 'e2e-saved')).filter((f) => f.startsWith('nan-adapter'))).toEqual(['nan-adapter-BF16-LoRA.gguf']);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });
});

describe('broken and wrong inputs never break the page', () => {
  test('a truncated adapter_model.safetensors given as loose files', async () => {
    const src = join(REFERENCE, 'llama_bf16_f16', 'input');
    const dir = join(scratch, 'truncated');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'adapter_config.json'), readFileSync(join(src, 'adapter_config.json')));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(src, 'base', 'config.json')));
    writeFileSync(join(dir, 'adapter_model.safetensors'), readFileSync(join(src, 'adapter_model.safetensors')).subarray(0, 100));
    const page = await fresh();
    try {
      await page.getByTestId('adapter-files-input').setInputFiles(['adapter_config.json', 'config.json', 'adapter_model.safetensors'].map((f) => join(dir, f)));
      const problem = page.getByTestId('problem-malformed_safetensors');
      await problem.waitFor();
      expect(await problem.textContent()).toMatch(/adapter_model\.safetensors is not a readable safetensors file/);
      expect(await page.getByTestId('preflight').count()).toBe(0);
      await stillWorks(page);
    } finally {
      await page.close();
    }
  });

  test('a safetensors header whose offsets do not fit: the core’s malformed_header in words', async () => {
    const src = join(REFERENCE, 'llama_bf16_f16', 'input');
    const dir = join(scratch, 'bad-offsets');
    mkdirSync(join(dir, 'base'), { recursive: true });
    writeFileSync(join(dir, 'adapter_config.json'), readFileSync(join(src, 'adapter_config.json')));
    writeFileSync(join(dir, 'base', 'config.json'), readFileSync(join(src, 'base', 'config.json')));
    const bytes = buildSafetensors([
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', shape: [8, 64] },
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', dtype: 'F32', shape: [64, 8] },
    ]);
    // Cut the data short: the header's offsets now point past the end of the file.
    writeFileSync(join(dir, 'adapter_model.safetensors'), bytes.subarray(0, bytes.length - 512));
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(dir);
      const err = page.getByTestId('plan-error');
      await err.waitFor();
      expect(await err.getAttribute('data-code')).toBe('malformed_header');
      expect(await err.textContent()).toMatch(/damaged or not what its name says/);
      expect(await err.textContent()).toMatch(/What to do/);
      await stillWorks(page);
    } finally {
      await page.close();
    }
  });

  test('a base model folder instead of an adapter', async () => {
    const dir = join(scratch, 'Llama-base');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), readFileSync(join(REFERENCE, 'llama_bf16_f16', 'input', 'base', 'config.json')));
    writeFileSync(join(dir, 'model.safetensors'), buildSafetensors([{ name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F32', shape: [64, 64] }]));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', added_tokens: [], model: { type: 'BPE' }, normalizer: null }));
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(dir);
      const problem = page.getByTestId('problem-base_model_not_adapter');
      await problem.waitFor();
      expect(await problem.textContent()).toMatch(/looks like a base model, not an adapter/);
      await stillWorks(page);
    } finally {
      await page.close();
    }
  });

  test('an unsupported architecture', async () => {
    const staged = stageCase('unknown_arch', 'custom-lora');
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      const err = page.getByTestId('plan-error');
      await err.waitFor();
      expect(await err.getAttribute('data-code')).toBe('unsupported_architecture');
      expect(await err.textContent()).toMatch(/MyCustomForCausalLM/);
      await stillWorks(page);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });

  test('no base config: the base the adapter names is shown, and its config.json can be dropped after', async () => {
    const src = join(REFERENCE, 'qwen2_bf16_f16', 'input');
    const dir = join(scratch, 'qwen-no-base');
    mkdirSync(dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(src, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    cfg['base_model_name_or_path'] = 'Qwen/Qwen2.5-0.5B-Instruct-e2e';
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(cfg));
    writeFileSync(join(dir, 'adapter_model.safetensors'), readFileSync(join(src, 'adapter_model.safetensors')));
    const page = await fresh();
    try {
      await page.getByTestId('adapter-folder-input').setInputFiles(dir);
      await page.getByTestId('base-prompt').waitFor();
      expect(await page.getByTestId('base-model-name').textContent()).toBe('Qwen/Qwen2.5-0.5B-Instruct-e2e');
      // A wrong file first: explained, nothing breaks.
      await page.getByTestId('base-files-input').setInputFiles(join(dir, 'adapter_config.json'));
      await expect.poll(() => page.getByTestId('base-prompt').textContent()).toMatch(/adapter's configuration/);
      await page.getByTestId('base-files-input').setInputFiles(join(src, 'base', 'config.json'));
      await page.getByTestId('architecture').waitFor();
      expect(await page.getByTestId('architecture').textContent()).toBe('Qwen2ForCausalLM');
      expect(await page.getByTestId('base-prompt').count()).toBe(0);
    } finally {
      await page.close();
    }
  });
});
