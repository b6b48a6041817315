/** The committed SIMD module is exactly what scripts/build-simd.ts makes from its WAT today. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simdModuleSource } from '../../scripts/build-simd';
import { decodeBase64 } from '../../src/core/tensor/simd';
import { SIMD_MODULE_BASE64 } from '../../src/core/tensor/simd-module';

describe('src/core/tensor/simd-module.ts', () => {
  it('is current: run `npx tsx scripts/build-simd.ts` after changing the kernels', async () => {
    const { wat, ts } = await simdModuleSource();
    const dir = join(import.meta.dirname, '..', '..', 'src', 'core', 'tensor');
    expect(readFileSync(join(dir, 'simd.wat'), 'utf8')).toBe(wat);
    expect(readFileSync(join(dir, 'simd-module.ts'), 'utf8')).toBe(ts);
  });
});

describe('decodeBase64 (the module is shipped as base64 text)', () => {
  it('gives the bytes Node decodes, for every length and padding, and for the module itself', () => {
    let x = 12345;
    for (let n = 0; n <= 70; n++) {
      const bytes = Buffer.from(
        Array.from({ length: n }, () => {
          x = (x * 1103515245 + 12345) >>> 0;
          return x >>> 24;
        }),
      );
      // With and without the trailing '=' padding.
      for (const text of [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, '')]) {
        expect(Buffer.from(decodeBase64(text)).equals(bytes), `${n} bytes: ${text}`).toBe(true);
      }
    }
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(Buffer.from(decodeBase64(all.toString('base64'))).equals(all)).toBe(true);
    expect(Buffer.from(decodeBase64(SIMD_MODULE_BASE64)).equals(Buffer.from(SIMD_MODULE_BASE64, 'base64'))).toBe(true);
  });
});
