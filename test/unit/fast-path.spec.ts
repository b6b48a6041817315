/**
 * The fast converter (read-ahead windows, element kernels, movement on source elements, chunked
 * writes) against the plain path it replaced, on real adapters: every reference case and every
 * torch.save fixture (zip-deflated entries, strided views), in every output type, with the
 * default buffers and with tiny ones that put a window and a chunk boundary everywhere.
 * The plain path: widen each source tensor to f32 bits, apply its ops, encode, pad.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, planHeader, type ByteSource, type ConversionPlan, type OutType } from '../../src/core';
import { alignUp } from '../../src/core/gguf/writer';
import { encodeTensor } from '../../src/core/tensor/encode';
import { applyOps } from '../../src/core/tensor/ops';
import { buildSafetensors } from '../helpers/safetensors-build';
import { readTensorF32 } from '../../src/core/tensor/read';
import { BIN_FIXTURE_BASE, BIN_FIXTURE_CONFIG, caseInput, FIXTURES, referenceCases } from '../helpers/fixtures';

async function plainConvert(plan: ConversionPlan, source: ByteSource): Promise<Uint8Array> {
  const sink = new MemorySink();
  await sink.write(planHeader(plan));
  for (const t of plan.tensors) {
    let n = 0;
    for (const part of t.parts) {
      const bytes = encodeTensor(applyOps(await readTensorF32(source, plan.sources[part.source]!), part.ops).bits, t.type);
      await sink.write(bytes);
      n += bytes.byteLength;
    }
    await sink.write(new Uint8Array(alignUp(n) - n));
  }
  return sink.bytes();
}

/** A source with readInto, as the CLI's file source has. */
function withReadInto(bytes: Uint8Array): ByteSource {
  const inner = bytesSource(bytes);
  return {
    byteLength: bytes.byteLength,
    read: (o, l) => inner.read(o, l),
    async readInto(offset, target) {
      target.set(await inner.read(offset, target.byteLength));
    },
  };
}

/** A source that can also read on the calling thread, as the CLI's file source can. */
function withSyncReads(bytes: Uint8Array): ByteSource {
  return {
    ...withReadInto(bytes),
    readIntoSync(offset, target) {
      target.set(bytes.subarray(offset, offset + target.byteLength));
    },
  };
}

interface Input {
  name: string;
  adapterConfig: string;
  baseConfig: string;
  adapter: Uint8Array;
}

const inputs: Input[] = [
  ...referenceCases()
    .filter((c) => c.outcome === 'ok')
    .map((c) => ({ name: c.name, ...caseInput(c) })),
  ...['adapter_fp32.bin', 'adapter_fp16.bin', 'adapter_bf16.bin', 'adapter_views.bin', 'adapter_deflated.bin', 'adapter_legacy.bin'].map((f) => ({
    name: f,
    adapterConfig: BIN_FIXTURE_CONFIG,
    baseConfig: BIN_FIXTURE_BASE,
    adapter: new Uint8Array(readFileSync(join(FIXTURES, 'bin', f))),
  })),
];

const OUTTYPES: OutType[] = ['f32', 'f16', 'bf16', 'q8_0'];

