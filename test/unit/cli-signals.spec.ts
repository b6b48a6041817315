/**
 * Faults around the CLI: a source file rewritten during a conversion stops it (size or mtime
 * changed), SIGTERM / SIGINT in the middle of writing and an output that cannot grow (a file size
 * limit, standing in for a full disk) leave no file behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateAdapter } from '../../bench/generate';
import { FileSource, writeError } from '../../cli/node-io';

const work = mkdtempSync(join(tmpdir(), 'l2g-signals-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'lora2gguf.cjs');

describe('FileSource', () => {
  it('stops when the file changes size or is rewritten while it is read', async () => {
    const file = join(work, 'a.bin');
    writeFileSync(file, new Uint8Array(4096));
    // Checked at the first read, then once `checkEveryBytes` have been read since the last check.
    const grown = await FileSource.open(file, 32);
    await grown.readInto(0, new Uint8Array(16));
    appendFileSync(file, new Uint8Array(8));
    await grown.readInto(16, new Uint8Array(16));
    await expect(grown.readInto(0, new Uint8Array(16))).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/size went from 4096 to 4104/) });
    await grown.close();

    const touched = await FileSource.open(file);
    utimesSync(file, new Date(), new Date(Date.now() + 60_000));
    await expect(touched.read(0, 16)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/changed while it was being converted/) });
    await touched.close();

    // Between checks, a change is still caught by the check made before the output is kept.
    const late = await FileSource.open(file);
    await late.readInto(0, new Uint8Array(16));
    utimesSync(file, new Date(), new Date(Date.now() + 120_000));
    await late.readInto(16, new Uint8Array(16));
    await expect(late.assertUnchanged()).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/changed while it was being converted/) });
    await late.close();
  });
});

describe('FileSource.readIntoSync (reads made on the converter\'s own thread)', () => {
  it('reads the same bytes as readInto, refuses a read past the end, and checks the file as readInto does', async () => {
    const file = join(work, 'sync.bin');
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff);
    writeFileSync(file, bytes);
    const source = await FileSource.open(file, 64);
    for (const [offset, length] of [
      [0, 16],
      [1000, 3096],
      [4095, 1],
    ] as const) {
      const viaSync = new Uint8Array(length + 8).subarray(3, 3 + length);
      source.readIntoSync(offset, viaSync);
      const viaAsync = new Uint8Array(length);
      await source.readInto(offset, viaAsync);
      expect([...viaSync]).toEqual([...bytes.subarray(offset, offset + length)]);
      expect([...viaAsync]).toEqual([...viaSync]);
    }
    expect(() => source.readIntoSync(4090, new Uint8Array(7))).toThrow(RangeError);
    // Checked once 64 bytes have been read since the last check: the read that makes them
    // passes, the next one finds the file grown and stops.
    appendFileSync(file, new Uint8Array(8));
    source.readIntoSync(0, new Uint8Array(64));
    expect(() => source.readIntoSync(0, new Uint8Array(16))).toThrow(/size went from 4096 to 4104/);
    await source.close();
  });
});

describe('signals in the middle of a conversion', () => {
  // Large enough that writing takes a while (BF16 → f32 doubles it): the signal lands mid-write.
  const adapter = generateAdapter(work, 'big', 192e6, 'BF16');

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} while writing: exit ${code}, no output and no partial file`, async () => {
      const out = mkdtempSync(join(work, 'out-'));
      const child = spawn(process.execPath, [BIN, adapter.dir, '--base', adapter.baseDir, '--outtype', 'f32', '--outfile', join(out, 'x.gguf')], {
        stdio: 'ignore',
      });
      // Wait for the temporary file: the header and tensors are being written into it.
      const started = Date.now();
      while (!readdirSync(out).some((f) => f.includes('.partial-'))) {
        if (Date.now() - started > 30_000) throw new Error('the conversion never started writing');
        await new Promise((r) => setTimeout(r, 2));
      }
      child.kill(signal);
      const exit = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(exit).toBe(code);
      expect(readdirSync(out)).toEqual([]);
      expect(existsSync(join(out, 'x.gguf'))).toBe(false);
    });
  }

  it('the adapter rewritten while it is converted: exit 1, said in words, no output and no partial file', async () => {
    const out = mkdtempSync(join(work, 'out-'));
    const child = spawn(process.execPath, [BIN, adapter.dir, '--base', adapter.baseDir, '--outtype', 'f32', '--outfile', join(out, 'x.gguf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = Date.now();
    while (!readdirSync(out).some((f) => f.includes('.partial-'))) {
      if (Date.now() - started > 30_000) throw new Error('the conversion never started writing');
      await new Promise((r) => setTimeout(r, 2));
    }
    // As a training run saving over it would: a new modification time (caught by the next
    // periodic check, or at the latest by the one made before the output is kept).
    utimesSync(adapter.file, new Date(), new Date(Date.now() + 60_000));
    const exit = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(exit).toBe(1);
    expect(stderr).toContain(`${adapter.file} changed while it was being converted (it was modified)`);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('the output cannot be written', () => {
  const adapter = generateAdapter(work, 'mid', 32e6, 'BF16');

  it('a write refused mid-way (ulimit -f: EFBIG, as a full disk gives ENOSPC): exit 1, the reason and the file in words, nothing left', () => {
    const out = mkdtempSync(join(work, 'full-'));
    const target = join(out, 'x.gguf');
    // 4 MB of the ~64 MB f32 output fit; bash's ulimit -f counts 1024-byte blocks.
    const r = spawnSync(
      'bash',
      ['-c', `ulimit -f 4000; exec "${process.execPath}" "${BIN}" "${adapter.dir}" --base "${adapter.baseDir}" --outtype f32 -o "${target}"`],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Could not write ${target}: the file would be larger than this system allows`);
    expect(r.stderr).toMatch(/after 40\d{5} bytes\. Nothing was kept/);
    expect(r.stderr).toContain('hint: Raise the limit, or write the output to another file system with -o.');
    expect(readdirSync(out)).toEqual([]);
  });

  it('each errno a write can fail with is put into words; an unknown one keeps its message', () => {
    const err = (code: string) => Object.assign(new Error(`${code}: x`), { code });
    expect(writeError(err('ENOSPC'), '/o.gguf', 5)).toMatchObject({
      code: 'io',
      message: 'Could not write /o.gguf: the disk is full, after 5 bytes. Nothing was kept: the partial file was removed.',
      hint: 'Free some space on that disk, or write the output elsewhere with -o.',
      details: { file: '/o.gguf', code: 'ENOSPC' },
    });
    expect(writeError(err('EROFS'), '/o.gguf', 0).message).toMatch(/read-only/);
    expect(writeError(err('EWEIRD'), '/o.gguf', 0).message).toMatch(/the write failed \(EWEIRD: x\)/);
  });
});
