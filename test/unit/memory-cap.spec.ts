/**
 * The CLI converts a 4 GiB adapter (realistic BF16 values, bench/generate.ts) under a memory cap far
 * below the file's size: once with the address space capped at 1.5 GiB (`ulimit -v`; WebAssembly
 * cannot reserve its memory there, so the JavaScript kernels run), once with V8's heap capped at
 * 48 MB (`--max-old-space-size`, SIMD kernels). Each writes the whole file, and the process's peak
 * resident memory (read by bench/rusage-hook.cjs at exit) stays a small fraction of it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateAdapter, type GeneratedAdapter } from '../../bench/generate';

const GIB = 2 ** 30;
const CLI = join(process.cwd(), 'dist-cli', 'lora2gguf.mjs');
const HOOK = join(process.cwd(), 'bench', 'rusage-hook.cjs');
/** Peak RSS allowed: far below the 4 GiB input and the 3.1 GiB output. */
const MAX_RSS_BYTES = 256 * 2 ** 20;

let scratch: string;
let adapter: GeneratedAdapter;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'l2g-cap-'));
  adapter = generateAdapter(scratch, 'llama3-8b-4gib', 4 * GIB, 'BF16');
}, 120_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stderr: string;
  summary: { ok: boolean; bytes: number; tensors: number; kernels: string; nonFinite: unknown[] };
  maxRssBytes: number;
  outBytes: number;
}

/** Run `shell` (which ends by exec'ing `node <flags> CLI …`) and collect what it did. */
function run(prefix: string, nodeFlags: string): Run {
  const out = join(scratch, 'out.gguf');
  const rusage = join(scratch, 'rusage.json');
  rmSync(out, { force: true });
  const command = `${prefix} exec node --require "${HOOK}" ${nodeFlags} "${CLI}" "${adapter.dir}" --base "${adapter.baseDir}" --outtype q8_0 -o "${out}" --force --json`;
  const r = spawnSync('bash', ['-c', command], { encoding: 'utf8', env: { ...process.env, L2G_RUSAGE_FILE: rusage }, timeout: 180_000 });
  const result: Run = {
    status: r.status,
    stderr: r.stderr,
    summary: r.status === 0 ? JSON.parse(r.stdout) : null,
    maxRssBytes: JSON.parse(readFileSync(rusage, 'utf8')).maxRssKiB * 1024,
    outBytes: statSync(out, { throwIfNoEntry: false })?.size ?? -1,
  };
  rmSync(out, { force: true });
  return result;
}

function expectConverted(r: Run, label: string) {
  expect(r.status, r.stderr).toBe(0);
  expect(r.summary.ok).toBe(true);
  expect(r.summary.tensors).toBe(adapter.tensors);
  expect(r.outBytes).toBe(r.summary.bytes);
  // q8_0 (34 bytes for 32 values) where rows allow, f16 elsewhere (this rank is not a multiple of 32).
  expect(r.outBytes).toBeGreaterThan(adapter.bytes * (34 / 64));
  expect(r.summary.nonFinite).toEqual([]);
  expect(r.maxRssBytes).toBeLessThan(MAX_RSS_BYTES);
  console.log(
    `${label}: ${(adapter.bytes / GIB).toFixed(2)} GiB in, ${(r.outBytes / GIB).toFixed(2)} GiB out, ${r.summary.kernels} kernels, peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
}

describe('a 4 GiB adapter under a memory cap', () => {
  test('the adapter is 4 GiB', () => {
    expect(adapter.bytes).toBeGreaterThanOrEqual(4 * GIB * 0.99);
    expect(statSync(join(adapter.dir, 'adapter_model.safetensors')).size).toBeGreaterThan(adapter.bytes - 1);
  });

  test('address space capped at 1.5 GiB (ulimit -v): converts, peak RSS far below the file', () => {
    expectConverted(run(`ulimit -v ${1.5 * 2 ** 20};`, ''), 'ulimit -v 1.5 GiB');
  }, 180_000);

  test('V8 heap capped at 48 MB (--max-old-space-size): converts with the SIMD kernels, peak RSS far below the file', () => {
    const r = run('', '--max-old-space-size=48');
    expectConverted(r, '--max-old-space-size=48');
    expect(r.summary.kernels).toBe('simd');
  }, 180_000);
});
