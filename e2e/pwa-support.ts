/**
 * Helpers for the PWA, link and Hub e2e specs: production builds into temporary folders (with
 * build-time env such as VITE_BUILD_ID or VITE_HUB_ENDPOINT), a static server per build that can
 * be stopped and restarted on the same port (same origin: the service worker survives), and a
 * Chromium persistent context like e2e/harness.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preview, type PreviewServer } from 'vite';
import { launchBrowser as launchHarnessBrowser } from './harness';

export interface Build {
  outDir: string;
  cleanup(): void;
}

/** `vite build` in a child process (its own NODE_ENV and env), into a temporary folder. */
export async function buildVariant(label: string, env: Record<string, string>): Promise<Build> {
  const parent = mkdtempSync(join(tmpdir(), `l2g-e2e-${label}-`));
  const outDir = join(parent, 'dist');
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [join(process.cwd(), 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'],
      { cwd: process.cwd(), env: { ...process.env, ...env, NODE_ENV: 'production', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' }, maxBuffer: 16 * 1024 * 1024 },
      (err, _stdout, stderr) => (err ? reject(new Error(`vite build (${label}) failed: ${stderr || err.message}`)) : resolve()),
    );
  });
  return { outDir, cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

export interface Served {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Serve a build with `vite preview` on 127.0.0.1 (port 0: any free port). */
export async function serve(outDir: string, port = 0): Promise<Served> {
  const server: PreviewServer = await preview({
    logLevel: 'error',
    build: { outDir },
    preview: { host: '127.0.0.1', port, strictPort: port !== 0, open: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    port: address.port,
    async stop() {
      // Drop keep-alive sockets too: the browser must find nothing listening.
      (server.httpServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await server.close();
    },
  };
}

/** Whether anything answers at `url` (from the test process, not the browser). */
export async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export type { Browser } from './harness';

/** A persistent Chromium context with its own temporary profile (service workers persist in it). */
export function launchBrowser() {
  return launchHarnessBrowser('l2g-e2e-pwa-profile-');
}

/** Script for page.waitForFunction: the page is controlled by an activated service worker. */
/**
 * True once an activated service worker controls the page. A function, not a string: the app's
 * Content-Security-Policy forbids evaluating strings as code, and Playwright evaluates a string
 * predicate with eval in the page.
 */
export const CONTROLLED = (): boolean =>
  !!navigator.serviceWorker && !!navigator.serviceWorker.controller && navigator.serviceWorker.controller.state === 'activated';
