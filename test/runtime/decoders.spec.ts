/** Decoder-only families with separate q/k/v: base + converted LoRA = merged model in llama.cpp. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, inspect } from '../../src/core/index';
import {
  cohere,
  cohere2,
  exaone,
  gemma,
  gemma2,
  gemma3,
  gemma3Multimodal,
  granite,
  internlm3,
  minicpm,
  mistral,
  nemotron,
  olmo,
  olmo2,
  orion,
  phi2,
  qwen2,
  qwen3,
  stablelm,
  starcoder2,
  xverse,
} from './archs/decoders';
import { evaluateInChild, expectMatchesMerged, runCase, runtimeDir, TOKENS, VOCAB, writeModel } from './harness/case';
import { llamaLog, loadModel, logSince, nextTokenLogProbs } from './harness/llama-runtime';
import { writeLoraGguf } from './harness/gguf-model';
import { buildPeftAdapter } from './harness/peft';
import { Rng, transpose } from './harness/tensor';

describe('base + converted LoRA = merged model', () => {
  for (const make of [
    mistral,
    qwen2,
    qwen3,
    gemma,
    gemma2,
    gemma3,
    starcoder2,
    stablelm,
    phi2,
    olmo2,
    cohere,
    granite,
    exaone,
    internlm3,
    orion,
    xverse,
    minicpm,
    olmo,
    nemotron,
    cohere2,
    () => gemma3Multimodal('language_model.model.'),
    () => ({ ...gemma3Multimodal('model.language_model.'), id: 'gemma3-multimodal-new-names' }),
  ]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});

describe('gemma (always tied): token-embedding LoRA', () => {
  it('the core refuses it; llama.cpp applies it to the tied output head as well and aborts', async () => {
    const spec = gemma();
    const rng = new Rng(21);
    const base = spec.weights(rng);
    const basePath = join(runtimeDir(), 'gemma-tied.base.gguf');
    writeModel(spec, base, basePath);
    const peft = buildPeftAdapter(base, [{ module: 'model.embed_tokens', kind: 'embedding' }], { r: 4, alpha: 8 }, rng);
    const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(spec.config), adapter: bytesSource(peft.safetensors) });
    expect(plan.refusals.map((r) => r.code)).toEqual(['tied_head']);
    // token_embd.lora_a / lora_b as they would be written for an untied base: written by the test.
    const m = peft.modules[0]!;
    const loraPath = join(runtimeDir(), 'gemma-tied.embed.lora.gguf');
    writeFileSync(loraPath, writeLoraGguf('gemma', 8, [{ name: 'token_embd', a: transpose(m.a), b: m.b }]));
    const out = evaluateInChild(basePath, [loraPath]);
    expect(out.signal).toBe('SIGABRT');
    expect(out.stderr).toContain('GGML_ASSERT(ggml_can_mul_mat(a, b)) failed');
  });
});

describe('gemma2 (always tied): lm_head LoRA, the classic trap', () => {
  it('the core refuses it; llama.cpp rejects output.weight (the base has no such tensor)', async () => {
    const spec = gemma2();
    const rng = new Rng(22);
    const base = spec.weights(rng);
    const basePath = join(runtimeDir(), 'gemma2-tied-head.base.gguf');
    writeModel(spec, base, basePath);
    // PEFT's lm_head on a tied Gemma 2 is the (vocab, hidden) embedding matrix.
    const withHead = new Map(base).set('lm_head.weight', base.get('model.embed_tokens.weight')!);
    const peft = buildPeftAdapter(withHead, [{ module: 'lm_head', kind: 'linear' }], { r: 4, alpha: 8 }, rng);
    const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(spec.config), adapter: bytesSource(peft.safetensors) });
    expect(plan.refusals.map((r) => r.code)).toEqual(['tied_head']);
    const m = peft.modules[0]!;
    const loraPath = join(runtimeDir(), 'gemma2-tied-head.lora.gguf');
    writeFileSync(loraPath, writeLoraGguf('gemma2', 8, [{ name: 'output', a: m.a, b: m.b }]));
    const model = await loadModel(basePath);
    const mark = llamaLog.length;
    await expect(nextTokenLogProbs(model, TOKENS, VOCAB, [loraPath])).rejects.toThrow(/LoRA adapter/);
    expect(logSince(mark)).toContain("LoRA tensor 'output.weight' does not exist in base model");
    await model.dispose();
  });
});
