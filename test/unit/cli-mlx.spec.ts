/**
 * The CLI on mlx-lm adapter folders: adapters.safetensors beside numbered checkpoints (the final
 * weights win), a folder of checkpoints only (the latest, with a note), the base found from the
 * config's `model` (a local model folder, quantization block and all), the plan in words, and
 * DoRA / full fine-tunes refused with what to do.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink } from '../../src/core';
import { REFERENCE } from '../helpers/fixtures';
import { peftToMlx, writeSafetensors } from '../helpers/mlx';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'lora2gguf.cjs');
const work = mkdtempSync(join(tmpdir(), 'l2g-cli-mlx-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

const input = join(REFERENCE, 'llama_bf16_f16', 'input');
const peftConfig = readFileSync(join(input, 'adapter_config.json'), 'utf8');
const peftWeights = new Uint8Array(readFileSync(join(input, 'adapter_model.safetensors')));
const baseConfig = readFileSync(join(input, 'base', 'config.json'), 'utf8');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An mlx_lm.lora output folder: adapter_config.json, adapters.safetensors and/or checkpoints. */
function mlxFolder(options: { final?: boolean; checkpoints?: number[]; model?: string; fineTuneType?: 'lora' | 'dora' | 'full' } = {}): string {
  const dir = join(work, `run-${n++}`, 'adapters');
  mkdirSync(dir, { recursive: true });
  const mlx = peftToMlx(peftConfig, peftWeights, baseConfig, { model: options.model, fineTuneType: options.fineTuneType, numLayers: 2 });
  writeFileSync(join(dir, 'adapter_config.json'), mlx.config);
  if (options.final ?? true) writeFileSync(join(dir, 'adapters.safetensors'), mlx.weights);
  for (const step of options.checkpoints ?? []) {
    // A checkpoint whose factors are all zero: converting it instead of the final weights would show.
    const zeros = writeSafetensors(
      mlx.names.map((name) => ({ name, dtype: 'BF16', shape: [1, 1], data: new Uint8Array(2) })),
      { format: 'mlx' },
    );
    writeFileSync(join(dir, `${String(step).padStart(7, '0')}_adapters.safetensors`), step === Math.max(...options.checkpoints!) ? mlx.weights : zeros);
  }
  return dir;
}

async function peftConversion(name: string): Promise<Uint8Array> {
  const source = bytesSource(peftWeights);
  const plan = await inspect({ adapterConfig: peftConfig, baseConfig, adapter: source }, { outtype: 'f16', name });
  const sink = new MemorySink();
  await convert(plan, source, sink);
  return sink.bytes();
}

describe('lora2gguf on an mlx-lm adapter folder', () => {
  it('converts adapters.safetensors (not the checkpoints beside it) to the PEFT conversion, byte for byte', async () => {
    const dir = mlxFolder({ checkpoints: [100, 200] });
    writeFileSync(join(dir, '0000100_adapters.safetensors'), 'not even safetensors');
    const out = join(work, 'final.gguf');
    const r = run([dir, '--base', join(input, 'base'), '--outtype', 'f16', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(await peftConversion('adapters')))).toBe(true);
    expect(r.stderr).not.toMatch(/checkpoint/);
  });

  it('a folder of checkpoints only: the latest step, with a note', async () => {
    const dir = mlxFolder({ final: false, checkpoints: [100, 1000, 200] });
    const out = join(work, 'latest.gguf');
    const r = run([dir, '--base', join(input, 'base'), '--outtype', 'f16', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("note: no adapters.safetensors: converting mlx-lm's latest checkpoint, 0001000_adapters.safetensors (step 1000, of 3)");
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(await peftConversion('adapters')))).toBe(true);
  });

  it("finds the base in the model folder the config names (an mlx-community download: quantization block, no weights needed)", () => {
    const modelDir = join(work, 'models', 'Tiny-Llama-4bit');
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ ...JSON.parse(baseConfig), quantization: { group_size: 64, bits: 4 } }));
    const dir = mlxFolder({ model: modelDir });
    const r = run([dir, '--outtype', 'f16', '-o', join(work, 'found.gguf')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`base config: ${join(modelDir, 'config.json')} (the model folder mlx-lm trained on, named in adapter_config.json)`);
  });

  it('without a base it names the model and says to pass the model folder', () => {
    const dir = mlxFolder({ model: 'someone/not-in-the-catalogue-4bit' });
    const r = run([dir, '-o', join(work, 'none.gguf')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('This MLX adapter was trained on "someone/not-in-the-catalogue-4bit"');
    expect(r.stderr).toContain('--base <the model folder given to mlx_lm.lora>');
  });

  it('--dry-run describes it as an MLX adapter: rank, scale, the layers num_layers covers, targets', () => {
    const r = run([mlxFolder(), '--base', join(input, 'base'), '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const layers = (JSON.parse(baseConfig) as { num_hidden_layers: number }).num_hidden_layers;
    const scale = (JSON.parse(peftConfig) as { lora_alpha: number; r: number }).lora_alpha / (JSON.parse(peftConfig) as { r: number }).r;
    expect(r.stdout).toContain(`Adapter: MLX adapter (mlx-lm): rank ${(JSON.parse(peftConfig) as { r: number }).r}, scale ${scale}, layers ${layers - 2}–${layers - 1} (num_layers 2, counted from the last)`);
  });

  for (const type of ['dora', 'full'] as const) {
    it(`fine_tune_type "${type}" is refused in words, with how to fuse instead, and nothing is written`, () => {
      const out = join(work, `${type}.gguf`);
      const r = run([mlxFolder({ fineTuneType: type }), '--base', join(input, 'base'), '-o', out]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`fine_tune_type "${type}"`);
      expect(r.stderr).toContain('mlx_lm.fuse');
      expect(() => readFileSync(out)).toThrow();
    });
  }
});
