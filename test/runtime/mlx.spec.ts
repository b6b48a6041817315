/**
 * MLX adapters in llama.cpp: each case builds a PEFT adapter, rewrites it as mlx-lm would have
 * saved the same update (test/helpers/mlx.ts: factors transposed, experts stacked into switch_mlp,
 * scale = alpha / r, an mlx_lm.lora config), converts that, and compares base + LoRA with the
 * merged model in the real llama.cpp runtime.
 */
import { describe, expect, it } from 'vitest';
import { llamaSpec } from './archs/llama';
import { gemma2, qwen2 } from './archs/decoders';
import { phi3 } from './archs/fused';
import { expectMatchesMerged, runCase } from './harness/case';

describe('MLX adapter (mlx-lm) + base = merged model', () => {
  it('llama: every projection (q/k permutation after the transpose) and the token embeddings (LoRAEmbedding)', async () => {
    const spec = llamaSpec();
    const r = await runCase({
      name: 'mlx-llama',
      spec,
      format: 'mlx',
      targets: [...spec.targets, { module: 'model.embed_tokens', kind: 'embedding' }],
      adapter: { r: 4, alpha: 8 },
    });
    expectMatchesMerged(r);
    expect(r.files.plan.adapter.mlx).toMatchObject({ rank: 4, scale: 2, fineTuneType: 'lora' });
    expect(r.files.plan.tensors.map((t) => t.name)).toContain('token_embd.weight.lora_a');
  });

  it('qwen2: attention with biases and the MLP, scale 2.5 (alpha 10, r 4)', async () => {
    expectMatchesMerged(await runCase({ name: 'mlx-qwen2', spec: qwen2(), format: 'mlx', adapter: { r: 4, alpha: 10 } }));
  });

  it('gemma2: every projection', async () => {
    expectMatchesMerged(await runCase({ name: 'mlx-gemma2', spec: gemma2(), format: 'mlx', adapter: { r: 4, alpha: 8 } }));
  });

  it('phi3: the fused qkv_proj and gate_up_proj (LoRA on the fused projections, transposed back)', async () => {
    const r = await runCase({ name: 'mlx-phi3', spec: phi3(), format: 'mlx', adapter: { r: 4, alpha: 8 } });
    expectMatchesMerged(r);
    expect(r.files.plan.tensors.map((t) => t.name)).toContain('blk.0.attn_qkv.weight.lora_b');
  });

  it('mixtral: attention, the router, and experts stacked in switch_mlp (E, r, in) / (E, out, r)', async () => {
    const r = await runCase({ name: 'mlx-mixtral', spec: llamaSpec({ experts: 4, expertsUsed: 2 }), format: 'mlx', adapter: { r: 4, alpha: 8 } });
    expectMatchesMerged(r);
    expect(r.files.plan.tensors.find((t) => t.name === 'blk.0.ffn_gate_exps.weight.lora_b')?.ne).toEqual([4, 128, 4]);
    expect(r.files.plan.tensors.map((t) => t.name)).toContain('blk.0.ffn_gate_inp.weight.lora_a');
  });
});
