import { describe, expect, it } from 'vitest';
import { bytesSource, type ByteSource } from '../io';
import { serializeGgufHeader, type GgufKv, type GgufTensorInfo } from '../gguf/writer';
import { readGgufHeader, type GgufHeaderRead } from '../gguf/reader';
import { adapterShapeOf, inspectGgufAdapter } from './adapter-gguf';
import { checkAgainstBase, splitPart, type AdapterShape } from './base';

const HIDDEN = 64;
const FFN = 128;

/** A Llama-like base: `layers` blocks, q/k/v/o and the MLP, token_embd and (untied) output. */
function baseTensors(layers: number, hidden = HIDDEN, experts = 0): GgufTensorInfo[] {
  const t: GgufTensorInfo[] = [
    { name: 'token_embd.weight', ne: [hidden, 300], type: 'F16', offset: 0 },
    { name: 'output.weight', ne: [hidden, 300], type: 'F16', offset: 0 },
  ];
  for (let l = 0; l < layers; l++) {
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) t.push({ name: `blk.${l}.${n}.weight`, ne: [hidden, hidden], type: 'F16', offset: 0 });
    if (experts) t.push({ name: `blk.${l}.ffn_gate_exps.weight`, ne: [hidden, FFN, experts], type: 'F16', offset: 0 });
    else t.push({ name: `blk.${l}.ffn_up.weight`, ne: [hidden, FFN], type: 'F16', offset: 0 }, { name: `blk.${l}.ffn_down.weight`, ne: [FFN, hidden], type: 'F16', offset: 0 });
  }
  return t;
}

/** A header-only "file": the header, then a large sparse extent that is never read. */
function baseFile(arch: string, tensors: GgufTensorInfo[], extra: GgufKv[] = [], dataBytes = 4 * 2 ** 30): { source: ByteSource; reads: () => number } {
  const header = serializeGgufHeader(
    [
      { key: 'general.architecture', type: 'STRING', value: arch },
      { key: 'general.name', type: 'STRING', value: 'Tiny Base' },
      { key: `${arch}.block_count`, type: 'UINT32', value: tensors.filter((t) => /^blk\.\d+\.attn_q\./.test(t.name)).length },
      { key: `${arch}.embedding_length`, type: 'UINT32', value: tensors[0]!.ne[0]! },
      // A tokenizer-sized array: stepped over, not kept.
      { key: 'tokenizer.ggml.tokens', type: 'ARRAY', itemType: 'STRING', value: Array.from({ length: 5000 }, (_, i) => `token-${i}`) },
      ...extra,
    ],
    tensors,
  );
  let read = 0;
  const source: ByteSource = {
    byteLength: header.byteLength + dataBytes,
    async read(offset, length) {
      read += length;
      const out = new Uint8Array(length);
      if (offset < header.byteLength) out.set(header.subarray(offset, Math.min(header.byteLength, offset + length)));
      return out;
    },
  };
  return { source, reads: () => read };
}

/** An adapter's shape: pairs on the given base tensors, rank r (GGML dims as llama.cpp expects them). */
function adapterFor(arch: string, tensors: GgufTensorInfo[], r = 4, pick: (name: string) => boolean = () => true): AdapterShape {
  const out: AdapterShape = { architecture: arch, tensors: [] };
  for (const t of tensors) {
    if (!pick(t.name)) continue;
    if (t.name === 'token_embd.weight') {
      out.tensors.push({ name: `${t.name}.lora_a`, ne: [r, t.ne[1]!] }, { name: `${t.name}.lora_b`, ne: [r, t.ne[0]!] });
    } else {
      out.tensors.push({ name: `${t.name}.lora_a`, ne: [t.ne[0]!, r, ...t.ne.slice(2)] }, { name: `${t.name}.lora_b`, ne: [r, t.ne[1]!, ...t.ne.slice(2)] });
    }
  }
  return out;
}

async function base(arch: string, tensors: GgufTensorInfo[]): Promise<{ file: string; headers: GgufHeaderRead[] }> {
  return { file: 'base.gguf', headers: [await readGgufHeader(baseFile(arch, tensors).source, 'base.gguf')] };
}

describe('readGgufHeader', () => {
  it('reads the metadata and tensor infos of a 4 GiB file by its header alone', async () => {
    const f = baseFile('llama', baseTensors(2));
    const h = await readGgufHeader(f.source, 'base.gguf');
    expect(h.tensors).toHaveLength(2 + 2 * 6);
    expect(h.kv.get('general.architecture')).toEqual({ type: 'STRING', value: 'llama' });
    expect(h.kv.get('tokenizer.ggml.tokens')!.value).toEqual({ itemType: 'STRING', length: 5000 });
    expect(f.reads()).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(h.bytesRead).toBe(f.reads());
  });

  it.each([
    ['not GGUF', (b: Uint8Array) => b.set([0x50, 0x4b, 0x03, 0x04], 0), /does not start with "GGUF"/],
    ['version 9', (b: Uint8Array) => new DataView(b.buffer).setUint32(4, 9, true), /version 9/],
    ['2^40 tensors', (b: Uint8Array) => new DataView(b.buffer).setBigUint64(8, 2n ** 40n, true), /more than the file could hold/],
    ['truncated', null, /runs past the end/],
  ])('%s: a malformed_header error naming the file', async (_name, mutate, message) => {
    const header = serializeGgufHeader([{ key: 'general.architecture', type: 'STRING', value: 'llama' }], baseTensors(1));
    let bytes = header.slice();
    if (mutate) mutate(bytes);
    else bytes = bytes.slice(0, header.byteLength - 40);
    await expect(readGgufHeader(bytesSource(bytes), 'x.gguf')).rejects.toMatchObject({ code: 'malformed_header', message: expect.stringMatching(message) });
  });
});

