import { describe, expect, it } from 'vitest';
import { buildSafetensors } from '../../../test/helpers/safetensors-build';
import { ConversionError } from '../errors';
import { bytesSource, MemorySink } from '../io';
import { convert } from '../convert';
import { inspect } from '../plan';
import { parseAdapterConfig } from '../peft/config';
import { mlxLayerRange, originalNamesIn, parseMlxInfo } from './adapter';
import { describeMlxAdapter } from './describe';

const BASE = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 8,
  intermediate_size: 16,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  num_hidden_layers: 4,
  vocab_size: 32,
  tie_word_embeddings: false,
});

function mlxConfig(params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'mlx-community/tiny-4bit', fine_tune_type: 'lora', num_layers: 2, lora_parameters: { rank: 2, scale: 20, dropout: 0, ...params }, ...extra });
}

/** v_proj of layer 3 (in 8, out 8) as mlx-lm stores it: lora_a (8, r), lora_b (r, 8), F32 values i/100. */
function weights(rank = 2, extra: { name: string; dtype: 'F32'; shape: number[] }[] = []): Uint8Array {
  const values = (n: number, offset: number) => Array.from({ length: n }, (_, i) => (i + offset) / 100);
  return buildSafetensors([
    { name: 'model.layers.3.self_attn.v_proj.lora_a', dtype: 'F32', shape: [8, rank], data: values(8 * rank, 1) },
    { name: 'model.layers.3.self_attn.v_proj.lora_b', dtype: 'F32', shape: [rank, 8], data: values(8 * rank, 500) },
    ...extra,
  ]);
}

async function plan(config: string, w = weights()) {
  return inspect({ adapterConfig: config, baseConfig: BASE, adapter: bytesSource(w) }, { outtype: 'f32' });
}

describe('reading mlx-lm configs', () => {
  it('recognises the training arguments and maps them: r = rank, alpha = scale x rank', () => {
    const c = parseAdapterConfig(mlxConfig());
    expect(c).toMatchObject({ peftType: 'LORA', r: 2, loraAlpha: 40, baseModelNameOrPath: 'mlx-community/tiny-4bit', useDora: false });
    expect(c.mlx).toEqual({ fineTuneType: 'lora', rank: 2, scale: 20, dropout: 0, numLayers: 2, keys: null, model: 'mlx-community/tiny-4bit' });
  });

  it("older mlx-lm configs (lora_layers, use_dora) and mlx-lm's defaults (rank 8, scale 20)", () => {
    expect(parseMlxInfo({ lora_layers: 4, use_dora: true, lora_parameters: {} })).toMatchObject({ fineTuneType: 'dora', numLayers: 4, rank: 8, scale: 20 });
    expect(parseMlxInfo({ fine_tune_type: 'lora' })).toMatchObject({ rank: 8, scale: 20, numLayers: null, keys: null });
  });

  it.each([
    [{ fine_tune_type: 'qlora' }, 'fine_tune_type'],
    [{ lora_parameters: { rank: 0 } }, 'lora_parameters.rank'],
    [{ lora_parameters: { rank: 2.5 } }, 'lora_parameters.rank'],
    [{ lora_parameters: { scale: 'big' } }, 'lora_parameters.scale'],
    [{ lora_parameters: { keys: 'q_proj' } }, 'lora_parameters.keys'],
    [{ lora_parameters: {}, num_layers: 'all' }, 'num_layers'],
  ])('%j is refused naming %s', (raw, field) => {
    let e: unknown;
    try {
      parseMlxInfo(raw);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ConversionError);
    expect((e as ConversionError).details.field).toBe(`adapter_config.json: ${field}`);
  });

  it('a PEFT config with a lora_parameters key is still PEFT (peft_type decides)', () => {
    expect(parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_parameters: {} })).mlx).toBeUndefined();
  });
});

describe('num_layers counts from the last block', () => {
  const info = (numLayers: number | null) => ({ ...parseMlxInfo({ lora_parameters: {} }), numLayers });
  it.each([
    [16, 32, { first: 16, last: 31 }],
    [1, 32, { first: 31, last: 31 }],
    [0, 32, { first: 0, last: 31 }],
    [-1, 32, { first: 0, last: 31 }],
    [40, 32, { first: 0, last: 31 }],
  ])('num_layers %i of %i blocks: %j', (n, total, range) => {
    expect(mlxLayerRange(info(n), total)).toEqual(range);
  });
  it('unknown without num_layers or the base block count', () => {
    expect(mlxLayerRange(info(null), 32)).toBeNull();
    expect(mlxLayerRange(info(4), undefined)).toBeNull();
  });
});

