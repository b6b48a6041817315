/**
 * Screenshots of the app's main states for the README (docs/screenshots/*.png), taken from the
 * production build with Debian's Chromium, the same way the e2e suite drives it.
 *
 *   npx vite build && npx tsx scripts/screenshots.ts
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_PICKER, stageCase, startHarness, writeBigAdapter } from '../e2e/harness';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');

async function main() {
  mkdirSync(OUT, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'l2g-shots-'));
  const big = join(scratch, 'llama-3-8b-style-lora');
  writeBigAdapter(big);
  const gemma = stageCase('gemma2_lm_head', 'gemma2-lm-head-lora');
  const h = await startHarness();
  try {
    const page = await h.context.newPage();
    // Toasts (e.g. "ready to work offline") would cover the states shown; close any that appear.
    const shot = async (name: string, fullPage: boolean) => {
      await page.waitForTimeout(300);
      for (const b of await page.getByRole('button', { name: /^(OK|Dismiss|Close)$/ }).all()) if (await b.isVisible()) await b.click();
      await page.screenshot({ path: join(OUT, name), fullPage });
    };
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.addInitScript(FAKE_PICKER);
    await page.goto(h.url);
    await page.getByRole('button', { name: 'Try a sample' }).waitFor();
    await shot('empty.png', false);

    await page.getByRole('button', { name: 'Try a sample' }).click();
    await page.getByTestId('architecture').waitFor();
    await page.getByTestId('outtype-q8_0').check();
    await page.waitForTimeout(300);
    await shot('preflight.png', true);

    await page.getByTestId('convert').click();
    await page.getByTestId('result').waitFor();
    await page.locator('summary', { hasText: 'Metadata' }).click();
    await shot('done.png', true);

    await page.getByRole('button', { name: 'Convert another adapter' }).click();
    await page.getByTestId('adapter-folder-input').setInputFiles(big);
    await page.getByTestId('preflight').waitFor();
    await page.getByTestId('convert').click();
    await page.getByTestId('progress').waitFor();
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="progress-tensors"]')?.textContent ?? '0';
      return Number(t.split('/')[0]) >= 12;
    });
    await page.waitForTimeout(500);
    await shot('converting.png', false);
    await page.getByTestId('cancel').click();
    await page.getByTestId('notice').waitFor();

    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByTestId('adapter-folder-input').setInputFiles(gemma.dir);
    await page.getByTestId('refusal').first().waitFor();
    await shot('refusal.png', false);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByRole('button', { name: 'Try a sample' }).click();
    await page.getByTestId('architecture').waitFor();
    await page.evaluate(() => document.getElementById('summary-heading')?.scrollIntoView({ block: 'start' }));
    await shot('phone-preflight.png', false);
    console.log(`screenshots written to ${OUT}`);
  } finally {
    await h.close();
    gemma.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
