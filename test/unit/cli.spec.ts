/**
 * The CLI as users run it: bin/lora2gguf.cjs spawned in a child process on reference fixtures,
 * checked against the in-process core, plus its failure modes (usage, refusals, existing
 * output, interruption) and the atomic sink directly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type ByteSource, type ConversionPlan } from '../../src/core';
import { AtomicFileSink, partialPath } from '../../cli/node-io';
import { parseCliArgs, UsageError } from '../../cli/args';
import { runCli } from '../../cli/main';
import { formatBytes, formatDuration, formatProgressBar, formatRefusal } from '../../cli/format';
import { REFERENCE } from '../helpers/fixtures';
import { readGguf } from '../helpers/gguf-read';
import { buildSafetensors } from '../helpers/safetensors-build';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'lora2gguf.cjs');
const work = mkdtempSync(join(tmpdir(), 'l2g-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dirCount = 0;
function freshDir(): string {
  const d = join(work, `run-${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** A copy of a fixture's adapter in a folder named `name` (the default general.name). */
function adapterCopy(fixture: string, name: string): { adapter: string; base: string } {
  const input = join(REFERENCE, fixture, 'input');
  const adapter = join(work, `${name}-${dirCount++}`, name);
  mkdirSync(adapter, { recursive: true });
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(join(input, f), join(adapter, f));
  return { adapter, base: join(input, 'base') };
}

async function inProcess(fixture: string, outtype: 'f16' | 'q8_0' | 'f32', name: string): Promise<{ plan: ConversionPlan; bytes: Uint8Array }> {
  const input = join(REFERENCE, fixture, 'input');
  const source = bytesSource(new Uint8Array(readFileSync(join(input, 'adapter_model.safetensors'))));
  const plan = await inspect(
    {
      adapterConfig: readFileSync(join(input, 'adapter_config.json'), 'utf8'),
      baseConfig: readFileSync(join(input, 'base', 'config.json'), 'utf8'),
      adapter: source,
    },
    { outtype, name },
  );
  const sink = new MemorySink();
  await convert(plan, source, sink);
  return { plan, bytes: sink.bytes() };
}

