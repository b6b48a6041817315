/** The benchmark's generated adapters are real, convertible PEFT adapters of the asked size. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateAdapter, rankFor } from '../../bench/generate';
import { inspect } from '../../src/core';
import { FileSource } from '../../cli/node-io';

const work = mkdtempSync(join(tmpdir(), 'l2g-bench-gen-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bench/generate.ts', () => {
  it.each(['BF16', 'F32'] as const)('%s: a Llama-3-8B-shaped adapter of about the asked size that plans without refusals', async (dtype) => {
    const a = generateAdapter(work, `a-${dtype}`, 12e6, dtype);
    expect(a.rank).toBe(rankFor(12e6, dtype));
    expect(a.bytes).toBeGreaterThan(0.8 * 12e6);
    expect(a.bytes).toBeLessThan(1.25 * 12e6);
    const source = await FileSource.open(a.file);
    try {
      expect(source.byteLength).toBe(a.bytes);
      const plan = await inspect({
        adapterConfig: readFileSync(join(a.dir, 'adapter_config.json'), 'utf8'),
        baseConfig: readFileSync(join(a.baseDir, 'config.json'), 'utf8'),
        adapter: source,
      });
      expect(plan.refusals).toEqual([]);
      expect(plan.architecture).toBe('LlamaForCausalLM');
      expect(plan.tensors.length).toBe(448);
      expect(Object.values(plan.sources).every((s) => s.dtype === dtype)).toBe(true);
      // Values like a trained adapter's: finite, mostly small. Sample the first tensor.
      const first = Object.values(plan.sources)[0]!;
      const bytes = await source.read(first.begin, Math.min(4096, first.end - first.begin));
      const values =
        dtype === 'F32'
          ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
          : Float32Array.from(
              new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2),
              (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!,
            );
      expect(values.every((v) => Number.isFinite(v) && Math.abs(v) < 0.2)).toBe(true);
      expect(values.some((v) => v !== 0)).toBe(true);
    } finally {
      await source.close();
    }
  });
});
