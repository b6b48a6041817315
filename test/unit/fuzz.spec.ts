/**
 * Property-based and mutation fuzzing (fast-check) of everything that reads untrusted bytes: the
 * safetensors header parser, the adapter_model.bin reader (zip, legacy, pickle), the configs, the
 * planner, and the GGUF writer read back by @huggingface/gguf. Every input must end in a typed
 * error (ConversionError) or a correct result: never another exception, never a hang.
 *
 * `npm test` runs a bounded number of cases; `npm run fuzz` runs the long mode (FUZZ_RUNS cases
 * per property; see docs/safety.md for the counts run).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, isConversionError, MemorySink, parseAdapterConfig, parseBaseConfig } from '../../src/core';
import { readPytorchCheckpoint } from '../../src/core/pytorch/checkpoint';
import { parseSafetensorsHeader } from '../../src/core/safetensors/header';
import { readTensorBytes } from '../../src/core/tensor/read';
import { FIXTURES, REFERENCE } from '../helpers/fixtures';
import { readGguf } from '../helpers/gguf-read';
import { buildRawSafetensors, buildSafetensors, headerPrefix } from '../helpers/safetensors-build';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const TIMEOUT = RUNS > 1000 ? 0 : 60_000;

/** Run `f`; it may succeed or throw a ConversionError, nothing else. */
async function typedOrOk<T>(f: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (!isConversionError(e)) throw new Error(`not a ConversionError: ${String((e as Error)?.stack ?? e)}`, { cause: e });
    return undefined;
  }
}

/** Mutations at every region of a file: bit flips, byte sets, truncation, insertions, length fields. */
function mutated(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const pos = fc.nat({ max: Math.max(0, seed.byteLength - 1) });
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), pos, bit: fc.nat({ max: 7 }) }),
    fc.record({
      kind: fc.constant('set' as const),
      pos,
      byte: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d)),
    }),
    fc.record({ kind: fc.constant('truncate' as const), len: fc.nat({ max: seed.byteLength }) }),
    fc.record({ kind: fc.constant('insert' as const), pos, bytes: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('u64' as const), pos, value: fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 64n - 1n) }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => {
    let b = seed.slice();
    for (const m of ms) {
      if (m.kind === 'flip' && b.byteLength) b[m.pos % b.byteLength]! ^= 1 << m.bit;
      else if (m.kind === 'set' && b.byteLength) b[m.pos % b.byteLength] = m.byte;
      else if (m.kind === 'truncate') b = b.slice(0, m.len);
      else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, m.pos), ...m.bytes, ...b.subarray(m.pos)]);
      else if (m.kind === 'u64' && b.byteLength >= 8) new DataView(b.buffer).setBigUint64(Math.min(m.pos, b.byteLength - 8), m.value, true);
    }
    return b;
  });
}

