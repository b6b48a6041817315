/**
 * Inspect a GGUF LoRA adapter from its header: metadata, every pair with its rank and the scale
 * llama.cpp will apply (alpha / rank), and what llama.cpp would reject or misread when loading it
 * (src/llama-adapter.cpp): a general.type other than "adapter", an adapter.type other than
 * "lora", an alpha that is not FLOAT32 (read with gguf_get_val_f32, which aborts on another type),
 * names of 64 bytes or more (GGML_MAX_NAME), a tensor that is not .lora_a/.lora_b, a pair missing a
 * half, ranks that disagree, misaligned or out-of-file data, tensor types it does not know.
 */
import { GGML_MAX_NAME, GGML_TYPE_NAMES, kvNumber, kvString, type GgufHeaderRead } from '../gguf/reader';
import type { AdapterShape, CheckProblem } from './base';

/** Bytes per block and values per block of the tensor types LoRA files use. */
const TYPE_SIZES: Record<number, [number, number]> = { 0: [4, 1], 1: [2, 1], 30: [2, 1], 8: [34, 32] };

export interface InspectedPair {
  /** The base tensor the pair applies to. */
  name: string;
  rank: number;
  a: { ne: number[]; type: string };
  b: { ne: number[]; type: string };
  /** The scale llama.cpp applies: alpha / rank, or 1 when alpha is 0 or absent. */
  scale: number;
}

export interface InspectedAdapter {
  file: string;
  architecture: string | null;
  name: string | null;
  generalType: string | null;
  adapterType: string | null;
  alpha: number | null;
  alphaType: string | null;
  pairs: InspectedPair[];
  /** Every key with its type and a short display of its value. */
  keys: { key: string; type: string; value: string }[];
  /** What llama.cpp would reject or misread; empty when it loads cleanly. */
  flags: CheckProblem[];
  tensorCount: number;
  fileBytes: number;
  headerBytes: number;
}

function display(v: unknown): string {
  if (typeof v === 'object' && v !== null && 'itemType' in v) {
    const a = v as { itemType: string; length: number; items?: unknown[] };
    return a.items ? `[${a.items.map(String).join(', ')}]` : `[${a.itemType} × ${a.length}]`;
  }
  const s = String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function inspectGgufAdapter(h: GgufHeaderRead, file: string): InspectedAdapter {
  const flags: CheckProblem[] = [];
  const generalType = kvString(h, 'general.type') ?? null;
  const adapterType = kvString(h, 'adapter.type') ?? null;
  const alphaKv = h.kv.get('adapter.lora.alpha');
  const alpha = kvNumber(h, 'adapter.lora.alpha') ?? null;
  if (generalType !== 'adapter') {
    flags.push({ code: 'general_type', message: `general.type is ${generalType === null ? 'missing' : `"${generalType}"`}; llama.cpp loads a LoRA only with "adapter".`, tensors: [], cause: generalType === 'model' ? 'This is a model, not an adapter.' : undefined });
  }
  if (adapterType !== 'lora') {
    flags.push({ code: 'adapter_type', message: `adapter.type is ${adapterType === null ? 'missing' : `"${adapterType}"`}; llama.cpp loads only "lora" adapters this way.`, tensors: [] });
  }
  if (alphaKv && alphaKv.type !== 'FLOAT32') {
    flags.push({ code: 'alpha_type', message: `adapter.lora.alpha is ${alphaKv.type}, not FLOAT32: llama.cpp reads it with gguf_get_val_f32, which stops the program on another type.`, tensors: [] });
  }

  const byPair = new Map<string, { a?: (typeof h.tensors)[number]; b?: (typeof h.tensors)[number] }>();
  const badSuffix: string[] = [];
  const longNames: string[] = [];
  const misaligned: string[] = [];
  const unknownType: string[] = [];
  const pastEnd: string[] = [];
  const encoder = new TextEncoder();
  for (const t of h.tensors) {
    if (encoder.encode(t.name).byteLength >= GGML_MAX_NAME) longNames.push(t.name);
    if (t.offset % h.alignment !== 0) misaligned.push(t.name);
    const size = TYPE_SIZES[t.type];
    if (GGML_TYPE_NAMES[t.type] === undefined) unknownType.push(`${t.name} (type ${t.type})`);
    else if (size) {
      const bytes = (t.ne.reduce((x, d) => x * d, 1) / size[1]) * size[0];
      if (h.dataOffset + t.offset + bytes > h.fileBytes) pastEnd.push(t.name);
    }
    const m = /^(.*)\.lora_([ab])$/.exec(t.name);
    if (!m) {
      if (!t.name.endsWith('_norm.weight')) badSuffix.push(t.name);
      continue;
    }
    const p = byPair.get(m[1]!) ?? {};
    p[m[2] as 'a' | 'b'] = t;
    byPair.set(m[1]!, p);
  }
  const add = (code: CheckProblem['code'], names: string[], message: string, cause?: string) => {
    if (names.length) flags.push({ code, message: `${message}: ${names.slice(0, 4).join(', ')}${names.length > 4 ? ` and ${names.length - 4} more` : ''}.`, tensors: names, cause });
  };
  add('unexpected_suffix', badSuffix, 'llama.cpp refuses tensors that are not .lora_a / .lora_b ("has unexpected suffix")');
  add('name_length', longNames, `names of ${GGML_MAX_NAME} bytes or more, which llama.cpp cannot hold`);
  add('alignment', misaligned, `tensor data not aligned to ${h.alignment} bytes`);
  add('tensor_type', unknownType, 'tensor types llama.cpp does not know');
  add('truncated', pastEnd, 'tensor data past the end of the file', 'The file is truncated (an interrupted download or copy).');

  const pairs: InspectedPair[] = [];
  const halves: string[] = [];
  const ranks: string[] = [];
  for (const [name, p] of byPair) {
    if (!p.a || !p.b) {
      halves.push(`${name}.lora_${p.a ? 'b' : 'a'}`);
      continue;
    }
    const embd = name.endsWith('token_embd.weight');
    const rank = embd ? p.a.ne[0]! : p.a.ne[1]!;
    if (!embd && p.a.ne[1] !== p.b.ne[0]) ranks.push(name);
    pairs.push({
      name,
      rank,
      a: { ne: p.a.ne, type: GGML_TYPE_NAMES[p.a.type] ?? String(p.a.type) },
      b: { ne: p.b.ne, type: GGML_TYPE_NAMES[p.b.type] ?? String(p.b.type) },
      scale: alpha ? alpha / rank : 1,
    });
  }
  add('missing_pair', halves, 'a LoRA pair missing one half');
  add('rank', ranks, 'lora_a and lora_b of different ranks ("lora_a tensor is not transposed")');

  return {
    file,
    architecture: kvString(h, 'general.architecture') ?? null,
    name: kvString(h, 'general.name') ?? null,
    generalType,
    adapterType,
    alpha,
    alphaType: alphaKv?.type ?? null,
    pairs,
    keys: [...h.kv].map(([key, v]) => ({ key, type: v.type, value: display(v.value) })),
    flags,
    tensorCount: h.tensors.length,
    fileBytes: h.fileBytes,
    headerBytes: h.dataOffset,
  };
}

/** The adapter side of a check, from a GGUF adapter's header. */
export function adapterShapeOf(h: GgufHeaderRead): AdapterShape {
  return { architecture: kvString(h, 'general.architecture') ?? '', tensors: h.tensors.map((t) => ({ name: t.name, ne: t.ne })) };
}
