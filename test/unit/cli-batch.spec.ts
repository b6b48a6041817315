/**
 * `lora2gguf <folder>` on a training run's folder of checkpoints (or with --all): each adapter
 * converted into --outdir, a bounded number at once, one broken checkpoint never stopping the
 * rest, a summary, and an exit code that says whether all succeeded.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { REFERENCE } from '../helpers/fixtures';

const INPUT = join(REFERENCE, 'llama_bf16_f16', 'input');
const BASE = join(INPUT, 'base');
const work = mkdtempSync(join(tmpdir(), 'l2g-cli-batch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(args: string[], cwd = work): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd, isTTY: false, env: {} });
  return { code, out, err };
}

function checkpoint(run: string, name: string, broken = false) {
  const dir = join(work, run, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(INPUT, 'adapter_config.json'), join(dir, 'adapter_config.json'));
  const weights = readFileSync(join(INPUT, 'adapter_model.safetensors'));
  writeFileSync(join(dir, 'adapter_model.safetensors'), broken ? weights.subarray(0, weights.byteLength - 4096) : weights);
}

beforeAll(() => {
  for (const [name, broken] of [
    ['checkpoint-500', false],
    ['checkpoint-1000', true],
    ['checkpoint-1500', false],
  ] as const)
    checkpoint('run', name, broken);
  // Not adapters: ignored.
  mkdirSync(join(work, 'run', 'logs'), { recursive: true });
  writeFileSync(join(work, 'run', 'logs', 'events.txt'), 'x');
});

describe('lora2gguf <folder of adapters>', () => {
  it('converts each checkpoint into --outdir; the broken one fails alone; exit 1 says not all succeeded', async () => {
    const r = await cli(['run', '--outdir', 'out', '--outtype', 'f16', '--base', BASE]);
    expect(r.code).toBe(1);
    expect(readdirSync(join(work, 'out')).sort()).toEqual(['checkpoint-1500-F16-LoRA.gguf', 'checkpoint-500-F16-LoRA.gguf']);
    expect(r.out).toBe('3 adapters: 2 converted, 1 failed (checkpoint-1000).\n');
    expect(r.err).toMatch(/✗ checkpoint-1000: \[malformed_header\]/);
    // Each file is what converting that checkpoint alone writes.
    const single = join(work, 'single');
    mkdirSync(single);
    expect((await cli([join(work, 'run', 'checkpoint-500'), '--outtype', 'f16', '--base', BASE, '--name', 'checkpoint-500'], single)).code).toBe(0);
    expect(readFileSync(join(work, 'out', 'checkpoint-500-F16-LoRA.gguf')).equals(readFileSync(join(single, 'checkpoint-500-F16-LoRA.gguf')))).toBe(true);
  });

  it('--json: one result per adapter, in order', async () => {
    const r = await cli(['run', '--outdir', 'out-json', '--outtype', 'q8_0', '--base', BASE, '--json', '--jobs', '1']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { ok: boolean; converted: number; failed: number; results: { adapter: string; ok: boolean; refusals?: { code: string }[] }[] };
    expect(j).toMatchObject({ ok: false, converted: 2, failed: 1 });
    expect(j.results.map((x) => [x.adapter, x.ok])).toEqual([
      ['checkpoint-500', true],
      ['checkpoint-1000', false],
      ['checkpoint-1500', true],
    ]);
    expect(j.results[1]!.refusals?.[0]?.code).toBe('malformed_header');
  });

  it('all good: exit 0; --all on a single adapter folder converts it', async () => {
    checkpoint('good-run', 'checkpoint-1');
    checkpoint('good-run', 'checkpoint-2');
    expect((await cli(['good-run', '--outdir', 'out-good', '--base', BASE])).code).toBe(0);
    expect(readdirSync(join(work, 'out-good')).sort()).toEqual(['checkpoint-1-F32-LoRA.gguf', 'checkpoint-2-F32-LoRA.gguf']);
    const r = await cli([join('good-run', 'checkpoint-1'), '--all', '--outdir', 'out-one', '--base', BASE]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(work, 'out-one'))).toEqual(['checkpoint-1-F32-LoRA.gguf']);
  });

  it('--jobs is checked', async () => {
    const r = await cli(['run', '--jobs', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--jobs must be a whole number from 1 to 16');
  });
});
