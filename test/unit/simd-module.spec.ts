/** The committed SIMD module is exactly what scripts/build-simd.ts makes from its WAT today. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simdModuleSource } from '../../scripts/build-simd';

describe('src/core/tensor/simd-module.ts', () => {
  it('is current: run `npx tsx scripts/build-simd.ts` after changing the kernels', async () => {
    const { wat, ts } = await simdModuleSource();
    const dir = join(import.meta.dirname, '..', '..', 'src', 'core', 'tensor');
    expect(readFileSync(join(dir, 'simd.wat'), 'utf8')).toBe(wat);
    expect(readFileSync(join(dir, 'simd-module.ts'), 'utf8')).toBe(ts);
  });
});