// Each test spawns the CLI (the bundle: test/setup/build-cli.ts) several times; on a loaded 2-core machine that takes seconds.
describe('lora2gguf CLI (spawned)', { timeout: 180_000 }, () => {
  it('writes the default-named file, byte-identical to the in-process core output', async () => {
    const { adapter, base } = adapterCopy('llama_bf16_f16', 'my-adapter');
    const cwd = freshDir();
    const r = run([adapter, '--base', base, '--outtype', 'f16'], cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(cwd)).toEqual(['my-adapter-F16-LoRA.gguf']);
    const written = new Uint8Array(readFileSync(join(cwd, 'my-adapter-F16-LoRA.gguf')));
    const expected = await inProcess('llama_bf16_f16', 'f16', 'my-adapter');
    expect(Buffer.from(written).equals(Buffer.from(expected.bytes))).toBe(true);
    const parsed = await readGguf(written);
    expect(parsed.metadata['general.name']).toBe('my-adapter');
    expect(parsed.tensors.map((t) => t.name).sort()).toEqual(expected.plan.tensors.map((t) => t.name).sort());
  });

  it('honours --outfile, --name and --base-config, and --json prints a parseable summary', async () => {
    const input = join(REFERENCE, 'mixtral_q8_0', 'input');
    const cwd = freshDir();
    const out = join(cwd, 'sub.gguf');
    const r = run([input, '--base-config', join(input, 'base', 'config.json'), '--outtype', 'q8_0', '--outfile', out, '--name', 'Named', '--json'], cwd);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      ok: boolean;
      outfile: string;
      bytes: number;
      outtype: string;
      tensors: number;
      inputBytes: number;
      seconds: number;
      inputMiBPerSecond: number;
    };
    expect(summary).toMatchObject({ ok: true, outfile: out, outtype: 'q8_0' });
    expect(summary.inputBytes).toBe(statSync(join(input, 'adapter_model.safetensors')).size);
    expect(summary.inputMiBPerSecond).toBeCloseTo(summary.inputBytes / 2 ** 20 / summary.seconds, 6);
    const written = new Uint8Array(readFileSync(out));
    expect(summary.bytes).toBe(written.byteLength);
    const expected = await inProcess('mixtral_q8_0', 'q8_0', 'Named');
    expect(Buffer.from(written).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(summary.tensors).toBe(expected.plan.tensors.length);
  });

  it('an adapter holding NaNs fails naming the tensor and leaves nothing; --keep-non-finite writes it with a warning', () => {
    const { adapter, base } = adapterCopy('llama_edge_f32_bf16', 'nan-adapter');
    const cwd = freshDir();
    const refused = run([adapter, '--base', base, '--outtype', 'bf16'], cwd);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error \[non_finite\]: blk\.\d+\.\w+\.weight\.lora_[ab]: \d+ values? (is|are) NaN or infinite/);
    expect(refused.stderr).toContain('--keep-non-finite');
    expect(readdirSync(cwd)).toEqual([]);
    const kept = run([adapter, '--base', base, '--outtype', 'bf16', '--keep-non-finite'], cwd);
    expect(kept.code).toBe(0);
    expect(kept.stderr).toMatch(/warning \[non_finite_kept\]: blk\.\d+/);
    expect(readdirSync(cwd)).toEqual(['nan-adapter-BF16-LoRA.gguf']);
  });

  it('--dry-run prints the plan table and writes nothing; with --json the plan parses', async () => {
    const { adapter, base } = adapterCopy('llama_bf16_f16', 'dry');
    const cwd = freshDir();
    const r = run([adapter, '--base', base, '--dry-run'], cwd);
    expect(r.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(r.stdout).toContain('blk.0.attn_q.weight.lora_a');
    expect(r.stdout).toContain('model.layers.0.self_attn.q_proj');
    expect(r.stdout).toContain('BF16 -> F32');
    expect(r.stdout).toContain('dry-F32-LoRA.gguf');

    const j = run([adapter, '--base', base, '--dry-run', '--json', '--outtype', 'auto'], cwd);
    expect(j.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    const parsed = JSON.parse(j.stdout) as { ok: boolean; outfile: string; plan: ConversionPlan };
    const expected = await inProcess('llama_bf16_f16', 'f32', 'dry');
    expect(parsed.ok).toBe(true);
    expect(parsed.plan.outtype).toBe('bf16');
    expect(parsed.outfile).toBe(join(cwd, 'dry-BF16-LoRA.gguf'));
    expect(parsed.plan.tensors.map((t) => t.name)).toEqual(expected.plan.tensors.map((t) => t.name));
  });

  it('refuses an lm_head LoRA on a tied base: exit 1, every refusal named, nothing written', () => {
    const input = join(REFERENCE, 'llama_lm_head_tied', 'input');
    const cwd = freshDir();
    const r = run([input, '--base', join(input, 'base')], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[tied_head]');
    expect(r.stderr).toContain('base_model.model.lm_head.lora_A.weight');
    expect(r.stderr).toContain('--drop-unapplied');
    expect(readdirSync(cwd)).toEqual([]);

    const j = run([input, '--base', join(input, 'base'), '--json'], cwd);
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout) as { ok: boolean; refusals: { code: string; details: { tensors: string[] } }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.refusals.map((x) => x.code)).toContain('tied_head');

    const dropped = run([input, '--base', join(input, 'base'), '--drop-unapplied', '--outfile', 'x.gguf'], cwd);
    expect(dropped.code).toBe(0);
    expect(dropped.stderr).toContain('warning:');
    expect(dropped.stderr).toContain('lm_head');
    expect(dropped.stderr).not.toContain('note:');
    expect(readdirSync(cwd)).toEqual(['x.gguf']);

    // The old flag still works, says what it now is called, and writes the same file.
    const old = run([input, '--base', join(input, 'base'), '--drop-tied-lm-head', '--outfile', 'y.gguf'], cwd);
    expect(old.code).toBe(0);
    expect(old.stderr).toContain('note: --drop-tied-lm-head is now --drop-unapplied --keep-norm-vectors');
    expect(readFileSync(join(cwd, 'y.gguf')).equals(readFileSync(join(cwd, 'x.gguf')))).toBe(true);
  });

  it('reports a malformed adapter as invalid input (exit 1) naming the file', () => {
    const { adapter, base } = adapterCopy('llama_bf16_f16', 'broken');
    writeFileSync(join(adapter, 'adapter_model.safetensors'), readFileSync(join(adapter, 'adapter_model.safetensors')).subarray(0, 100));
    const cwd = freshDir();
    const r = run([adapter, '--base', base], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[malformed_header]');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('usage errors exit 2; a missing base config names base_model_name_or_path', () => {
    const cwd = freshDir();
    expect(run([], cwd).code).toBe(2);
    const badType = run(['x', '--outtype', 'q4_0'], cwd);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain('--outtype');
    // A base the bundled catalogue does not know: nothing to fall back on.
    const { adapter } = adapterCopy('llama_bf16_f16', 'unknown-base');
    const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'someone/private-base-7b' }));
    const noBase = run([adapter], cwd);
    expect(noBase.code).toBe(2);
    expect(noBase.stderr).toContain('someone/private-base-7b');
    expect(noBase.stderr).toContain('not in the bundled catalogue');
    expect(noBase.stderr).toContain('--base-config');
    const help = run(['--help'], cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
    const version = run(['--version'], cwd);
    expect(version.stdout.trim()).toBe(`lora2gguf ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('does not overwrite an existing output without --force', () => {
    const input = join(REFERENCE, 'llama_bf16_f16', 'input');
    const cwd = freshDir();
    writeFileSync(join(cwd, 'out.gguf'), 'keep me');
    const r = run([input, '--base', join(input, 'base'), '--outfile', 'out.gguf'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already exists');
    expect(readFileSync(join(cwd, 'out.gguf'), 'utf8')).toBe('keep me');
    expect(readdirSync(cwd)).toEqual(['out.gguf']);
    const forced = run([input, '--base', join(input, 'base'), '--outfile', 'out.gguf', '--force'], cwd);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(cwd, 'out.gguf')).subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(readdirSync(cwd)).toEqual(['out.gguf']);
  });

  it('leaves neither output nor .partial file when interrupted by SIGINT mid-write', async () => {
    // One big pair (~128 MiB of F32 input) so the conversion is still running when signalled.
    const adapter = join(work, 'big', 'adapter');
    mkdirSync(adapter, { recursive: true });
    const n = 1 << 21;
    writeFileSync(
      join(adapter, 'adapter_model.safetensors'),
      buildSafetensors([
        { name: 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight', dtype: 'F32', shape: [16, n] },
        // down_proj writes the residual stream: out = the base's hidden size (64).
        { name: 'base_model.model.model.layers.0.mlp.down_proj.lora_B.weight', dtype: 'F32', shape: [64, 16] },
      ]),
    );
    copyFileSync(join(REFERENCE, 'llama_bf16_f16', 'input', 'adapter_config.json'), join(adapter, 'adapter_config.json'));
    const cwd = freshDir();
    const child = spawn(
      process.execPath,
      [BIN, adapter, '--base', join(REFERENCE, 'llama_bf16_f16', 'input', 'base'), '--outtype', 'f16', '--outfile', 'big.gguf'],
      {
        cwd,
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const partial = partialPath(join(cwd, 'big.gguf')).replace(/-\d+$/, `-${child.pid}`);
    const deadline = Date.now() + 30_000;
    while (!existsSync(partial) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(existsSync(partial)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('AtomicFileSink', () => {
  it('renames into place on commit and removes the partial file on abort', async () => {
    const dir = freshDir();
    const target = join(dir, 'a.gguf');
    const ok = await AtomicFileSink.create(target);
    expect(existsSync(partialPath(target))).toBe(true);
    await ok.write(new Uint8Array([1, 2, 3]));
    await ok.write(new Uint8Array([4]));
    await ok.commit(false);
    expect([...readFileSync(target)]).toEqual([1, 2, 3, 4]);
    expect(readdirSync(dir)).toEqual(['a.gguf']);

    // A conversion that fails half-way through (the source dies after its first reads, when
    // the header and some tensors are on disk already): the caller aborts.
    const input = join(REFERENCE, 'llama_bf16_f16', 'input');
    const adapter = bytesSource(new Uint8Array(readFileSync(join(input, 'adapter_model.safetensors'))));
    let reads = 0;
    const failing: ByteSource = {
      byteLength: adapter.byteLength,
      read: (offset, length) => (++reads > 3 ? Promise.reject(new Error('disk gone')) : adapter.read(offset, length)),
    };
    const plan = await inspect({
      adapterConfig: readFileSync(join(input, 'adapter_config.json'), 'utf8'),
      baseConfig: readFileSync(join(input, 'base', 'config.json'), 'utf8'),
      adapter,
    });
    const sink = await AtomicFileSink.create(join(dir, 'b.gguf'));
    await expect(convert(plan, failing, sink, { readWindowBytes: 1, chunkBytes: 128 })).rejects.toThrow('disk gone');
    expect(sink.bytesWritten).toBeGreaterThan(0);
    await sink.abort();
    expect(readdirSync(dir)).toEqual(['a.gguf']);
  });

  it('overwriting replaces a file, a link and nothing at all alike, leaving nothing beside them; a folder there stays and fails the commit', async () => {
    const dir = freshDir();
    const write = async (target: string, bytes: number[]) => {
      const sink = await AtomicFileSink.create(target);
      await sink.write(Uint8Array.from(bytes));
      return sink;
    };
    const file = join(dir, 'f.gguf');
    writeFileSync(file, 'old contents');
    const other = join(dir, 'other.gguf');
    writeFileSync(other, 'kept');
    const link = join(dir, 'l.gguf');
    symlinkSync(other, link);
    for (const target of [file, link, join(dir, 'new.gguf')]) {
      await (await write(target, [5, 6, 7])).commit(true);
      expect([...readFileSync(target)], target).toEqual([5, 6, 7]);
      expect(lstatSync(target).isFile()).toBe(true);
    }
    // The link was replaced, not followed: the file it pointed at is untouched.
    expect(readFileSync(other, 'utf8')).toBe('kept');
    const folder = join(dir, 'd.gguf');
    mkdirSync(folder);
    writeFileSync(join(folder, 'inside'), 'x');
    const sink = await write(folder, [1]);
    await expect(sink.commit(true)).rejects.toThrow();
    await sink.abort();
    expect(readFileSync(join(folder, 'inside'), 'utf8')).toBe('x');
    expect(readdirSync(dir).sort()).toEqual(['d.gguf', 'f.gguf', 'l.gguf', 'new.gguf', 'other.gguf']);
  });

  it('refuses to replace a file that appeared meanwhile unless overwriting', async () => {
    const dir = freshDir();
    const target = join(dir, 'c.gguf');
    const sink = await AtomicFileSink.create(target);
    await sink.write(new Uint8Array([9]));
    writeFileSync(target, 'other');
    await expect(sink.commit(false)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf8')).toBe('other');
    await sink.abort();
    expect(readdirSync(dir)).toEqual(['c.gguf']);
  });
});

describe('runCli (in process)', () => {
  it('returns 2 with the usage text for malformed command lines, 1 for a missing folder', async () => {
    const cwd = freshDir();
    const call = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd, isTTY: false });
      return { code, out, err };
    };
    for (const args of [
      ['a', 'b'],
      ['x', '--nope'],
      ['x', '--base', 'b', '--base-config', 'c'],
      ['x', '--name'],
    ]) {
      const r = await call(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain('Usage: lora2gguf');
    }
    const missing = await call(['no-such-dir', '--base', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('[wrong_input]');
    expect(missing.err).toContain('no-such-dir');
    const notAdapter = await call([join(REFERENCE, 'llama_bf16_f16', 'input', 'base'), '--base', 'x']);
    expect(notAdapter.code).toBe(1);
    expect(notAdapter.err).toContain('no adapter_config.json');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('runCli progress and formatting', () => {
  it('draws a progress bar only on a TTY, ending at 100% and clearing the line', async () => {
    const input = join(REFERENCE, 'llama_bf16_f16', 'input');
    for (const isTTY of [true, false]) {
      const cwd = freshDir();
      const lines: string[] = [];
      const code = await runCli([input, '--base', join(input, 'base')], { stdout: () => {}, stderr: () => {}, cwd, isTTY, progress: (l) => lines.push(l) });
      expect(code).toBe(0);
      if (isTTY) {
        expect(lines.length).toBeGreaterThan(2);
        expect(lines[lines.length - 2]).toContain('100%');
        expect(lines[lines.length - 1]).toBe('');
      } else {
        expect(lines).toEqual([]);
      }
    }
  });

  it('formats sizes, bars and refusals with every tensor and the hint', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(5 * 2 ** 30)).toBe('5.00 GiB');
    expect(formatProgressBar(1, 4, 8)).toBe('[##......]  25% 1 B / 4 B');
    expect(formatDuration(0.5, 512 * 2 ** 20)).toBe('0.50 s, 1024 MiB/s of input');
    expect(formatDuration(12.34, 2 ** 20)).toBe('12.3 s, 0.1 MiB/s of input');
    const text = formatRefusal({
      name: 'ConversionError',
      code: 'dora',
      message: 'DoRA.',
      details: { tensors: ['a.m', 'b.m'], field: 'use_dora' },
      hint: 'Merge it.',
    });
    expect(text.split('\n')).toEqual(['error [dora]: DoRA.', '  tensors: a.m, b.m', '  field: use_dora', '  hint: Merge it.']);
  });
});

describe('parseCliArgs', () => {
  it('parses every option and rejects conflicting ones', () => {
    const c = parseCliArgs([
      'dir',
      '--base',
      'b',
      '--outtype',
      'Q8_0',
      '--outfile',
      'o',
      '--name',
      'n',
      '--force',
      '--dry-run',
      '--json',
      '--drop-unapplied',
      '--keep-norm-vectors',
      '--text-only',
      '--keep-non-finite',
      '--hub-endpoint',
      'http://127.0.0.1:1',
    ]);
    expect(c).toEqual({
      kind: 'convert',
      options: {
        adapterDir: 'dir',
        base: 'b',
        baseConfig: undefined,
        outtype: 'q8_0',
        outfile: 'o',
        name: 'n',
        force: true,
        dryRun: true,
        json: true,
        dropUnapplied: true,
        keepNormVectors: true,
        usedOldDropFlag: false,
        textOnly: true,
        keepNonFinite: true,
        hubEndpoint: 'http://127.0.0.1:1',
        all: false,
        outdir: undefined,
        jobs: 2,
      },
    });
    expect(parseCliArgs(['check', 'a', 'b.gguf'])).toMatchObject({ kind: 'check', baseGguf: 'b.gguf', options: { adapterDir: 'a' } });
    expect(parseCliArgs(['inspect', 'x.gguf', '--json'])).toEqual({ kind: 'inspect', file: 'x.gguf', json: true });
    expect(parseCliArgs(['publish', 'x.gguf', 'me/r', '--base-model', 'o/b'])).toMatchObject({ kind: 'publish', file: 'x.gguf', repo: 'me/r', baseModel: 'o/b' });
    expect(parseCliArgs(['run', '--all', '--outdir', 'out', '--jobs', '4']).kind === 'convert' && parseCliArgs(['run', '--all', '--outdir', 'out', '--jobs', '4'])).toMatchObject({
      options: { all: true, outdir: 'out', jobs: 4 },
    });
    expect(() => parseCliArgs(['dir', '--base', 'b', '--base-config', 'c'])).toThrow(UsageError);
    expect(() => parseCliArgs(['dir', '--outtype'])).toThrow(UsageError);
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
  });
});
