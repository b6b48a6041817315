/**
 * Differential tests against llama.cpp's converter (test/fixtures/reference, see its README).
 * For every success case: the same tensor set (names, dims, GGML types, SHA-256 of each
 * tensor's data) and the same adapter key/values. For every error case: a refusal of the
 * matching kind that names the offending tensor or field. Where we deliberately do better than
 * the reference, the case is listed in DELIBERATE with the reason, and our behaviour is asserted.
 */
import { describe, expect, it } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, type ConversionPlan, type ErrorCode, type OutTypeOption } from '../../src/core';
import { caseInput, referenceCases, type ExpectedError, type ExpectedOk, type ReferenceCase } from '../helpers/fixtures';
import { readGguf, type ReadGguf } from '../helpers/gguf-read';

const ERROR_LABELS: Record<string, ErrorCode[]> = {
  lm_head_ignored_by_base: ['tied_head'],
  unexpected_tensor_embeddings: ['full_tensor'],
  unexpected_tensor: ['dora', 'lora_bias'],
  missing_lora_a: ['unpaired_factor'],
  missing_lora_b: ['unpaired_factor'],
  unsupported_architecture: ['unsupported_architecture'],
  unmappable_tensor: ['non_text_module', 'unknown_tensor'],
  unprocessed_experts: ['partial_experts'],
};

async function run(
  c: ReferenceCase,
  extra: { dropUnapplied?: boolean; keepNormVectors?: boolean; keepNonFinite?: boolean } = {},
): Promise<{ plan: ConversionPlan; out?: ReadGguf; error?: unknown }> {
  const input = caseInput(c);
  const source = bytesSource(input.adapter);
  let plan: ConversionPlan;
  try {
    plan = await inspect(
      { adapterConfig: input.adapterConfig, baseConfig: input.baseConfig, adapter: source },
      { outtype: c.outtype as OutTypeOption, name: c.adapterDirName, dropUnapplied: extra.dropUnapplied, keepNormVectors: extra.keepNormVectors },
    );
  } catch (error) {
    return { plan: undefined as unknown as ConversionPlan, error };
  }
  const sink = new MemorySink();
  try {
    await convert(plan, source, sink, { keepNonFinite: extra.keepNonFinite });
  } catch (error) {
    return { plan, error };
  }
  return { plan, out: await readGguf(sink.bytes()) };
}

function kv(expected: ExpectedOk, key: string) {
  return expected.kv.find((k) => k.key === key);
}

function assertSameAsReference(c: ReferenceCase, out: ReadGguf, except: (name: string) => boolean = () => false) {
  const expected = c.expected as ExpectedOk;
  for (const key of ['general.architecture', 'general.type', 'adapter.type', 'general.quantization_version']) {
    expect(out.metadata[key], key).toEqual(kv(expected, key)!.value);
  }
  // adapter.lora.alpha is FLOAT32: compare the exact bit pattern.
  const alpha = new DataView(new ArrayBuffer(4));
  alpha.setFloat32(0, out.metadata['adapter.lora.alpha'] as number);
  expect(`0x${alpha.getUint32(0).toString(16).padStart(8, '0')}`).toBe(kv(expected, 'adapter.lora.alpha')!.value_hex);
  const ours = new Map(out.tensors.map((t) => [t.name, t]));
  expect([...ours.keys()].sort()).toEqual(expected.tensors.map((t) => t.name).sort());
  for (const e of expected.tensors) {
    const t = ours.get(e.name)!;
    expect(t.ne, e.name).toEqual(e.ne);
    expect(t.type, e.name).toBe(e.ggml_type_id);
    if (!except(e.name)) expect(t.sha256, `${e.name} data`).toBe(e.sha256);
  }
}

