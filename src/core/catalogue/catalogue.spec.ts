/**
 * Every catalogue entry must carry every field its architecture's mapping reads: planning a
 * synthetic adapter with LoRA on every per-layer module of layer 0 (shapes from the entry's own
 * dimensions, all experts for MoE) must succeed with no refusals. Plus id matching and aliases.
 */
import { describe, expect, it } from 'vitest';
import { fillName } from '../arch/match';
import { familyFor } from '../arch/registry';
import { convert } from '../convert';
import { resolveBaseConfig } from '../hub/api';
import { CountingSink, encodeUtf8, type ByteSource } from '../io';
import { parseBaseConfig, type BaseConfig } from '../peft/config';
import { inspect } from '../plan';
import { CATALOGUE, chooseBaseConfig, lookupBaseConfig } from './lookup';

const R = 2;

/** (out, in) of a LoRA-able module of layer 0, from the config; undefined for ones we don't know. */
function moduleDims(suffix: string, cfg: BaseConfig): [number, number] | undefined {
  const h = cfg.hparams;
  const n = (k: string) => h[k] as number;
  const H = n('hidden_size');
  const nH = n('num_attention_heads');
  const nKv = (h['num_key_value_heads'] as number | undefined) ?? nH;
  const hd = (h['head_dim'] as number | undefined) ?? H / nH;
  const I = n('intermediate_size');
  const moeI = (h['moe_intermediate_size'] as number | undefined) ?? I;
  const experts = (h['num_local_experts'] as number | undefined) ?? (h['num_experts'] as number | undefined) ?? 0;
  const table: Record<string, [number, number]> = {
    'self_attn.q_proj': [nH * hd, H],
    'self_attn.k_proj': [nKv * hd, H],
    'self_attn.v_proj': [nKv * hd, H],
    'self_attn.o_proj': [H, nH * hd],
    'self_attn.qkv_proj': [(nH + 2 * nKv) * hd, H],
    'mlp.gate_proj': [I, H],
    'mlp.up_proj': [I, H],
    'mlp.down_proj': [H, I],
    'mlp.gate_up_proj': [2 * I, H],
    'mlp.gate': [experts, H],
    'mlp.experts.{xid}.gate_proj': [moeI, H],
    'mlp.experts.{xid}.up_proj': [moeI, H],
    'mlp.experts.{xid}.down_proj': [H, moeI],
    'block_sparse_moe.gate': [experts, H],
    'block_sparse_moe.experts.{xid}.w1': [I, H],
    'block_sparse_moe.experts.{xid}.w3': [I, H],
    'block_sparse_moe.experts.{xid}.w2': [H, I],
  };
  return table[suffix];
}

/** A safetensors file with the given F32 tensors; data reads return zeros (planning reads only the header). */
function syntheticAdapter(tensors: { name: string; shape: number[] }[]): ByteSource {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = encodeUtf8(json);
  const prefix = new Uint8Array(8 + headerBytes.byteLength);
  new DataView(prefix.buffer).setUint32(0, headerBytes.byteLength, true);
  prefix.set(headerBytes, 8);
  const total = prefix.byteLength + offset;
  return {
    byteLength: total,
    read(at, length) {
      if (at < 0 || length < 0 || at + length > total) return Promise.reject(new RangeError('read past the end'));
      const out = new Uint8Array(length);
      if (at < prefix.byteLength) out.set(prefix.subarray(at, Math.min(prefix.byteLength, at + length)));
      return Promise.resolve(out);
    },
  };
}

