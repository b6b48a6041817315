/**
 * The one error type of the core. Every failure the user can meet has a code from a closed set,
 * so the CLI and the app can put it into words (and tests can assert on it without regexes),
 * plus the tensor or field involved and a hint saying what the user can do.
 */
export const ERROR_CODES = [
  /** The safetensors / GGUF / pickle header is malformed or inconsistent with the file size. */
  'malformed_header',
  /** A tensor dtype we cannot read (I8, F8_E4M3, ...). */
  'unsupported_dtype',
  /** adapter_config.json or config.json is not valid JSON or has a field of the wrong type. */
  'invalid_config',
  /** A field the conversion needs is absent (e.g. num_attention_heads for a q/k permutation). */
  'missing_config_field',
  /** The base model's architecture is not one we know how to map. */
  'unsupported_architecture',
  /** A tensor name that the architecture's map does not know. */
  'unknown_tensor',
  /** lora_A without lora_B or the other way round. */
  'unpaired_factor',
  /** A LoRA pair whose shapes do not fit together or with the base model. */
  'shape_mismatch',
  /** LoRA on lm_head (or the token embedding) of a base whose output head is tied to the embeddings. */
  'tied_head',
  /** A tensor llama.cpp would load but never apply as PEFT does (e.g. DeepSeek MLA projections). */
  'not_applied_by_runtime',
  /** DoRA magnitude vectors: cannot be expressed as a GGUF LoRA. */
  'dora',
  /** lora_B.bias (PEFT lora_bias=True): llama.cpp LoRA has no bias term. */
  'lora_bias',
  /** Full tensors saved by modules_to_save / trainable_token_indices: a LoRA file cannot replace a tensor. */
  'full_tensor',
  /** Experts of a MoE layer only partly covered by LoRA. */
  'partial_experts',
  /** Modules outside the language model (vision tower, audio encoder). */
  'non_text_module',
  /** A feature of the adapter the converter cannot represent faithfully (rank 0, unknown PEFT type, ...). */
  'unsupported_adapter',
  /** The input is not what was expected (e.g. a base model folder instead of an adapter). */
  'wrong_input',
  /** A tensor holds NaN or infinite values (found while converting, so the output is removed). */
  'non_finite',
  /** Something failed while reading or writing bytes. */
  'io',
  /** The Hub refused without (or with an insufficient) access token: a gated or private repo. */
  'auth_required',
  /** The Hub has no such repository, revision or file. */
  'not_found',
  /** The user cancelled. */
  'aborted',
  /** The browser offers no way to save the output (no save dialog, no room in private storage, no service worker, too big for memory). */
  'save_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  /** Source tensor names involved (safetensors names). */
  tensors?: string[];
  /** Config field involved, e.g. "adapter_config.json: lora_alpha". */
  field?: string;
  /** Which file the problem is in. */
  file?: string;
  /** Free-form extra facts (architecture name, expected/actual shapes, ...). */
  [key: string]: unknown;
}

export class ConversionError extends Error {
  override readonly name = 'ConversionError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** What the user can do about it. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, hint?: string) {
    super(message);
    this.code = code;
    this.details = details;
    this.hint = hint;
  }

  /** A plain object that survives structured cloning (worker → page) and JSON. */
  toJSON(): SerializedConversionError {
    return { name: this.name, code: this.code, message: this.message, details: this.details, hint: this.hint };
  }

  static fromJSON(value: SerializedConversionError): ConversionError {
    return new ConversionError(value.code, value.message, value.details, value.hint);
  }
}

export interface SerializedConversionError {
  name: 'ConversionError';
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
  hint: string | undefined;
}

export function isConversionError(value: unknown): value is ConversionError {
  return value instanceof ConversionError;
}

export function isAbortError(value: unknown): boolean {
  return (
    (value instanceof ConversionError && value.code === 'aborted') ||
    (typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'AbortError')
  );
}

/** The minimal AbortSignal surface the core needs (DOM and Node both provide it). */
export interface AbortSignalLike {
  readonly aborted: boolean;
}

export function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw new ConversionError('aborted', 'Conversion cancelled.');
}
