/**
 * Adapters straight from the Hub, in the browser, against the local fake Hub (a build of the app
 * with VITE_HUB_ENDPOINT pointed at it):
 * - a share link → preflight (nothing converts before the click) → convert → bytes identical to
 *   the core's output for the same files and options; the weights read by ranges, once;
 * - a gated repo without a token → a clear prompt; with the token → converts, and the token went
 *   to the Hub only (never to the CDN), never into storage or the link.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, readGgufHeader, type OutType } from '../src/core';
import { baseTensorsFor, writeSparseBase } from '../test/helpers/gguf-base';
import { startFakeHub, type FakeHub } from '../test/helpers/fake-hub';
import { REFERENCE } from '../test/helpers/fixtures';
import { bytesEqual, FAKE_PICKER, listOpfs, readSaved } from './harness';
import { buildVariant, launchBrowser, serve, type Browser, type Build, type Served } from './pwa-support';

const CASE = join(REFERENCE, 'llama_bf16_f16', 'input');
const WEIGHTS = new Uint8Array(readFileSync(join(CASE, 'adapter_model.safetensors')));
const BASE_CONFIG = readFileSync(join(CASE, 'base', 'config.json'), 'utf8');
/** The fixture's adapter config naming a base that lives on the fake Hub (the fixture's real-model base is in the catalogue with real dimensions). */
const ADAPTER_CONFIG = JSON.stringify({
  ...(JSON.parse(readFileSync(join(CASE, 'adapter_config.json'), 'utf8')) as Record<string, unknown>),
  base_model_name_or_path: 'test-org/tiny-llama',
});
const SUB = 'checkpoints/step-10';

let hub: FakeHub;
let build: Build;
let server: Served;
let browser: Browser;

beforeAll(async () => {
  hub = await startFakeHub([
    { id: 'test-org/llama-lora', files: { [`${SUB}/adapter_config.json`]: ADAPTER_CONFIG, [`${SUB}/adapter_model.safetensors`]: WEIGHTS }, refs: ['v1'] },
    { id: 'test-org/gated-lora', files: { 'adapter_config.json': ADAPTER_CONFIG, 'adapter_model.safetensors': WEIGHTS }, gated: true },
    { id: 'test-org/tiny-llama', files: { 'config.json': BASE_CONFIG } },
    { id: 'test-org/tiny-llama-gguf', files: { 'Tiny-F16.gguf': await tinyBaseGguf() } },
  ]);
  // The fake Hub's CDN is another origin: the build's Content-Security-Policy must let it in.
  build = await buildVariant('hub', { VITE_HUB_ENDPOINT: hub.url, VITE_HUB_CDN_ORIGINS: hub.cdnUrl, VITE_BUILD_ID: 'e2e-hub' });
  server = await serve(build.outDir);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  build?.cleanup();
  await hub?.close();
});

/** What the CLI writes for the same files and options: the core, run here. */
async function expected(outtype: OutType, name: string): Promise<Uint8Array> {
  const input = { adapterConfig: ADAPTER_CONFIG, baseConfig: BASE_CONFIG, adapter: bytesSource(WEIGHTS) };
  const plan = await inspect(input, { outtype, name });
  const sink = new MemorySink();
  await convert(plan, input.adapter, sink);
  return sink.bytes();
}