/** Cases where we deliberately differ from the reference, and why. */
const DELIBERATE: Record<string, (c: ReferenceCase, r: Awaited<ReturnType<typeof run>>) => void | Promise<void>> = {
  // The reference writes output.weight LoRA for a tied base; llama.cpp then has no output
  // tensor to attach it to and fails to load the file. We refuse, naming the tensor.
  llama_lm_head_tied: (_c, r) => expectRefusal(r, 'tied_head', 'lm_head'),
  qwen2_lm_head_tied: (_c, r) => expectRefusal(r, 'tied_head', 'lm_head'),
  // Gemma ties the output head to token_embd: llama.cpp finds LoRA by tensor name, so a
  // token-embedding LoRA would be applied to the output projection too. Refused.
  gemma_mergekit_norms: (_c, r) => expectRefusal(r, 'tied_head', 'embed_tokens'),
  // mergekit norm vectors: llama.cpp loads them but never applies them (test/runtime/llama.spec.ts
  // proves it), so by default we refuse, naming them. With the explicit opt-in the file is exactly
  // the reference's, and the plan warns that the norms have no effect.
  llama_mergekit_embed_norms: (c, r) => expectNormsRefusedThenReference(c, r),
  qwen2_mergekit_auto: (c, r) => expectNormsRefusedThenReference(c, r),
  // NaN values in the adapter: the reference writes them; llama.cpp would apply them. Found while
  // converting, they fail the conversion, naming the tensor and the count; with the explicit
  // opt-in the file is exactly the reference's.
  llama_edge_f32_bf16: (c, r) => expectNonFiniteThenReference(c, r),
  dbrx_edge_f32_bf16: (c, r) => expectNonFiniteThenReference(c, r),
  // PEFT loads a config without lora_alpha with its default (8); so do we, with a warning.
  llama_no_lora_alpha: (_c, r) => {
    expect(r.error).toBeUndefined();
    expect(r.out!.metadata['adapter.lora.alpha']).toBe(8);
    expect(r.plan.warnings.map((w) => w.code)).toContain('default_alpha');
  },
  // Every expert of w1 and w3 has LoRA: llama.cpp applies ffn_gate_exps and ffn_up_exps
  // independently, so there is nothing missing. The reference waits for w2 and gives up.
  mixtral_partial_experts: (_c, r) => {
    expect(r.error).toBeUndefined();
    const names = r.out!.tensors.map((t) => t.name);
    expect(names).toContain('blk.0.ffn_gate_exps.weight.lora_a');
    expect(names).toContain('blk.0.ffn_up_exps.weight.lora_b');
    expect(names.some((n) => n.includes('ffn_down_exps'))).toBe(false);
    expect(r.out!.tensors.find((t) => t.name === 'blk.0.ffn_gate_exps.weight.lora_a')!.ne.length).toBe(3);
  },
  // GPT-2's Conv1D: PEFT's lora_A/lora_B are already in nn.Linear orientation (A: r x in,
  // B: out x r); the reference swaps and transposes them, which gives lora_a a first dim of
  // `out` and llama.cpp rejects the file for c_attn / c_fc. We write A and B as they are: our
  // lora_a is the transpose of the reference's lora_b.
  gpt2_f32_f32: (c, r) => {
    expect(r.error).toBeUndefined();
    const expected = c.expected as ExpectedOk;
    for (const t of r.out!.tensors) {
      const other = expected.tensors.find(
        (e) =>
          e.name ===
          t.name
            .replace(/lora_a$/, 'lora_X')
            .replace(/lora_b$/, 'lora_a')
            .replace(/lora_X$/, 'lora_b'),
      )!;
      expect(t.ne, t.name).toEqual([...other.ne].reverse());
    }
  },
  // rank_pattern / alpha_pattern: the reference ignores them. We fold PEFT's per-module scaling
  // into lora_b (runtime harness proves the result); lora_a is untouched.
  mistral_rank_alpha_pattern: (c, r) => {
    expect(r.error).toBeUndefined();
    const folded = new Set(r.plan.modules.filter((m) => m.fold !== 1).flatMap((m) => m.gguf.map((g) => `${g}.lora_b`)));
    expect(folded.size).toBeGreaterThan(0);
    assertSameAsReference(c, r.out!, (name) => folded.has(name));
  },
};