describe('the fast converter writes the same bytes as the plain path', () => {
  it.each(inputs.map((i) => [i.name, i] as const))('%s', async (_name, input) => {
    let converted = 0;
    for (const outtype of OUTTYPES) {
      const plan = await inspect(
        { adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(input.adapter) },
        // Opt in to whatever the reference keeps, so that every case has tensors to compare.
        { outtype, dropUnapplied: true, keepNormVectors: true, name: input.name },
      );
      if (plan.refusals.length) continue;
      const expected = await plainConvert(plan, bytesSource(input.adapter));
      for (const [source, options] of [
        [bytesSource(input.adapter), {}],
        [withReadInto(input.adapter), {}],
        [bytesSource(input.adapter), { readWindowBytes: 1, chunkBytes: 128 }],
        [withReadInto(input.adapter), { readWindowBytes: 300, chunkBytes: 160 }],
        // Windows that let a q/k lora_b of four or more heads stream through in whole heads.
        [withReadInto(input.adapter), { readWindowBytes: 512, chunkBytes: 160 }],
        [bytesSource(input.adapter), { readWindowBytes: 768, chunkBytes: 4096 }],
        // Some or all reads made on this thread, windows and streamed pieces alike.
        [withSyncReads(input.adapter), {}],
        [withSyncReads(input.adapter), { readWindowBytes: 300, chunkBytes: 160, syncReadShare: 0.5 }],
        [withSyncReads(input.adapter), { readWindowBytes: 512, chunkBytes: 160, syncReadShare: 1 }],
      ] as const) {
        const sink = new MemorySink();
        // Some cases hold NaNs on purpose (rounding edge cases): write them, as the plain path does.
        await convert(plan, source, sink, { ...options, keepNonFinite: true });
        const got = sink.bytes();
        expect(got.byteLength).toBe(expected.byteLength);
        expect(Buffer.compare(got, expected), `${outtype} ${JSON.stringify(options)}`).toBe(0);
      }
      converted++;
    }
    expect(converted).toBe(OUTTYPES.length);
  });
});

describe('rows permuted within heads (q/k lora_b) are encoded from where they were read', () => {
  const c = referenceCases().find((x) => x.name === 'llama_readme_rich')!;
  const input = caseInput(c);

  it.each(OUTTYPES)('%s: a q lora_b larger than a window streams through in whole heads, byte-identical to the plain path', async (outtype) => {
    const plan = await inspect({ adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(input.adapter) }, { outtype });
    const q = plan.tensors.flatMap((t) => t.parts).find((p) => p.ops.length === 1 && p.ops[0]!.op === 'rowAxes')!;
    const loc = plan.sources[q.source]!;
    // 64 rows of 8 (4 heads of 16 rows): 1024 bytes of BF16, a head 256 bytes.
    expect(loc.shape).toEqual([64, 8]);
    expect(loc.dtype).toBe('BF16');
    const reads: [number, number][] = [];
    const inner = withReadInto(input.adapter);
    const recording: ByteSource = {
      byteLength: inner.byteLength,
      read: (o, l) => inner.read(o, l),
      readInto: (o, t) => {
        reads.push([o, t.byteLength]);
        return inner.readInto!(o, t);
      },
    };
    const sink = new MemorySink();
    await convert(plan, recording, sink, { readWindowBytes: 512, chunkBytes: 160 });
    expect(Buffer.compare(sink.bytes(), await plainConvert(plan, bytesSource(input.adapter)))).toBe(0);
    // Read in pieces of whole heads (half a window: one head of 256 bytes), not whole.
    expect(reads.filter(([o]) => o >= loc.begin && o < loc.end)).toEqual([0, 1, 2, 3].map((k) => [loc.begin + 256 * k, 256]));
  });
});

