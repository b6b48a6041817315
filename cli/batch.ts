/**
 * Converting many: a folder holding several adapters (the checkpoints of one training run, or
 * unrelated adapters, one per subfolder) is converted adapter by adapter into --outdir, a bounded
 * number at once (--jobs), one failure never stopping the rest, with a summary and an exit code
 * that says whether all succeeded. Each adapter runs through the same single-adapter command.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { CliOptions } from './args';

/** How deep below the given folder adapters are looked for (run/checkpoint-500, run/a/checkpoint-10). */
const MAX_DEPTH = 3;

export interface FoundAdapter {
  /** Names the output: the folder's path below the root, '/' → '-' (the root: its own name). */
  label: string;
  dir: string;
}

function natural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The adapter folders at or below `root` (the root itself only with `includeRoot`), in natural order. */
export function findAdapters(root: string, includeRoot: boolean): FoundAdapter[] {
  const found: FoundAdapter[] = [];
  const walk = (dir: string, depth: number) => {
    if (existsSync(join(dir, 'adapter_config.json')) && (dir !== root || includeRoot)) {
      found.push({ label: dir === root ? basename(root) : relative(root, dir).split(/[\\/]/).join('-'), dir });
    }
    if (depth >= MAX_DEPTH) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort(natural)) {
      if (e.startsWith('.') || e === 'node_modules') continue;
      const sub = join(dir, e);
      if (statSync(sub, { throwIfNoEntry: false })?.isDirectory()) walk(sub, depth + 1);
    }
  };
  walk(root, 0);
  return found.sort((a, b) => natural(a.label, b.label));
}

/** Whether `dir` should be converted as a batch: --all, or a folder that is not an adapter but holds some. */
export function isBatch(options: CliOptions, cwd: string): boolean {
  const dir = resolve(cwd, options.adapterDir);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return false;
  if (options.all) return true;
  return !existsSync(join(dir, 'adapter_config.json')) && findAdapters(dir, false).length > 0;
}

interface BatchIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
}

type RunOne = (argv: string[], io: { stdout(t: string): void; stderr(t: string): void; cwd: string }) => Promise<number>;

interface OneResult {
  adapter: string;
  dir: string;
  ok: boolean;
  exitCode: number;
  summary?: Record<string, unknown>;
  refusals?: { code: string; message: string }[];
  error?: string;
}

/** The single-adapter arguments a batch passes on (never --outfile, --name or --all). */
function passOn(options: CliOptions): string[] {
  const a = ['--outtype', options.outtype, '--json'];
  if (options.base) a.push('--base', options.base);
  if (options.baseConfig) a.push('--base-config', options.baseConfig);
  if (options.force) a.push('--force');
  if (options.dryRun) a.push('--dry-run');
  if (options.dropUnapplied) a.push('--drop-unapplied');
  if (options.keepNormVectors) a.push('--keep-norm-vectors');
  if (options.textOnly) a.push('--text-only');
  if (options.keepNonFinite) a.push('--keep-non-finite');
  if (options.hubEndpoint) a.push('--hub-endpoint', options.hubEndpoint);
  return a;
}

/** Convert every adapter under options.adapterDir; returns the exit code (0: all converted). */
export async function runBatch(options: CliOptions, io: BatchIo, runOne: RunOne): Promise<number> {
  const root = resolve(io.cwd, options.adapterDir);
  const adapters = findAdapters(root, true);
  if (adapters.length === 0) {
    io.stderr(`error [wrong_input]: ${options.adapterDir} holds no adapter (no adapter_config.json in it or its subfolders).\n`);
    return 1;
  }
  const outdir = resolve(io.cwd, options.outdir ?? '.');
  mkdirSync(outdir, { recursive: true });
  if (!options.json) io.stderr(`converting ${adapters.length} adapters from ${options.adapterDir} into ${outdir}, ${options.jobs} at a time\n`);
  const results: OneResult[] = new Array(adapters.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= adapters.length) return;
      const a = adapters[i]!;
      let out = '';
      let err = '';
      const exitCode = await runOne([a.dir, '--name', a.label, ...passOn(options)], {
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
        cwd: outdir,
      }).catch((e: unknown) => {
        err += String((e as Error)?.message ?? e);
        return 1;
      });
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(out) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      const r: OneResult = { adapter: a.label, dir: a.dir, ok: exitCode === 0, exitCode };
      if (exitCode === 0 && parsed) r.summary = parsed;
      else if (parsed && Array.isArray(parsed['refusals'])) r.refusals = (parsed['refusals'] as { code: string; message: string }[]).map((x) => ({ code: x.code, message: x.message }));
      else r.error = err.trim() || `exit code ${exitCode}`;
      results[i] = r;
      if (!options.json) io.stderr(`${lineFor(r)}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.jobs, adapters.length) }, worker));
  const failed = results.filter((r) => !r.ok);
  if (options.json) {
    io.stdout(`${JSON.stringify({ ok: failed.length === 0, converted: results.length - failed.length, failed: failed.length, outdir, results }, null, 2)}\n`);
  } else {
    io.stdout(`${adapters.length} adapters: ${results.length - failed.length} converted, ${failed.length} failed${failed.length ? ` (${failed.map((f) => f.adapter).join(', ')})` : ''}.\n`);
  }
  return failed.length === 0 ? 0 : 1;
}

function lineFor(r: OneResult): string {
  if (r.ok) {
    const s = r.summary ?? {};
    const file = typeof s['outfile'] === 'string' ? s['outfile'] : '(dry run)';
    return `  ✓ ${r.adapter} → ${file}${typeof s['tensors'] === 'number' ? ` (${s['tensors']} tensors)` : ''}`;
  }
  const why = r.refusals?.map((x) => `[${x.code}] ${x.message}`).join('; ') ?? r.error ?? '';
  return `  ✗ ${r.adapter}: ${why}`;
}