describe('planning an MLX adapter', () => {
  it('factors are read transposed: lora_a (in, r) -> GGUF lora_a rows of r; the plan describes it', async () => {
    const p = await plan(mlxConfig());
    expect(p.refusals).toEqual([]);
    expect(p.adapter).toMatchObject({ source: 'mlx', r: 2, loraAlpha: 40 });
    expect(p.adapter.mlx?.layerRange).toEqual({ first: 2, last: 3 });
    expect(describeMlxAdapter(p.adapter.mlx!)).toBe(
      "MLX adapter (mlx-lm): rank 2, scale 20, layers 2–3 (num_layers 2, counted from the last), targets mlx-lm's default (every linear layer of those blocks)",
    );
    const a = p.tensors.find((t) => t.name === 'blk.3.attn_v.weight.lora_a')!;
    expect(a.ne).toEqual([8, 2]);
    expect(a.parts).toEqual([{ source: 'base_model.model.model.layers.3.self_attn.v_proj.lora_A.weight', ops: [{ op: 'transpose' }] }]);
    expect(p.sources[a.parts[0]!.source]!.shape).toEqual([8, 2]);
    expect(p.sourceNames?.[a.parts[0]!.source]).toBe('model.layers.3.self_attn.v_proj.lora_a');
    expect(p.modules[0]).toMatchObject({ peftScale: 20, runtimeScale: 20, fold: 1 });
  });

  it('the bytes: GGUF lora_a = lora_aᵀ, lora_b = lora_bᵀ, alpha = scale x rank', async () => {
    const w = weights();
    const p = await plan(mlxConfig(), w);
    const sink = new MemorySink();
    await convert(p, bytesSource(w), sink);
    const out = sink.bytes();
    const f32 = (t: string) => {
      const tensor = p.tensors.find((x) => x.name === t)!;
      const start = p.headerBytes + tensor.offset;
      return Array.from(new Float32Array(out.slice(start, start + tensor.byteSize).buffer));
    };
    // The source values, read back from the file, to compare with.
    const header = JSON.parse(new TextDecoder().decode(w.subarray(8, 8 + Number(new DataView(w.buffer, w.byteOffset).getBigUint64(0, true))))) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    const dataStart = 8 + Number(new DataView(w.buffer, w.byteOffset).getBigUint64(0, true));
    const src = (n: string) => Array.from(new Float32Array(w.slice(dataStart + header[n]!.data_offsets[0], dataStart + header[n]!.data_offsets[1]).buffer));
    const transpose = (v: number[], rows: number, cols: number) => v.map((_, i) => v[(i % rows) * cols + Math.floor(i / rows)]!);
    expect(new Set(src('model.layers.3.self_attn.v_proj.lora_a')).size).toBe(16);
    expect(f32('blk.3.attn_v.weight.lora_a')).toEqual(transpose(src('model.layers.3.self_attn.v_proj.lora_a'), 8, 2));
    expect(f32('blk.3.attn_v.weight.lora_b')).toEqual(transpose(src('model.layers.3.self_attn.v_proj.lora_b'), 2, 8));
    expect(p.kvs.find((k) => k.key === 'adapter.lora.alpha')?.value).toBe(40);
  });

  it('a scale that scale x rank does not carry exactly stays exact: no fold where the tensor rank is the config rank', async () => {
    const p = await plan(mlxConfig({ rank: 3, scale: 0.1 }), weights(3));
    expect(p.modules[0]).toMatchObject({ peftScale: 0.1, fold: 1 });
    expect(p.adapter.loraAlpha).toBeCloseTo(0.3, 15);
  });

  it('a tensor of another rank than the config: its scale is folded into lora_b (mlx-lm scales every module by scale)', async () => {
    const p = await plan(mlxConfig({ rank: 4, scale: 2 }), weights(2));
    // llama.cpp: alpha / rank of the tensor = 8 / 2 = 4; mlx-lm: 2. Folded: x0.5.
    expect(p.modules[0]).toMatchObject({ peftScale: 2, runtimeScale: 4, fold: 0.5 });
    expect(p.tensors.find((t) => t.name.endsWith('lora_b'))!.parts[0]!.ops).toEqual([{ op: 'transpose' }, { op: 'scale', factor: 0.5 }]);
  });

  it('scale 0: llama.cpp would read alpha 0 as "no alpha" (scale 1), so the 0 is folded into lora_b', async () => {
    const p = await plan(mlxConfig({ scale: 0 }));
    expect(p.modules[0]).toMatchObject({ peftScale: 0, runtimeScale: 1, fold: 0 });
    expect(p.warnings.find((w) => w.code === 'zero_alpha')?.message).toContain('lora_parameters.scale 0');
  });

  it('DoRA magnitudes (.m) in a "lora" config are refused as DoRA, named as in the file', async () => {
    const p = await plan(mlxConfig(), weights(2, [{ name: 'model.layers.3.self_attn.v_proj.m', dtype: 'F32', shape: [8] }]));
    expect(p.refusals.map((r) => r.code)).toEqual(['dora']);
    expect(p.refusals[0]!.details.tensors).toEqual(['model.layers.3.self_attn.v_proj.m']);
    expect(p.refusals[0]!.message).toContain('model.layers.3.self_attn.v_proj.m');
    expect(p.refusals[0]!.message).not.toContain('base_model.model.');
  });

  it('fine_tune_type dora and full: refused before planning, with how to fuse', async () => {
    for (const type of ['dora', 'full']) {
      const e = (await plan(mlxConfig({}, { fine_tune_type: type })).catch((x: unknown) => x)) as ConversionError;
      expect(e).toBeInstanceOf(ConversionError);
      expect(e.message).toContain(`fine_tune_type "${type}"`);
      expect(e.hint).toContain('mlx_lm.fuse');
    }
  });

  it('a tensor for a module the base does not have is refused under its MLX name', async () => {
    const p = await plan(
      mlxConfig(),
      weights(2, [
        { name: 'model.layers.3.self_attn.rotary.lora_a', dtype: 'F32', shape: [8, 2] },
        { name: 'model.layers.3.self_attn.rotary.lora_b', dtype: 'F32', shape: [2, 8] },
      ]),
    );
    expect(p.refusals).toHaveLength(1);
    expect(p.refusals[0]!.details.tensors).toEqual(['model.layers.3.self_attn.rotary.lora_a', 'model.layers.3.self_attn.rotary.lora_b']);
  });
});

describe('originalNamesIn', () => {
  it('replaces presented names, keeps the rest (and trailing punctuation)', () => {
    const names = { 'base_model.model.x.lora_A.weight': 'x.lora_a' };
    expect(originalNamesIn('in base_model.model.x.lora_A.weight, and base_model.model.y.lora_B.weight.', names)).toBe(
      'in x.lora_a, and base_model.model.y.lora_B.weight.',
    );
  });
});
