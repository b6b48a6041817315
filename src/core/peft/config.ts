import { ConversionError } from '../errors';
import { isMlxAdapterConfig, mlxAdapterConfig, type MlxAdapterInfo } from '../mlx/adapter';
import { validatePatternKeys } from './scaling';

/** PEFT's default lora_alpha (LoraConfig.lora_alpha = 8). */
export const PEFT_DEFAULT_LORA_ALPHA = 8;

/** The fields of adapter_config.json that conversion reads. */
export interface AdapterConfig {
  peftType: string;
  r: number;
  /** Absent in the file means PEFT's default applies; `loraAlphaDefaulted` says so. */
  loraAlpha: number;
  loraAlphaDefaulted: boolean;
  targetModules: string[] | string | null;
  baseModelNameOrPath: string | null;
  useRslora: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /**
   * The pattern keys in the order adapter_config.json lists them: PEFT takes the first key that
   * matches, and a JS object puts integer-like keys ("0", "12") first, so the order is kept apart.
   */
  rankPatternKeys: string[];
  alphaPatternKeys: string[];
  useDora: boolean;
  loraBias: boolean;
  modulesToSave: string[] | null;
  fanInFanOut: boolean;
  /** true, false, or a string such as "pissa", "olora", "corda", "loftq", "gaussian". */
  initLoraWeights: boolean | string;
  layersToTransform: number[] | number | null;
  aloraInvocationTokens: number[] | null;
  /** aLoRA configs saved by some tools carry only the string; the tokens then have to be supplied. */
  invocationString: string | null;
  trainableTokenIndices: unknown;
  targetParameters: string[] | null;
  /** The whole parsed JSON, for anything else a module wants to look at. */
  raw: Record<string, unknown>;
  /** Set for an adapter trained with mlx-lm: its training arguments (src/core/mlx). */
  mlx?: MlxAdapterInfo;
}

const FILE = 'adapter_config.json';

function invalid(field: string, message: string, file = FILE): ConversionError {
  return new ConversionError('invalid_config', `${file}: "${field}" ${message}`, { file, field: `${file}: ${field}` });
}

function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConversionError(
      'invalid_config',
      `${file} is not valid JSON: ${(e as Error).message}`,
      { file },
      `Check that ${file} is complete and not an HTML error page.`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConversionError('invalid_config', `${file} is not a JSON object.`, { file });
  }
  return json as Record<string, unknown>;
}

