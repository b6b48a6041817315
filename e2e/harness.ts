/**
 * E2E harness: serves the production build (dist/) with `vite preview` on 127.0.0.1 and drives
 * Debian's Chromium through playwright-core in a persistent context (its own temporary profile,
 * so the origin-private file system has a disk-sized quota for the large-file cases).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { bytesSource, convert, inspect, MemorySink, type OutTypeOption } from '../src/core';
import { REFERENCE } from '../test/helpers/fixtures';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Harness {
  url: string;
  context: BrowserContext;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  if (!existsSync(join(process.cwd(), 'dist', 'index.html'))) throw new Error('dist/ is missing: run `vite build` first (npm run test:e2e does).');
  const server: PreviewServer = await preview({ logLevel: 'error', preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no address');
  const url = `http://127.0.0.1:${address.port}/`;
  const profile = mkdtempSync(join(tmpdir(), 'l2g-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
  });
  return {
    url,
    context,
    async close() {
      await context.close().catch(() => undefined);
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Replace the save picker with one returning a fresh OPFS file handle (Playwright cannot click native pickers). */
export const FAKE_PICKER = `
  window.__picked = [];
  window.showSaveFilePicker = async (options) => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('e2e-saved', { create: true });
    const name = options && options.suggestedName ? options.suggestedName : 'out.gguf';
    window.__picked.push(name);
    return dir.getFileHandle(name, { create: true });
  };
`;

/** Remove the save picker: the app must take the OPFS + download path. */
export const NO_PICKER = `delete window.showSaveFilePicker; delete Window.prototype.showSaveFilePicker;`;

/** Read a file the fake picker created back from OPFS, as bytes. */
export async function readSaved(page: Page, name: string): Promise<Uint8Array> {
  const b64 = await page.evaluate(async (n) => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('e2e-saved');
    const file = await (await dir.getFileHandle(n)).getFile();
    const bytes = new Uint8Array(await file.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, name);
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** Names of files in an OPFS folder (empty when the folder does not exist). */
export async function listOpfs(page: Page, folder: string): Promise<string[]> {
  return page.evaluate(async (f) => {
    const root = await navigator.storage.getDirectory();
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await root.getDirectoryHandle(f);
    } catch {
      return [];
    }
    const names: string[] = [];
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names;
  }, folder);
}

/** The core's output for the same inputs and options, computed in the test process (what the CLI writes). */
export async function expectedBytes(dir: string, options: { outtype: OutTypeOption; name: string; dropUnapplied?: boolean }): Promise<Uint8Array> {
  const input = {
    adapterConfig: readFileSync(join(dir, 'adapter_config.json'), 'utf8'),
    baseConfig: readFileSync(join(dir, 'base', 'config.json'), 'utf8'),
    adapter: bytesSource(new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors')))),
  };
  const plan = await inspect(input, options);
  const sink = new MemorySink();
  await convert(plan, input.adapter, sink);
  return sink.bytes();
}

/** Copy a reference case's input/ to a temp folder named like the adapter (the name the app defaults to). */
export function stageCase(caseName: string, dirName: string): { dir: string; cleanup(): void } {
  const parent = mkdtempSync(join(tmpdir(), 'l2g-e2e-case-'));
  const dir = join(parent, dirName);
  cpSync(join(REFERENCE, caseName, 'input'), dir, { recursive: true });
  return { dir, cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
  );
}