/** LoRA pairs on every per-layer module of layer 0 the family maps (every expert of MoE layers). */
function adapterFor(cfg: BaseConfig): { tensors: { name: string; shape: number[] }[]; modules: string[] } {
  const family = familyFor(cfg);
  const tensors: { name: string; shape: number[] }[] = [];
  const modules: string[] = [];
  for (const rule of family.modules) {
    if (rule.isOutputHead || rule.isTokenEmbedding || rule.notApplied) continue;
    const pattern = Array.isArray(rule.hf) ? rule.hf[0]! : rule.hf;
    if (!pattern.includes('{bid}')) continue;
    const suffix = pattern.slice(pattern.indexOf('{bid}.') + '{bid}.'.length);
    const dims = moduleDims(suffix, cfg);
    if (!dims) throw new Error(`${family.id}: the test does not know the shape of ${suffix}`);
    // The family's own expert count (it throws when the config lacks it).
    const ids = rule.experts ? Array.from({ length: rule.experts(cfg) }, (_, x) => x) : [undefined];
    for (const xid of ids) {
      const module = fillName(pattern, 0, xid);
      modules.push(module);
      tensors.push({ name: `base_model.model.${module}.lora_A.weight`, shape: [R, dims[1]] });
      tensors.push({ name: `base_model.model.${module}.lora_B.weight`, shape: [dims[0], R] });
    }
  }
  return { tensors, modules };
}

const ADAPTER_CONFIG = JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: 2 * R, target_modules: 'all-linear' });

/** The only keys an entry may carry: what conversion reads (plus the nesting of multimodal configs). */
const ALLOWED_KEYS = new Set([
  'architectures',
  'model_type',
  'hidden_size',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'num_hidden_layers',
  'intermediate_size',
  'vocab_size',
  'tie_word_embeddings',
  'num_local_experts',
  'num_experts',
  'num_experts_per_tok',
  'moe_intermediate_size',
  'decoder_sparse_step',
  'mlp_only_layers',
  'text_config',
]);

describe('catalogue entries', () => {
  it.each(CATALOGUE.map((e) => [e.id, e] as const))('%s plans an adapter on every module without refusals', async (id, entry) => {
    const hit = lookupBaseConfig(id)!;
    expect(hit.id).toBe(id);
    expect(JSON.parse(hit.config)).toEqual(entry.config);
    const cfg = parseBaseConfig(hit.config);
    const { tensors, modules } = adapterFor(cfg);
    // Attention is always there: the entry's head counts are exercised.
    expect(modules.some((m) => /q_proj|qkv_proj/.test(m))).toBe(true);
    const plan = await inspect({ adapterConfig: ADAPTER_CONFIG, baseConfig: hit.config, adapter: syntheticAdapter(tensors) }, { outtype: 'f16' });
    expect(plan.refusals).toEqual([]);
    expect(plan.tensors.length).toBeGreaterThanOrEqual(2);
    expect(plan.skipped).toEqual([]);
    const declaredTie = cfg.tieWordEmbeddings;
    if (declaredTie !== undefined && familyFor(cfg).tiedDefault !== 'always') expect(plan.tied).toBe(declaredTie);
  });

  it('every entry cites its Hub config.json and where it was confirmed, and carries only fields conversion reads', () => {
    for (const e of CATALOGUE) {
      expect(e.source).toBe(`https://huggingface.co/${e.id}/blob/main/config.json`);
      expect(e.confirmedFrom.length).toBeGreaterThan(10);
      const keys = [...Object.keys(e.config), ...Object.keys((e.config['text_config'] as object | undefined) ?? {})];
      for (const k of keys) expect(ALLOWED_KEYS.has(k), `${e.id}: ${k}`).toBe(true);
    }
  });

  it('covers the families the issue asks for', () => {
    const ids = CATALOGUE.map((e) => e.id);
    for (const id of [
      'meta-llama/Llama-3.2-1B',
      'meta-llama/Llama-3.2-3B',
      'meta-llama/Llama-3.1-8B',
      'meta-llama/Llama-3.1-70B',
      'meta-llama/Llama-3.3-70B-Instruct',
      'mistralai/Mistral-7B-v0.1',
      'mistralai/Mistral-7B-v0.3',
      'Qwen/Qwen2.5-1.5B-Instruct',
      'mistralai/Mixtral-8x7B-v0.1',
      'google/gemma-2-2b',
      'google/gemma-2-9b',
      'google/gemma-2-27b',
      'google/gemma-3-1b-it',
      'google/gemma-3-4b-it',
      'google/gemma-3-12b-it',
      'google/gemma-3-27b-it',
      'Qwen/Qwen2.5-0.5B',
      'Qwen/Qwen2.5-72B-Instruct',
      'Qwen/Qwen3-0.6B',
      'Qwen/Qwen3-1.7B',
      'Qwen/Qwen3-32B',
      'Qwen/Qwen3-30B-A3B',
      'microsoft/Phi-3-mini-4k-instruct',
      'microsoft/Phi-4-mini-instruct',
    ]) {
      expect(ids).toContain(id);
    }
  });
});

