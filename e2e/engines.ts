/**
 * Browser engines besides Chromium, from Debian's packages (never a downloaded browser):
 *
 * - Firefox (`firefox-esr`), driven by puppeteer-core over WebDriver BiDi;
 * - WebKit — Safari's engine — (`webkit2gtk-driver` with WebKitGTK's MiniBrowser), driven over
 *   classic WebDriver (a small client here, on fetch), under a virtual X display (`xvfb-run`).
 *
 * Both are driven the same way: scripts evaluated in the page, files set on the file input, and
 * for WebKit the downloads, which MiniBrowser saves into its $HOME (a temporary folder per run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser as PuppeteerBrowser, type Page as PuppeteerPage } from 'puppeteer-core';

export const FIREFOX = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env['WEBKIT_DRIVER_PATH'] ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env['MINIBROWSER_PATH'] ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const XVFB_RUN = process.env['XVFB_RUN_PATH'] ?? '/usr/bin/xvfb-run';

export type EngineName = 'firefox' | 'webkit';

export interface Engine {
  name: EngineName;
  goto(url: string): Promise<void>;
  /** Run `body` (a function body; `return` a JSON value) in the page. */
  run<T>(body: string): Promise<T>;
  /** Run `body` as an async function body in the page (may `await`; `return` a JSON value). */
  runAsync<T>(body: string): Promise<T>;
  /** Put files on the `<input type=file>` with this data-testid. */
  setFiles(testId: string, paths: string[]): Promise<void>;
  /** Where the engine saves downloads (WebKit), or null (Firefox: the app saves to private storage there). */
  downloads: string | null;
  close(): Promise<void>;
}

/** Wait until `check()` returns something truthy, polling; throws `what` after `timeoutMs`. */
export async function until<T>(check: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Firefox; `privateWindow`: every window in private browsing (no private storage, no service
 * workers there); downloads are saved, without asking, into the engine's `downloads` folder.
 */
export async function launchFirefox(privateWindow = false): Promise<Engine> {
  const downloads = mkdtempSync(join(tmpdir(), 'l2g-firefox-downloads-'));
  const browser: PuppeteerBrowser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    // The app's offline test needs service workers, which this profile must allow.
    extraPrefsFirefox: {
      'dom.serviceWorkers.enabled': true,
      'dom.serviceWorkers.testing.enabled': true,
      ...(privateWindow ? { 'browser.privatebrowsing.autostart': true } : {}),
      'browser.download.dir': downloads,
      'browser.download.folderList': 2,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
      'browser.helperApps.neverAsk.saveToDisk': 'application/octet-stream',
    },
  });
  const page: PuppeteerPage = await browser.newPage();
  return {
    name: 'firefox',
    downloads: privateWindow ? downloads : null,
    async goto(url) {
      await page.goto(url, { waitUntil: 'load' });
    },
    run: (body) => page.evaluate(`(function () { ${body} })()`) as never,
    runAsync: (body) => page.evaluate(`(async function () { ${body} })()`) as never,
    async setFiles(testId, paths) {
      const input = await page.$(`[data-testid="${testId}"]`);
      if (!input) throw new Error(`no element with data-testid ${testId}`);
      await (input as unknown as { uploadFile(...p: string[]): Promise<void> }).uploadFile(...paths);
    },
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(downloads, { recursive: true, force: true });
    },
  };
}

/** A minimal W3C WebDriver client: just the commands these tests use. */
class WebDriverSession {
  constructor(
    private readonly base: string,
    readonly id: string,
  ) {}

  static async create(base: string, capabilities: unknown): Promise<WebDriverSession> {
    const r = await WebDriverSession.request(base, 'POST', '/session', { capabilities });
    return new WebDriverSession(base, (r as { sessionId: string }).sessionId);
  }

  static async request(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json()) as { value: unknown };
    const v = json.value as { error?: string; message?: string } | null;
    if (!res.ok || (v && typeof v === 'object' && 'error' in v && v.error)) throw new Error(`WebDriver ${method} ${path}: ${v?.error} ${v?.message ?? ''}`);
    return json.value;
  }

  cmd(method: string, path: string, body?: unknown): Promise<unknown> {
    return WebDriverSession.request(this.base, method, `/session/${this.id}${path}`, body);
  }
}

export async function launchWebKit(): Promise<Engine> {
  const home = mkdtempSync(join(tmpdir(), 'l2g-webkit-home-'));
  const port = await freePort();
  // xvfb-run gives MiniBrowser a display; the group is killed at close.
  const driver: ChildProcess = spawn(XVFB_RUN, ['-a', WEBKIT_DRIVER, `--port=${port}`, '--host=127.0.0.1'], {
    env: { ...process.env, HOME: home },
    stdio: 'ignore',
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/status`).then((r) => r.ok, () => false)) || null, 'WebKitWebDriver to listen', 20_000);
  const session = await WebDriverSession.create(base, {
    alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } },
  });
  const wrapAsync = (body: string) =>
    `const done = arguments[arguments.length - 1]; (async function () { ${body} })().then((v) => done({ ok: v }), (e) => done({ error: String(e && e.stack || e) }));`;
  return {
    name: 'webkit',
    downloads: home,
    async goto(url) {
      await session.cmd('POST', '/url', { url });
    },
    run: async (body) => (await session.cmd('POST', '/execute/sync', { script: body, args: [] })) as never,
    async runAsync(body) {
      const r = (await session.cmd('POST', '/execute/async', { script: wrapAsync(body), args: [] })) as { ok?: unknown; error?: string };
      if (r.error) throw new Error(r.error);
      return r.ok as never;
    },
    async setFiles(testId, paths) {
      const el = (await session.cmd('POST', '/element', { using: 'css selector', value: `[data-testid="${testId}"]` })) as Record<string, string>;
      const elementId = Object.values(el)[0]!;
      await session.cmd('POST', `/element/${elementId}/value`, { text: paths.join('\n') });
    },
    async close() {
      await session.cmd('DELETE', '').catch(() => undefined);
      try {
        if (driver.pid) process.kill(-driver.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export function launchEngine(name: EngineName): Promise<Engine> {
  return name === 'firefox' ? launchFirefox() : launchWebKit();
}
