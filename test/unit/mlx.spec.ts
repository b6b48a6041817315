/**
 * MLX adapters (mlx-lm): every reference case whose PEFT adapter mlx-lm could have written is
 * turned into the MLX adapter of the same update (test/helpers/mlx.ts: transposed, restacked,
 * scale = alpha / r, an mlx_lm.lora config) and converted; the GGUF must be the PEFT conversion's,
 * byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type OutTypeOption } from '../../src/core';
import { caseInput, referenceCases } from '../helpers/fixtures';
import { peftToMlx, Unrepresentable } from '../helpers/mlx';

async function convertWith(adapterConfig: string, baseConfig: string, weights: Uint8Array, outtype: string, name: string) {
  const source = bytesSource(weights);
  const plan = await inspect({ adapterConfig, baseConfig, adapter: source }, { outtype: outtype as OutTypeOption, name });
  if (plan.refusals.length > 0) return { plan, bytes: null };
  const sink = new MemorySink();
  // The edge cases hold NaN and ±Inf on purpose: written as they are, to compare the bytes.
  await convert(plan, source, sink, { keepNonFinite: true });
  return { plan, bytes: sink.bytes() };
}

const cases = referenceCases().filter((c) => c.outcome === 'ok');

describe('MLX adapters convert to the PEFT conversion, byte for byte', () => {
  const converted: string[] = [];
  for (const c of cases) {
    it(c.name, async () => {
      const input = caseInput(c);
      let mlx;
      try {
        mlx = peftToMlx(input.adapterConfig, input.adapter, input.baseConfig);
      } catch (e) {
        if (e instanceof Unrepresentable) return;
        throw e;
      }
      const peft = await convertWith(input.adapterConfig, input.baseConfig, input.adapter, c.outtype, c.adapterDirName);
      const ours = await convertWith(mlx.config, input.baseConfig, mlx.weights, c.outtype, c.adapterDirName);
      expect(ours.plan.adapter.source).toBe('mlx');
      // The same refusals, naming the MLX file's own tensors.
      expect(ours.plan.refusals.map((r) => r.code)).toEqual(peft.plan.refusals.map((r) => r.code));
      for (const r of ours.plan.refusals) {
        expect(r.message).not.toMatch(/base_model\.model\.|lora_[AB]\.weight/);
        for (const t of r.details.tensors as string[]) expect(mlx.names).toContain(t);
      }
      if (peft.bytes === null) {
        expect(ours.bytes).toBeNull();
        return;
      }
      expect(Buffer.from(ours.bytes!).equals(Buffer.from(peft.bytes))).toBe(true);
      converted.push(c.name);
    });
  }
  it('covers the architectures and types the issue names', () => {
    expect(converted.length).toBeGreaterThanOrEqual(20);
    for (const arch of ['llama', 'qwen2', 'gemma2', 'phi3', 'mixtral']) expect(converted.some((n) => n.startsWith(arch)), arch).toBe(true);
  });
});