describe('checkAgainstBase: what llama.cpp checks when it loads a LoRA', () => {
  it('a compatible base: every pair checked, no problem', async () => {
    const tensors = baseTensors(2);
    const r = checkAgainstBase(adapterFor('llama', tensors), await base('llama', tensors));
    expect(r).toMatchObject({ compatible: true, base: 'Tiny Base', baseArchitecture: 'llama', pairsChecked: tensors.length, problems: [] });
  });

  it('another architecture', async () => {
    const r = checkAgainstBase(adapterFor('llama', baseTensors(2)), await base('qwen2', baseTensors(2)));
    expect(r.compatible).toBe(false);
    expect(r.problems.map((p) => p.code)).toEqual(['architecture']);
    expect(r.problems[0]!.message).toContain('model arch and LoRA arch mismatch');
  });

  it('a base with fewer layers: the missing blocks, and the likely cause in layers', async () => {
    const r = checkAgainstBase(adapterFor('llama', baseTensors(4)), await base('llama', baseTensors(2)));
    expect(r.problems.map((p) => p.code)).toEqual(['missing_tensor']);
    expect(r.problems[0]!.cause).toBe('The adapter was trained on a model with 4 layers; this base has 2.');
    expect(r.problems[0]!.tensors).toContain('blk.3.attn_q.weight.lora_a');
  });

  it('a tensor the base does not have (a tied base without output.weight)', async () => {
    const tied = baseTensors(2).filter((t) => t.name !== 'output.weight');
    const r = checkAgainstBase(adapterFor('llama', baseTensors(2), 4, (n) => n === 'output.weight'), await base('llama', tied));
    expect(r.problems[0]).toMatchObject({ code: 'missing_tensor', cause: expect.stringMatching(/ties its output head/) });
  });

  it('another hidden size: a shape problem naming the dims and the size', async () => {
    const r = checkAgainstBase(adapterFor('llama', baseTensors(2, 96)), await base('llama', baseTensors(2, 64)));
    expect(r.problems.map((p) => p.code)).toEqual(['shape']);
    expect(r.problems[0]!.message).toContain('blk.0.attn_q.weight: base [64, 64], lora_a [96, 4], lora_b [4, 96]');
    expect(r.problems[0]!.cause).toContain("this base's hidden size is 64");
  });

  it('the token embedding is checked the way llama.cpp does (lora_b ne[1] = hidden, lora_a ne[1] = vocab)', async () => {
    const tensors = baseTensors(1);
    const ok = checkAgainstBase(adapterFor('llama', tensors, 4, (n) => n === 'token_embd.weight'), await base('llama', tensors));
    expect(ok.compatible).toBe(true);
    const other = checkAgainstBase(adapterFor('llama', tensors, 4, (n) => n === 'token_embd.weight'), await base('llama', [{ ...tensors[0]!, ne: [64, 500] }, ...tensors.slice(1)]));
    expect(other.problems.map((p) => p.code)).toEqual(['shape']);
  });

  it('ranks that disagree, a missing half, a stray tensor, experts of another count', async () => {
    const tensors = baseTensors(1);
    const adapter = adapterFor('llama', tensors, 4, (n) => n === 'blk.0.attn_q.weight' || n === 'blk.0.attn_k.weight');
    adapter.tensors[1] = { name: 'blk.0.attn_q.weight.lora_b', ne: [8, 64] };
    adapter.tensors.pop();
    adapter.tensors.push({ name: 'blk.0.attn_q.bias', ne: [64] });
    const r = checkAgainstBase(adapter, await base('llama', tensors));
    expect(r.problems.map((p) => p.code).sort()).toEqual(['missing_pair', 'rank', 'unexpected_suffix']);

    const moe = baseTensors(1, 64, 8);
    const r2 = checkAgainstBase(adapterFor('llama', baseTensors(1, 64, 4), 4, (n) => n.includes('exps')), await base('llama', moe));
    expect(r2.problems[0]).toMatchObject({ code: 'experts', message: expect.stringMatching(/base 8 experts, adapter 4/) });
  });

  it('a split base: tensors are looked up in every shard', async () => {
    const tensors = baseTensors(2);
    const shards = [await readGgufHeader(baseFile('llama', tensors.slice(0, 7)).source), await readGgufHeader(baseFile('llama', tensors.slice(7)).source)];
    expect(checkAgainstBase(adapterFor('llama', tensors), { file: 'base-00001-of-00002.gguf', headers: shards }).compatible).toBe(true);
    expect(splitPart('Llama-3.2-1B-Q4_K_M-00002-of-00003.gguf')).toEqual({ index: 2, count: 3 });
    expect(splitPart('Llama-3.2-1B-Q4_K_M.gguf')).toBeNull();
  });
});

