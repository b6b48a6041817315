/**
 * The offline PWA against production builds:
 * - installability: the manifest's fields and icons, the service worker controls start_url, and
 *   Chromium reports no installability errors (DevTools protocol Page.getInstallabilityErrors);
 * - offline: load once, STOP the server (setting the context offline does not stop service-worker
 *   fetches in Chromium), reload → the app loads, a shared-link URL opens, and the sample converts
 *   to bytes identical to the core's output;
 * - update: a new build served on the same origin → "Update available" is shown, the page does not
 *   reload by itself, and reloads into the new version only when the button is clicked.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bytesSource, convert, inspect, lookupBaseConfig, MemorySink } from '../src/core';
import { buildSafetensors } from '../test/helpers/safetensors-build';
import { bytesEqual, expectedBytes, FAKE_PICKER, readSaved } from './harness';
import { buildVariant, CONTROLLED, launchBrowser, reachable, serve, type Browser, type Build } from './pwa-support';

/** Version A, and the "new version" B: the same app with another build id (built while the first tests run). */
/** The sample's folder name (src/app/services/sample.ts; not imported: it uses Vite's import.meta.env). */
const SAMPLE_NAME = 'tiny-llama-lora-sample';

/**
 * An adapter whose base is in the bundled catalogue (Qwen/Qwen2.5-0.5B: hidden 896, 14 query
 * heads and 2 KV heads of 64), with no config.json beside it: offline, the catalogue supplies it.
 */
const CATALOGUE_BASE = 'Qwen/Qwen2.5-0.5B';
function catalogueAdapter(): { adapterConfig: string; weights: Uint8Array } {
  let seed = 7;
  const bf16 = (n: number) =>
    Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      // Small random bf16 values: sign, exponent 0x78..0x7b, 7 mantissa bits.
      return ((seed >>> 31) << 15) | ((0x78 + ((seed >>> 8) & 3)) << 7) | ((seed >>> 12) & 0x7f);
    });
  const r = 4;
  const tensors = [
    { module: 'q_proj', out: 896 },
    { module: 'v_proj', out: 128 },
  ].flatMap(({ module, out }) => [
    { name: `base_model.model.model.layers.0.self_attn.${module}.lora_A.weight`, dtype: 'BF16', shape: [r, 896], data: bf16(r * 896) },
    { name: `base_model.model.model.layers.0.self_attn.${module}.lora_B.weight`, dtype: 'BF16', shape: [out, r], data: bf16(out * r) },
  ]);
  const adapterConfig = JSON.stringify({
    peft_type: 'LORA',
    r,
    lora_alpha: 8,
    target_modules: ['q_proj', 'v_proj'],
    base_model_name_or_path: CATALOGUE_BASE,
    task_type: 'CAUSAL_LM',
  });
  return { adapterConfig, weights: buildSafetensors(tensors) };
}

let a: Build;
let nextBuild: Promise<Build>;
let browser: Browser;

beforeAll(async () => {
  // Own builds in temporary folders: dist/ may be rebuilt by another test run meanwhile.
  a = await buildVariant('pwa-a', { VITE_BUILD_ID: 'e2e-a' });
  nextBuild = buildVariant('pwa-b', { VITE_BUILD_ID: 'e2e-b' });
  nextBuild.catch(() => undefined);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  a?.cleanup();
  (await nextBuild?.catch(() => null))?.cleanup();
});

async function openControlled(url: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.addInitScript(FAKE_PICKER);
  await page.goto(url);
  await page.waitForFunction(CONTROLLED, undefined, { timeout: 30_000 });
  return page;
}

describe('installable PWA', () => {
  test('manifest fields and icons, start_url controlled by the service worker, no installability errors', async () => {
    const server = await serve(a.outDir);
    try {
      const page = await openControlled(server.url);
      const href = await page.locator('link[rel="manifest"]').getAttribute('href');
      expect(href).toBeTruthy();
      const manifestUrl = new URL(href!, server.url).href;
      const manifest = (await (await fetch(manifestUrl)).json()) as {
        name: string;
        short_name: string;
        start_url: string;
        display: string;
        theme_color: string;
        icons: { src: string; sizes: string; type: string; purpose?: string }[];
      };
      expect(manifest.name).toContain('lora2gguf');
      expect(manifest.short_name).toBe('lora2gguf');
      expect(manifest.display).toBe('standalone');
      expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
      for (const size of ['192x192', '512x512']) {
        expect(manifest.icons.some((i) => i.sizes === size && (i.purpose ?? 'any').split(' ').includes('any'))).toBe(true);
        expect(manifest.icons.some((i) => i.sizes === size && (i.purpose ?? '').split(' ').includes('maskable'))).toBe(true);
      }
      // Every icon is a PNG of the size it claims (IHDR width/height).
      for (const icon of manifest.icons) {
        const res = await fetch(new URL(icon.src, manifestUrl));
        expect(res.status).toBe(200);
        const bytes = new Uint8Array(await res.arrayBuffer());
        expect([...bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        expect(`${view.getUint32(16)}x${view.getUint32(20)}`).toBe(icon.sizes);
      }

      // start_url opens under the service worker's control.
      const startUrl = new URL(manifest.start_url, manifestUrl).href;
      await page.goto(startUrl);
      await page.waitForFunction(CONTROLLED);
      const scope = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.scope ?? null);
      expect(scope).not.toBeNull();
      expect(startUrl.startsWith(scope!)).toBe(true);

      const cdp = await browser.context.newCDPSession(page);
      const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
      expect(installabilityErrors).toEqual([]);
      const appManifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string };
      expect(appManifest.url).toBe(manifestUrl);
      expect(appManifest.errors).toEqual([]);
      await page.close();
    } finally {
      await server.stop();
    }
  });
});

