/**
 * Stage 5: the output. The output type (`auto` resolved as the reference does), a last check of
 * every transform against its source's shape, the GGUF metadata, and the layout: each tensor's
 * GGML type, size and offset, the header's size, and the file's size in every output type.
 */
import { ConversionError, type SerializedConversionError } from '../errors';
import { alignUp, serializeGgufHeader, type GgufKv } from '../gguf/writer';
import type { AdapterConfig } from '../peft/config';
import { compareNatural } from '../peft/names';
import { ggmlByteSize, OUTTYPES, tensorTypeFor, type OutType, type OutTypeOption } from '../tensor/encode';
import { opsOutputShape } from '../tensor/ops';
import type { TensorLocation } from '../tensor/read';
import { refusal, type ConversionPlan, type Pair, type PlannedTensor } from './types';

/**
 * The output type. `auto` follows the reference: the first LoRA pair (in sorted order of first
 * appearance) stored as BF16 gives bf16, as F16 gives f16; F32 or mixed pairs are skipped.
 */
export function chooseOuttype(requested: OutTypeOption, pairs: readonly Pair[]): { outtype: OutType; reason: string } {
  if (requested !== 'auto') return { outtype: requested, reason: requested };
  const firstHalf = pairs.filter((p) => p.a && p.b && p.a.dtype === p.b.dtype && p.a.dtype !== 'F32').sort((x, y) => x.firstSeen - y.firstSeen)[0];
  return {
    outtype: firstHalf?.a?.dtype === 'BF16' ? 'bf16' : 'f16',
    reason: firstHalf ? `auto: the first 16-bit LoRA pair (${firstHalf.module}) is ${firstHalf.a!.dtype}` : 'auto: no 16-bit LoRA pair, so f16',
  };
}

/**
 * Every transform checked against its source's shape now, so that a fused tensor whose rows do
 * not fit the config (e.g. a q_proj whose rows are not n_head * 2 * k) is refused before writing:
 * the outputs of every module that passes, sorted as the file lists them, and the refusals.
 */
export function checkTransforms(
  outputs: readonly PlannedTensor[],
  sources: Record<string, TensorLocation>,
): { outputs: PlannedTensor[]; refusals: SerializedConversionError[] } {
  const refusals: SerializedConversionError[] = [];
  const badModules = new Set<string>();
  for (const t of outputs) {
    const problem = badModules.has(t.module) ? undefined : checkTensorShape(t, sources);
    if (!problem) continue;
    badModules.add(t.module);
    refusals.push(
      refusal(
        'shape_mismatch',
        `${t.module}: ${problem} (for ${t.name})`,
        t.parts.map((p) => p.source),
        'Check that the base config.json is the one the adapter was trained on (head counts, hidden size).',
        { module: t.module },
      ),
    );
  }
  const kept = outputs.filter((t) => !badModules.has(t.module));
  kept.sort((x, y) => compareNatural(x.name, y.name) || (x.role < y.role ? -1 : 1));
  return { outputs: kept, refusals };
}

/** Why a planned tensor's parts don't produce its planned dims, or undefined when they do. */
function checkTensorShape(t: PlannedTensor, sources: Record<string, TensorLocation>): string | undefined {
  const per = t.ne.length === 3 ? t.ne.slice(0, 2) : t.ne;
  const want = [...per].reverse();
  for (const part of t.parts) {
    const loc = sources[part.source];
    if (!loc) return `no source tensor ${part.source}`;
    let got: number[];
    try {
      got = opsOutputShape(loc.shape, part.ops);
    } catch (e) {
      return e instanceof ConversionError ? e.message : String(e);
    }
    if (got.length === 1 && want.length === 1 ? got[0] !== want[0] : got.join('x') !== want.join('x')) {
      return `${part.source} gives shape [${got.join(', ')}], expected [${want.join(', ')}]`;
    }
  }
  return undefined;
}

/** The adapter's GGUF key/values; an aLoRA whose config lacks the invocation token ids is refused. */
export function adapterKvs(config: AdapterConfig, name: string, ggufArchitecture: string): { kvs: GgufKv[]; refusals: SerializedConversionError[] } {
  const refusals: SerializedConversionError[] = [];
  const kvs: GgufKv[] = [
    { key: 'general.architecture', type: 'STRING', value: ggufArchitecture },
    { key: 'general.type', type: 'STRING', value: 'adapter' },
    { key: 'adapter.type', type: 'STRING', value: 'lora' },
    { key: 'general.name', type: 'STRING', value: name },
    { key: 'adapter.lora.alpha', type: 'FLOAT32', value: config.loraAlpha },
  ];
  if (config.aloraInvocationTokens) {
    kvs.push({ key: 'adapter.alora.invocation_tokens', type: 'ARRAY', itemType: 'UINT32', value: config.aloraInvocationTokens });
  } else if (config.invocationString !== null) {
    refusals.push(
      refusal(
        'unsupported_adapter',
        `This is an aLoRA adapter whose config has only the invocation string ${JSON.stringify(config.invocationString)}, not its token ids (alora_invocation_tokens); llama.cpp needs the ids to know when to activate the adapter.`,
        [],
        'Tokenize the invocation string with the base model\'s own tokenizer — in Python tokenizer.encode(s, add_special_tokens=False), or offline with llama.cpp on the base GGUF: llama-tokenize -m base.gguf -p "<string>" --ids --no-bos — and add the ids as "alora_invocation_tokens" to adapter_config.json.',
        { field: 'adapter_config.json: alora_invocation_tokens' },
      ),
    );
  }
  kvs.push({ key: 'general.quantization_version', type: 'UINT32', value: 2 });
  return { kvs, refusals };
}

/**
 * Assign types, sizes and offsets for an outtype; returns the header size and total size.
 * `knownHeaderBytes`: the header's size when already known — it is the same in every outtype (a
 * tensor's type and offset have fixed widths), so other outtypes' sizes need no serializing.
 */
export function layOut(
  tensors: PlannedTensor[],
  kvs: GgufKv[],
  outtype: OutType,
  knownHeaderBytes?: number,
): { tensors: PlannedTensor[]; headerBytes: number; totalBytes: number } {
  let offset = 0;
  for (const t of tensors) {
    t.type = t.role === 'norm' ? 'F32' : tensorTypeFor(outtype, t.ne);
    t.byteSize = ggmlByteSize(
      t.type,
      t.ne.reduce((a, d) => a * d, 1),
    );
    t.offset = offset;
    offset = alignUp(offset + t.byteSize);
  }
  const headerBytes = knownHeaderBytes ?? serializeGgufHeader(kvs, tensors).byteLength;
  return { tensors, headerBytes, totalBytes: headerBytes + offset };
}

/** The file's size in every output type (the selector shows them), laid out on copies. */
export function sizesByOuttype(
  outputs: readonly PlannedTensor[],
  kvs: GgufKv[],
  outtype: OutType,
  laidOut: { headerBytes: number; totalBytes: number },
): Record<OutType, number> {
  return Object.fromEntries(
    OUTTYPES.map((o) => [
      o,
      o === outtype
        ? laidOut.totalBytes
        : layOut(
            outputs.map((t) => ({ ...t })),
            kvs,
            o,
            laidOut.headerBytes,
          ).totalBytes,
    ]),
  ) as Record<OutType, number>;
}

/** Serialize the plan's header (for convert and for tests). */
export function planHeader(plan: ConversionPlan): Uint8Array {
  return serializeGgufHeader(plan.kvs, plan.tensors);
}
