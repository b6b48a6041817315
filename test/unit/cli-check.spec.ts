/**
 * `lora2gguf check` and `lora2gguf inspect` on files: a converted reference adapter against base
 * GGUFs written here (a multi-GB sparse file, a base with fewer layers, a split base), read by
 * their headers only; and a GGUF adapter inspected, intact and truncated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, readGgufHeader, type GgufHeaderRead } from '../../src/core';
import type { GgufTensorInfo } from '../../src/core/gguf/writer';
import { baseTensorsFor, writeSparseBase } from '../helpers/gguf-base';
import { runCli } from '../../cli/main';
import { REFERENCE } from '../helpers/fixtures';

const work = mkdtempSync(join(tmpdir(), 'l2g-cli-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const INPUT = join(REFERENCE, 'llama_bf16_f16', 'input');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: work, isTTY: false, env: {} });
  return { code, out, err };
}

let adapterGguf: string;
let adapter: GgufHeaderRead;

/** A base GGUF named Tiny Llama Base: its header, then the file extended sparsely. */
function writeBase(path: string, tensors: GgufTensorInfo[], blocks: number, size = 3 * 2 ** 30): void {
  writeSparseBase(path, { arch: 'llama', name: 'Tiny Llama Base', blocks, tensors, size });
}

beforeAll(async () => {
  adapterGguf = join(work, 'llama-lora.gguf');
  const r = await cli([INPUT, '--base', join(INPUT, 'base'), '--outtype', 'f16', '-o', adapterGguf]);
  expect(r.code, r.err).toBe(0);
  adapter = await readGgufHeader(bytesSource(new Uint8Array(readFileSync(adapterGguf))));
});

describe('lora2gguf check', () => {
  it('an adapter folder and a 3 GiB base: compatible, from the base header alone (under 2 MB read)', async () => {
    writeBase(join(work, 'base.gguf'), baseTensorsFor(adapter), 2);
    const r = await cli(['check', INPUT, 'base.gguf', '--base', join(INPUT, 'base')]);
    expect(r.code, r.err).toBe(0);
    const pairs = adapter.tensors.length / 2;
    expect(r.out).toContain(`compatible: ${INPUT} loads on Tiny Llama Base (base.gguf): ${pairs} LoRA pairs checked`);
    const j = JSON.parse((await cli(['check', INPUT, 'base.gguf', '--json', '--base', join(INPUT, 'base')])).out) as { compatible: boolean; baseBytesRead: number };
    expect(j.compatible).toBe(true);
    expect(j.baseBytesRead).toBeLessThan(2 * 1024 * 1024);
  });

  it('a GGUF adapter works as well as a folder', async () => {
    const r = await cli(['check', adapterGguf, 'base.gguf']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^compatible: /);
  });

  it('a base with fewer layers: exit 1, each problem with its likely cause', async () => {
    writeBase(join(work, 'small.gguf'), baseTensorsFor(adapter, (n) => !n.startsWith('blk.1.')), 1);
    const r = await cli(['check', adapterGguf, 'small.gguf']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('not compatible:');
    expect(r.out).toContain('does not exist in base model');
    expect(r.out).toContain('likely cause: The adapter was trained on a model with 2 layers; this base has 1.');
  });

  it('a split base: the other shards are found beside the first; a missing one is named', async () => {
    const all = baseTensorsFor(adapter);
    writeBase(join(work, 'split-00001-of-00002.gguf'), all.slice(0, 5), 2, 0);
    writeBase(join(work, 'split-00002-of-00002.gguf'), all.slice(5), 2, 0);
    const r = await cli(['check', adapterGguf, 'split-00001-of-00002.gguf', '--json']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ compatible: true, shards: 2 });
    writeBase(join(work, 'lonely-00001-of-00003.gguf'), all, 2, 0);
    const missing = await cli(['check', adapterGguf, 'lonely-00001-of-00003.gguf']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('lonely-00002-of-00003.gguf is not beside it (1 of 3 found)');
  });

  it('usage: check needs two arguments', async () => {
    const r = await cli(['check', adapterGguf]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('check takes <adapter> and <base.gguf>');
  });
});

describe('lora2gguf inspect', () => {
  it('a converted adapter: its pairs, ranks and scale, nothing to flag', async () => {
    const r = await cli(['inspect', adapterGguf]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('a GGUF LoRA adapter');
    expect(r.out).toMatch(/blk\.0\.attn_q\.weight\s+8\s+F16\/F16\s+2/);
    expect(r.out).toContain('nothing llama.cpp would reject.');
    const j = JSON.parse((await cli(['inspect', adapterGguf, '--json'])).out) as { pairs: unknown[]; flags: unknown[]; alpha: number };
    expect(j.pairs).toHaveLength(adapter.tensors.length / 2);
    expect(j.flags).toEqual([]);
    expect(j.alpha).toBe(16);
  });

  it('a truncated copy: exit 1, "tensor data past the end of the file", with the likely cause', async () => {
    const bytes = readFileSync(adapterGguf);
    writeFileSync(join(work, 'cut.gguf'), bytes.subarray(0, bytes.byteLength - 1000));
    const r = await cli(['inspect', 'cut.gguf']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('tensor data past the end of the file');
    expect(r.out).toContain('likely cause: The file is truncated');
  });

  it('not a GGUF file: a clear error, exit 1', async () => {
    writeFileSync(join(work, 'not.gguf'), 'hello, this is text and not a gguf file at all');
    const r = await cli(['inspect', 'not.gguf']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('does not start with "GGUF"');
  });
});
