/**
 * Check a LoRA adapter against a base model's GGUF before anyone loads them, with exactly the
 * checks llama.cpp makes when it loads a LoRA (src/llama-adapter.cpp, llama_adapter_lora_init_impl):
 *
 * - the adapter's general.architecture is the model's;
 * - every tensor is `<name>.lora_a` / `<name>.lora_b` (or a `_norm.weight`, which it skips), and
 *   both halves of each pair are there;
 * - the base has a tensor `<name>` (in any shard of a split model);
 * - shapes: ne[0] of the base tensor is lora_a's ne[0] and ne[1] is lora_b's ne[1], and lora_a's
 *   ne[1] (the rank) is lora_b's ne[0]; for token_embd, base ne[0] = lora_b ne[1] and base ne[1]
 *   = lora_a ne[1];
 * - and, where the runtime would fail later instead (in the graph), stacked experts: ne[2] agrees.
 *
 * Each problem says which tensors and the likely cause (fewer layers, another size, another family).
 */
import type { GgufHeaderRead } from '../gguf/reader';
import { kvNumber, kvString } from '../gguf/reader';

/** The adapter as the checker needs it: its architecture and its tensors' names and dims. */
export interface AdapterShape {
  architecture: string;
  tensors: { name: string; ne: number[] }[];
}

export type CheckCode =
  | 'architecture'
  | 'unexpected_suffix'
  | 'missing_pair'
  | 'missing_tensor'
  | 'shape'
  | 'rank'
  | 'experts'
  // What inspecting a GGUF adapter alone finds:
  | 'general_type'
  | 'adapter_type'
  | 'alpha_type'
  | 'name_length'
  | 'alignment'
  | 'tensor_type'
  | 'truncated';

export interface CheckProblem {
  code: CheckCode;
  message: string;
  /** The adapter's tensors concerned. */
  tensors: string[];
  /** What probably happened. */
  cause?: string;
}

export interface CheckResult {
  compatible: boolean;
  /** The base model's general.name, else its file name. */
  base: string;
  baseArchitecture: string | null;
  /** LoRA pairs checked against a base tensor. */
  pairsChecked: number;
  problems: CheckProblem[];
}

/** A base model's header, from one file or every shard of a split one. */
export interface BaseModel {
  file: string;
  headers: GgufHeaderRead[];
}

function listed(names: string[]): string {
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
}

const BLOCK = /^blk\.(\d+)\./;

