/** Mixture-of-experts: per-expert LoRA stacked into llama.cpp's 3-D expert tensors. */
import { describe, expect, it } from 'vitest';
import { llamaSpec } from './archs/llama';
import { qwen2moe } from './archs/moe';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  it('mixtral: attention, router and every expert (w1/w2/w3 stacked)', async () => {
    const r = await runCase({ name: 'mixtral-all', spec: llamaSpec({ experts: 4, expertsUsed: 2 }), adapter: { r: 4, alpha: 8 } });
    expectMatchesMerged(r);
    expect(r.files.plan.tensors.find((t) => t.name === 'blk.0.ffn_gate_exps.weight.lora_b')?.ne).toEqual([4, 128, 4]);
  });

  it('qwen2moe: attention with biases, router, experts, shared expert and its gate', async () => {
    expectMatchesMerged(await runCase({ name: 'qwen2moe-all', spec: qwen2moe(), adapter: { r: 4, alpha: 8 } }));
  });
});
