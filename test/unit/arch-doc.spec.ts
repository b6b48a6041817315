/** docs/architectures.md lists exactly what the registry converts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARCH_DOC, currentArchitecturesDoc } from '../../scripts/arch-table';
import { FAMILIES } from '../../src/core';

describe('docs/architectures.md', () => {
  it('is current with the registry (run `npx tsx scripts/arch-table.ts --write` after changing a family)', () => {
    const doc = readFileSync(ARCH_DOC, 'utf8');
    expect(doc).toBe(currentArchitecturesDoc(doc));
    for (const f of FAMILIES) for (const a of f.hfArchitectures) expect(doc).toContain(`\`${a}\``);
  });
});
