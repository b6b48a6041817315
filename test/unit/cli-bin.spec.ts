/**
 * bin/lora2gguf.cjs runs the prebuilt bundle when it is current, and the TypeScript sources
 * (through tsx, saying so) when the bundle is missing or older than them; it sizes libuv's thread
 * pool before the pool starts. Tried on a scratch copy of the layout: bin/, dist-cli/, cli/,
 * src/core/, and the repo's node_modules.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');

function layout() {
  const root = mkdtempSync(join(tmpdir(), 'l2g-bin-'));
  for (const d of ['bin', 'dist-cli', 'cli', 'src/core']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(join(REPO, 'bin', 'lora2gguf.cjs'), join(root, 'bin', 'lora2gguf.cjs'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(root, 'dist-cli', 'lora2gguf.mjs'), "export async function main() { console.log('ran the bundle'); }\n");
  writeFileSync(join(root, 'cli', 'main.ts'), "export async function main(): Promise<void> { console.log('ran the sources'); }\n");
  writeFileSync(join(root, 'src', 'core', 'index.ts'), 'export {};\n');
  const at = (path: string, seconds: number) => utimesSync(join(root, path), seconds, seconds);
  const run = (env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []) =>
    spawnSync(process.execPath, [...nodeFlags, join(root, 'bin', 'lora2gguf.cjs')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { root, at, run };
}

describe('bin/lora2gguf.cjs', () => {
  it('runs the bundle when it is newer than every source', () => {
    const l = layout();
    l.at('cli/main.ts', 1_000);
    l.at('src/core/index.ts', 1_000);
    l.at('dist-cli/lora2gguf.mjs', 2_000);
    const r = l.run();
    expect(r.stdout).toBe('ran the bundle\n');
    expect(r.stderr).toBe('');
    rmSync(l.root, { recursive: true, force: true });
  });

  it('runs the sources through tsx, saying why, when a source is newer than the bundle', () => {
    const l = layout();
    l.at('dist-cli/lora2gguf.mjs', 2_000);
    l.at('cli/main.ts', 1_000);
    l.at('src/core/index.ts', 3_000);
    const r = l.run();
    expect(r.stdout).toBe('ran the sources\n');
    expect(r.stderr).toMatch(/older than the sources; running them through tsx \(npm run build:cli/);
    rmSync(l.root, { recursive: true, force: true });
  });

  it('runs the sources when there is no bundle', () => {
    const l = layout();
    rmSync(join(l.root, 'dist-cli'), { recursive: true });
    const r = l.run();
    expect(r.stdout).toBe('ran the sources\n');
    expect(r.stderr).toMatch(/missing or older/);
    rmSync(l.root, { recursive: true, force: true });
  });

  it("starts libuv's thread pool with one thread, unless the user chose a size", () => {
    const l = layout();
    // A bundle that puts the pool to work (eight reads at once), then counts the process's threads.
    writeFileSync(
      join(l.root, 'dist-cli', 'lora2gguf.mjs'),
      `import { readFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
export async function main() {
  await Promise.all(Array.from({ length: 8 }, () => readFile(new URL(import.meta.url))));
  console.log(process.env.UV_THREADPOOL_SIZE, readdirSync('/proc/self/task').length);
}
`,
    );
    l.at('cli/main.ts', 1_000);
    l.at('src/core/index.ts', 1_000);
    l.at('dist-cli/lora2gguf.mjs', 2_000);
    const parse = (r: { stdout: string; stderr: string }) => {
      expect(r.stderr).toBe('');
      const [size, threads] = r.stdout.trim().split(' ');
      return { size, threads: Number(threads) };
    };
    const ours = parse(l.run({ UV_THREADPOOL_SIZE: undefined }));
    const chosen = parse(l.run({ UV_THREADPOOL_SIZE: '4' }));
    expect(ours.size).toBe('1');
    expect(chosen.size).toBe('4');
    // The pool really has one thread: three fewer than the same process with four.
    expect(chosen.threads - ours.threads).toBe(3);
    // The benchmark's preloaded hook leaves the choice to the bin: it measures the CLI users run.
    const benched = parse(
      l.run({ UV_THREADPOOL_SIZE: undefined, L2G_RUSAGE_FILE: join(l.root, 'rusage.json') }, ['--require', join(REPO, 'bench', 'rusage-hook.cjs')]),
    );
    expect(benched).toEqual(ours);
    rmSync(l.root, { recursive: true, force: true });
  });
});
