/** Mixture-of-experts: per-expert LoRA stacked into llama.cpp's 3-D expert tensors. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, inspect } from '../../src/core/index';
import { llamaSpec } from './archs/llama';
import { deepseek2, granitemoe, olmoe, phimoe, qwen2moe, qwen3moe } from './archs/moe';
import { expectMatchesMerged, runCase, runtimeDir, TOKENS, UNIT_ROUNDOFF, VOCAB, writeModel } from './harness/case';
import { writeLoraGguf } from './harness/gguf-model';
import { llamaLog, loadModel, logSince, maxAbsDiff, nextTokenLogProbs } from './harness/llama-runtime';
import { buildPeftAdapter, mergeAdapter } from './harness/peft';
import { Rng } from './harness/tensor';

describe('base + converted LoRA = merged model', () => {
  it('mixtral: attention, router and every expert (w1/w2/w3 stacked)', async () => {
    const r = await runCase({ name: 'mixtral-all', spec: llamaSpec({ experts: 4, expertsUsed: 2 }), adapter: { r: 4, alpha: 8 } });
    expectMatchesMerged(r);
    expect(r.files.plan.tensors.find((t) => t.name === 'blk.0.ffn_gate_exps.weight.lora_b')?.ne).toEqual([4, 128, 4]);
  });

  it('mixtral q8_0: stacked expert factors quantized per 32-block (bound as in llama.spec.ts)', async () => {
    const r = await runCase({ name: 'mixtral-q8_0', spec: llamaSpec({ experts: 4, expertsUsed: 2 }), adapter: { r: 4, alpha: 8 }, outtype: 'q8_0' });
    expectMatchesMerged(r, 8 * UNIT_ROUNDOFF.q8_0 * r.adapterVsBase);
    expect(r.files.plan.tensors.find((t) => t.name === 'blk.0.ffn_up_exps.weight.lora_a')?.type).toBe('Q8_0');
  });

  it('mixtral: per-expert alpha_pattern and rsLoRA: the scale of each expert folded into its slice of the stack', async () => {
    const r = await runCase({
      name: 'mixtral-expert-alpha',
      spec: llamaSpec({ experts: 4, expertsUsed: 2 }),
      adapter: { r: 8, alpha: 16, rslora: true, alphaPattern: { 'experts.1.w1': 40, 'model.layers.1.block_sparse_moe.experts.3.w2': 3 } },
    });
    expectMatchesMerged(r);
    // Stacks whose experts have different scales: layer 0 and 1 gate (expert 1), layer 1 down (expert 3).
    expect(r.files.plan.warnings.filter((w) => w.code === 'expert_scaling').length).toBe(3);
  });

  it('qwen2moe: attention with biases, router, experts, shared expert and its gate', async () => {
    expectMatchesMerged(await runCase({ name: 'qwen2moe-all', spec: qwen2moe(), adapter: { r: 4, alpha: 8 } }));
  });

  for (const make of [qwen3moe, olmoe, phimoe]) {
    const spec = make();
    it(`${spec.id}: attention, router and every expert`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }));
    });
  }

  it('granitemoe: attention and router (its experts are fused 3-D parameters, not LoRA-able modules)', async () => {
    expectMatchesMerged(await runCase({ name: 'granitemoe-all', spec: granitemoe(), adapter: { r: 4, alpha: 8 } }));
  });

  it('deepseek2: o_proj, dense MLP, router, routed and shared experts', async () => {
    expectMatchesMerged(await runCase({ name: 'deepseek2-all', spec: deepseek2(), adapter: { r: 4, alpha: 8 } }));
  });
});

describe('deepseek2: what llama.cpp does with LoRA on the MLA projections and the output head', () => {
  const mla: [string, string][] = [
    ['self_attn.q_a_proj', 'attn_q_a'],
    ['self_attn.q_b_proj', 'attn_q_b'],
    ['self_attn.kv_a_proj_with_mqa', 'attn_kv_a_mqa'],
  ];

  it('the core refuses them by name', async () => {
    const spec = deepseek2();
    const rng = new Rng(11);
    const base = spec.weights(rng);
    const targets = [
      ...mla.map(([hf]) => ({ module: `model.layers.0.${hf}`, kind: 'linear' as const })),
      { module: 'model.layers.0.self_attn.kv_b_proj', kind: 'linear' as const },
      { module: 'lm_head', kind: 'linear' as const },
    ];
    const peft = buildPeftAdapter(base, targets, { r: 4, alpha: 8 }, rng);
    const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(spec.config), adapter: bytesSource(peft.safetensors) });
    expect(plan.refusals.map((r) => r.code)).toEqual(Array(5).fill('not_applied_by_runtime'));
    expect(plan.refusals.flatMap((r) => r.details.tensors as string[])).toContain('base_model.model.model.layers.0.self_attn.q_b_proj.lora_B.weight');
  });

  it('llama.cpp loads q_a / q_b / kv_a / output LoRA and never applies it (output = base, not merged)', async () => {
    const spec = deepseek2();
    const rng = new Rng(12);
    const base = spec.weights(rng);
    const targets = [0, 1].flatMap((i) => mla.map(([hf]) => ({ module: `model.layers.${i}.${hf}`, kind: 'linear' as const })));
    targets.push({ module: 'lm_head', kind: 'linear' });
    const peft = buildPeftAdapter(base, targets, { r: 4, alpha: 8 }, rng);
    // Written by the test: the core refuses to write this file.
    const ggufName = (module: string) => {
      if (module === 'lm_head') return 'output';
      const m = /^model\.layers\.(\d+)\.(.+)$/.exec(module)!;
      return `blk.${m[1]}.${mla.find(([hf]) => hf === m[2])![1]}`;
    };
    const lora = writeLoraGguf(
      'deepseek2',
      8,
      peft.modules.map((m) => ({ name: ggufName(m.target.module), a: m.a, b: m.b })),
    );
    const dir = runtimeDir();
    const basePath = join(dir, 'deepseek2-mla.base.gguf');
    const mergedPath = join(dir, 'deepseek2-mla.merged.gguf');
    const loraPath = join(dir, 'deepseek2-mla.lora.gguf');
    writeModel(spec, base, basePath);
    writeModel(spec, mergeAdapter(base, peft), mergedPath);
    writeFileSync(loraPath, lora);

    const model = await loadModel(basePath);
    const mark = llamaLog.length;
    const plain = await nextTokenLogProbs(model, TOKENS, VOCAB);
    const withLora = await nextTokenLogProbs(model, TOKENS, VOCAB, [loraPath]);
    await model.dispose();
    expect(logSince(mark)).toContain('loaded 14 tensors from lora file');
    const mergedModel = await loadModel(mergedPath);
    const merged = await nextTokenLogProbs(mergedModel, TOKENS, VOCAB);
    await mergedModel.dispose();
    // PEFT's model differs from the base; llama.cpp's base + LoRA does not.
    expect(maxAbsDiff(merged, plain)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(withLora, plain)).toBe(0);
  });

  it('llama.cpp rejects a kv_b_proj LoRA: its base has only the split k_b / v_b', async () => {
    const spec = deepseek2();
    const rng = new Rng(13);
    const base = spec.weights(rng);
    const peft = buildPeftAdapter(base, [{ module: 'model.layers.0.self_attn.kv_b_proj', kind: 'linear' }], { r: 4, alpha: 8 }, rng);
    const lora = writeLoraGguf('deepseek2', 8, [{ name: 'blk.0.attn_kv_b', a: peft.modules[0]!.a, b: peft.modules[0]!.b }]);
    const dir = runtimeDir();
    const basePath = join(dir, 'deepseek2-kvb.base.gguf');
    const loraPath = join(dir, 'deepseek2-kvb.lora.gguf');
    writeModel(spec, base, basePath);
    writeFileSync(loraPath, lora);
    const model = await loadModel(basePath);
    const mark = llamaLog.length;
    await expect(nextTokenLogProbs(model, TOKENS, VOCAB, [loraPath])).rejects.toThrow(/LoRA adapter/);
    expect(logSince(mark)).toContain("LoRA tensor 'blk.0.attn_kv_b.weight' does not exist in base model");
    await model.dispose();
  });
});
