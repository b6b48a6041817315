/**
 * The production build in Firefox (Debian's firefox-esr, over WebDriver BiDi) and in WebKit —
 * Safari's engine — (WebKitGTK's MiniBrowser, over WebDriver), beside the Chromium suites. In
 * each engine: the save path the ladder picks there (Firefox: private storage; this WebKit has no
 * private storage and keeps failed downloads, so: memory, and for an output over the memory limit
 * the streamed download with its caveat said), three architectures converted
 * tensor-for-tensor identical to the reference converter's files (and byte-identical to the
 * core's), the Gemma 2 lm_head refusal, cancel leaving nothing, and an offline reload.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceCases, type ExpectedOk } from '../test/helpers/fixtures';
import { readGguf } from '../test/helpers/gguf-read';
import { launchEngine, until, type Engine, type EngineName } from './engines';
import { bytesEqual, expectedBytes, startPreview, writeBigAdapter } from './harness';

const CASES = ['llama_bf16_f16', 'qwen2_bf16_q8_0', 'mixtral_bf16_f16'] as const;
const EXPECTED_PATH: Record<EngineName, string> = { firefox: 'browser storage, then Download', webkit: 'memory, then Download — up to 512 MB' };

const q = (testId: string) => `document.querySelector('[data-testid="${testId}"]')`;

describe.each(['firefox', 'webkit'] as const)('%s', (name) => {
  let engine: Engine;
  let server: { url: string; close(): Promise<void> };
  let scratch: string;
  let bigDir: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), `l2g-e2e-${name}-`));
    bigDir = join(scratch, 'big-llama-lora');
    writeBigAdapter(bigDir);
    server = await startPreview();
    engine = await launchEngine(name);
    await engine.goto(server.url);
    // The service worker installs on the first visit and takes the page (clientsClaim).
    await until(() => engine.run<boolean>('return !!(navigator.serviceWorker && navigator.serviceWorker.controller)'), 'the service worker to control the page', 30_000);
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const text = (testId: string) => engine.run<string | null>(`return ${q(testId)} ? ${q(testId)}.textContent : null;`);
  const click = (testId: string) => engine.run(`${q(testId)}.click(); return true;`);
  /** Set a React-controlled text input the way typing would. */
  const fill = (testId: string, value: string) =>
    engine.run(
      `const el = ${q(testId)}; Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, ${JSON.stringify(value)}); el.dispatchEvent(new Event('input', { bubbles: true })); return true;`,
    );

  /**
   * Click Convert once it is enabled (a new name re-plans after a short pause, which disables it
   * meanwhile), and wait until the conversion has visibly started or ended.
   */
  async function convert() {
    await new Promise((r) => setTimeout(r, 400));
    await until(() => engine.run<boolean>(`const b = ${q('convert')}; if (!b || b.disabled) return false; b.click(); return true;`), 'Convert to be enabled');
    await until(() => engine.run<boolean>(`return !!(${q('progress')} || ${q('result')} || ${q('convert-error')})`), 'the conversion to start');
  }

  /** Wait for the result page; a conversion error fails at once, with its text. */
  const result = (what: string, timeoutMs: number) =>
    until(async () => {
      const err = await text('convert-error');
      if (err) throw new Error(`conversion failed: ${err}`);
      return text('result');
    }, what, timeoutMs);

  /** A fresh page with these files given through the file input; waits for the preflight or a refusal. */
  async function open(files: string[]) {
    await engine.goto(server.url);
    await until(() => engine.run<boolean>(`return !!${q('adapter-files-input')}`), 'the page');
    await engine.setFiles('adapter-files-input', files);
    await until(() => engine.run<boolean>(`return !!(${q('preflight')} || ${q('plan-error')})`), 'the preflight');
  }

  function caseFiles(caseName: string): string[] {
    const input = join(referenceCases().find((c) => c.name === caseName)!.dir, 'input');
    return [join(input, 'adapter_config.json'), join(input, 'adapter_model.safetensors'), join(input, 'base', 'config.json')];
  }

  /** The converted file's bytes, from where this engine saved it. */
  async function savedBytes(fileName: string, size: number): Promise<Uint8Array> {
    if (engine.downloads) {
      // Kept in memory: the Download link saves it into the engine's downloads.
      await click('download');
      const path = join(engine.downloads, fileName);
      await until(async () => existsSync(path) && statSync(path).size === size, `${fileName} in the downloads`);
      return new Uint8Array(readFileSync(path));
    }
    const b64 = await engine.runAsync<string>(`
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('lora2gguf-tmp');
      const names = []; for await (const n of dir.keys()) names.push(n);
      if (names.length !== 1) throw new Error('expected one temporary output, found ' + names.length);
      const bytes = new Uint8Array(await (await (await dir.getFileHandle(names[0])).getFile()).arrayBuffer());
      let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);`);
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }

  test(`the ladder picks "${EXPECTED_PATH[name]}" here, and the preflight says so`, async () => {
    await open(caseFiles('llama_bf16_f16'));
    await until(async () => (await text('save-path')) === EXPECTED_PATH[name], `save path "${EXPECTED_PATH[name]}" (shown: ${await text('save-path')})`);
  }, 60_000);

  if (name === 'webkit') {
    test('an output over the memory limit streams through the service worker, and the preflight says what a cancel may leave', async () => {
      const huge = join(scratch, 'huge-llama-lora');
      writeBigAdapter(huge, 14);
      await open([join(huge, 'adapter_config.json'), join(huge, 'adapter_model.safetensors'), join(huge, 'base', 'config.json')]);
      await click('outtype-f16');
      await until(async () => (await text('save-path')) === 'streamed straight to Downloads', 'the streamed path');
      expect(await text('save-path-caveat')).toMatch(/may keep the part already downloaded under the final name: delete that file/);
    }, 60_000);
  }

  for (const caseName of CASES) {
    test(`${caseName}: converted tensor-for-tensor identical to the reference converter, byte-identical to the core`, async () => {
      const c = referenceCases().find((x) => x.name === caseName)!;
      await open(caseFiles(caseName));
      await click(`outtype-${c.outtype}`);
      await fill('output-name', c.adapterDirName);
      const fileName = `${c.adapterDirName}-${c.outtype.toUpperCase()}-LoRA.gguf`;
      await until(async () => (await text('output-file-name')) === fileName, fileName);
      await convert();
      await result('the result', 60_000).catch(async (e) => {
        throw new Error(`${String(e)}; the page: ${await engine.run<string>('return document.querySelector("main").textContent')}`);
      });
      const expected = await expectedBytes(join(c.dir, 'input'), { outtype: c.outtype as 'f16', name: c.adapterDirName });
      const bytes = await savedBytes(fileName, expected.byteLength);
      expect(bytesEqual(bytes, expected)).toBe(true);
      const gguf = await readGguf(bytes);
      const golden = c.expected as ExpectedOk;
      expect(gguf.tensors.map((t) => t.name).sort()).toEqual(golden.tensors.map((t) => t.name).sort());
      for (const g of golden.tensors) {
        const t = gguf.tensors.find((x) => x.name === g.name)!;
        expect([t.ne, t.type, t.sha256], g.name).toEqual([g.ne, g.ggml_type_id, g.sha256]);
      }
    }, 90_000);
  }

  test('Gemma 2 with lm_head LoRA on its tied head: refused in words, Convert disabled, nothing written', async () => {
    await open(caseFiles('gemma2_lm_head'));
    await until(() => engine.run<boolean>(`return !!document.querySelector('[data-testid="refusal"]')`), 'the refusal');
    expect(await engine.run<string>(`return document.querySelector('[data-testid="refusal"]').getAttribute('data-code')`)).toBe('tied_head');
    expect(await engine.run<string>(`return document.querySelector('[data-testid="refusal"]').textContent`)).toMatch(/lm_head[\s\S]*What to do/);
    expect(await engine.run<boolean>(`return ${q('convert')}.disabled`)).toBe(true);
  }, 60_000);

  test('cancel mid-way leaves nothing, and the next conversion works', async () => {
    const before = engine.downloads ? readdirSync(engine.downloads).filter((f) => f.endsWith('.gguf')) : [];
    await open([join(bigDir, 'adapter_config.json'), join(bigDir, 'adapter_model.safetensors'), join(bigDir, 'base', 'config.json')]);
    await fill('output-name', 'cancelled-lora');
    await until(async () => (await text('output-file-name'))?.startsWith('cancelled-lora'), 'the name');
    await convert();
    await until(async () => Number(((await text('progress-tensors')) ?? '0').split('/')[0]) >= 3, 'a few tensors written', 60_000);
    await click('cancel');
    await until(async () => /cancelled\. Nothing was written/i.test((await text('notice')) ?? ''), 'the cancel notice', 30_000);
    if (engine.downloads) {
      // The failed download is removed; give the engine a moment to clean up.
      await new Promise((r) => setTimeout(r, 1000));
      expect(readdirSync(engine.downloads).filter((f) => f.endsWith('.gguf') || f.includes('cancelled'))).toEqual(before);
    } else {
      const left = await engine.runAsync<string[]>(`
        const root = await navigator.storage.getDirectory(); const names = [];
        try { const dir = await root.getDirectoryHandle('lora2gguf-tmp'); for await (const n of dir.keys()) names.push(n); } catch {}
        return names;`);
      expect(left).toEqual([]);
    }
    // The same page converts next (q8_0, smaller).
    await click('outtype-q8_0');
    await until(async () => (await text('output-file-name')) === 'cancelled-lora-Q8_0-LoRA.gguf', 'q8_0');
    await convert();
    await result('the result', 120_000);
  }, 240_000);

  test('offline: with the server gone, a reload still opens the app and converts the bundled sample', async () => {
    await engine.goto(server.url);
    await until(() => engine.run<boolean>('return !!(navigator.serviceWorker && navigator.serviceWorker.controller)'), 'service worker control');
    await server.close();
    await engine.goto(server.url);
    await until(() => engine.run<boolean>(`return [...document.querySelectorAll('button')].some((b) => b.textContent.includes('Try a sample'))`), 'the app, offline');
    await engine.run(`[...document.querySelectorAll('button')].find((b) => b.textContent.includes('Try a sample')).click(); return true;`);
    await until(() => engine.run<boolean>(`return !!${q('preflight')}`), 'the sample’s preflight');
    await convert();
    await result('the result, offline', 60_000);
  }, 120_000);
});
