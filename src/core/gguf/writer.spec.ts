/** The GGUF header writer, read back by an independent parser (@huggingface/gguf). */
import { gguf, GGMLQuantizationType, GGUFValueType } from '@huggingface/gguf';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GGML_TYPE } from '../tensor/encode';
import { alignUp, GGUF_VALUE, serializeGgufHeader, type GgufKv, type GgufTensorInfo } from './writer';

const dir = mkdtempSync(join(tmpdir(), 'l2g-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function parse(bytes: Uint8Array) {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.gguf`);
  writeFileSync(file, bytes);
  return gguf(file, { allowLocalFile: true });
}

describe('serializeGgufHeader', () => {
  it('uses the same value-type numbers as @huggingface/gguf', () => {
    for (const [name, id] of Object.entries(GGUF_VALUE)) expect(GGUFValueType[name as keyof typeof GGUFValueType]).toBe(id);
    // and no value type of theirs is missing here
    expect(Object.keys(GGUF_VALUE).length).toBe(Object.values(GGUFValueType).filter((v) => typeof v === 'number').length);
  });

  it('uses the same tensor-type ids as @huggingface/gguf', () => {
    for (const [name, id] of Object.entries(GGML_TYPE)) expect(GGMLQuantizationType[name as keyof typeof GGMLQuantizationType]).toBe(id);
  });

  it('round-trips key/values of every kind and tensor infos through @huggingface/gguf', async () => {
    const kvs: GgufKv[] = [
      { key: 'general.architecture', type: 'STRING', value: 'llama' },
      { key: 'general.type', type: 'STRING', value: 'adapter' },
      { key: 'general.name', type: 'STRING', value: 'naïve — ünïcode ✓' },
      { key: 'adapter.lora.alpha', type: 'FLOAT32', value: 16 },
      { key: 'general.quantization_version', type: 'UINT32', value: 2 },
      { key: 'x.i32', type: 'INT32', value: -5 },
      { key: 'x.u8', type: 'UINT8', value: 255 },
      { key: 'x.i16', type: 'INT16', value: -300 },
      { key: 'x.bool', type: 'BOOL', value: true },
      { key: 'x.f64', type: 'FLOAT64', value: 0.1 },
      { key: 'x.u64', type: 'UINT64', value: 2n ** 40n + 3n },
      { key: 'x.u64.big', type: 'UINT64', value: 2n ** 64n - 2n },
      { key: 'x.u64.number', type: 'UINT64', value: 2 ** 53 - 1 },
      { key: 'adapter.alora.invocation_tokens', type: 'ARRAY', itemType: 'UINT32', value: [1, 2, 4294967295] },
      { key: 'x.strings', type: 'ARRAY', itemType: 'STRING', value: ['a', '', 'ccc'] },
    ];
    const tensors: GgufTensorInfo[] = [
      { name: 'blk.0.attn_q.weight.lora_a', ne: [64, 8], type: 'F32', offset: 0 },
      { name: 'blk.0.attn_q.weight.lora_b', ne: [8, 64], type: 'F16', offset: 2048 },
      { name: 'blk.0.ffn_up_exps.weight.lora_a', ne: [64, 8, 4], type: 'Q8_0', offset: 3072 },
      { name: 'big', ne: [32, 2], type: 'BF16', offset: 2 ** 33 + 32 },
    ];
    const header = serializeGgufHeader(kvs, tensors);
    expect(header.byteLength % 32).toBe(0);
    expect(Array.from(header.subarray(0, 4), (c) => String.fromCharCode(c)).join('')).toBe('GGUF');
    const parsed = await parse(header);
    expect(parsed.metadata.version).toBe(3);
    expect(Number(parsed.metadata.tensor_count)).toBe(4);
    expect(Number(parsed.metadata.kv_count)).toBe(kvs.length);
    const md = parsed.metadata as Record<string, unknown>;
    expect(md['general.architecture']).toBe('llama');
    expect(md['general.name']).toBe('naïve — ünïcode ✓');
    expect(md['adapter.lora.alpha']).toBe(16);
    expect(md['general.quantization_version']).toBe(2);
    expect(md['x.i32']).toBe(-5);
    expect(md['x.u8']).toBe(255);
    expect(md['x.i16']).toBe(-300);
    expect(md['x.bool']).toBe(true);
    expect(md['x.f64']).toBe(0.1);
    expect(BigInt(md['x.u64'] as bigint)).toBe(2n ** 40n + 3n);
    expect(BigInt(md['x.u64.big'] as bigint)).toBe(2n ** 64n - 2n);
    expect(BigInt(md['x.u64.number'] as bigint)).toBe(2n ** 53n - 1n);
    expect(md['adapter.alora.invocation_tokens']).toEqual([1, 2, 4294967295]);
    expect(md['x.strings']).toEqual(['a', '', 'ccc']);
    expect(Number(parsed.tensorDataOffset)).toBe(header.byteLength);
    expect(parsed.tensorInfos.map((t) => ({ name: t.name, ne: t.shape.map(Number), type: t.dtype, offset: BigInt(t.offset) }))).toEqual([
      { name: 'blk.0.attn_q.weight.lora_a', ne: [64, 8], type: GGMLQuantizationType.F32, offset: 0n },
      { name: 'blk.0.attn_q.weight.lora_b', ne: [8, 64], type: GGMLQuantizationType.F16, offset: 2048n },
      { name: 'blk.0.ffn_up_exps.weight.lora_a', ne: [64, 8, 4], type: GGMLQuantizationType.Q8_0, offset: 3072n },
      { name: 'big', ne: [32, 2], type: GGMLQuantizationType.BF16, offset: 2n ** 33n + 32n },
    ]);
  });

  it('pads the header with zeros to the alignment', () => {
    const kvs: GgufKv[] = [{ key: 'k', type: 'STRING', value: 'v' }];
    const header = serializeGgufHeader(kvs, []);
    // magic 4 + version 4 + counts 16 + key (8 + 1) + type 4 + value (8 + 1) = 46 -> 64
    expect(header.byteLength).toBe(64);
    expect(Array.from(header.subarray(46))).toEqual(new Array<number>(18).fill(0));
    expect(serializeGgufHeader(kvs, [], 8).byteLength).toBe(48);
  });

  it('alignUp rounds up to multiples of 32 by default', () => {
    expect([0, 1, 31, 32, 33, 2 ** 32 + 1].map((n) => alignUp(n))).toEqual([0, 32, 32, 32, 64, 2 ** 32 + 32]);
    expect(alignUp(5, 8)).toBe(8);
  });
});