describe('lookupBaseConfig', () => {
  it.each([
    ['meta-llama/Llama-3.2-1B-Instruct', 'meta-llama/Llama-3.2-1B-Instruct', 'id'],
    ['META-LLAMA/llama-3.2-1b-instruct', 'meta-llama/Llama-3.2-1B-Instruct', 'id'],
    ['hf:meta-llama/Llama-3.2-1B@main', 'meta-llama/Llama-3.2-1B', 'id'],
    [' meta-llama/Llama-3.2-1B/ ', 'meta-llama/Llama-3.2-1B', 'id'],
    ['meta-llama/Meta-Llama-3.1-8B-Instruct', 'meta-llama/Llama-3.1-8B-Instruct', 'alias'],
    ['unsloth/Llama-3.2-1B-Instruct', 'meta-llama/Llama-3.2-1B-Instruct', 'reupload'],
    ['unsloth/Llama-3.2-1B-Instruct-bnb-4bit', 'meta-llama/Llama-3.2-1B-Instruct', 'reupload'],
    ['unsloth/llama-3.2-1b-instruct-unsloth-bnb-4bit', 'meta-llama/Llama-3.2-1B-Instruct', 'reupload'],
    ['unsloth/Meta-Llama-3.1-8B-bnb-4bit', 'meta-llama/Llama-3.1-8B', 'reupload'],
    ['unsloth/Qwen2.5-7B-Instruct-bnb-4bit', 'Qwen/Qwen2.5-7B-Instruct', 'reupload'],
    ['unsloth/Qwen3-30B-A3B', 'Qwen/Qwen3-30B-A3B', 'reupload'],
    ['unsloth/gemma-2-9b-it-bnb-4bit', 'google/gemma-2-9b-it', 'reupload'],
    ['unsloth/gemma-3-4b-it-unsloth-bnb-4bit', 'google/gemma-3-4b-it', 'reupload'],
    ['unsloth/mistral-7b-instruct-v0.2-bnb-4bit', 'mistralai/Mistral-7B-Instruct-v0.2', 'reupload'],
    ['unsloth/mistral-7b-v0.3-bnb-4bit', 'mistralai/Mistral-7B-v0.3', 'reupload'],
    ['unsloth/Phi-4-mini-instruct', 'microsoft/Phi-4-mini-instruct', 'reupload'],
    ['unsloth/Phi-3-mini-4k-instruct-bnb-4bit', 'microsoft/Phi-3-mini-4k-instruct', 'reupload'],
    // mlx-lm's `model`: mlx-community conversions, and the Hugging Face cache folder it downloaded into.
    ['mlx-community/Llama-3.2-1B-Instruct-4bit', 'meta-llama/Llama-3.2-1B-Instruct', 'reupload'],
    ['mlx-community/Meta-Llama-3.1-8B-Instruct-8bit', 'meta-llama/Llama-3.1-8B-Instruct', 'reupload'],
    ['mlx-community/Qwen2.5-7B-Instruct-bf16', 'Qwen/Qwen2.5-7B-Instruct', 'reupload'],
    ['mlx-community/gemma-2-9b-it-4bit', 'google/gemma-2-9b-it', 'reupload'],
    ['/Users/me/.cache/huggingface/hub/models--mlx-community--Llama-3.2-1B-Instruct-4bit/snapshots/0123abc', 'meta-llama/Llama-3.2-1B-Instruct', 'reupload'],
  ])('%s -> %s (%s)', (input, id, how) => {
    const hit = lookupBaseConfig(input);
    expect(hit).toMatchObject({ id, matchedAs: how });
    expect(hit!.config).toBe(lookupBaseConfig(id)!.config);
  });

  it.each([
    'someone/Llama-3.2-1B', // another owner's repo of the same name may be a different model
    'someone/Llama-3.2-1B-bnb-4bit',
    'unsloth/Llama-3.2-90B-Vision',
    'someone/Llama-3.2-1B-Instruct-4bit',
    'mlx-community/Llama-3.2-1B-Instruct-2bit-dwq',
    'meta-llama/Llama-3.2-1B-bnb-8bit',
    'meta-llama/Llama-3.2-1B/extra',
    './models/llama',
    '',
    'Llama-3.2-1B',
  ])('%j is not in the catalogue', (input) => {
    expect(lookupBaseConfig(input)).toBeUndefined();
  });

  it('the values that decide a silent error are the ones confirmed', () => {
    // Spot checks against the stored copies named in entries.ts (tied heads and KV heads).
    const get = (id: string) => JSON.parse(lookupBaseConfig(id)!.config) as Record<string, unknown>;
    expect(get('meta-llama/Llama-3.2-1B')).toMatchObject({ num_key_value_heads: 8, tie_word_embeddings: true, head_dim: 64 });
    expect(get('meta-llama/Llama-3.1-8B')).toMatchObject({ num_key_value_heads: 8, tie_word_embeddings: false });
    expect(get('Qwen/Qwen2.5-3B')).toMatchObject({ num_key_value_heads: 2, tie_word_embeddings: true });
    expect(get('Qwen/Qwen2.5-7B')).toMatchObject({ num_key_value_heads: 4, tie_word_embeddings: false });
    expect(get('Qwen/Qwen3-4B')).toMatchObject({ tie_word_embeddings: true, head_dim: 128 });
    expect(get('Qwen/Qwen3-8B')).toMatchObject({ tie_word_embeddings: false });
    expect(get('microsoft/Phi-4-mini-instruct')).toMatchObject({ num_key_value_heads: 8, tie_word_embeddings: true });
    expect(get('google/gemma-3-27b-it')).toMatchObject({ text_config: { head_dim: 128, num_key_value_heads: 16 } });
  });
});