describe('NaN and infinite values are found while converting', () => {
  const c = referenceCases().find((x) => x.name === 'llama_bf16_f16')!;
  const input = caseInput(c);

  /** The adapter with `nan` NaNs and `inf` infinities written into the source tensor `name`. */
  async function poisoned(name: string, nan: number, inf: number): Promise<Uint8Array> {
    const plan = await inspect({ adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(input.adapter) });
    const loc = plan.sources[name]!;
    expect(loc.dtype).toBe('BF16');
    const bytes = input.adapter.slice();
    const view = new DataView(bytes.buffer, loc.begin, loc.end - loc.begin);
    // Spread over the tensor, so that several vectors and blocks hold one.
    const step = Math.floor(view.byteLength / 2 / (nan + inf + 1));
    for (let i = 0; i < nan + inf; i++) view.setUint16(2 * step * (i + 1), i < nan ? (i % 2 ? 0xffc1 : 0x7f81) : i % 2 ? 0xff80 : 0x7f80, true);
    return bytes;
  }

  it.each(OUTTYPES)('%s: fails naming the tensor and the count; with keepNonFinite writes them as the plain path does', async (outtype) => {
    const source = 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight';
    const bytes = await poisoned(source, 3, 2);
    const plan = await inspect({ adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(bytes) }, { outtype });
    const target = plan.tensors.find((t) => t.parts.some((p) => p.source === source))!;
    for (const options of [{}, { readWindowBytes: 300, chunkBytes: 160 }]) {
      const err = (await convert(plan, bytesSource(bytes), new MemorySink(), options).catch((e: unknown) => e)) as {
        code: string;
        message: string;
        details: Record<string, unknown>;
      };
      expect(err.code).toBe('non_finite');
      expect(err.details).toMatchObject({ gguf: target.name, count: 5, tensors: [source] });
      expect(err.message).toContain(target.name);
      const sink = new MemorySink();
      const result = await convert(plan, bytesSource(bytes), sink, { ...options, keepNonFinite: true });
      expect(result.nonFinite).toEqual([{ tensor: target.name, sources: [source], count: 5 }]);
      expect(Buffer.compare(sink.bytes(), await plainConvert(plan, bytesSource(bytes)))).toBe(0);
    }
  });

  it('a clean adapter reports none', async () => {
    const plan = await inspect({ adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: bytesSource(input.adapter) });
    expect((await convert(plan, bytesSource(input.adapter), new MemorySink())).nonFinite).toEqual([]);
  });
});

describe('large permuted and scaled tensors (reused move buffers, f32 scaling in pieces)', () => {
  // rsLoRA (scale folded into every lora_b), r = 80: up_proj's lora_B has 4096 × 80 = 327,680
  // values, more than one scaling piece (262,144); q_proj's is permuted and scaled.
  const r = 80;
  const pairOf = (module: string, inDim: number, outDim: number, seed: number) =>
    [
      [`base_model.model.${module}.lora_A.weight`, [r, inDim]],
      [`base_model.model.${module}.lora_B.weight`, [outDim, r]],
    ].map(([name, shape], k) => {
      const n = (shape as number[])[0]! * (shape as number[])[1]!;
      let x = seed * 7919 + k;
      const data = Array.from({ length: n }, () => {
        x = (x * 1103515245 + 12345) >>> 0;
        return 0x3c00 ^ (x >>> 19); // BF16 patterns of every sign and a spread of exponents
      });
      return { name: name as string, dtype: 'BF16', shape: shape as number[], data };
    });
  const adapter = buildSafetensors([...pairOf('model.layers.0.self_attn.q_proj', 1024, 1024, 1), ...pairOf('model.layers.0.mlp.up_proj', 1024, 4096, 2)]);
  const adapterConfig = JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 16, use_rslora: true });
  const baseConfig = JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    hidden_size: 1024,
    intermediate_size: 4096,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    num_hidden_layers: 1,
  });

  it.each(OUTTYPES)('%s: identical to the plain path, with default buffers and with tiny ones', async (outtype) => {
    const plan = await inspect({ adapterConfig, baseConfig, adapter: bytesSource(adapter) }, { outtype });
    expect(plan.refusals).toEqual([]);
    expect(plan.tensors.some((t) => t.parts.some((p) => p.ops.some((o) => o.op === 'scale')))).toBe(true);
    const expected = await plainConvert(plan, bytesSource(adapter));
    for (const options of [{}, { readWindowBytes: 65536, chunkBytes: 4096 }]) {
      for (const source of [bytesSource(adapter), withReadInto(adapter)]) {
        const sink = new MemorySink();
        await convert(plan, source, sink, { ...options, keepNonFinite: true });
        expect(Buffer.compare(sink.bytes(), expected), `${outtype} ${JSON.stringify(options)}`).toBe(0);
      }
    }
  });
});