function numberMap(value: unknown, field: string): Record<string, number> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'must be an object of numbers');
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${field}.${k}`, 'must be a number');
    out[k] = v;
  }
  return out;
}

function stringList(value: unknown, field: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(field, 'must be a list of strings');
  return value as string[];
}

/**
 * The key order of the top-level "rank_pattern" and "alpha_pattern" objects as written in the
 * (already validated) JSON text. A later duplicate key replaces the earlier one in place of its
 * first appearance, as Python's json does.
 */
function patternKeyOrder(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (collect?: string[]): void => {
    ws();
    const c = text[i];
    if (c === '"') {
      str();
    } else if (c === '{' || c === '[') {
      i++;
      ws();
      const close = c === '{' ? '}' : ']';
      while (text[i] !== close) {
        if (c === '{') {
          ws();
          const key = str();
          if (collect && !collect.includes(key)) collect.push(key);
          ws();
          i++; // ':'
        }
        value();
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else {
      while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i++;
    }
  };
  ws();
  if (text[i] !== '{') return out;
  i++;
  ws();
  while (i < text.length && text[i] !== '}') {
    ws();
    const key = str();
    ws();
    i++; // ':'
    ws();
    if ((key === 'rank_pattern' || key === 'alpha_pattern') && text[i] === '{') value((out[key] = []));
    else value();
    ws();
    if (text[i] === ',') i++;
    ws();
  }
  return out;
}

/** Parse adapter_config.json. Throws `invalid_config` / `wrong_input` with the field named. */
export function parseAdapterConfig(text: string): AdapterConfig {
  const raw = parseJsonObject(text, FILE);
  if (isMlxAdapterConfig(raw)) return mlxAdapterConfig(raw);
  if (raw['peft_type'] === undefined && raw['architectures'] !== undefined) {
    throw new ConversionError(
      'wrong_input',
      'adapter_config.json looks like a base model config.json (it has "architectures" and no "peft_type").',
      { file: FILE, field: `${FILE}: peft_type` },
      'Give the adapter folder (with adapter_config.json from PEFT) as the input and this file as the base config.',
    );
  }
  const peftType = typeof raw['peft_type'] === 'string' ? (raw['peft_type'] as string) : 'LORA';
  const r = raw['r'];
  if (r !== undefined && (typeof r !== 'number' || !Number.isInteger(r) || r <= 0)) throw invalid('r', 'must be a positive integer');
  const alpha = raw['lora_alpha'];
  if (alpha !== undefined && alpha !== null && (typeof alpha !== 'number' || !Number.isFinite(alpha))) throw invalid('lora_alpha', 'must be a number');
  const target = raw['target_modules'];
  let targetModules: string[] | string | null = null;
  if (typeof target === 'string') targetModules = target;
  else if (target !== undefined && target !== null) targetModules = stringList(target, 'target_modules');
  const ltt = raw['layers_to_transform'];
  let layersToTransform: number[] | number | null = null;
  if (typeof ltt === 'number') layersToTransform = ltt;
  else if (Array.isArray(ltt)) layersToTransform = ltt.filter((x): x is number => typeof x === 'number');
  const alora = raw['alora_invocation_tokens'];
  let aloraInvocationTokens: number[] | null = null;
  if (alora !== undefined && alora !== null) {
    if (!Array.isArray(alora) || !alora.every((t) => Number.isInteger(t) && t >= 0 && t < 2 ** 32)) {
      throw invalid('alora_invocation_tokens', 'must be a list of token ids (non-negative integers)');
    }
    aloraInvocationTokens = alora as number[];
  }
  const init = raw['init_lora_weights'];
  const rankPattern = numberMap(raw['rank_pattern'], 'rank_pattern');
  const alphaPattern = numberMap(raw['alpha_pattern'], 'alpha_pattern');
  const order = patternKeyOrder(text);
  const rankPatternKeys = order['rank_pattern'] ?? Object.keys(rankPattern);
  const alphaPatternKeys = order['alpha_pattern'] ?? Object.keys(alphaPattern);
  validatePatternKeys(rankPatternKeys, 'rank_pattern');
  validatePatternKeys(alphaPatternKeys, 'alpha_pattern');
  return {
    peftType,
    r: typeof r === 'number' ? r : 8,
    loraAlpha: typeof alpha === 'number' ? alpha : PEFT_DEFAULT_LORA_ALPHA,
    loraAlphaDefaulted: typeof alpha !== 'number',
    targetModules,
    baseModelNameOrPath: typeof raw['base_model_name_or_path'] === 'string' ? (raw['base_model_name_or_path'] as string) : null,
    useRslora: raw['use_rslora'] === true,
    rankPattern,
    alphaPattern,
    rankPatternKeys,
    alphaPatternKeys,
    useDora: raw['use_dora'] === true,
    loraBias: raw['lora_bias'] === true,
    modulesToSave: stringList(raw['modules_to_save'], 'modules_to_save'),
    fanInFanOut: raw['fan_in_fan_out'] === true,
    initLoraWeights: typeof init === 'string' || typeof init === 'boolean' ? init : true,
    layersToTransform,
    aloraInvocationTokens,
    invocationString: typeof raw['invocation_string'] === 'string' ? (raw['invocation_string'] as string) : null,
    trainableTokenIndices: raw['trainable_token_indices'] ?? null,
    targetParameters: stringList(raw['target_parameters'], 'target_parameters'),
    raw,
  };
}

/** The base model's config.json, flattened for multimodal configs (text_config). */
export interface BaseConfig {
  architecture: string;
  modelType: string | null;
  /** Key/values of the (text) config, for the architecture's mapping to read. */
  hparams: Record<string, unknown>;
  /** tie_word_embeddings as written, or undefined when the key is absent. */
  tieWordEmbeddings: boolean | undefined;
  /** True when the architecture was taken from text_config (a multimodal wrapper). */
  fromTextConfig: boolean;
  /** The outer architecture name when fromTextConfig. */
  outerArchitecture: string | null;
}

/** Parse the base model's config.json. */
export function parseBaseConfig(text: string, file = 'config.json'): BaseConfig {
  const raw = parseJsonObject(text, file);
  if (raw['peft_type'] !== undefined) {
    throw new ConversionError(
      'wrong_input',
      `${file} is an adapter_config.json, not the base model's config.json.`,
      { file },
      "Give the base model's config.json (from the base model's repository), not the adapter's.",
    );
  }
  const archs = raw['architectures'];
  const text_config = raw['text_config'];
  const firstArch = Array.isArray(archs) && typeof archs[0] === 'string' ? (archs[0] as string) : null;
  let architecture = firstArch;
  let hparams = raw;
  let fromTextConfig = false;
  if (typeof text_config === 'object' && text_config !== null && !Array.isArray(text_config)) {
    const tc = text_config as Record<string, unknown>;
    const tcArchs = tc['architectures'];
    const tcArch = Array.isArray(tcArchs) && typeof tcArchs[0] === 'string' ? (tcArchs[0] as string) : null;
    // The text model's hyper-parameters live in text_config; keep the outer ones as fallbacks.
    hparams = { ...raw, ...tc };
    if (!architecture && tcArch) {
      architecture = tcArch;
      fromTextConfig = true;
    }
  }
  if (!architecture) {
    throw new ConversionError(
      'missing_config_field',
      `${file} has no "architectures" list (nor text_config.architectures), so the model type is unknown.`,
      { file, field: `${file}: architectures` },
      "Use the base model's original config.json from its Hugging Face repository.",
    );
  }
  const tie = hparams['tie_word_embeddings'];
  return {
    architecture,
    modelType: typeof hparams['model_type'] === 'string' ? (hparams['model_type'] as string) : null,
    hparams,
    tieWordEmbeddings: typeof tie === 'boolean' ? tie : undefined,
    fromTextConfig,
    outerArchitecture: fromTextConfig ? firstArch : null,
  };
}

/** Read a required integer hyper-parameter, trying alternative names in order. */
export function requireInt(cfg: BaseConfig, names: string[], why: string): number {
  for (const n of names) {
    const v = cfg.hparams[n];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  throw new ConversionError(
    'missing_config_field',
    `The base config.json has no ${names.map((n) => `"${n}"`).join(' or ')}, needed ${why}.`,
    { file: 'config.json', field: `config.json: ${names[0]}` },
    "Use the base model's original config.json from its Hugging Face repository.",
  );
}

/** Read an optional integer hyper-parameter, trying alternative names in order. */
export function optionalInt(cfg: BaseConfig, names: string[]): number | undefined {
  for (const n of names) {
    const v = cfg.hparams[n];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  return undefined;
}
