/**
 * The first screen's JavaScript stays small (issue: initial JS < 100 KB gzipped), and the page
 * loads the converter only on demand: the entry chunk holds no architecture tables, kernels or
 * @huggingface packages. Checked on the production build the e2e suite runs against.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';

const DIST = join(import.meta.dirname, '..', 'dist');
/** 100 KB of gzipped JavaScript before anything is dropped. */
const INITIAL_JS_BUDGET = 100 * 1000;

/** Scripts index.html loads at once: the entry module and what it preloads. */
function initialScripts(): string[] {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  const srcs = [...html.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g)].map(
    (m) => m[1]!,
  );
  expect(srcs.length).toBeGreaterThan(0);
  return srcs;
}

describe('the page bundle', () => {
  test(`initial JavaScript is under ${INITIAL_JS_BUDGET / 1000} KB gzipped`, () => {
    const sizes = initialScripts().map((f) => gzipSync(readFileSync(join(DIST, f)), { level: 9 }).byteLength);
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(`initial JS: ${(total / 1000).toFixed(1)} KB gzipped (${initialScripts().join(', ')})`);
    expect(total).toBeLessThan(INITIAL_JS_BUDGET);
  });

  test('the entry chunk does not carry the converter: it runs in the worker, loaded on demand', () => {
    for (const f of initialScripts()) {
      const map = JSON.parse(readFileSync(join(DIST, `${f}.map`), 'utf8')) as { sources: string[] };
      const heavy = map.sources.filter((s) =>
        /node_modules\/@huggingface\/|src\/core\/(arch|tensor|gguf|plan|convert|stream|pytorch|safetensors|peft)/.test(s),
      );
      expect(heavy, f).toEqual([]);
    }
    // The worker chunk exists and does carry them.
    const worker = readdirSync(join(DIST, 'assets')).find((f) => f.startsWith('converter.worker-') && f.endsWith('.js'));
    expect(worker).toBeDefined();
  });
});
