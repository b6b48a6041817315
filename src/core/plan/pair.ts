/**
 * Stage 1: classify every tensor of the adapter by its name and pair the LoRA factors by module,
 * in byte-wise sorted order (the order `auto` scans in). Tensors that are not LoRA factors are
 * sorted out here: base-layer copies skipped, norm vectors set aside for stage 4, and the rest
 * (DoRA magnitudes, biases, whole tensors, unknown names) refused by kind, all at once.
 */
import { fillName, matchModule, matchNorm } from '../arch/match';
import type { ArchFamily } from '../arch/types';
import type { ErrorCode } from '../errors';
import type { AdapterConfig } from '../peft/config';
import { classifyTensorName, compareBytewise, stripPeftPrefix } from '../peft/names';
import { findings, NON_TEXT, refusal, type AdapterTensor, type Findings, type InspectOptions, type Pair } from './types';

/** A mergekit norm vector: a whole 1-D tensor replacing a norm's weight. */
export interface NormVector {
  tensor: AdapterTensor;
  /** Its GGUF name. */
  gguf: string;
  /** Gemma-style norms store weight - 1: llama.cpp's converter adds 1. */
  addOne: boolean;
  module: string;
}

/** Stage 1's output. */
export interface Paired extends Findings {
  /** The LoRA pairs, in order of first appearance. */
  pairs: Pair[];
  norms: NormVector[];
  /** Tensors left out by `textOnly` (outside the language model). */
  leftOut: string[];
}

/** Stage 1: classify and pair. */
export function classifyAndPair(tensors: readonly AdapterTensor[], family: ArchFamily, config: AdapterConfig, options: InspectOptions): Paired {
  const out: Paired = { ...findings(), pairs: [], norms: [], leftOut: [] };
  const pairs = new Map<string, Pair>();
  const byCode = new Map<ErrorCode, string[]>();
  const note = (code: ErrorCode, name: string) => byCode.set(code, [...(byCode.get(code) ?? []), name]);
  let seen = 0;
  for (const t of [...tensors].sort((x, y) => compareBytewise(x.name, y.name))) {
    const stripped = stripPeftPrefix(t.name);
    if (options.textOnly && NON_TEXT.test(stripped)) {
      out.leftOut.push(t.name);
      out.skipped.push({ tensor: t.name, reason: 'outside the language model (textOnly)' });
      continue;
    }
    const role = classifyTensorName(stripped);
    switch (role.kind) {
      case 'lora_A':
      case 'lora_B':
      case 'lora_embedding_A':
      case 'lora_embedding_B': {
        const kind = role.kind.startsWith('lora_embedding') ? 'embedding' : 'linear';
        let p = pairs.get(role.module);
        if (!p) pairs.set(role.module, (p = { module: role.module, kind, firstSeen: seen++ }));
        if (p.kind !== kind) note('unknown_tensor', t.name);
        else if (role.kind.endsWith('A')) p.a = t;
        else p.b = t;
        break;
      }
      case 'lora_bias':
        note('lora_bias', t.name);
        break;
      case 'dora_magnitude':
        note('dora', t.name);
        break;
      case 'base_layer':
        out.skipped.push({ tensor: t.name, reason: 'a copy of the base weight, not part of the LoRA' });
        break;
      case 'modules_to_save':
      case 'trainable_tokens':
        note('full_tensor', t.name);
        break;
      case 'full': {
        const norm = role.param === 'weight' && t.shape.length === 1 ? matchNorm(family, role.module) : undefined;
        if (norm) {
          out.norms.push({ tensor: t, gguf: `${fillName(norm.rule.gguf, norm.bid)}.weight`, addOne: norm.rule.addOne === true, module: role.module });
        } else if (NON_TEXT.test(role.module)) {
          note('non_text_module', t.name);
        } else if (matchModule(family, role.module) || t.shape.length >= 2) {
          // A whole weight matrix: PEFT's modules_to_save (e.g. resized embed_tokens / lm_head).
          note('full_tensor', t.name);
        } else {
          note('unknown_tensor', t.name);
        }
        break;
      }
    }
  }
  out.pairs = [...pairs.values()];
  out.refusals.push(...unexpectedTensorRefusals(byCode, family, config));
  return out;
}

/** Why each kind of unexpected tensor cannot be converted, and what to do (message, hint). */
export function unexpectedTensorWords(family: ArchFamily): Partial<Record<ErrorCode, [string, string]>> {
  return {
    lora_bias: [
      'The adapter was trained with lora_bias=True: its lora_B has a bias, and a GGUF LoRA has no bias term.',
      'Retrain with lora_bias=False, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
    ],
    dora: [
      'This is a DoRA adapter (use_dora=True): its magnitude vectors rescale the merged weight, which needs the base weights and cannot be expressed as a GGUF LoRA.',
      'Merge the adapter into the base model with PEFT (merge_and_unload) and convert the merged model with convert_hf_to_gguf.py.',
    ],
    full_tensor: [
      'The adapter stores whole tensors (modules_to_save, e.g. a resized embed_tokens or lm_head, or trainable_token_indices); a LoRA file can only add low-rank updates, not replace a tensor.',
      'Merge the adapter into the base model (merge_and_unload) and convert the merged model; or retrain without modules_to_save.',
    ],
    non_text_module: [
      'The adapter has LoRA on modules outside the language model (vision or audio encoder); a GGUF LoRA for llama.cpp applies to the text model only.',
      "Convert only the language model's LoRA with the text-only option (inspect option textOnly), which leaves these tensors out and lists them; or retrain targeting only the language model.",
    ],
    unknown_tensor: [
      `These tensors are not LoRA factors of any module the ${family.id} architecture has in llama.cpp.`,
      'Check that the base config.json is the one the adapter was trained on. If the module is real, please report it.',
    ],
  };
}

/** One refusal per kind of unexpected tensor, naming them; and DoRA from the config alone. */
function unexpectedTensorRefusals(byCode: Map<ErrorCode, string[]>, family: ArchFamily, config: AdapterConfig) {
  const words = unexpectedTensorWords(family);
  const refusals = [...byCode].map(([code, names]) => {
    const [msg, hint] = words[code] ?? ['Unexpected tensors.', undefined];
    const list = `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
    return refusal(code, `${msg} (${names.length} tensor${names.length > 1 ? 's' : ''}: ${list})`, names, hint);
  });
  if (config.useDora && !byCode.has('dora')) {
    refusals.push(
      refusal('dora', 'adapter_config.json says use_dora=true: DoRA cannot be expressed as a GGUF LoRA.', [], words.dora?.[1], {
        field: 'adapter_config.json: use_dora',
      }),
    );
  }
  return refusals;
}
