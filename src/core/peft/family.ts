import type { BaseConfig } from './config';
import type { Diagnostic } from '../plan';

/**
 * Model-family keywords, as they appear in Hugging Face repo names and in config.json's
 * model_type / architectures (compared lower-case with "-" and "_" removed). An alias maps to
 * the family it belongs to. Order does not matter: a name may carry several families
 * ("DeepSeek-R1-Distill-Qwen-7B" is a Qwen2 model).
 */
const FAMILY_KEYWORDS: Record<string, string> = {
  llama: 'llama',
  vicuna: 'llama',
  smollm: 'llama',
  mistral: 'mistral',
  zephyr: 'mistral',
  mixtral: 'mixtral',
  qwen: 'qwen',
  qwq: 'qwen',
  gemma: 'gemma',
  phi: 'phi',
  falcon: 'falcon',
  gpt2: 'gpt2',
  gptneox: 'gptneox',
  pythia: 'gptneox',
  bloom: 'bloom',
  baichuan: 'baichuan',
  chatglm: 'chatglm',
  internlm: 'internlm',
  deepseek: 'deepseek',
  olmoe: 'olmoe',
  olmo: 'olmo',
  starcoder: 'starcoder',
  cohere: 'cohere',
  commandr: 'cohere',
  granite: 'granite',
  stablelm: 'stablelm',
  exaone: 'exaone',
  dbrx: 'dbrx',
  mamba: 'mamba',
  jamba: 'jamba',
  nemotron: 'nemotron',
  minicpm: 'minicpm',
  mpt: 'mpt',
};

function normalise(s: string): string {
  return s.toLowerCase().replace(/[-_\s.]/g, '');
}

/** Every family a string mentions. */
export function familiesIn(text: string): Set<string> {
  const t = normalise(text);
  const out = new Set<string>();
  for (const [keyword, family] of Object.entries(FAMILY_KEYWORDS)) if (t.includes(keyword)) out.add(family);
  // "olmoe" also contains "olmo": keep the more specific one only.
  if (out.has('olmoe')) out.delete('olmo');
  return out;
}

/**
 * A warning when adapter_config.json's base_model_name_or_path names a model family and the base
 * config.json given is of another one (e.g. the adapter says Qwen/Qwen2.5-7B but the config is a
 * LlamaForCausalLM): the shapes may still fit by chance, and the result would be meaningless.
 * Silent when either side names no known family (local paths, fine-tune names).
 */
export function baseFamilyMismatch(baseModelNameOrPath: string | null, base: BaseConfig): Diagnostic | undefined {
  if (!baseModelNameOrPath) return undefined;
  const named = familiesIn(baseModelNameOrPath);
  if (named.size === 0) return undefined;
  const given = familiesIn(base.modelType ?? '');
  for (const f of familiesIn(base.architecture)) given.add(f);
  if (base.outerArchitecture) for (const f of familiesIn(base.outerArchitecture)) given.add(f);
  if (given.size === 0) return undefined;
  for (const f of given) if (named.has(f)) return undefined;
  return {
    code: 'base_mismatch',
    message: `The adapter was trained on ${JSON.stringify(baseModelNameOrPath)} (base_model_name_or_path), but the base config.json given is a ${base.architecture}${base.modelType ? ` (model_type "${base.modelType}")` : ''}.`,
    hint: `Use the config.json of ${baseModelNameOrPath} (or of the exact model the adapter was trained on); a LoRA only works on the base it was trained for.`,
  };
}

/** init_lora_weights values whose adapters assume a base model modified at initialisation. */
const MODIFIED_BASE_INITS: [RegExp, string][] = [
  [/^pissa/i, 'PiSSA'],
  [/^olora$/i, 'OLoRA'],
  [/^corda$/i, 'CorDA'],
  [/^loftq$/i, 'LoftQ'],
];

/**
 * A warning for PiSSA / OLoRA / CorDA / LoftQ initialisation: these subtract the initial
 * adapter from (or quantise) the base weights, so the saved adapter applies to that modified
 * base, not to the original one, unless it was saved converted to a plain LoRA (PEFT's
 * `path_initial_model_for_weight_conversion`, which also resets init_lora_weights in the config).
 */
export function modifiedBaseWarning(init: boolean | string): Diagnostic | undefined {
  if (typeof init !== 'string') return undefined;
  const hit = MODIFIED_BASE_INITS.find(([re]) => re.test(init));
  if (!hit) return undefined;
  const name = hit[1];
  return {
    code: 'modified_base',
    message: `adapter_config.json has init_lora_weights "${init}" (${name}): ${name} ${name === 'LoftQ' ? 'replaces the base weights with a quantised approximation' : 'subtracts the initial adapter from the base weights'}, so this adapter is only correct on that modified base model, not on the original one llama.cpp will load.`,
    hint: `Save the adapter converted to a plain LoRA (PEFT: save_pretrained(..., path_initial_model_for_weight_conversion=<the initial ${name} adapter>)) and convert that; or merge the adapter into its modified base and convert the merged model.`,
  };
}
