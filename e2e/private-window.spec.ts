/**
 * A Firefox private window (Debian's firefox-esr 153, every window private): it refuses the
 * origin-private file system (SecurityError) but runs service workers, so the ladder says why it
 * passed storage over and streams the output straight to Downloads — byte-identical to the core's.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceCases } from '../test/helpers/fixtures';
import { launchFirefox, until, type Engine } from './engines';
import { expectedBytes, startPreview } from './harness';

let engine: Engine;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  server = await startPreview();
  engine = await launchFirefox(true);
}, 120_000);
afterAll(async () => {
  await engine?.close();
  await server?.close();
});

const q = (testId: string) => `document.querySelector('[data-testid="${testId}"]')`;
const text = (testId: string) => engine.run<string | null>(`return ${q(testId)} ? ${q(testId)}.textContent : null;`);

describe('Firefox, private window', () => {
  test('private storage refused: streamed straight to Downloads through the service worker — the core’s bytes', async () => {
    const c = referenceCases().find((x) => x.name === 'llama_bf16_f16')!;
    const input = join(c.dir, 'input');
    await engine.goto(server.url);
    // The service worker takes the page on the first visit (clientsClaim); the ladder is probed again then.
    await until(() => engine.run<boolean>('return !!(navigator.serviceWorker && navigator.serviceWorker.controller)'), 'the service worker', 30_000);
    await until(() => engine.run<boolean>(`return !!${q('adapter-files-input')}`), 'the page');
    await engine.setFiles('adapter-files-input', [join(input, 'adapter_config.json'), join(input, 'adapter_model.safetensors'), join(input, 'base', 'config.json')]);
    await until(() => engine.run<boolean>(`return !!${q('preflight')}`), 'the preflight');
    await until(async () => (await text('save-path')) === 'streamed straight to Downloads', 'the streamed rung');
    expect(await text('save-path-why')).toMatch(/refused its private file storage \(SecurityError; private windows often do\)/);
    await engine.run(`${q('outtype-f16')}.click(); return true;`);
    await until(async () => (await text('output-file-name'))?.includes('F16'), 'f16');
    await new Promise((r) => setTimeout(r, 400));
    await until(() => engine.run<boolean>(`const b = ${q('convert')}; if (!b || b.disabled) return false; b.click(); return true;`), 'Convert');
    await until(async () => {
      const err = await text('convert-error');
      if (err) throw new Error(`conversion failed: ${err}`);
      return text('result');
    }, 'the result', 60_000);
    const expected = await expectedBytes(input, { outtype: 'f16', name: 'adapter' });
    const path = join(engine.downloads!, 'adapter-F16-LoRA.gguf');
    await until(async () => existsSync(path) && statSync(path).size === expected.byteLength, 'the downloaded file', 30_000);
    expect(readFileSync(path).equals(Buffer.from(expected))).toBe(true);
  }, 120_000);
});