describe('offline conversion with a catalogue base', () => {
  it('an adapter naming a catalogue base converts with no network at all', async () => {
    const adapterConfig = JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: 4, base_model_name_or_path: 'unsloth/Qwen2.5-0.5B-Instruct-bnb-4bit' });
    const noNetwork = () => Promise.reject(new Error('no network in this test'));
    const base = await resolveBaseConfig(JSON.parse(adapterConfig).base_model_name_or_path, { fetch: noNetwork });
    expect(base).toMatchObject({ origin: 'catalogue', source: 'Qwen/Qwen2.5-0.5B-Instruct' });
    const cfg = parseBaseConfig(base.text);
    const { tensors } = adapterFor(cfg);
    const source = syntheticAdapter(tensors);
    const plan = await inspect({ adapterConfig, baseConfig: base.text, adapter: source }, { outtype: 'f16' });
    expect(plan.ggufArchitecture).toBe('qwen2');
    expect(plan.tied).toBe(true);
    const sink = new CountingSink();
    await convert(plan, source, sink);
    expect(sink.length).toBe(plan.totalBytes);
  });
});

describe('chooseBaseConfig', () => {
  it('a supplied config.json always wins over the catalogue', () => {
    const mine = JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 64, num_attention_heads: 4 });
    expect(chooseBaseConfig('meta-llama/Llama-3.2-1B', mine)).toEqual({ text: mine, origin: 'supplied' });
  });
  it('otherwise the catalogue entry for base_model_name_or_path, else nothing', () => {
    expect(chooseBaseConfig('unsloth/Qwen3-8B-bnb-4bit')).toMatchObject({ origin: 'catalogue', hit: { id: 'Qwen/Qwen3-8B' } });
    expect(chooseBaseConfig('someone/private-model')).toBeUndefined();
    expect(chooseBaseConfig(null)).toBeUndefined();
  });
});
