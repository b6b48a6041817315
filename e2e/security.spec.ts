/**
 * The built app's Content-Security-Policy, tried on a whole visit (sample → preflight → convert →
 * result → start over), with every request the page makes recorded: no violation, only
 * same-origin requests during a local conversion, and the worker's WebAssembly kernels allowed.
 * Names from a hostile adapter are shown as text, never as markup.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildSafetensors } from '../test/helpers/safetensors-build';
import { FAKE_PICKER, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Collects CSP violations in the page (securitypolicyviolation events). */
const CSP_LISTENER = `
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
`;

describe('Content-Security-Policy', () => {
  test('a whole visit: no violation, same-origin requests only, WebAssembly kernels allowed in the worker', async () => {
    const page = await h.context.newPage();
    const requests: string[] = [];
    const consoleCsp: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) consoleCsp.push(m.text());
    });
    try {
      await page.addInitScript(CSP_LISTENER + FAKE_PICKER);
      const response = await page.goto(h.url);
      // Delivered both ways: the header (vite preview) and the <meta> a static host keeps.
      expect(response!.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toContain("connect-src 'self' https://huggingface.co");
      await page.getByRole('button', { name: 'Try a sample' }).click();
      await page.getByTestId('preflight').waitFor();
      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      expect(await page.getByTestId('result-kernels').textContent()).toBe('WebAssembly SIMD');
      await page.getByRole('button', { name: 'Convert another adapter' }).click();
      await page.getByRole('button', { name: 'Try a sample' }).waitFor();
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
      expect(consoleCsp).toEqual([]);
      const origin = new URL(h.url).origin;
      const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
      expect(foreign).toEqual([]);
      expect(requests.length).toBeGreaterThan(3);
    } finally {
      await page.close();
    }
  });

  test('tensor names and config strings that look like markup are shown as text', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'l2g-e2e-xss-'));
    const dir = join(parent, '<img src=x onerror=alert(1)>');
    mkdirSync(join(dir, 'base'), { recursive: true });
    const evil = '<img src=x onerror="window.__pwned=1">';
    writeFileSync(
      join(dir, 'adapter_model.safetensors'),
      buildSafetensors([
        { name: `base_model.model.model.layers.0.${evil}.lora_A.weight`, dtype: 'F32', shape: [2, 8] },
        { name: `base_model.model.model.layers.0.${evil}.lora_B.weight`, dtype: 'F32', shape: [8, 2] },
      ]),
    );
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, base_model_name_or_path: `javascript:alert(1)//${evil}` }),
    );
    writeFileSync(
      join(dir, 'base', 'config.json'),
      JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 8 }),
    );
    const page = await h.context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.addInitScript(CSP_LISTENER);
      await page.goto(h.url);
      await page.getByTestId('adapter-folder-input').setInputFiles(dir);
      await page.getByTestId('preflight').waitFor();
      // The unknown module is refused, naming the tensor: as text.
      const refusal = page.getByTestId('refusal').first();
      await refusal.waitFor();
      expect(await refusal.textContent()).toContain(evil);
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(dialogs).toEqual([]);
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    } finally {
      await page.close();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
