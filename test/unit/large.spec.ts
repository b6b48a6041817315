/**
 * An adapter whose GGUF is larger than 4 GiB, converted end to end without storing either file:
 * the safetensors bytes are computed from their position (test/helpers/safetensors-build.ts),
 * and the output goes into a sink that parses the header it receives (with a small GGUF reader
 * written here, independent of the writer) and then checks every later byte against the source
 * as it streams past. Offsets beyond 2^32 must be exact in both the input and the output.
 */
import { describe, expect, it } from 'vitest';
import { convert, inspect, MemorySink, type ByteSink } from '../../src/core';
import { generatedSafetensors, type GeneratedSource } from '../helpers/safetensors-build';

interface HeaderTensor {
  name: string;
  ne: bigint[];
  type: number;
  offset: bigint;
}

/** Parse a GGUF header from the first bytes of a stream; undefined if more bytes are needed. */
function parseGgufHeader(bytes: Uint8Array): { kv: Map<string, unknown>; tensors: HeaderTensor[]; end: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.byteLength) throw new RangeError('short');
  };
  const u32 = () => (need(4), (p += 4), view.getUint32(p - 4, true));
  const u64 = () => (need(8), (p += 8), view.getBigUint64(p - 8, true));
  const str = () => {
    const n = Number(u64());
    need(n);
    p += n;
    return new TextDecoder().decode(bytes.subarray(p - n, p));
  };
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type: number): unknown => {
    if (type === 8) return str();
    if (type === 9) {
      const item = u32();
      const n = Number(u64());
      return Array.from({ length: n }, () => value(item));
    }
    if (type === 4) return u32();
    if (type === 6) return (need(4), (p += 4), view.getFloat32(p - 4, true));
    const size = SIZES[type];
    if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
    need(size);
    p += size;
    return undefined;
  };
  try {
    if (u32() !== 0x46554747) throw new Error('bad magic');
    if (u32() !== 3) throw new Error('not GGUF v3');
    const nTensors = Number(u64());
    const nKv = Number(u64());
    const kv = new Map<string, unknown>();
    for (let i = 0; i < nKv; i++) {
      const key = str();
      kv.set(key, value(u32()));
    }
    const tensors: HeaderTensor[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = str();
      const nDims = u32();
      const ne = Array.from({ length: nDims }, () => u64());
      tensors.push({ name, ne, type: u32(), offset: u64() });
    }
    return { kv, tensors, end: p };
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

const ALIGN = 32;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Checks the stream as it arrives; holds at most one chunk (plus the header) in memory. */
class VerifyingSink implements ByteSink {
  position = 0;
  header: ReturnType<typeof parseGgufHeader>;
  private head: Uint8Array[] = [];
  /** [start, end) in stream coordinates, with the source offset of the bytes or null for zeros. */
  segments: { start: number; end: number; source: number | null; name: string }[] = [];
  private cursor = 0;
  bytesCompared = 0;

  constructor(
    private readonly source: GeneratedSource,
    private readonly sourceOf: (ggufName: string) => string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    const start = this.position;
    this.position += chunk.byteLength;
    let from = 0;
    if (!this.header) {
      this.head.push(chunk.slice());
      const all = Buffer.concat(this.head);
      this.header = parseGgufHeader(all);
      if (!this.header) return;
      this.planSegments(this.header);
      from = this.header.end - start;
    }
    await this.check(start + from, chunk.subarray(from));
  }

  private planSegments(h: NonNullable<ReturnType<typeof parseGgufHeader>>) {
    const dataStart = alignUp(h.end);
    let at = h.end;
    const sorted = [...h.tensors].sort((a, b) => (a.offset < b.offset ? -1 : 1));
    for (const t of sorted) {
      const begin = dataStart + Number(t.offset);
      if (begin > at) this.segments.push({ start: at, end: begin, source: null, name: `padding before ${t.name}` });
      const size = Number(t.ne.reduce((a, d) => a * d, 1n)) * 4;
      const loc = this.source.tensors.get(this.sourceOf(t.name));
      if (!loc || loc.end - loc.begin !== size) throw new Error(`${t.name}: no source of ${size} bytes`);
      this.segments.push({ start: begin, end: begin + size, source: loc.begin, name: t.name });
      at = begin + size;
    }
    this.segments.push({ start: at, end: alignUp(at), source: null, name: 'final padding' });
  }

  private async check(pos: number, bytes: Uint8Array) {
    let done = 0;
    while (done < bytes.byteLength) {
      const seg = this.segments[this.cursor];
      if (!seg) throw new Error(`bytes written past the planned end at ${pos + done}`);
      if (pos + done >= seg.end) {
        this.cursor++;
        continue;
      }
      const n = Math.min(bytes.byteLength - done, seg.end - (pos + done));
      const got = bytes.subarray(done, done + n);
      const ok = seg.source === null ? got.every((b) => b === 0) : this.source.equals(seg.source + (pos + done - seg.start), got);
      if (!ok) throw new Error(`${seg.name}: wrong bytes at stream offset ${pos + done}`);
      this.bytesCompared += n;
      done += n;
    }
  }
}

const sourceOf = (name: string) => {
  const m = /^blk\.(\d+)\.ffn_down\.weight\.lora_(a|b)$/.exec(name);
  if (!m) throw new Error(`unexpected tensor ${name}`);
  return `base_model.model.model.layers.${m[1]}.mlp.down_proj.lora_${m[2]!.toUpperCase()}.weight`;
};

function llamaConfig(layers: number, intermediate: number): string {
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    // No hidden_size: the synthetic down_proj pairs are square and sized for volume, not for a
    // real base, so the plan's hidden-size check must not apply here.
    intermediate_size: intermediate,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    num_hidden_layers: layers,
    vocab_size: 256,
    tie_word_embeddings: false,
  });
}

