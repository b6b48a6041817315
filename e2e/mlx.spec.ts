/**
 * MLX adapters in the page: a folder as mlx_lm.lora leaves it (adapter_config.json with the
 * training arguments, adapters.safetensors, numbered checkpoints) plus the base's config.json is
 * recognised, described in the preflight, converted to the PEFT conversion's bytes, and its link
 * records the format; a DoRA one is refused in words.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REFERENCE } from '../test/helpers/fixtures';
import { peftToMlx, writeSafetensors } from '../test/helpers/mlx';
import { bytesEqual, expectedBytes, FAKE_PICKER, readSaved, startHarness, type Harness } from './harness';

let h: Harness;
let scratch: string;
const CASE = join(REFERENCE, 'llama_bf16_f16', 'input');

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-e2e-mlx-'));
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * An mlx_lm.lora output folder named `name`, with the base model as an mlx-community download
 * beside the adapter files (config.json with its quantization block, quantized weights, tokenizer).
 */
function mlxFolder(name: string, fineTuneType: 'lora' | 'dora' = 'lora'): string {
  const dir = join(scratch, name);
  const model = join(dir, 'Tiny-Llama-4bit');
  mkdirSync(model, { recursive: true });
  const mlx = peftToMlx(
    readFileSync(join(CASE, 'adapter_config.json'), 'utf8'),
    new Uint8Array(readFileSync(join(CASE, 'adapter_model.safetensors'))),
    readFileSync(join(CASE, 'base', 'config.json'), 'utf8'),
    { fineTuneType, numLayers: 1 },
  );
  writeFileSync(join(dir, 'adapter_config.json'), mlx.config);
  writeFileSync(join(dir, 'adapters.safetensors'), mlx.weights);
  writeFileSync(join(dir, '0000100_adapters.safetensors'), mlx.weights);
  const config = JSON.parse(readFileSync(join(CASE, 'base', 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, quantization: { group_size: 64, bits: 4 } }));
  writeFileSync(
    join(model, 'model.safetensors'),
    writeSafetensors([{ name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'U32', shape: [8, 8], data: new Uint8Array(256) }], { format: 'mlx' }),
  );
  writeFileSync(join(model, 'tokenizer.json'), JSON.stringify({ version: '1.0', added_tokens: [], model: { type: 'BPE' }, normalizer: null }));
  return dir;
}

async function open(dir: string): Promise<{ page: Page; errors: string[] }> {
  const page = await h.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(FAKE_PICKER);
  await page.goto(h.url);
  await page.getByTestId('adapter-folder-input').setInputFiles(dir);
  return { page, errors };
}

describe('MLX adapters in the page', () => {
  test('an mlx_lm.lora folder with its mlx-community base converts to the PEFT conversion’s bytes; the preflight says what it is; the link records it', async () => {
    const dir = mlxFolder('my-mlx-lora');
    const { page, errors } = await open(dir);
    try {
      await page.getByTestId('preflight').waitFor();
      expect(await page.getByTestId('adapter-format').textContent()).toBe('MLX adapter (mlx-lm)');
      expect(await page.getByTestId('alpha').textContent()).toMatch(/^2 \(written as α = scale × r = 16\)$/);
      const layers = (JSON.parse(readFileSync(join(CASE, 'base', 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
      expect(await page.getByTestId('layers').textContent()).toContain(`layer ${layers - 1} (num_layers 1, counted from the last)`);
      expect(await page.getByText("Using my-mlx-lora/adapters.safetensors, mlx-lm's final weights").count()).toBe(1);
      // Tensor sources are named as in the MLX file.
      expect(await page.locator('body').textContent()).toContain('model.layers.0.self_attn.q_proj.lora_a');

      await page.getByTestId('outtype-f16').check();
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe('my-mlx-lora-F16-LoRA.gguf');
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      const saved = await readSaved(page, 'my-mlx-lora-F16-LoRA.gguf');
      expect(bytesEqual(saved, await expectedBytes(CASE, { outtype: 'f16', name: 'my-mlx-lora' }))).toBe(true);

      await page.getByTestId('copy-link').click();
      const url = await page.getByTestId('share-link').inputValue();
      expect(url).toContain('format=mlx');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('a DoRA one is refused in words, with how to fuse it instead; the page keeps working', async () => {
    const { page, errors } = await open(mlxFolder('my-mlx-dora', 'dora'));
    try {
      const err = page.getByTestId('plan-error');
      await err.waitFor();
      expect(await err.getAttribute('data-code')).toBe('dora');
      const text = (await err.textContent()) ?? '';
      expect(text).toContain('fine_tune_type "dora"');
      expect(text).toContain('mlx_lm.fuse');
      expect(await page.getByRole('button', { name: 'Start over' }).isEnabled()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
