/**
 * The base-model check against the real llama.cpp: for adapters converted by the core and base
 * GGUFs built here, the checker's verdict agrees with llama.cpp loading them — the compatible pair
 * loads and applies, each incompatible one is rejected, and for the reason the checker gave.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adapterShapeOf, bytesSource, checkAgainstBase, readGgufHeader, type CheckResult } from '../../src/core/index';
import { llamaSpec } from './archs/llama';
import { qwen2 } from './archs/decoders';
import { buildCase, runtimeDir, TOKENS, VOCAB, writeModel } from './harness/case';
import { llamaLog, loadModel, logSince, nextTokenLogProbs } from './harness/llama-runtime';
import { Rng } from './harness/tensor';
import type { ArchSpec } from './harness/arch';

async function check(loraPath: string, basePath: string): Promise<CheckResult> {
  const lora = await readGgufHeader(bytesSource(new Uint8Array(readFileSync(loraPath))), loraPath);
  const base = await readGgufHeader(bytesSource(new Uint8Array(readFileSync(basePath))), basePath);
  return checkAgainstBase(adapterShapeOf(lora), { file: basePath, headers: [base] });
}

/** Load `base` in llama.cpp and apply `lora`: null when it applied, else llama.cpp's log since. */
async function llamaCppLoads(basePath: string, loraPath: string): Promise<string | null> {
  const model = await loadModel(basePath);
  const mark = llamaLog.length;
  try {
    await nextTokenLogProbs(model, TOKENS, VOCAB, [loraPath]);
    return null;
  } catch {
    return logSince(mark);
  } finally {
    await model.dispose();
  }
}

function otherBase(spec: ArchSpec, name: string): string {
  const path = join(runtimeDir(), `${name}.base.gguf`);
  writeModel(spec, spec.weights(new Rng(5)), path);
  return path;
}

describe('the base-model check agrees with llama.cpp', () => {
  it('a compatible base: the checker says so, and llama.cpp applies the adapter', async () => {
    const files = await buildCase({ name: 'check-ok', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } });
    const r = await check(files.loraPath, files.basePath);
    expect(r.compatible).toBe(true);
    expect(r.pairsChecked).toBe(files.plan.tensors.length / 2);
    expect(await llamaCppLoads(files.basePath, files.loraPath)).toBeNull();
  });

  it('a base with fewer layers: "trained on a model with 2 layers; this base has 1" — llama.cpp: "does not exist in base model"', async () => {
    const files = await buildCase({ name: 'check-layers', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } });
    const base = otherBase(llamaSpec({ layers: 1 }), 'check-layers-1');
    const r = await check(files.loraPath, base);
    expect(r.problems.map((p) => p.code)).toEqual(['missing_tensor']);
    expect(r.problems[0]!.cause).toMatch(/trained on a model with 2 layers; this base has 1/);
    expect(await llamaCppLoads(base, files.loraPath)).toMatch(/LoRA tensor 'blk\.1\.[a-z_]+\.weight' does not exist in base model/);
  });

  it('a base of another size: a shape problem — llama.cpp: "has incorrect shape"', async () => {
    const files = await buildCase({ name: 'check-size', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } });
    const base = otherBase(llamaSpec({ hidden: 96, heads: 3, kvHeads: 3 }), 'check-size-96');
    const r = await check(files.loraPath, base);
    expect(r.problems.map((p) => p.code)).toEqual(['shape']);
    expect(await llamaCppLoads(base, files.loraPath)).toMatch(/has incorrect shape/);
  });

  it('a base of another family: the architecture — llama.cpp: "model arch and LoRA arch mismatch"', async () => {
    const files = await buildCase({ name: 'check-arch', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } });
    const base = otherBase(qwen2(), 'check-arch-qwen2');
    const r = await check(files.loraPath, base);
    expect(r.problems.map((p) => p.code)).toEqual(['architecture']);
    expect(await llamaCppLoads(base, files.loraPath)).toMatch(/model arch and LoRA arch mismatch/);
  });
});
