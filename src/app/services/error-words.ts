/**
 * Words for people for every error the core can raise (keyed by its closed set of codes), and
 * for the browser's own failures (full disk, lost permission, a file that changed).
 */
import { ConversionError } from '../../core/light';
import type { ErrorCode, SerializedConversionError } from '../../core';

export interface ErrorWords {
  /** A short headline. */
  title: string;
  /** What the user can do, when the error itself carries no hint. */
  todo: string;
}

/** Every ErrorCode has words; the type makes a missing one a compile error. */
export const ERROR_WORDS: Record<ErrorCode, ErrorWords> = {
  malformed_header: {
    title: 'A file is damaged or not what its name says',
    todo: 'The file is probably truncated or corrupt (an interrupted download?). Download or save it again.',
  },
  unsupported_dtype: {
    title: 'The adapter stores numbers in a format this converter cannot read',
    todo: 'Re-save the adapter in float32, float16 or bfloat16 (e.g. model.to(torch.bfloat16) before save_pretrained).',
  },
  invalid_config: {
    title: 'A configuration file is not valid',
    todo: 'Check that the JSON file is complete and was saved by PEFT / Transformers, not an HTML error page.',
  },
  missing_config_field: {
    title: "The base model's config.json lacks a value the conversion needs",
    todo: "Use the base model's original config.json (from the model's Hub page), not a trimmed copy.",
  },
  unsupported_architecture: {
    title: "The base model's architecture is not supported",
    todo: 'Check that the config.json belongs to the base model the adapter was trained on.',
  },
  unknown_tensor: {
    title: 'The adapter has tensors this architecture does not have',
    todo: 'Check that the base config.json is the one the adapter was trained on.',
  },
  unpaired_factor: {
    title: 'A LoRA factor is missing its partner',
    todo: 'The adapter file is incomplete or was edited; re-save it with PEFT.',
  },
  shape_mismatch: {
    title: 'Tensor shapes do not fit together or with the base model',
    todo: 'Check that the base config.json matches the adapter; otherwise re-save the adapter with PEFT.',
  },
  tied_head: {
    title: 'LoRA on an output head that the base model ties to its embeddings',
    todo: 'Retrain without lm_head, or tick "leave out what llama.cpp would not apply" to knowingly leave that part out.',
  },
  not_applied_by_runtime: {
    title: 'llama.cpp would load part of this adapter but never apply it',
    todo: 'Retrain without that module, or tick "leave out what llama.cpp would not apply" to knowingly leave it out.',
  },
  dora: {
    title: 'DoRA adapters cannot be expressed as a GGUF LoRA',
    todo: 'Merge the adapter into the base model with PEFT (merge_and_unload) and convert the merged model.',
  },
  lora_bias: {
    title: 'The adapter has LoRA biases, which a GGUF LoRA cannot hold',
    todo: 'Retrain with lora_bias=False, or merge the adapter into the base model and convert the merged model.',
  },
  full_tensor: {
    title: 'The adapter replaces whole tensors, which a LoRA file cannot do',
    todo: 'Merge the adapter into the base model (merge_and_unload) and convert the merged model.',
  },
  partial_experts: {
    title: 'LoRA covers only some experts of a mixture-of-experts layer',
    todo: 'Retrain with LoRA on every expert of the layer (or none).',
  },
  non_text_module: {
    title: 'The adapter changes a vision or audio part of the model',
    todo: 'A GGUF LoRA applies to the language model only; retrain targeting only the language model.',
  },
  unsupported_adapter: {
    title: 'This adapter uses a feature that cannot be converted faithfully',
    todo: 'See the explanation above; only plain LoRA adapters saved by PEFT can be converted.',
  },
  wrong_input: {
    title: 'These are not the files the conversion needs',
    todo: 'Drop the adapter folder PEFT saved (adapter_config.json and adapter_model.safetensors) and the base model’s config.json.',
  },
  non_finite: {
    title: 'The adapter holds NaN or infinite values',
    todo: 'The adapter is damaged (a training run that diverged, or a broken save). Save it again from a good checkpoint.',
  },
  io: {
    title: 'A file could not be read or written',
    todo: 'Check that the files are still where they were and that the disk has room, then try again.',
  },
  auth_required: {
    title: 'The Hugging Face Hub asks for an access token',
    todo: 'The repository is gated or private: accept its terms on huggingface.co and paste an access token that can read it.',
  },
  not_found: {
    title: 'Not found on the Hugging Face Hub',
    todo: 'Check the repository id, the sub-folder and the revision (branch, tag or commit).',
  },
  save_unavailable: {
    title: 'This browser cannot save the file here',
    todo: 'Use a normal window of a current browser, free some disk space, choose a smaller output type, or use the command-line tool.',
  },
  aborted: {
    title: 'Conversion cancelled',
    todo: 'Nothing was written. Convert again whenever you like.',
  },
};