describe('offline', () => {
  test('after one visit the app loads with the server stopped, opens a link URL, converts the sample and a catalogue-based adapter byte-identically', async () => {
    const server = await serve(a.outDir);
    let stopped = false;
    try {
      const page = await openControlled(server.url);
      await page.getByTestId('offline-ready').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('offline-ready').textContent()).toContain('Ready to work offline');

      await server.stop();
      stopped = true;
      expect(await reachable(server.url)).toBe(false);

      await page.reload();
      await page.getByRole('heading', { name: 'lora2gguf', level: 1 }).waitFor();
      // A URL with a query and a link fragment is answered by the cached shell too.
      await page.goto(`${server.url}?from=share#v=1&outtype=q8_0`);
      await page.getByRole('button', { name: 'Try a sample' }).waitFor();

      await page.getByRole('button', { name: 'Try a sample' }).click();
      await page.getByTestId('preflight').waitFor();
      expect(await page.getByTestId('output-name').inputValue()).toBe(SAMPLE_NAME);
      await page.getByTestId('outtype-q8_0').check();
      await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe(`${SAMPLE_NAME}-Q8_0-LoRA.gguf`);
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      const saved = await readSaved(page, `${SAMPLE_NAME}-Q8_0-LoRA.gguf`);
      const expected = await expectedBytes(join(process.cwd(), 'public', 'sample'), { outtype: 'q8_0', name: SAMPLE_NAME });
      expect(saved.byteLength).toBe(expected.byteLength);
      expect(bytesEqual(saved, expected)).toBe(true);

      // An adapter naming a base in the bundled catalogue, given without config.json: converts offline.
      const { adapterConfig, weights } = catalogueAdapter();
      const parent = mkdtempSync(join(tmpdir(), 'l2g-e2e-catalogue-'));
      try {
        const dir = join(parent, 'qwen-catalogue-lora');
        mkdirSync(dir);
        writeFileSync(join(dir, 'adapter_config.json'), adapterConfig);
        writeFileSync(join(dir, 'adapter_model.safetensors'), weights);
        await page.goto(server.url);
        await page.getByTestId('adapter-folder-input').setInputFiles(dir);
        await page.getByTestId('preflight').waitFor();
        expect(await page.getByTestId('architecture').textContent()).toBe('Qwen2ForCausalLM');
        expect(await page.getByTestId('input-files').textContent()).toContain(`bundled catalogue: ${CATALOGUE_BASE}`);
        await page.getByTestId('outtype-f16').check();
        await expect.poll(() => page.getByTestId('output-file-name').textContent()).toBe('qwen-catalogue-lora-F16-LoRA.gguf');
        await page.getByTestId('convert').click();
        await page.getByTestId('result').waitFor();
        const got = await readSaved(page, 'qwen-catalogue-lora-F16-LoRA.gguf');
        // What the CLI does for the same adapter: the core with the catalogue's config.
        const input = { adapterConfig, baseConfig: lookupBaseConfig(CATALOGUE_BASE)!.config, adapter: bytesSource(weights) };
        const plan = await inspect(input, { outtype: 'f16', name: 'qwen-catalogue-lora' });
        expect(plan.refusals).toEqual([]);
        const sink = new MemorySink();
        await convert(plan, input.adapter, sink);
        expect(bytesEqual(got, sink.bytes())).toBe(true);
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
      await page.close();
    } finally {
      if (!stopped) await server.stop();
    }
  });
});

describe('update flow', () => {
  test('a new build on the same origin: the prompt shows, nothing reloads until the user clicks', async () => {
    const b = await nextBuild;
    const first = await serve(a.outDir);
    const port = first.port;
    let second: Awaited<ReturnType<typeof serve>> | null = null;
    try {
      const page = await openControlled(first.url);
      expect(await page.evaluate(() => document.documentElement.dataset['build'])).toBe('e2e-a');
      await page.evaluate(() => {
        (window as unknown as { __stillHere: boolean }).__stillHere = true;
      });

      await first.stop();
      second = await serve(b.outDir, port);
      // The browser checks for a new service worker on navigations and on update(); ask now.
      await page.evaluate(async () => {
        await (await navigator.serviceWorker.getRegistration())!.update();
      });
      await page.getByTestId('update-toast').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('update-toast').textContent()).toContain('Update available');

      // Nothing happens by itself: same document, old version still running.
      await page.waitForTimeout(1500);
      expect(await page.evaluate(() => (window as unknown as { __stillHere?: boolean }).__stillHere)).toBe(true);
      expect(await page.evaluate(() => document.documentElement.dataset['build'])).toBe('e2e-a');

      await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), page.getByTestId('update-reload').click()]);
      await page.waitForFunction(CONTROLLED);
      expect(await page.evaluate(() => document.documentElement.dataset['build'])).toBe('e2e-b');
      expect(await page.evaluate(() => (window as unknown as { __stillHere?: boolean }).__stillHere)).toBeUndefined();
      await page.close();
    } finally {
      await second?.stop();
    }
  });
});
