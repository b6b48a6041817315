/**
 * What a tensor name in a PEFT adapter file is. PEFT saves `base_model.model.<module>.lora_A.weight`
 * and friends (the adapter name is removed on save; some tools keep it, e.g. `lora_A.default.weight`).
 */
export type TensorRole =
  | { kind: 'lora_A' | 'lora_B'; module: string }
  | { kind: 'lora_embedding_A' | 'lora_embedding_B'; module: string }
  | { kind: 'lora_bias'; module: string }
  | { kind: 'dora_magnitude'; module: string }
  | { kind: 'base_layer'; module: string }
  | { kind: 'modules_to_save'; module: string }
  | { kind: 'trainable_tokens'; module: string }
  | { kind: 'full'; module: string; param: string };

export const PEFT_PREFIX = 'base_model.model.';

/** Strip PEFT's wrapper prefix (`base_model.model.`). Names without it are kept as they are. */
export function stripPeftPrefix(name: string): string {
  return name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name;
}

const ADAPTER_NAME = '(?:\\.[A-Za-z_][\\w-]*)?';
const RULES: [RegExp, TensorRole['kind']][] = [
  [new RegExp(`^(.+)\\.lora_A${ADAPTER_NAME}\\.weight$`), 'lora_A'],
  [new RegExp(`^(.+)\\.lora_B${ADAPTER_NAME}\\.weight$`), 'lora_B'],
  [new RegExp(`^(.+)\\.lora_B${ADAPTER_NAME}\\.bias$`), 'lora_bias'],
  [new RegExp(`^(.+)\\.lora_embedding_A${ADAPTER_NAME}$`), 'lora_embedding_A'],
  [new RegExp(`^(.+)\\.lora_embedding_B${ADAPTER_NAME}$`), 'lora_embedding_B'],
  [new RegExp(`^(.+)\\.lora_magnitude_vector${ADAPTER_NAME}(?:\\.weight)?$`), 'dora_magnitude'],
  [/^(.+)\.base_layer\.(?:weight|bias)$/, 'base_layer'],
  [/^(.+)\.(?:modules_to_save|original_module)(?:\.[\w-]+)?\.[\w]+$/, 'modules_to_save'],
  [/^(.+)\.token_adapter\.trainable_tokens_(?:delta|original)(?:\.[\w-]+)?$/, 'trainable_tokens'],
];

/** Classify one (prefix-stripped) tensor name. */
export function classifyTensorName(stripped: string): TensorRole {
  for (const [re, kind] of RULES) {
    const m = re.exec(stripped);
    if (m) return { kind, module: m[1]! } as TensorRole;
  }
  const dot = stripped.lastIndexOf('.');
  return dot < 0 ? { kind: 'full', module: stripped, param: '' } : { kind: 'full', module: stripped.slice(0, dot), param: stripped.slice(dot + 1) };
}

/** Byte-wise string comparison (Python's sort order for str of ASCII names). */
export function compareBytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

let naturalCollator: Intl.Collator | undefined;

/**
 * Natural order for display: `layers.2` before `layers.10`. The same order as
 * `a.localeCompare(b, 'en', { numeric: true })`, through one shared collator: localeCompare with
 * options builds a collator per call, which cost 14 ms of a 1 GB conversion's start (448 tensors).
 */
export function compareNatural(a: string, b: string): number {
  naturalCollator ??= new Intl.Collator('en', { numeric: true });
  return naturalCollator.compare(a, b);
}
