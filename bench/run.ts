/**
 * `npm run bench`: how fast and how lean a conversion is, measured side by side in one run.
 *
 * For each generated adapter (Llama-3-8B shaped; see generate.ts), fastest of `--runs`:
 * - the yardstick: a userspace copy of the same file (a read/write loop in Node, 1 MiB blocks —
 *   not `cp`, which may clone the file inside the kernel);
 * - the CLI (the bundle users run, as a child process) for every outtype: wall time, CPU time and
 *   peak RSS of the process itself (bench/rusage-hook.cjs), MB/s of input;
 * - the browser: the production build in headless Chromium, timed from Convert to Done, with the
 *   renderer's (page + worker) peak RSS;
 * and the CLI's start: `--version` and a tiny adapter end to end.
 * Figures are ratios to the copy's time measured in the same run: the machine is shared and
 * noisy (the kernel's write-back of dirty pages swings any one timing), so the page cache is
 * warmed first, every timed step starts from the same state (`prepare`: dirty pages written back,
 * the memory it will write into faulted in) and every figure is the fastest of its runs.
 *
 *   npm run bench                     256 MB and 1 GB, BF16 and F32, 3 runs each
 *   npm run bench -- --huge           adds ~4 GB (BF16)
 *   npm run bench -- --quick          ~64 MB BF16, 1 run: checks that everything runs (CI);
 *                                     writes neither bench/results/ nor docs/benchmarks.md
 *   options: --sizes 256,1024 (MB)  --dtypes BF16,F32  --runs 3  --outtypes f32,f16,bf16,q8_0
 *            --browser-outtypes f16  --no-browser  --keep (the generated adapters)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, freemem, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { browserConvert, browserFloor, chromiumVersion, serveApp, type AppServer, type BrowserFloor, type SavePath } from './browser';
import { generateAdapter, type BenchDtype, type GeneratedAdapter } from './generate';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'lora2gguf.cjs');
const HOOK = join(ROOT, 'bench', 'rusage-hook.cjs');
const MB = 1e6;

interface Timing {
  seconds: number;
  cpuSeconds?: number;
  peakRssBytes?: number;
  /** The browser's conversion worker: JS heap plus array buffers, at its peak. */
  workerPeakBytes?: number;
  outputBytes?: number;
}

