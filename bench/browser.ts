/**
 * The browser path, measured as a user meets it: the production build served on 127.0.0.1,
 * Debian's Chromium (headless), the adapter folder given through the folder input, saved through
 * the save-picker path (a file handle in the origin-private file system standing in for the
 * dialog, as in the e2e suite), timed from the Convert click to the Done screen. Each run gets a
 * fresh browser, so the renderer's peak resident memory (page and worker: a dedicated worker
 * lives in its page's renderer process) is that run's own; it is read from /proc (VmHWM).
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS, ConverterWorkerCdp, FAKE_PICKER, NO_PICKER } from '../e2e/harness';

export interface BrowserRun {
  seconds: number;
  outputBytes: number;
  /** Peak resident memory of the page's renderer process (page + worker), bytes. */
  rendererPeakRssBytes: number;
  /**
   * The conversion worker's own memory at its peak: its JS heap plus the array buffers it holds
   * (garbage not yet collected included), sampled over CDP every 50 ms while it converts.
   */
  workerPeakBytes: number;
  browserVersion: string;
}

export interface AppServer {
  url: string;
  close(): Promise<void>;
}

export async function serveApp(): Promise<AppServer> {
  const server: PreviewServer = await preview({ logLevel: 'error', preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no address');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

/** Peak RSS (VmHWM) of the renderer processes of the browser using `profile`, the largest. */
function rendererPeakRss(profile: string): number {
  let peak = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(profile) || !cmd.includes('--type=renderer')) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
    } catch {
      // the process ended meanwhile
    }
  }
  return peak;
}

/**
 * `picker`: the save dialog path (a FileSystemWritableFileStream on the picked file; an OPFS
 * handle stands in for the dialog). `storage`: where there is no save dialog (Firefox, Safari),
 * the worker writes into the origin-private file system with a sync access handle and the page
 * offers the file as a download; Done is when it is written and verified.
 */
export type SavePath = 'picker' | 'storage';

export async function browserConvert(
  app: AppServer,
  adapterDir: string,
  outtype: string,
  savePath: SavePath = 'picker',
  /** Run (untimed) just before Convert is clicked: the benchmark readies the machine there. */
  beforeConvert?: () => void,
): Promise<BrowserRun> {
  const profile = mkdtempSync(join(tmpdir(), 'l2g-bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1200, height: 900 },
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript(savePath === 'picker' ? FAKE_PICKER : NO_PICKER);
    await page.goto(app.url);
    await page.getByTestId('adapter-folder-input').setInputFiles(adapterDir);
    await page.getByTestId('preflight').waitFor({ timeout: 120_000 });
    await page.getByTestId(`outtype-${outtype}`).check();
    await page.waitForFunction(
      (suffix) => document.querySelector('[data-testid="output-file-name"]')?.textContent?.includes(suffix),
      `-${outtype.toUpperCase()}-LoRA.gguf`,
    );
    const worker = await WorkerSampler.attach(page);
    beforeConvert?.();
    const t0 = performance.now();
    worker.start();
    await page.getByTestId('convert').click();
    await page.getByTestId('result').waitFor({ timeout: 600_000 });
    const seconds = (performance.now() - t0) / 1000;
    const workerPeakBytes = await worker.stop();
    const rendererPeakRssBytes = rendererPeakRss(profile);
    // No named functions inside (tsx would wrap them in a helper the page does not have), and not
    // a string either: the app's Content-Security-Policy forbids evaluating strings.
    const outputBytes = await page.evaluate(async () => {
      type Dir = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };
      let total = 0;
      const dirs: Dir[] = [(await navigator.storage.getDirectory()) as Dir];
      while (dirs.length) {
        for await (const h of dirs.pop()!.values()) {
          if (h.kind === 'file') total += (await (h as FileSystemFileHandle).getFile()).size;
          else dirs.push(h as Dir);
        }
      }
      return total;
    });
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    return { seconds, outputBytes, rendererPeakRssBytes, workerPeakBytes, browserVersion: context.browser()?.version() ?? chromiumVersion() };
  } finally {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Samples the conversion worker's memory over CDP while it converts; `stop()` gives the peak. */
class WorkerSampler {
  private peak = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight = false;
  private constructor(private readonly cdp: ConverterWorkerCdp) {}

  static async attach(page: Page): Promise<WorkerSampler> {
    return new WorkerSampler(await ConverterWorkerCdp.attach(page));
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), 50);
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    await this.sample();
    await this.cdp.detach();
    return this.peak;
  }

  private async sample(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      this.peak = Math.max(this.peak, (await this.cdp.heapAndBuffers()) ?? 0);
    } finally {
      this.inFlight = false;
    }
  }
}

export function chromiumVersion(): string {
  try {
    // Debian's wrapper prints "Chromium 1xx.x.x.x built on Debian …".
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export interface BrowserFloor {
  /** The adapter file read as the converter reads it (6 MiB Blob slices, two at a time). */
  readSeconds: number;
  /**
   * The renderer's peak resident memory after that read alone: Chromium's own, for a page that
   * only reads the file (each slice is a new ArrayBuffer; the peak grows with the file's size).
   */
  readRendererPeakRssBytes: number;
  /** The output's bytes written through an OPFS sync access handle, then closed (not flushed, as the app leaves it). */
  storageWriteSeconds: number;
  /** The output's bytes written through a FileSystemWritableFileStream (two writes queued), closed. */
  pickerWriteSeconds: number;
}

const FLOOR_WORKER = join(dirname(fileURLToPath(import.meta.url)), 'floor-worker.js');

/**
 * The browser's own I/O floor on this file, in the same Chromium (bench/floor-worker.js): how
 * long reading the input and writing the output take with no conversion at all. A converter in
 * this browser cannot beat the larger of the read and the write. `beforeEach` runs (untimed)
 * before each step.
 */
export async function browserFloor(file: string, outputBytes: number, beforeEach?: () => void): Promise<BrowserFloor> {
  const server = createServer((req, res) => {
    if (req.url === '/floor-worker.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(readFileSync(FLOOR_WORKER));
    } else {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>floor</title><input type="file" id="file">');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const profile = mkdtempSync(join(tmpdir(), 'l2g-bench-floor-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator('#file').setInputFiles(file);
    const step = async (name: string): Promise<number> => {
      beforeEach?.();
      return page.evaluate(
        ([stepName, bytes]) =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker('/floor-worker.js');
            worker.onmessage = (e) => {
              worker.terminate();
              resolve((e.data as { seconds: number }).seconds);
            };
            worker.onerror = (e) => reject(new Error(e.message));
            worker.postMessage({ file: (document.getElementById('file') as HTMLInputElement).files![0], outputBytes: bytes, step: stepName });
          }),
        [name, outputBytes] as const,
      );
    };
    const readSeconds = await step('read');
    const readRendererPeakRssBytes = rendererPeakRss(profile);
    return { readSeconds, readRendererPeakRssBytes, storageWriteSeconds: await step('storage'), pickerWriteSeconds: await step('picker') };
  } finally {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    server.close();
  }
}
