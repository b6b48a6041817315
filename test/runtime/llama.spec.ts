/**
 * Llama in llama.cpp: every LoRA-able module, lm_head and token-embedding LoRA on an untied base,
 * PEFT's scaling variants, the quantized outtypes, and what llama.cpp does with files it must
 * not be given (tied bases, wrong names, wrong architecture).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llamaSpec } from './archs/llama';
import {
  buildCase,
  convertMutated,
  convertWithCore,
  evaluateInChild,
  expectMatchesMerged,
  runCase,
  runtimeDir,
  TOKENS,
  UNIT_ROUNDOFF,
  VOCAB,
  writeModel,
} from './harness/case';
import { loadModel, loadRuntime, logSince, llamaLog, maxAbsDiff, nextTokenLogProbs } from './harness/llama-runtime';
import { buildPeftAdapter, mergeAdapter } from './harness/peft';
import { bytesSource, inspect } from '../../src/core/index';
import { randn, Rng } from './harness/tensor';

describe('the runtime itself', () => {
  it('is the prebuilt CPU binary of node-llama-cpp, one thread, never a local build', async () => {
    const llama = await loadRuntime();
    expect(llama.buildType).toBe('prebuilt');
    expect(llama.gpu).toBe(false);
    expect(llama.maxThreads).toBe(1);
  });
});

describe('llama: base + converted LoRA = merged model', () => {
  it('every attention and MLP projection (q/k rotary permutation, GQA)', async () => {
    const mark = llamaLog.length;
    expectMatchesMerged(await runCase({ name: 'llama-all', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } }));
    // The settings the comparison relies on, as llama.cpp reports them.
    expect(logSince(mark)).toMatch(/flash_attn\s*=\s*disabled/);
    expect(logSince(mark)).toMatch(/K \(f32\):.*V \(f32\):/);
  });

  it('lm_head LoRA on an untied base changes the output as PEFT does', async () => {
    const r = await runCase({ name: 'llama-lm-head', spec: llamaSpec(), targets: [{ module: 'lm_head', kind: 'linear' }], adapter: { r: 4, alpha: 8 } });
    expectMatchesMerged(r);
    expect(r.files.plan.tensors.map((t) => t.name)).toEqual(['output.weight.lora_a', 'output.weight.lora_b']);
  });

  it('mergekit-style token-embedding LoRA on an untied base', async () => {
    const r = await runCase({
      name: 'llama-embed',
      spec: llamaSpec(),
      targets: [
        { module: 'model.embed_tokens', kind: 'embedding' },
        { module: 'model.layers.1.mlp.down_proj', kind: 'linear' },
      ],
      adapter: { r: 4, alpha: 8 },
    });
    expectMatchesMerged(r);
  });

  it('rsLoRA with r = 64: alpha/sqrt(r), not alpha/r', async () => {
    const r = await runCase({ name: 'llama-rslora-64', spec: llamaSpec(), adapter: { r: 64, alpha: 16, rslora: true } });
    expectMatchesMerged(r);
    expect(r.files.plan.modules.every((m) => m.peftScale === 2)).toBe(true);
  });

  it('rank_pattern and alpha_pattern give modules their own rank and alpha', async () => {
    const r = await runCase({
      name: 'llama-patterns',
      spec: llamaSpec(),
      adapter: { r: 4, alpha: 8, rankPattern: { q_proj: 2, 'model.layers.1.mlp.down_proj': 8 }, alphaPattern: { v_proj: 32, o_proj: 3 } },
    });
    expectMatchesMerged(r);
    // The case really exercises per-module scaling: four different PEFT scales.
    expect(new Set(r.files.plan.modules.map((m) => m.peftScale)).size).toBeGreaterThanOrEqual(4);
  });

  it('the harness catches a converter that forgets the q/k permutation', async () => {
    const files = await buildCase({ name: 'llama-unpermuted', spec: llamaSpec(), adapter: { r: 4, alpha: 8 } });
    const bytes = await convertMutated(files.peft, llamaSpec().config, (plan) => {
      for (const t of plan.tensors) for (const p of t.parts) p.ops = p.ops.filter((o) => o.op !== 'rowAxes');
    });
    const wrongPath = join(runtimeDir(), 'llama-unpermuted.wrong.lora.gguf');
    writeFileSync(wrongPath, bytes);
    const base = await loadModel(files.basePath);
    const wrong = await nextTokenLogProbs(base, TOKENS, VOCAB, [wrongPath]);
    await base.dispose();
    const mergedModel = await loadModel(files.mergedPath);
    const merged = await nextTokenLogProbs(mergedModel, TOKENS, VOCAB);
    await mergedModel.dispose();
    expect(maxAbsDiff(wrong, merged)).toBeGreaterThan(1e-2);
  });
});

describe('llama: outtypes f16, bf16, q8_0', () => {
  // Rounding the factors (and, inside ggml, the activations they multiply: ggml converts the
  // other operand to the weight's dot-product type) perturbs the LoRA's effect by a relative
  // amount of the order of the unit roundoff u. Bound: |Δ log p| ≤ 8·u·(effect of the LoRA),
  // measured (seed 1234) as a fraction of the effect: f16 4.0e-4 ≈ 0.8u, bf16 3.1e-3 ≈ 0.8u,
  // q8_0 1.2e-2 ≈ 3.1u (both operands quantized in blocks of 32).
  // A wrong scale or layout changes the effect by O(1) and fails by far.
  for (const outtype of ['f16', 'bf16', 'q8_0'] as const) {
    it(outtype, async () => {
      const r = await runCase({ name: `llama-${outtype}`, spec: llamaSpec(), adapter: { r: 4, alpha: 8 }, outtype });
      expectMatchesMerged(r, 8 * UNIT_ROUNDOFF[outtype] * r.adapterVsBase);
      expect(r.files.plan.tensors.some((t) => t.type === outtype.toUpperCase())).toBe(true);
    });
  }
});

describe('llama: what llama.cpp does with files the core refuses or that are wrong', () => {
  it('rejects a LoRA tensor the base does not have, and says which', async () => {
    const spec = llamaSpec();
    const files = await buildCase({
      name: 'llama-bad-name',
      spec,
      targets: [{ module: 'model.layers.0.self_attn.q_proj', kind: 'linear' }],
      adapter: { r: 4, alpha: 8 },
    });
    const bytes = await convertMutated(files.peft, spec.config, (plan) => {
      for (const t of plan.tensors) t.name = t.name.replace('blk.0.', 'blk.7.');
    });
    const path = join(runtimeDir(), 'llama-bad-name.renamed.lora.gguf');
    writeFileSync(path, bytes);
    const model = await loadModel(files.basePath);
    const mark = llamaLog.length;
    await expect(nextTokenLogProbs(model, TOKENS, VOCAB, [path])).rejects.toThrow(/LoRA adapter/);
    expect(logSince(mark)).toContain("LoRA tensor 'blk.7.attn_q.weight' does not exist in base model");
    await model.dispose();
  });

  it('rejects an adapter whose general.architecture differs from the model', async () => {
    const spec = llamaSpec();
    const files = await buildCase({
      name: 'llama-bad-arch',
      spec,
      targets: [{ module: 'model.layers.0.self_attn.v_proj', kind: 'linear' }],
      adapter: { r: 4, alpha: 8 },
    });
    const bytes = await convertMutated(files.peft, spec.config, (plan) => {
      for (const kv of plan.kvs) if (kv.key === 'general.architecture') kv.value = 'qwen2';
    });
    const path = join(runtimeDir(), 'llama-bad-arch.qwen2.lora.gguf');
    writeFileSync(path, bytes);
    const model = await loadModel(files.basePath);
    const mark = llamaLog.length;
    await expect(nextTokenLogProbs(model, TOKENS, VOCAB, [path])).rejects.toThrow(/LoRA adapter/);
    expect(logSince(mark)).toContain('model arch and LoRA arch mismatch');
    await model.dispose();
  });

  it('token-embedding LoRA on a tied base: the core refuses; llama.cpp applies it to the output head too and aborts', async () => {
    const tied = llamaSpec({ tied: true });
    const rng = new Rng(77);
    const base = tied.weights(rng);
    const basePath = join(runtimeDir(), 'llama-tied.base.gguf');
    writeModel(tied, base, basePath);
    const peft = buildPeftAdapter(base, [{ module: 'model.embed_tokens', kind: 'embedding' }], { r: 4, alpha: 8 }, rng);

    const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(tied.config), adapter: bytesSource(peft.safetensors) });
    expect(plan.refusals.map((r) => r.code)).toEqual(['tied_head']);

    // The file the core would have written for an untied base, given to the tied model.
    const bytes = await convertMutated(peft, { ...tied.config, tie_word_embeddings: false }, () => {});
    const loraPath = join(runtimeDir(), 'llama-tied.embed.lora.gguf');
    writeFileSync(loraPath, bytes);
    const out = evaluateInChild(basePath, [loraPath]);
    // llama.cpp finds LoRA by tensor name; the tied output projection is token_embd.weight, so the
    // embedding's (transposed) factors reach the output matmul, whose shapes cannot multiply.
    expect(out.signal).toBe('SIGABRT');
    expect(out.stderr).toContain('loaded 2 tensors from lora file');
    expect(out.stderr).toContain('GGML_ASSERT(ggml_can_mul_mat(a, b)) failed');
    expect(out.logProbs).toBeUndefined();
  });

  it('lm_head LoRA on a tied base: the core refuses; llama.cpp rejects output.weight', async () => {
    const tied = llamaSpec({ tied: true });
    const untied = llamaSpec();
    const rng = new Rng(78);
    const base = untied.weights(rng);
    const basePath = join(runtimeDir(), 'llama-tied-head.base.gguf');
    base.delete('lm_head.weight');
    writeModel(tied, base, basePath);
    const peft = buildPeftAdapter(untied.weights(new Rng(78)), [{ module: 'lm_head', kind: 'linear' }], { r: 4, alpha: 8 }, rng);
    const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(tied.config), adapter: bytesSource(peft.safetensors) });
    expect(plan.refusals.map((r) => r.code)).toEqual(['tied_head']);

    const bytes = await convertMutated(peft, untied.config, () => {});
    const loraPath = join(runtimeDir(), 'llama-tied-head.lora.gguf');
    writeFileSync(loraPath, bytes);
    const model = await loadModel(basePath);
    const mark = llamaLog.length;
    await expect(nextTokenLogProbs(model, TOKENS, VOCAB, [loraPath])).rejects.toThrow(/LoRA adapter/);
    expect(logSince(mark)).toContain("LoRA tensor 'output.weight' does not exist in base model");
    await model.dispose();
  });
});

describe('llama: mergekit-style norm vectors in the adapter', () => {
  it('llama.cpp skips them (the output is the merge without the new norms): the core refuses them unless the user opts in', async () => {
    const spec = llamaSpec();
    const rng = new Rng(31);
    const base = spec.weights(rng);
    // A replaced input_layernorm, as mergekit's LoRA extraction stores it (a whole 1-D tensor).
    const newNorm = randn(rng, [64], 0.3, 1);
    const peft = buildPeftAdapter(base, [{ module: 'model.layers.0.self_attn.v_proj', kind: 'linear' }], { r: 4, alpha: 8 }, rng, {}, [
      { name: 'model.layers.0.input_layernorm.weight', tensor: newNorm },
    ]);
    // By default the core refuses: the norm would silently have no effect in llama.cpp.
    await expect(convertWithCore(peft, spec.config, { outtype: 'f32' })).rejects.toMatchObject({ code: 'not_applied_by_runtime' });
    // With the opt-in it writes them as llama.cpp's converter does, with a warning.
    const { plan, bytes } = await convertWithCore(peft, spec.config, { outtype: 'f32', keepNormVectors: true });
    expect(plan.tensors.map((t) => t.name)).toContain('blk.0.attn_norm.weight');
    expect(plan.warnings.map((w) => w.code)).toContain('norms_not_applied');
    const dir = runtimeDir();
    const paths = {
      base: join(dir, 'llama-norms.base.gguf'),
      lora: join(dir, 'llama-norms.lora.gguf'),
      withNorm: join(dir, 'llama-norms.merged-with-norm.gguf'),
      without: join(dir, 'llama-norms.merged-without-norm.gguf'),
    };
    const mergedWithout = mergeAdapter(base, peft);
    const mergedWith = new Map(mergedWithout).set('model.layers.0.input_layernorm.weight', newNorm);
    writeModel(spec, base, paths.base);
    writeModel(spec, mergedWith, paths.withNorm);
    writeModel(spec, mergedWithout, paths.without);
    writeFileSync(paths.lora, bytes);

    const evalModel = async (path: string, loras: string[] = []) => {
      const m = await loadModel(path);
      try {
        return await nextTokenLogProbs(m, TOKENS, VOCAB, loras);
      } finally {
        await m.dispose();
      }
    };
    const withLora = await evalModel(paths.base, [paths.lora]);
    // llama.cpp applies the v_proj LoRA and ignores the norm vector ("TODO: add support for norm vector").
    expect(maxAbsDiff(withLora, await evalModel(paths.without))).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(withLora, await evalModel(paths.withNorm))).toBeGreaterThan(0.1);
  });
});