const adapterConfig = JSON.stringify({ peft_type: 'LORA', r: 16, lora_alpha: 32, target_modules: ['down_proj'], base_model_name_or_path: 'synthetic' });

function downProj(layer: number, n: number) {
  return [
    { name: `base_model.model.model.layers.${layer}.mlp.down_proj.lora_A.weight`, shape: [16, n] },
    { name: `base_model.model.model.layers.${layer}.mlp.down_proj.lora_B.weight`, shape: [n, 16] },
  ];
}

describe('the verifying sink', () => {
  it('accepts a correct small output and catches a wrong data byte, a dirty padding byte and extra bytes', async () => {
    const source = generatedSafetensors([...downProj(0, 40), ...downProj(1, 24)], 'F32');
    const plan = await inspect({ adapterConfig, baseConfig: llamaConfig(2, 40), adapter: source }, { outtype: 'f32' });
    const mem = new MemorySink();
    await convert(plan, source, mem);
    const good = mem.bytes();
    const feed = async (bytes: Uint8Array) => {
      const sink = new VerifyingSink(source, sourceOf);
      // Odd-sized chunks, so segments are crossed mid-chunk.
      for (let i = 0; i < bytes.byteLength; i += 1000) await sink.write(bytes.subarray(i, i + 1000));
      return sink;
    };
    const ok = await feed(good);
    expect(ok.bytesCompared).toBe(good.byteLength - ok.header!.end);
    const dataStart = alignUp(ok.header!.end);
    const wrongData = good.slice();
    wrongData[dataStart + 300]! ^= 1;
    await expect(feed(wrongData)).rejects.toThrow(/wrong bytes/);
    const pad = ok.segments.find((x) => x.source === null && x.end > x.start);
    expect(pad, 'the header of this case needs padding to 32').toBeDefined();
    const dirtyPad = good.slice();
    dirtyPad[pad!.end - 1] = 7;
    await expect(feed(dirtyPad)).rejects.toThrow(/wrong bytes/);
    await expect(feed(new Uint8Array([...good, 0]))).rejects.toThrow(/past the planned end/);
  });
});

describe('a GGUF larger than 4 GiB', () => {
  it('converts F32 -> F32 through a generated source with exact offsets past 2^32', async () => {
    // 128 layers of 2 x 16 MiB factors (4 GiB) and a small last layer placed after 2^32.
    // Tensors of 16 MiB (not a few huge ones): buffers that size are recycled by the allocator,
    // while each fresh 256 MiB buffer costs page faults, which doubled the run time.
    const big = 1 << 18;
    const layers = 129;
    const tensors = [];
    for (let l = 0; l < layers; l++) tensors.push(...downProj(l, l < layers - 1 ? big : 64));
    const source = generatedSafetensors(tensors, 'F32');
    expect(source.byteLength).toBeGreaterThan(2 ** 32);
    const baseConfig = llamaConfig(layers, big);

    const started = performance.now();
    const plan = await inspect({ adapterConfig, baseConfig, adapter: source }, { outtype: 'f32', name: 'large' });
    expect(plan.refusals).toEqual([]);
    const sink = new VerifyingSink(source, sourceOf);
    const { bytesWritten } = await convert(plan, source, sink);
    const seconds = (performance.now() - started) / 1000;

    const header = sink.header!;
    expect(header).toBeDefined();
    expect(header.kv.get('general.architecture')).toBe('llama');
    expect(header.tensors).toHaveLength(2 * layers);
    // Offsets: recomputed here from the sizes in the header, in offset order, each aligned to 32.
    const sorted = [...header.tensors].sort((a, b) => (a.offset < b.offset ? -1 : 1));
    let expectedOffset = 0n;
    for (const t of sorted) {
      expect(t.offset, t.name).toBe(expectedOffset);
      expect(t.type).toBe(0);
      const size = t.ne.reduce((a, d) => a * d, 1n) * 4n;
      expectedOffset = ((expectedOffset + size + 31n) / 32n) * 32n;
    }
    const last = sorted[sorted.length - 1]!;
    expect(last.name).toMatch(/^blk\.128\./);
    expect(last.offset).toBeGreaterThan(2n ** 32n);
    expect(sorted.filter((t) => t.offset >= 2n ** 32n).map((t) => t.name)).toEqual(['blk.128.ffn_down.weight.lora_a', 'blk.128.ffn_down.weight.lora_b']);
    // Total size: header, padded, plus the padded data section; every byte seen and checked.
    const total = alignUp(header.end) + Number(expectedOffset);
    expect(bytesWritten).toBe(total);
    expect(sink.position).toBe(total);
    expect(total).toBeGreaterThan(2 ** 32);
    expect(sink.bytesCompared).toBe(total - header.end);
    console.info(`large.spec: ${(total / 2 ** 30).toFixed(2)} GiB converted and verified in ${seconds.toFixed(1)} s`);
  }, 300_000);
});
