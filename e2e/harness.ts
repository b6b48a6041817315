/**
 * E2E harness: serves the production build (dist/) with `vite preview` on 127.0.0.1 and drives
 * Debian's Chromium through playwright-core in a persistent context (its own temporary profile,
 * so the origin-private file system has a disk-sized quota for the large-file cases).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
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

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A persistent Chromium context with its own temporary profile (OPFS and service workers persist in it). */
export async function launchBrowser(profilePrefix = 'l2g-e2e-profile-'): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The production build served by `vite preview` on a free loopback port. */
export async function startPreview(): Promise<{ url: string; close(): Promise<void> }> {
  if (!existsSync(join(process.cwd(), 'dist', 'index.html'))) throw new Error('dist/ is missing: run `vite build` first (npm run test:e2e does).');
  const server: PreviewServer = await preview({ logLevel: 'error', preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no address');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

export async function startHarness(): Promise<Harness> {
  const server = await startPreview();
  const browser = await launchBrowser();
  return {
    url: server.url,
    context: browser.context,
    async close() {
      await browser.close();
      await server.close();
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
/** Remove the origin-private file system (as in WebKit builds without it, or a private window). */
export const NO_OPFS = `delete StorageManager.prototype.getDirectory;`;
/** Remove service workers from the page's view (as in private windows of some browsers). */
export const NO_SW = `delete Navigator.prototype.serviceWorker;`;

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

const HIDDEN = 4096;
const FFN = 11008;
export const BIG_LAYERS = 6;
const RANK = 256;

/** A big Llama adapter, BF16 zeros, written sparsely (header, then the file extended). */
export function writeBigAdapter(dir: string, layers = BIG_LAYERS): number {
  mkdirSync(join(dir, 'base'), { recursive: true });
  const modules: [string, number, number][] = [
    ['self_attn.q_proj', HIDDEN, HIDDEN],
    ['self_attn.k_proj', HIDDEN, HIDDEN],
    ['self_attn.v_proj', HIDDEN, HIDDEN],
    ['self_attn.o_proj', HIDDEN, HIDDEN],
    ['mlp.gate_proj', HIDDEN, FFN],
    ['mlp.up_proj', HIDDEN, FFN],
    ['mlp.down_proj', FFN, HIDDEN],
  ];
  const header: Record<string, unknown> = {};
  let at = 0;
  for (let l = 0; l < layers; l++) {
    for (const [m, inDim, outDim] of modules) {
      for (const [suffix, shape] of [
        ['lora_A', [RANK, inDim]],
        ['lora_B', [outDim, RANK]],
      ] as const) {
        const bytes = shape[0] * shape[1] * 2;
        header[`base_model.model.model.layers.${l}.${m}.${suffix}.weight`] = { dtype: 'BF16', shape, data_offsets: [at, at + bytes] };
        at += bytes;
      }
    }
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const head = Buffer.alloc(8 + json.length);
  head.writeBigUInt64LE(BigInt(json.length), 0);
  head.write(json, 8, 'utf8');
  const file = join(dir, 'adapter_model.safetensors');
  writeFileSync(file, head);
  truncateSync(file, head.length + at);
  writeFileSync(
    join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      r: RANK,
      lora_alpha: RANK * 2,
      target_modules: modules.map(([m]) => m.split('.')[1]),
      base_model_name_or_path: 'e2e/big-llama',
    }),
  );
  writeFileSync(
    join(dir, 'base', 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: HIDDEN,
      intermediate_size: FFN,
      num_hidden_layers: layers,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      vocab_size: 32000,
      tie_word_embeddings: false,
    }),
  );
  return head.length + at;
}

/** Wait (every animation frame) until at least `n` tensors are written: the conversion is mid-way. */
export async function waitForTensors(page: Page, n = 3): Promise<void> {
  await page.waitForFunction((min) => Number((document.querySelector('[data-testid="progress-tensors"]')?.textContent ?? '0').split('/')[0]) >= min, n, {
    timeout: 60_000,
    polling: 'raf',
  });
}

/** Click Cancel and wait for the page to say that nothing was written. */
export async function cancelAndExpectNothingWritten(page: Page): Promise<void> {
  await page.getByTestId('cancel').click();
  await page.getByTestId('notice').waitFor({ timeout: 30_000 });
  const notice = (await page.getByTestId('notice').textContent()) ?? '';
  if (!/cancelled\. Nothing was written/i.test(notice)) throw new Error(`unexpected notice after cancel: ${notice}`);
}

/**
 * A DevTools channel to the page's conversion worker, for reading its memory: the page's session
 * auto-attaches to its workers (non-flat sessions, messages relayed by Target.sendMessageToTarget).
 */
export class ConverterWorkerCdp {
  private session: string | null = null;
  private next = 1;
  private readonly waiting = new Map<number, (result: unknown) => void>();
  private constructor(private readonly cdp: CDPSession) {}

  static async attach(page: Page): Promise<ConverterWorkerCdp> {
    const cdp = await page.context().newCDPSession(page);
    const m = new ConverterWorkerCdp(cdp);
    cdp.on('Target.attachedToTarget', (e) => {
      if (e.targetInfo.type === 'worker' && e.targetInfo.url.includes('converter')) m.session = e.sessionId;
    });
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      const reply = JSON.parse(e.message) as { id?: number; result?: unknown };
      if (reply.id !== undefined) m.waiting.get(reply.id)?.(reply.result);
    });
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    return m;
  }

  /** Whether the conversion worker exists yet (it is started on demand). */
  get attached(): boolean {
    return this.session !== null;
  }

  /** Call a DevTools method in the worker; undefined when there is no worker (yet), or it went away. */
  send(method: string): Promise<unknown> {
    if (!this.session) return Promise.resolve(undefined);
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.cdp.send('Target.sendMessageToTarget', { sessionId: this.session!, message: JSON.stringify({ id, method }) }).catch(() => resolve(undefined));
    });
  }

  /** The worker's JS heap plus the array buffers it holds, in bytes (garbage not yet collected included). */
  async heapAndBuffers(): Promise<number | undefined> {
    const usage = (await this.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number } | undefined;
    return usage ? usage.usedSize + (usage.backingStorageSize ?? 0) : undefined;
  }

  detach(): Promise<void> {
    return this.cdp.detach().catch(() => undefined);
  }
}