describe('inspectGgufAdapter', () => {
  function adapterHeader(kvs: GgufKv[], tensors: GgufTensorInfo[]): Uint8Array {
    const header = serializeGgufHeader(kvs, tensors);
    const data = tensors.reduce((n, t) => Math.max(n, t.offset + t.ne.reduce((x, d) => x * d, 1) * 4), 0);
    const out = new Uint8Array(header.byteLength + data);
    out.set(header);
    return out;
  }
  const good: GgufKv[] = [
    { key: 'general.architecture', type: 'STRING', value: 'llama' },
    { key: 'general.type', type: 'STRING', value: 'adapter' },
    { key: 'adapter.type', type: 'STRING', value: 'lora' },
    { key: 'adapter.lora.alpha', type: 'FLOAT32', value: 16 },
  ];
  const pair: GgufTensorInfo[] = [
    { name: 'blk.0.attn_q.weight.lora_a', ne: [64, 8], type: 'F32', offset: 0 },
    { name: 'blk.0.attn_q.weight.lora_b', ne: [8, 64], type: 'F32', offset: 2048 },
  ];

  it('a clean adapter: its pairs with rank and the scale llama.cpp applies (alpha / rank), no flags', async () => {
    const h = await readGgufHeader(bytesSource(adapterHeader(good, pair)), 'a.gguf');
    const i = inspectGgufAdapter(h, 'a.gguf');
    expect(i).toMatchObject({ architecture: 'llama', generalType: 'adapter', adapterType: 'lora', alpha: 16, alphaType: 'FLOAT32', flags: [] });
    expect(i.pairs).toEqual([{ name: 'blk.0.attn_q.weight', rank: 8, a: { ne: [64, 8], type: 'F32' }, b: { ne: [8, 64], type: 'F32' }, scale: 2 }]);
    expect(adapterShapeOf(h).tensors.map((t) => t.name)).toEqual(pair.map((t) => t.name));
  });

  it('flags what llama.cpp would reject: type keys, alpha not FLOAT32, long names, a missing half, truncation', async () => {
    const kvs: GgufKv[] = [
      { key: 'general.architecture', type: 'STRING', value: 'llama' },
      { key: 'general.type', type: 'STRING', value: 'model' },
      { key: 'adapter.lora.alpha', type: 'UINT32', value: 16 },
    ];
    const long = `blk.0.${'x'.repeat(60)}.weight.lora_a`;
    const bytes = adapterHeader(kvs, [...pair, { name: long, ne: [64, 8], type: 'F32', offset: 4096 }]);
    const h = await readGgufHeader(bytesSource(bytes.slice(0, bytes.byteLength - 100)), 'b.gguf');
    const codes = inspectGgufAdapter(h, 'b.gguf').flags.map((f) => f.code);
    expect(codes).toEqual(['general_type', 'adapter_type', 'alpha_type', 'name_length', 'truncated', 'missing_pair']);
  });
});

describe('readGgufHeader agrees with @huggingface/gguf', () => {
  it('the same keys, tensor names, dims, types and offsets, on a base header with a tokenizer-sized array', async () => {
    const { gguf } = await import('@huggingface/gguf');
    const f = baseFile('llama', baseTensors(2, 64, 4), [], 0);
    const bytes = await f.source.read(0, f.source.byteLength);
    const ours = await readGgufHeader(bytesSource(bytes));
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]);
    const theirs = await gguf('https://local.invalid/base.gguf', {
      fetch: (async (_u: unknown, init?: { headers?: Record<string, string> }) => {
        const m = /bytes=(\d+)-(\d+)?/.exec(init?.headers?.['Range'] ?? '');
        const start = m ? Number(m[1]) : 0;
        const end = m?.[2] !== undefined ? Math.min(Number(m[2]) + 1, blob.size) : blob.size;
        return new Response(blob.slice(start, end), { status: 206, headers: { 'Content-Range': `bytes ${start}-${end - 1}/${blob.size}` } });
      }) as typeof fetch,
    });
    expect(ours.tensors.map((t) => [t.name, t.ne, t.type, t.offset])).toEqual(theirs.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)]));
    const meta = theirs.metadata as Record<string, unknown>;
    for (const [key, v] of ours.kv) {
      if (v.type === 'ARRAY') expect((meta[key] as unknown[]).length, key).toBe((v.value as { length: number }).length);
      else expect(meta[key], key).toEqual(v.value);
    }
    expect(ours.dataOffset).toBe(Number(theirs.tensorDataOffset));
  });
});
