/** Fused and transposed projections: base + converted LoRA = merged model in llama.cpp. */
import { describe, expect, it } from 'vitest';
import { baichuan, bloom, falcon, gpt2, gptBigCode, gptneox, internlm2, mpt, phi3, qwen } from './archs/fused';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  for (const make of [phi3, gpt2, gptneox, () => falcon(2), () => falcon(1), internlm2, qwen, baichuan, bloom, gptBigCode, mpt]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});

describe('PEFT scaling through fused, split and transposed layouts', () => {
  it('internlm2: rank_pattern / alpha_pattern on the split wqkv (the scale reaches q, k and v)', async () => {
    const r = await runCase({
      name: 'internlm2-patterns',
      spec: internlm2(),
      adapter: { r: 4, alpha: 8, rankPattern: { 'model.layers.0.attention.wqkv': 6 }, alphaPattern: { wqkv: 20, w2: 2 } },
    });
    expectMatchesMerged(r);
    expect(r.files.plan.modules.find((m) => m.module === 'model.layers.0.attention.wqkv')?.gguf).toHaveLength(3);
  });

  it('gpt2: rsLoRA on Conv1D modules', async () => {
    const spec = gpt2();
    expectMatchesMerged(await runCase({ name: 'gpt2-rslora', spec, adapter: { r: 16, alpha: 8, rslora: true } }), spec.tolerance);
  });
});