/** A base GGUF for the fixture (header, then 16 MB of data) to check against on the Hub. */
async function tinyBaseGguf(): Promise<Uint8Array> {
  const adapter = await readGgufHeader(bytesSource(await expected('f16', 'x')));
  const dir = mkdtempSync(join(tmpdir(), 'l2g-e2e-hubbase-'));
  const path = join(dir, 'base.gguf');
  writeSparseBase(path, { arch: 'llama', name: 'Tiny Hub Base', blocks: 2, tensors: baseTensorsFor(adapter), size: 16 * 2 ** 20 });
  const bytes = new Uint8Array(readFileSync(path));
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

async function newPage(): Promise<Page> {
  const page = await browser.context.newPage();
  // Content-Security-Policy violations, collected for the checks below.
  await page.addInitScript(
    `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`,
  );
  await page.addInitScript(FAKE_PICKER);
  return page;
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}

describe('from the Hub', () => {
  test('a share link opens the preflight, converts only on click, bytes identical, weights read by ranges once', async () => {
    hub.reset();
    const sha = hub.shaOf('test-org/llama-lora');
    const page = await newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e) + (process.env.DBG ? e.stack : '')));
    await page.goto(`${server.url}#v=1&repo=test-org/llama-lora&path=${SUB}&rev=v1&outtype=q8_0&name=shared-lora`);
    await page.getByTestId('preflight').waitFor({ timeout: 30_000 });

    // Restored: the adapter (pinned to the commit), the outtype and the name; the base found on the Hub.
    expect(await page.getByTestId('hub-summary-commit').textContent()).toBe(sha.slice(0, 12));
    expect(await page.getByTestId('base-origin').textContent()).toContain('test-org/tiny-llama');
    expect(await page.getByTestId('outtype-q8_0').isChecked()).toBe(true);
    expect(await page.getByTestId('output-name').inputValue()).toBe('shared-lora');
    expect(await page.getByTestId('architecture').textContent()).toBe('LlamaForCausalLM');
    // Nothing is written before the click.
    await page.waitForTimeout(300);
    expect(await listOpfs(page, 'e2e-saved')).toEqual([]);
    expect(await page.getByTestId('result').count()).toBe(0);

    // The link to share names the commit that was read, never a token.
    await page.getByTestId('copy-link').click();
    const link = await page.getByTestId('share-link').inputValue();
    expect(link).toBe(`${server.url}#v=1&repo=test-org/llama-lora&path=${SUB}&rev=${sha}&outtype=q8_0&name=shared-lora&drop_unapplied=0`);

    await page.getByTestId('convert').click();
    await page.getByTestId('result').waitFor({ timeout: 30_000 });
    const saved = await readSaved(page, 'shared-lora-Q8_0-LoRA.gguf');
    expect(bytesEqual(saved, await expected('q8_0', 'shared-lora'))).toBe(true);

    // The weights crossed the wire once, by range requests (inspect and convert share the blocks).
    expect(hub.bytesServed.get(`test-org/llama-lora/${SUB}/adapter_model.safetensors`)).toBe(WEIGHTS.byteLength);
    const weightRequests = hub.requests.filter((r) => r.server === 'cdn');
    expect(weightRequests.length).toBeGreaterThan(0);
    expect(weightRequests.every((r) => r.range !== null && r.status === 206)).toBe(true);
    // No token was given: none was sent.
    expect(hub.requests.some((r) => r.authorization)).toBe(false);
    expect(errors).toEqual([]);
    // The build's Content-Security-Policy (connect-src: the Hub and its CDN) let everything through.
    expect(await cspViolations(page)).toEqual([]);
    await page.close();
  });

  test('a gated repo: without a token a clear prompt; with the token it converts, and the token goes to the Hub only', async () => {
    hub.reset();
    const page = await newPage();
    await page.goto(server.url);
    await page.getByTestId('hub-ref').fill('test-org/gated-lora');
    await page.getByTestId('hub-open').click();
    await page.getByTestId('hub-auth-prompt').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('hub-error').getAttribute('data-code')).toBe('auth_required');
    expect(await page.getByTestId('hub-error').textContent()).toContain('gated');
    // The token field is shown and focused for typing.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('hub-token');
    expect(await page.getByTestId('preflight').count()).toBe(0);

    await page.getByTestId('hub-token').fill(hub.token);
    await page.getByTestId('hub-open').click();
    await page.getByTestId('preflight').waitFor({ timeout: 30_000 });
    await page.getByTestId('convert').click();
    await page.getByTestId('result').waitFor({ timeout: 30_000 });
    const saved = await readSaved(page, 'gated-lora-F32-LoRA.gguf');
    expect(bytesEqual(saved, await expected('f32', 'gated-lora'))).toBe(true);

    // The token reached the Hub's origin only; the CDN (another origin) never saw it.
    const withToken = hub.requests.filter((r) => r.authorization);
    expect(withToken.length).toBeGreaterThan(0);
    expect(withToken.every((r) => r.server === 'hub' && r.token === hub.token)).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'cdn').every((r) => !r.authorization)).toBe(true);
    // Not in the URL, the page's storage, or a link.
    expect(page.url()).not.toContain(hub.token);
    const stored = await page.evaluate(async () => {
      const dbs = (await indexedDB.databases?.()) ?? [];
      return JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, dbs: dbs.map((d) => d.name) });
    });
    expect(stored).not.toContain(hub.token);
    await page.getByRole('button', { name: 'Convert again with other options' }).click();
    await page.getByTestId('copy-link').click();
    expect(await page.getByTestId('share-link').inputValue()).not.toContain(hub.token);
    await page.close();
  });

  test('a pasted URL of the Hub names the folder and revision', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.getByTestId('hub-ref').fill(`${hub.url}/test-org/llama-lora/tree/v1/${SUB}`);
    await page.getByTestId('hub-open').click();
    await page.getByTestId('preflight').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('hub-summary-ref').textContent()).toBe(`test-org/llama-lora/${SUB}@v1`);
    expect(await page.getByTestId('output-name').inputValue()).toBe('step-10');
    await page.close();
  });

  test('publish after converting: the exact bytes and a card naming the base reach the Hub; the token only to the Hub; cancel leaves no commit', async () => {
    const page = await newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e) + (process.env.DBG ? e.stack : '')));
    try {
      await page.goto(`${server.url}#v=1&repo=test-org/llama-lora&path=${SUB}&rev=v1&outtype=f16&name=to-publish`);
      await page.getByTestId('preflight').waitFor({ timeout: 30_000 });
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor({ timeout: 30_000 });
      const saved = await readSaved(page, 'to-publish-F16-LoRA.gguf');
      hub.reset();
      await page.getByTestId('publish-repo').fill('test-org/published-gguf');
      // The base is the adapter's base model, prefilled from its config.
      expect(await page.getByTestId('publish-base').inputValue()).toBe('test-org/tiny-llama');
      await page.getByTestId('publish-token').fill(hub.token);
      await page.getByTestId('publish-button').click();
      await page.getByTestId('publish-done').waitFor({ timeout: 30_000 });
      expect(Buffer.from(hub.fileOf('test-org/published-gguf', 'to-publish-F16-LoRA.gguf')!).equals(Buffer.from(saved))).toBe(true);
      const card = new TextDecoder().decode(hub.fileOf('test-org/published-gguf', 'README.md'));
      expect(card).toMatch(/^---\nbase_model: test-org\/tiny-llama\nbase_model_relation: adapter\n/);
      expect(card).toContain(`repo=test-org/llama-lora&path=${SUB}`);
      expect(hub.requests.filter((r) => r.server === 'cdn').every((r) => !r.authorization)).toBe(true);
      // Every Hub call carried it (CORS preflights carry no credentials by design).
      expect(hub.requests.filter((r) => r.server === 'hub' && r.method !== 'OPTIONS').every((r) => r.token === hub.token)).toBe(true);
      // Never stored anywhere the page keeps things.
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
      expect(stored).not.toContain(hub.token);

      // Cancelled while the file is uploading (the fake Hub holds the upload): no commit.
      const commits = hub.commits.length;
      const started = hub.uploadsStarted();
      const release = hub.holdUploads();
      await page.getByTestId('publish-repo').fill('test-org/cancelled-gguf');
      await page.getByTestId('publish-button').click();
      await expect.poll(() => hub.uploadsStarted(), { timeout: 30_000 }).toBeGreaterThan(started);
      await page.getByTestId('publish-cancel').click();
      release();
      await page.getByTestId('publish-error').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('publish-error').textContent()).toContain('cancelled before the commit');
      expect(hub.commits.length).toBe(commits);
      expect(errors).toEqual([]);
      expect(await cspViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  test('check against a base GGUF on the Hub: its header read by ranges, not the file', async () => {
    const page = await newPage();
    try {
      await page.goto(`${server.url}#v=1&repo=test-org/llama-lora&path=${SUB}&rev=v1&outtype=f16&name=hub-check`);
      await page.getByTestId('preflight').waitFor({ timeout: 30_000 });
      hub.reset();
      await page.getByTestId('base-hub-ref').fill('test-org/tiny-llama-gguf/Tiny-F16.gguf');
      await page.getByTestId('base-hub-check').click();
      const verdict = page.getByTestId('check-verdict');
      await verdict.waitFor({ timeout: 30_000 });
      expect(await verdict.getAttribute('data-compatible')).toBe('true');
      expect(await verdict.textContent()).toContain('Compatible with Tiny Hub Base (Tiny-F16.gguf)');
      // One 2 MiB block of the 16 MB file.
      expect(hub.bytesServed.get('test-org/tiny-llama-gguf/Tiny-F16.gguf')).toBeLessThanOrEqual(2 * 2 ** 20);
      expect(await cspViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
