/**
 * Shared links (#v=1&…) in the browser, with no Hub involved:
 * - a malformed link: each bad or unknown parameter is reported and ignored, the defaults apply,
 *   nothing is fetched from elsewhere, and the page keeps working;
 * - a link for locally dropped files: it restores the options and asks for the files; after the
 *   drop the options apply, and "Copy link" gives the same link back.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceCases } from '../test/helpers/fixtures';
import { bytesEqual, expectedBytes, FAKE_PICKER, readSaved, stageCase } from './harness';
import { buildVariant, launchBrowser, serve, type Browser, type Build, type Served } from './pwa-support';

let build: Build;
let server: Served;
let browser: Browser;

beforeAll(async () => {
  build = await buildVariant('links', { VITE_BUILD_ID: 'e2e-links' });
  server = await serve(build.outDir);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  build?.cleanup();
});

/** A page that records every request leaving the app's own origin. */
async function openPage(): Promise<{ page: Page; foreign: string[]; errors: string[] }> {
  const page = await browser.context.newPage();
  await page.addInitScript(FAKE_PICKER);
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, foreign, errors };
}

describe('malformed links', () => {
  test('bad and unknown parameters are reported and ignored; defaults apply; nothing is fetched; the page works', async () => {
    const { page, foreign, errors } = await openPage();
    await page.goto(
      `${server.url}#v=1&repo=not%20a%20repo&rev=main&outtype=q4_0&name=from-link&token=hf_should_not_be_used&endpoint=http://127.0.0.2:1/&%E0%A4%A=1`,
    );
    await page.getByTestId('link-problems').waitFor();
    const problems = await page.getByTestId('link-problems').locator('li').allTextContents();
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toContain('"%E0%A4%A" is not valid URL encoding');
    expect(problems.join('\n')).toContain('unknown parameter "token"');
    expect(problems.join('\n')).toContain('unknown parameter "endpoint"');
    expect(problems.join('\n')).toContain('repository "not a repo" is not a Hub model id');
    expect(problems.join('\n')).toContain('output type "q4_0"');
    // Nothing from the link was opened: no Hub preflight, no request anywhere else.
    expect(await page.getByTestId('hub-opening').count()).toBe(0);
    expect(await page.getByTestId('preflight').count()).toBe(0);

    // The valid part (the name) applies to the next input; the rest are defaults.
    await page.getByRole('button', { name: 'Try a sample' }).click();
    await page.getByTestId('preflight').waitFor();
    expect(await page.getByTestId('output-name').inputValue()).toBe('from-link');
    expect(await page.getByTestId('outtype-f32').isChecked()).toBe(true);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('another link version is refused whole; a plain anchor is left alone', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}#v=9&repo=a/b&outtype=f16`);
    await page.getByTestId('link-problems').waitFor();
    expect(await page.getByTestId('link-problems').textContent()).toContain('version "9"');
    expect(await page.getByTestId('hub-opening').count()).toBe(0);

    await page.close();

    const other = await openPage();
    await other.page.goto(`${server.url}#section-2`);
    await other.page.getByRole('button', { name: 'Try a sample' }).waitFor();
    expect(await other.page.getByTestId('link-notice').count()).toBe(0);
    expect(errors).toEqual([]);
    expect(other.errors).toEqual([]);
    await other.page.close();
  });
});

describe('links for local files', () => {
  test('restores the options, asks for the files, applies them to the drop, and Copy link gives the link back', async () => {
    const c = referenceCases().find((x) => x.name === 'llama_bf16_f16')!;
    const staged = stageCase(c.name, c.adapterDirName);
    const { page, errors } = await openPage();
    try {
      const fragment = 'v=1&outtype=q8_0&name=linked-name&drop_unapplied=0';
      await page.goto(`${server.url}#${fragment}`);
      await page.getByTestId('link-ask-files').waitFor();
      expect(await page.getByTestId('link-ask-files').textContent()).toContain('output type q8_0');

      await page.getByTestId('adapter-folder-input').setInputFiles(staged.dir);
      await page.getByTestId('preflight').waitFor();
      expect(await page.getByTestId('outtype-q8_0').isChecked()).toBe(true);
      expect(await page.getByTestId('output-name').inputValue()).toBe('linked-name');
      expect(await page.getByTestId('link-ask-files').count()).toBe(0);

      await page.getByTestId('copy-link').click();
      expect(await page.getByTestId('share-link').inputValue()).toBe(`${server.url}#${fragment}`);

      await page.getByTestId('convert').click();
      await page.getByTestId('result').waitFor();
      const saved = await readSaved(page, 'linked-name-Q8_0-LoRA.gguf');
      expect(bytesEqual(saved, await expectedBytes(staged.dir, { outtype: 'q8_0', name: 'linked-name' }))).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      staged.cleanup();
    }
  });
});