export function checkAgainstBase(adapter: AdapterShape, base: BaseModel): CheckResult {
  const first = base.headers[0]!;
  const baseArch = kvString(first, 'general.architecture') ?? null;
  const baseName = kvString(first, 'general.name') ?? base.file;
  const problems: CheckProblem[] = [];
  const result = (pairsChecked: number): CheckResult => ({ compatible: problems.length === 0, base: baseName, baseArchitecture: baseArch, pairsChecked, problems });

  if (baseArch !== adapter.architecture) {
    problems.push({
      code: 'architecture',
      message: `The adapter is for the "${adapter.architecture}" architecture; ${baseName} is "${baseArch ?? 'unknown'}". llama.cpp refuses this ("model arch and LoRA arch mismatch").`,
      tensors: [],
      cause: 'The adapter was trained on another model family than this base.',
    });
    return result(0);
  }

  const baseTensors = new Map<string, number[]>();
  for (const h of base.headers) for (const t of h.tensors) baseTensors.set(t.name, t.ne);

  const pairs = new Map<string, { a?: number[]; b?: number[] }>();
  const badSuffix: string[] = [];
  for (const t of adapter.tensors) {
    const m = /^(.*)\.lora_([ab])$/.exec(t.name);
    if (!m) {
      if (!t.name.endsWith('_norm.weight')) badSuffix.push(t.name);
      continue;
    }
    const p = pairs.get(m[1]!) ?? {};
    p[m[2] as 'a' | 'b'] = t.ne;
    pairs.set(m[1]!, p);
  }
  if (badSuffix.length) {
    problems.push({ code: 'unexpected_suffix', message: `llama.cpp refuses tensors that are not .lora_a / .lora_b: ${listed(badSuffix)}.`, tensors: badSuffix });
  }
  const halves = [...pairs].filter(([, p]) => !p.a || !p.b).map(([n, p]) => `${n}.lora_${p.a ? 'b' : 'a'}`);
  if (halves.length) problems.push({ code: 'missing_pair', message: `A LoRA pair is missing one half: ${listed(halves)}.`, tensors: halves });

  const missing: string[] = [];
  const shape: string[] = [];
  const rank: string[] = [];
  const experts: string[] = [];
  let checked = 0;
  const shapeDetails: string[] = [];
  for (const [name, p] of pairs) {
    if (!p.a || !p.b) continue;
    const m = baseTensors.get(name);
    if (!m) {
      missing.push(name);
      continue;
    }
    checked++;
    if (name.endsWith('token_embd.weight')) {
      if (m[0] !== p.b[1] || m[1] !== p.a[1]) {
        shape.push(name);
        shapeDetails.push(`${name}: base [${m.join(', ')}], lora_a [${p.a.join(', ')}], lora_b [${p.b.join(', ')}]`);
      }
      continue;
    }
    if (m[0] !== p.a[0] || m[1] !== p.b[1]) {
      shape.push(name);
      shapeDetails.push(`${name}: base [${m.join(', ')}], lora_a [${p.a.join(', ')}], lora_b [${p.b.join(', ')}]`);
    } else if (p.a[1] !== p.b[0]) {
      rank.push(name);
    } else if (m.length === 3 && (p.a[2] !== m[2] || p.b[2] !== m[2])) {
      experts.push(`${name} (base ${m[2]} experts, adapter ${p.a[2] ?? 1})`);
    }
  }

  if (missing.length) {
    const blocks = kvNumber(first, `${baseArch}.block_count`);
    const adapterBlocks = Math.max(-1, ...[...pairs.keys()].map((n) => Number(BLOCK.exec(n)?.[1] ?? -1))) + 1;
    const beyond = blocks !== undefined && missing.every((n) => Number(BLOCK.exec(n)?.[1] ?? -1) >= blocks);
    const output = missing.includes('output.weight') && baseTensors.has('token_embd.weight');
    problems.push({
      code: 'missing_tensor',
      message: `${missing.length} LoRA tensor${missing.length > 1 ? 's have' : ' has'} no base tensor in ${baseName}: ${listed(missing)}. llama.cpp refuses this ("LoRA tensor … does not exist in base model").`,
      tensors: missing.flatMap((n) => [`${n}.lora_a`, `${n}.lora_b`]),
      cause: beyond
        ? `The adapter was trained on a model with ${adapterBlocks} layers; this base has ${blocks}.`
        : output
          ? 'This base ties its output head to the token embeddings (it has no output.weight): LoRA on lm_head cannot apply to it.'
          : 'The adapter was trained on another base model (a different variant or family).',
    });
  }
  if (shape.length) {
    const hidden = kvNumber(first, `${baseArch}.embedding_length`);
    problems.push({
      code: 'shape',
      message: `${shape.length} tensor${shape.length > 1 ? 's have' : ' has'} a shape that does not fit ${baseName} (${listed(shapeDetails)}). llama.cpp refuses this ("tensor … has incorrect shape").`,
      tensors: shape.flatMap((n) => [`${n}.lora_a`, `${n}.lora_b`]),
      cause: `The adapter was trained on a model of another size${hidden !== undefined ? ` (this base's hidden size is ${hidden})` : ''}.`,
    });
  }
  if (rank.length) {
    problems.push({
      code: 'rank',
      message: `lora_a's rank differs from lora_b's for ${listed(rank)}; llama.cpp refuses this ("lora_a tensor is not transposed").`,
      tensors: rank.flatMap((n) => [`${n}.lora_a`, `${n}.lora_b`]),
      cause: 'The file was written by a tool that stores LoRA A transposed (the old "finetune" example), or is damaged.',
    });
  }
  if (experts.length) {
    problems.push({
      code: 'experts',
      message: `The number of experts differs: ${listed(experts)}.`,
      tensors: experts,
      cause: 'The adapter was trained on a mixture-of-experts model with another number of experts.',
    });
  }
  return result(checked);
}

/** Every shard's file name of the split model `file` belongs to (just `file` when it is not split). */
export function shardNames(file: string): string[] {
  const part = splitPart(file);
  if (!part) return [file];
  const stem = file.replace(/-\d{5}-of-\d{5}\.gguf$/i, '');
  return Array.from({ length: part.count }, (_, i) => `${stem}-${String(i + 1).padStart(5, '0')}-of-${String(part.count).padStart(5, '0')}.gguf`);
}

/** Shards of a split GGUF: `name-00001-of-00003.gguf` → the part number and count, else null. */
export function splitPart(file: string): { index: number; count: number } | null {
  const m = /-(\d{5})-of-(\d{5})\.gguf$/i.exec(file);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : null;
}