export interface Row {
  adapter: string;
  dtype: BenchDtype;
  inputBytes: number;
  rank: number;
  path: string;
  outtype?: string;
  seconds: number;
  ratioToCopy: number;
  inputMBps: number;
  cpuSeconds?: number;
  peakRssMB?: number;
  workerPeakMB?: number;
  outputBytes?: number;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    huge: { type: 'boolean' },
    sizes: { type: 'string' },
    dtypes: { type: 'string' },
    runs: { type: 'string' },
    outtypes: { type: 'string', default: 'f32,f16,bf16,q8_0' },
    'browser-outtypes': { type: 'string', default: 'f16' },
    'browser-paths': { type: 'string', default: 'picker,storage' },
    'no-browser': { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
const quick = values.quick === true;
const sizes = (values.sizes ?? (quick ? '64' : values.huge ? '256,1024,4096' : '256,1024')).split(',').map(Number);
const dtypes = (values.dtypes ?? (quick ? 'BF16' : 'BF16,F32')).split(',') as BenchDtype[];
const runs = Number(values.runs ?? (quick ? 1 : 3));
const outtypes = values.outtypes.split(',');
const browserOuttypes = values['no-browser'] ? [] : values['browser-outtypes'].split(',').filter(Boolean);
const browserPaths = values['browser-paths'].split(',').filter(Boolean) as SavePath[];

function fastest<T extends { seconds: number }>(list: T[]): T {
  return list.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

/** Read the whole file once, so every measured path starts from a warm page cache. */
function warm(file: string): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    while (readSync(fd, buf) > 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Get the machine ready for a timed step that will write `bytes`: fault in that much memory (a
 * scratch file written through the page cache), write every dirty page back (`sync`, so no step
 * pays for the write-back of the one before it), then delete the scratch file, leaving its pages
 * free but resident for the step that follows at once.
 *
 * Why: on this VM (a virtio balloon with free page reporting) memory the guest has freed goes
 * back to the host after a couple of seconds, and writing into it again costs a host page fault
 * per page. Measured: the first 1 GB written into a fresh file took 0.85–2.4 s, the next 0.19 s;
 * a 2 GB f32 output paid it on the second GB in every run. That is the machine, not the code, and
 * it hit the paths unevenly (the browser starts a few seconds before it writes). Every timed
 * step — the copy, each CLI run, each browser run just before Convert — is prepared the same way.
 */
function prepare(work: string, bytes: number): void {
  // 5 % over the step's own bytes: the header, and room to spare.
  const total = Math.ceil(bytes * 1.05);
  const scratch = join(work, 'prefault.bin');
  const fd = openSync(scratch, 'w');
  const buf = Buffer.alloc(1 << 20, 1);
  try {
    for (let done = 0; done < total; done += buf.byteLength) writeSync(fd, buf, 0, Math.min(buf.byteLength, total - done));
  } finally {
    closeSync(fd);
  }
  execFileSync('sync');
  rmSync(scratch, { force: true });
}

/** `list` turned left by `by` places. */
function rotate<T>(list: readonly T[], by: number): T[] {
  const k = list.length ? by % list.length : 0;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Bytes a conversion of `a` to `outtype` writes (near enough: the header is small). */
function outputBytes(a: GeneratedAdapter, outtype: string): number {
  const per = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 }[outtype] ?? 4;
  return Math.ceil((a.bytes / (a.dtype === 'F32' ? 4 : 2)) * per);
}

/** The yardstick: read and write every byte once, in userspace (1 MiB blocks). */
function userspaceCopy(from: string, to: string): Timing {
  const t0 = performance.now();
  const src = openSync(from, 'r');
  const dst = openSync(to, 'w');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    let n: number;
    while ((n = readSync(src, buf)) > 0) writeSync(dst, buf, 0, n);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  const seconds = (performance.now() - t0) / 1000;
  rmSync(to, { force: true });
  return { seconds };
}

/** One CLI run as a child process: wall time from outside, CPU and peak RSS from inside. */
function cli(args: string[], work: string): Timing {
  const usage = join(work, `rusage-${process.pid}.json`);
  rmSync(usage, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--require', HOOK, BIN, ...args], { env: { ...process.env, L2G_RUSAGE_FILE: usage }, encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`lora2gguf ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const u = JSON.parse(readFileSync(usage, 'utf8')) as { userMicros: number; systemMicros: number; maxRssKiB: number };
  return { seconds, cpuSeconds: (u.userMicros + u.systemMicros) / 1e6, peakRssBytes: u.maxRssKiB * 1024 };
}

function convertOnce(a: GeneratedAdapter, outtype: string, work: string): Timing {
  const outfile = join(work, `out-${outtype}.gguf`);
  const t = cli([a.dir, '--base', a.baseDir, '--outtype', outtype, '--outfile', outfile, '--force'], work);
  const outputBytes = statSync(outfile).size;
  rmSync(outfile, { force: true });
  return { ...t, outputBytes };
}

function startup(work: string): { version: Timing; tiny: Timing } {
  const tinyDir = join(ROOT, 'test', 'fixtures', 'reference', 'llama_bf16_f16', 'input');
  const version: Timing[] = [];
  const tiny: Timing[] = [];
  for (let i = 0; i < 5; i++) {
    version.push(cli(['--version'], work));
    tiny.push(cli([tinyDir, '--base', join(tinyDir, 'base'), '--outfile', join(work, 'tiny.gguf'), '--force'], work));
  }
  return { version: fastest(version), tiny: fastest(tiny) };
}

function machine(): Record<string, unknown> {
  let chromium = 'not measured';
  if (browserOuttypes.length) chromium = chromiumVersion();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    chromium,
  };
}

function row(a: GeneratedAdapter, label: string, path: string, t: Timing, copy: Timing, outtype?: string): Row {
  return {
    adapter: label,
    dtype: a.dtype,
    inputBytes: a.bytes,
    rank: a.rank,
    path,
    outtype,
    seconds: t.seconds,
    ratioToCopy: t.seconds / copy.seconds,
    inputMBps: a.bytes / MB / t.seconds,
    cpuSeconds: t.cpuSeconds,
    peakRssMB: t.peakRssBytes !== undefined ? t.peakRssBytes / MB : undefined,
    workerPeakMB: t.workerPeakBytes !== undefined ? t.workerPeakBytes / MB : undefined,
    outputBytes: t.outputBytes,
  };
}

export function formatTable(rows: Row[]): string {
  const header = ['adapter', 'path', 'time s', '÷ copy', 'MB/s in', 'CPU s', 'peak RSS MB', 'worker MB'];
  const cells = rows.map((r) => [
    `${r.adapter} ${r.dtype}`,
    r.outtype ? `${r.path} → ${r.outtype}` : r.path,
    r.seconds.toFixed(2),
    r.path === 'copy' ? '1.00' : r.ratioToCopy.toFixed(2),
    r.inputMBps.toFixed(0),
    r.cpuSeconds !== undefined ? r.cpuSeconds.toFixed(2) : '',
    r.peakRssMB !== undefined ? r.peakRssMB.toFixed(0) : '',
    r.workerPeakMB !== undefined ? r.workerPeakMB.toFixed(0) : '',
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, c) => Math.max(...all.map((line) => line[c]!.length)));
  const line = (cols: string[]) => `| ${cols.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `| ${widths.map((w, i) => (i < 2 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`, ...cells.map(line)].join('\n');
}

function writeDocs(report: Record<string, unknown>, table: string, start: { version: Timing; tiny: Timing }): void {
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const m = report['machine'] as Record<string, unknown>;
  const generated = [
    '<!-- bench:begin (written by npm run bench; do not edit by hand) -->',
    `Measured ${String(report['date'])} on ${String(m['cpu'])}, ${String(m['cores'])} cores, ${String(m['memoryGiB'])} GiB, ${String(m['os'])}, Node ${String(m['node'])}, ${String(m['chromium'])}; fastest of ${runs} runs.`,
    '',
    table,
    '',
    `CLI start: \`lora2gguf --version\` ${start.version.seconds.toFixed(2)} s; a tiny adapter converted end to end ${start.tiny.seconds.toFixed(2)} s (peak RSS ${((start.tiny.peakRssBytes ?? 0) / MB).toFixed(0)} MB).`,
    '<!-- bench:end -->',
  ].join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const re = /<!-- bench:begin[\s\S]*?<!-- bench:end -->/;
  writeFileSync(file, re.test(text) ? text.replace(re, generated) : `${text}\n${generated}\n`);
}

async function main(): Promise<void> {
  // Measure the code as it is now: the CLI bundle and the app's production build.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs')], { stdio: 'inherit' });
  if (browserOuttypes.length)
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });

  const work = mkdtempSync(join(tmpdir(), 'l2g-bench-'));
  const cleanup = () => {
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  let app: AppServer | undefined;
  try {
    const rows: Row[] = [];
    if (browserOuttypes.length) app = await serveApp();
    for (const dtype of dtypes) {
      for (const size of sizes) {
        const label = size >= 1000 ? `${(size / 1000).toFixed(size % 1000 ? 1 : 0)} GB` : `${size} MB`;
        console.error(`generating a ${label} ${dtype} adapter…`);
        const a = generateAdapter(work, `llama3-8b-lora-${size}mb-${dtype.toLowerCase()}`, size * MB, dtype);
        warm(a.file);
        const copies: Timing[] = [];
        const byOuttype = new Map<string, Timing[]>();
        const inBrowser = new Map<string, (Timing & { rendererPeakRssBytes: number })[]>();
        const floors: BrowserFloor[] = [];
        for (let r = 0; r < runs; r++) {
          prepare(work, a.bytes);
          copies.push(userspaceCopy(a.file, join(work, 'copy.bin')));
          // The order turns from run to run, so that no output type always follows the same one
          // (the step after a 2 GB f32 output measured slower on this VM, whatever its type).
          for (const o of rotate(outtypes, r)) {
            prepare(work, outputBytes(a, o));
            const t = convertOnce(a, o, work);
            byOuttype.set(o, [...(byOuttype.get(o) ?? []), t]);
            console.error(`  ${label} ${dtype} → ${o}: ${t.seconds.toFixed(2)} s (copy ${copies[r]!.seconds.toFixed(2)} s)`);
          }
          for (const o of browserOuttypes) {
            for (const p of rotate(browserPaths, r)) {
              const b = await browserConvert(app!, a.dir, o, p, () => prepare(work, outputBytes(a, o)));
              const key = `${p}:${o}`;
              inBrowser.set(key, [
                ...(inBrowser.get(key) ?? []),
                {
                  seconds: b.seconds,
                  outputBytes: b.outputBytes,
                  peakRssBytes: b.rendererPeakRssBytes,
                  rendererPeakRssBytes: b.rendererPeakRssBytes,
                  workerPeakBytes: b.workerPeakBytes,
                },
              ]);
              console.error(`  ${label} ${dtype} → ${o} in Chromium (${p}): ${b.seconds.toFixed(2)} s`);
            }
          }
          if (browserOuttypes.length) {
            // The browser's own I/O on this file and the first browser outtype's output size.
            const o = browserOuttypes[0]!;
            const f = await browserFloor(a.file, outputBytes(a, o), () => prepare(work, outputBytes(a, o)));
            floors.push(f);
            console.error(
              `  ${label} ${dtype} Chromium floor: read ${f.readSeconds.toFixed(2)} s, write (storage) ${f.storageWriteSeconds.toFixed(2)} s, write (save dialog) ${f.pickerWriteSeconds.toFixed(2)} s`,
            );
          }
        }
        const copy = fastest(copies);
        rows.push(row(a, label, 'copy', copy, copy));
        for (const o of outtypes) rows.push(row(a, label, 'CLI', fastest(byOuttype.get(o)!), copy, o));
        for (const o of browserOuttypes)
          for (const p of browserPaths)
            rows.push(row(a, label, `browser (${p === 'picker' ? 'save dialog' : 'storage'})`, fastest(inBrowser.get(`${p}:${o}`)!), copy, o));
        if (floors.length) {
          const o = browserOuttypes[0]!;
          const best = (pick: (f: BrowserFloor) => number): Timing => ({ seconds: Math.min(...floors.map(pick)) });
          rows.push(
            row(
              a,
              label,
              'browser floor: read only',
              { ...best((f) => f.readSeconds), peakRssBytes: Math.min(...floors.map((f) => f.readRendererPeakRssBytes)) },
              copy,
            ),
          );
          rows.push(
            row(
              a,
              label,
              'browser floor: write only (storage)',
              best((f) => f.storageWriteSeconds),
              copy,
              o,
            ),
          );
          rows.push(
            row(
              a,
              label,
              'browser floor: write only (save dialog)',
              best((f) => f.pickerWriteSeconds),
              copy,
              o,
            ),
          );
        }
        rmSync(a.dir, { recursive: true, force: true });
      }
    }
    const start = startup(work);
    const table = formatTable(rows);
    console.log(`\n${table}\n`);
    console.log(`CLI start: --version ${start.version.seconds.toFixed(2)} s; tiny adapter ${start.tiny.seconds.toFixed(2)} s`);
    const date = new Date().toISOString().slice(0, 10);
    const report = { date, quick, runs, machine: machine(), rows, startup: start };
    if (quick) {
      console.log('(--quick: a check that every path runs; nothing written to bench/results or docs)');
    } else {
      // The default run rewrites docs/benchmarks.md; a run with other sizes or dtypes (e.g. --huge)
      // is kept beside it under its own name.
      const custom = values.sizes !== undefined || values.dtypes !== undefined || values.huge === true;
      const file = custom ? `${date}-${sizes.join('-')}mb-${dtypes.join('-').toLowerCase()}.json` : `${date}.json`;
      mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench', 'results', file), `${JSON.stringify(report, null, 2)}\n`);
      if (!custom) writeDocs(report, table, start);
      console.log(`wrote bench/results/${file}${custom ? '' : ' and docs/benchmarks.md'}`);
    }
  } finally {
    await app?.close();
    cleanup();
  }
}

await main();