async function expectNormsRefusedThenReference(c: ReferenceCase, r: Awaited<ReturnType<typeof run>>) {
  expectRefusal(r, 'not_applied_by_runtime', 'layernorm.weight');
  expect(r.plan.refusals.map((x) => x.code)).toEqual(['not_applied_by_runtime']);
  // Kept on request (--keep-norm-vectors): exactly the reference's file, with a warning.
  const optIn = await run(c, { keepNormVectors: true });
  expect(optIn.error).toBeUndefined();
  expect(optIn.plan.warnings.map((w) => w.code)).toContain('norms_not_applied');
  assertSameAsReference(c, optIn.out!);
  // Left out with --drop-unapplied: the warning lists them, and the rest is the reference's.
  const left = await run(c, { dropUnapplied: true });
  expect(left.error).toBeUndefined();
  const normNames = left.plan.normVectors;
  expect(normNames.length).toBeGreaterThan(0);
  expect(left.plan.warnings.find((w) => w.code === 'dropped')?.tensors).toEqual(normNames);
  expect(left.out!.tensors.some((t) => t.name.endsWith('_norm.weight'))).toBe(false);
  expect(left.out!.tensors.length).toBe(optIn.out!.tensors.length - normNames.length);
}

async function expectNonFiniteThenReference(c: ReferenceCase, r: Awaited<ReturnType<typeof run>>) {
  expect(r.out).toBeUndefined();
  const err = r.error as { code: string; message: string; details: { gguf: string; count: number; tensors: string[] }; hint: string };
  expect(err.code).toBe('non_finite');
  expect(err.details.count).toBeGreaterThan(0);
  expect(err.message).toContain(err.details.gguf);
  expect(err.message).toContain(err.details.tensors[0]);
  expect(err.hint).toMatch(/--keep-non-finite/);
  const optIn = await run(c, { keepNonFinite: true });
  expect(optIn.error).toBeUndefined();
  assertSameAsReference(c, optIn.out!);
}

function expectRefusal(r: Awaited<ReturnType<typeof run>>, code: ErrorCode, mentions: string) {
  expect(r.out).toBeUndefined();
  const refusals = r.plan ? r.plan.refusals : [];
  expect(refusals.map((x) => x.code)).toContain(code);
  const refusal = refusals.find((x) => x.code === code)!;
  expect(refusal.message + JSON.stringify(refusal.details)).toContain(mentions);
  expect(refusal.hint).toBeTruthy();
}

describe('reference cases (llama.cpp convert_lora_to_gguf.py)', () => {
  const cases = referenceCases();
  it('has every reference case as a fixture', () => {
    expect(cases.length).toBe(55);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.description}`, async () => {
      const r = await run(c);
      const deliberate = DELIBERATE[c.name];
      if (deliberate) return deliberate(c, r);
      if (c.outcome === 'ok') {
        expect(r.error).toBeUndefined();
        expect(r.plan.refusals).toEqual([]);
        assertSameAsReference(c, r.out!);
        return;
      }
      const expected = c.expected as ExpectedError;
      const codes = ERROR_LABELS[expected.error];
      expect(codes, `label ${expected.error}`).toBeDefined();
      expect(r.out).toBeUndefined();
      const err = r.error as { code?: string; message?: string; details?: unknown } | undefined;
      const found = err?.code ? [err] : r.plan.refusals;
      const match = found.find((x) => codes!.includes(x.code as ErrorCode));
      expect(match, JSON.stringify(found)).toBeDefined();
      // The refusal names the offending tensor or field.
      const text = `${match!.message} ${JSON.stringify(match!.details)}`;
      const named = /'([^']+\.(?:weight|bias|lora_magnitude_vector))'/.exec(expected.reference_message)?.[1];
      // The reference names base weights (`<module>.weight`); we name the adapter's tensors.
      if (named) expect(text).toContain(named.replace(/\.weight$/, ''));
      else expect(text).toMatch(/tensor|field|architecture|lm_head|lora_/);
    });
  }
});
