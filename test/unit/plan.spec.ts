/**
 * The plan refuses before writing: tied heads (the reason this project exists), transforms that
 * don't fit the base config, and the opt-in that drops what llama.cpp would not apply.
 */
import { describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type InspectOptions } from '../../src/core';
import { buildSafetensors, type BuildTensor } from '../helpers/safetensors-build';

const LLAMA = { architectures: ['LlamaForCausalLM'], hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 32, vocab_size: 40 };
const ADAPTER = JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'lm_head'] });

function pair(module: string, inDim: number, outDim: number, r = 2): BuildTensor[] {
  return [
    { name: `base_model.model.${module}.lora_A.weight`, dtype: 'F32', shape: [r, inDim], data: Array.from({ length: r * inDim }, (_, i) => i / 7) },
    { name: `base_model.model.${module}.lora_B.weight`, dtype: 'F32', shape: [outDim, r], data: Array.from({ length: outDim * r }, (_, i) => -i / 5) },
  ];
}

async function plan(config: Record<string, unknown>, tensors: BuildTensor[], options: InspectOptions = {}) {
  const source = bytesSource(buildSafetensors(tensors));
  return { plan: await inspect({ adapterConfig: ADAPTER, baseConfig: JSON.stringify(config), adapter: source }, options), source };
}

describe('the tied-head check', () => {
  const tensors = [...pair('model.layers.0.self_attn.q_proj', 16, 16), ...pair('lm_head', 16, 40)];

  it('converts lm_head LoRA to output.weight on an untied base', async () => {
    const { plan: p } = await plan({ ...LLAMA, tie_word_embeddings: false }, tensors);
    expect(p.refusals).toEqual([]);
    expect(p.tensors.map((t) => t.name)).toContain('output.weight.lora_b');
  });

  it('refuses lm_head LoRA on a tied base, naming the tensor, the reason and the way out; convert writes nothing', async () => {
    const { plan: p, source } = await plan({ ...LLAMA, tie_word_embeddings: true }, tensors);
    expect(p.refusals.map((r) => r.code)).toEqual(['tied_head']);
    const r = p.refusals[0]!;
    expect(r.details.tensors).toEqual(['base_model.model.lm_head.lora_A.weight', 'base_model.model.lm_head.lora_B.weight']);
    expect(r.message).toContain('tie_word_embeddings');
    expect(r.hint).toContain('--drop-unapplied');
    const sink = new MemorySink();
    await expect(convert(p, source, sink)).rejects.toMatchObject({ code: 'tied_head' });
    expect(sink.length).toBe(0);
  });

  it('with the opt-in drops the lm_head LoRA and says so', async () => {
    const { plan: p } = await plan({ ...LLAMA, tie_word_embeddings: true }, tensors, { dropUnapplied: true });
    expect(p.refusals).toEqual([]);
    expect(p.tensors.some((t) => t.name.startsWith('output.'))).toBe(false);
    expect(p.warnings.find((w) => w.code === 'dropped')?.tensors).toContain('base_model.model.lm_head.lora_A.weight');
  });

  it('refuses token-embedding LoRA on a tied base (llama.cpp would apply it to the output too)', async () => {
    const emb: BuildTensor[] = [
      { name: 'base_model.model.model.embed_tokens.lora_embedding_A', dtype: 'F32', shape: [2, 40], data: new Array(80).fill(0.5) },
      { name: 'base_model.model.model.embed_tokens.lora_embedding_B', dtype: 'F32', shape: [16, 2], data: new Array(32).fill(0.25) },
    ];
    const { plan: p } = await plan({ ...LLAMA, tie_word_embeddings: true }, emb);
    expect(p.refusals.map((r) => r.code)).toEqual(['tied_head']);
    expect(p.refusals[0]!.message).toContain('model.embed_tokens');
  });
});

describe('transforms are checked against the base config before writing', () => {
  it('refuses a q_proj whose rows cannot take the rotary permutation of this config', async () => {
    // 4 heads need rows divisible by 8; 18 rows are not.
    const { plan: p } = await plan(LLAMA, pair('model.layers.0.self_attn.q_proj', 16, 18));
    expect(p.refusals.map((r) => r.code)).toEqual(['shape_mismatch']);
    expect(p.refusals[0]!.message).toContain('model.layers.0.self_attn.q_proj');
    expect(p.tensors).toEqual([]);
  });
});

describe('an adapter that does not fit the base config is refused', () => {
  it('refuses the fixture Llama adapter (hidden 64) against the catalogue config of the base it names (hidden 2048)', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { lookupBaseConfig } = await import('../../src/core');
    const { REFERENCE } = await import('../helpers/fixtures');
    const dir = join(REFERENCE, 'llama_bf16_f16', 'input');
    const adapterConfig = readFileSync(join(dir, 'adapter_config.json'), 'utf8');
    const base = lookupBaseConfig(JSON.parse(adapterConfig).base_model_name_or_path);
    expect(base).toBeDefined();
    const source = bytesSource(new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors'))));
    const p = await inspect({ adapterConfig, baseConfig: base!.config, adapter: source });
    expect(new Set(p.refusals.map((r) => r.code))).toEqual(new Set(['shape_mismatch']));
    expect(p.refusals[0]!.message).toContain('hidden size 2048');
    expect(p.refusals[0]!.hint).toContain('meta-llama/Llama-3.2-1B-Instruct');
  });
});