const referenceAdapters = readdirSync(REFERENCE, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .slice(0, 6)
  .map((d) => new Uint8Array(readFileSync(join(REFERENCE, d.name, 'input', 'adapter_model.safetensors'))));
const binFixtures = ['adapter_fp32.bin', 'adapter_legacy.bin', 'adapter_views.bin', 'adapter_deflated.bin'].map(
  (f) => new Uint8Array(readFileSync(join(FIXTURES, 'bin', f))),
);

describe('fuzz: safetensors header', () => {
  it(
    'mutated real files: a typed error, or a header whose every tensor lies inside the file',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...referenceAdapters).chain(mutated), async (bytes) => {
          const header = await typedOrOk(() => parseSafetensorsHeader(bytesSource(bytes)));
          if (header) for (const t of header.tensors) expect(t.end).toBeLessThanOrEqual(bytes.byteLength);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  const entry = fc.record({
    dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'I8', 'F8_E4M3', 'F64', 'Q4', ''), fc.string()),
    shape: fc.array(fc.oneof(fc.nat({ max: 64 }), fc.constantFrom(-1, 0.5, 2 ** 53, 2 ** 53 - 1, 2 ** 80)), { maxLength: 9 }),
    data_offsets: fc.array(fc.oneof(fc.nat({ max: 4096 }), fc.constantFrom(-8, 1.5, 2 ** 60)), { minLength: 0, maxLength: 3 }),
  });
  it(
    'arbitrary headers (dtypes, shapes near 2^53, offsets out of order, overlapping, past the end): typed error or consistent',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.string({ maxLength: 40 }), fc.oneof(entry, fc.anything()), { maxKeys: 8 }),
          fc.nat({ max: 4096 }),
          async (header, dataLen) => {
            const bytes = buildRawSafetensors(header, new Uint8Array(dataLen));
            const parsed = await typedOrOk(() => parseSafetensorsHeader(bytesSource(bytes)));
            if (parsed) for (const t of parsed.tensors) expect(t.end - t.begin).toBe(t.shape.reduce((a, d) => a * d, 1) * (t.dtype === 'F32' ? 4 : 2));
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it('a header length of 2^62, or one past the end, is refused without allocating it', async () => {
    for (const len of [2n ** 62n, 2n ** 53n, 1000n]) {
      const bytes = Uint8Array.from([...headerPrefix(len), ...new TextEncoder().encode('{}')]);
      await expect(parseSafetensorsHeader(bytesSource(bytes))).rejects.toMatchObject({ code: 'malformed_header' });
    }
  });
});

describe('fuzz: adapter_model.bin (zip, legacy, pickle)', () => {
  it(
    'mutated torch.save files: a typed error, or tensors whose bytes can all be read',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...binFixtures).chain(mutated), async (bytes) => {
          const source = bytesSource(bytes);
          const read = await typedOrOk(() => readPytorchCheckpoint(source));
          if (read) for (const t of read.tensors) await typedOrOk(() => readTensorBytes(source, t));
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});

describe('fuzz: configs', () => {
  const plausible = fc.record(
    {
      peft_type: fc.oneof(fc.constant('LORA'), fc.anything()),
      r: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      lora_alpha: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      target_modules: fc.oneof(fc.array(fc.string()), fc.string(), fc.anything()),
      rank_pattern: fc.oneof(fc.dictionary(fc.string(), fc.integer()), fc.anything()),
      alpha_pattern: fc.oneof(fc.dictionary(fc.string(), fc.double()), fc.anything()),
      use_rslora: fc.anything(),
      architectures: fc.oneof(fc.array(fc.string()), fc.anything()),
      hidden_size: fc.oneof(fc.integer(), fc.anything()),
      num_attention_heads: fc.oneof(fc.integer(), fc.anything()),
      tie_word_embeddings: fc.anything(),
    },
    { requiredKeys: [] },
  );
  it(
    'any JSON text, plausible configs with wrong types, deep nesting: typed error or a parsed config',
    async () => {
      const deep = fc.nat({ max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.json(),
            plausible.map((o) => JSON.stringify(o)),
            fc.string(),
            deep,
          ),
          async (text) => {
            await typedOrOk(() => parseAdapterConfig(text));
            await typedOrOk(() => parseBaseConfig(text));
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});

describe('fuzz: plan, convert, and the GGUF read back', () => {
  const PROJ = [
    ['self_attn.q_proj', 32, 32],
    ['self_attn.k_proj', 32, 16],
    ['self_attn.v_proj', 32, 16],
    ['self_attn.o_proj', 32, 32],
    ['mlp.gate_proj', 32, 64],
    ['mlp.up_proj', 32, 64],
    ['mlp.down_proj', 64, 32],
  ] as const;
  const adapterArb = fc.record({
    r: fc.integer({ min: 1, max: 8 }),
    layers: fc.uniqueArray(fc.nat({ max: 3 }), { minLength: 1, maxLength: 4 }),
    modules: fc.subarray([...PROJ], { minLength: 1 }),
    dtype: fc.constantFrom('F32', 'F16', 'BF16'),
    outtype: fc.constantFrom('f32', 'f16', 'bf16', 'q8_0', 'auto'),
    alpha: fc.integer({ min: 1, max: 64 }),
    rslora: fc.boolean(),
    seed: fc.nat(),
  });
  it(
    'random valid adapters convert, and @huggingface/gguf reads back exactly the planned tensors',
    async () => {
      await fc.assert(
        fc.asyncProperty(adapterArb, async (a) => {
          let x = a.seed || 1;
          const value = () => {
            x = (x * 1103515245 + 12345) >>> 0;
            return a.dtype === 'F32' ? ((x >>> 8) / 2 ** 24 - 0.5) * 0.1 : 0x3c00 ^ (x >>> 22); // small finite values
          };
          const tensors = a.layers.flatMap((l) =>
            a.modules.flatMap(([m, inDim, outDim]) => [
              {
                name: `base_model.model.model.layers.${l}.${m}.lora_A.weight`,
                dtype: a.dtype,
                shape: [a.r, inDim],
                data: Array.from({ length: a.r * inDim }, value),
              },
              {
                name: `base_model.model.model.layers.${l}.${m}.lora_B.weight`,
                dtype: a.dtype,
                shape: [outDim, a.r],
                data: Array.from({ length: outDim * a.r }, value),
              },
            ]),
          );
          const bytes = buildSafetensors(tensors);
          const plan = await inspect(
            {
              adapterConfig: JSON.stringify({ peft_type: 'LORA', r: a.r, lora_alpha: a.alpha, use_rslora: a.rslora }),
              baseConfig: JSON.stringify({
                architectures: ['LlamaForCausalLM'],
                hidden_size: 32,
                intermediate_size: 64,
                num_attention_heads: 4,
                num_key_value_heads: 2,
                num_hidden_layers: 4,
              }),
              adapter: bytesSource(bytes),
            },
            { outtype: a.outtype },
          );
          expect(plan.refusals).toEqual([]);
          const sink = new MemorySink();
          await convert(plan, bytesSource(bytes), sink, { keepNonFinite: true });
          const out = sink.bytes();
          expect(out.byteLength).toBe(plan.totalBytes);
          const back = await readGguf(out);
          expect(back.tensors.map((t) => [t.name, t.ne])).toEqual(plan.tensors.map((t) => [t.name, t.ne]));
          expect(back.metadata['general.architecture']).toBe('llama');
        }),
        { numRuns: Math.max(20, Math.floor(RUNS / 5)) },
      );
    },
    TIMEOUT,
  );
});