/** Browser DOMException names we put into words (the rest fall back to a generic text). */
const BROWSER_WORDS: Record<string, ErrorWords> = {
  QuotaExceededError: {
    title: 'Not enough storage space',
    todo: "The disk or the browser's storage quota is full. Free some space (or choose another disk) and try again.",
  },
  NotAllowedError: {
    title: 'The browser did not allow access to the file',
    todo: 'Allow the page to save the file when the browser asks, or choose another place to save.',
  },
  NotFoundError: {
    title: 'A file is no longer there',
    todo: 'It was moved or deleted after you chose it. Drop the files again.',
  },
  NotReadableError: {
    title: 'A file could not be read',
    todo: 'It may have changed since you chose it, or the disk is not available. Drop the files again.',
  },
  InvalidStateError: {
    title: 'A file changed while it was in use',
    todo: 'Drop the files again and retry.',
  },
  SecurityError: {
    title: 'The browser blocked file access',
    todo: 'Private browsing modes can block file storage; try a normal window.',
  },
};

export interface DescribedError {
  code: ErrorCode | 'browser' | 'unexpected';
  title: string;
  /** What happened, precisely (the error's own message). */
  message: string;
  /** The tensors / field / file involved, as lines. */
  involved: string[];
  /** What to do. */
  todo: string;
}

function asConversionError(e: unknown): ConversionError | null {
  if (e instanceof ConversionError) return e;
  if (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ConversionError' && typeof (e as { code?: unknown }).code === 'string') {
    return ConversionError.fromJSON(e as SerializedConversionError);
  }
  return null;
}

/** Put any thrown value into words. */
export function describeError(e: unknown): DescribedError {
  const ce = asConversionError(e);
  if (ce) {
    const words = ERROR_WORDS[ce.code] ?? ERROR_WORDS.unsupported_adapter;
    const involved: string[] = [];
    const d = ce.details ?? {};
    if (d.file) involved.push(`File: ${d.file}`);
    if (d.field) involved.push(`Field: ${d.field}`);
    if (Array.isArray(d.tensors) && d.tensors.length) {
      const t = d.tensors as string[];
      involved.push(`Tensor${t.length > 1 ? 's' : ''}: ${t.slice(0, 6).join(', ')}${t.length > 6 ? ` and ${t.length - 6} more` : ''}`);
    }
    return { code: ce.code, title: words.title, message: ce.message, involved, todo: ce.hint ?? words.todo };
  }
  const name = typeof e === 'object' && e !== null ? String((e as { name?: unknown }).name ?? '') : '';
  const message = e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e) ? String((e as { message: unknown }).message) : String(e);
  if (name === 'AbortError') return { code: 'aborted', title: ERROR_WORDS.aborted.title, message, involved: [], todo: ERROR_WORDS.aborted.todo };
  const browser = BROWSER_WORDS[name];
  if (browser) return { code: 'browser', title: browser.title, message, involved: [], todo: browser.todo };
  return {
    code: 'unexpected',
    title: 'Something unexpected went wrong',
    message,
    involved: [],
    todo: 'Nothing was saved. Reload the page and try again; if it happens again, please report it with this message.',
  };
}
