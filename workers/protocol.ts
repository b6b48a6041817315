/**
 * What the page and the conversion worker share: the worker's API type (the page imports it
 * with `import type` only) and the Comlink `throw` transfer handler, registered on both sides,
 * that keeps a ConversionError's code, details and hint across the thread boundary (Comlink
 * alone sends only name, message and stack).
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { ConversionError } from '../src/core/light';
import type { AdapterShape, CheckResult, ConversionPlan, HubAdapter, HubRef, InspectedAdapter, InspectOptions, SerializedConversionError } from '../src/core';

/** A file the user gave, with its path relative to what was dropped (`folder/sub/name`). */
export interface CandidateFile {
  path: string;
  file: File;
}

/** What a file is, judged by its content (the name is only a tie-breaker). */
export type FileKind =
  | 'adapter_config'
  | 'adapter_weights'
  | 'base_config'
  | 'base_weights'
  | 'base_weights_index'
  | 'peft_other_config'
  | 'pickle'
  | 'gguf'
  | 'tokenizer'
  | 'other_json'
  | 'malformed_safetensors'
  | 'unknown';

export interface RecognizedFile {
  path: string;
  size: number;
  kind: FileKind;
  /** One line for people: why we think so, or what is wrong with it. */
  note: string;
  /** adapter_config: the base it names. */
  baseModel?: string | null;
  /** adapter_config: peft_type; base_config: architectures[0]. */
  detail?: string;
}

/** The three inputs of a conversion, as Files (disk-backed; read by slices in the worker). */
export interface ConversionInputs {
  adapterConfig: File;
  /** A dropped file, or adapter weights on the Hub (read by HTTP ranges in the worker). */
  adapter: File | HubAdapterSource;
  baseConfig: File;
}

/**
 * Adapter weights on the Hugging Face Hub, pinned to a commit. The endpoint is the app's
 * build-time constant (never taken from a link); the token lives in page memory only and is
 * passed along for each call, never stored.
 */
export interface HubAdapterSource {
  kind: 'hub';
  /** Pinned to the commit that was opened. */
  ref: HubRef;
  file: HubAdapter['adapterFile'];
  size: number;
  endpoint: string;
  token: string | null;
}

export interface HubOpenRequest {
  ref: HubRef;
  endpoint: string;
  token: string | null;
  /** A base model id the user typed or a link named; else the adapter's base_model_name_or_path. */
  base: string | null;
}

/** An adapter opened on the Hub: its small files as text, the weights as a source for later calls. */
export interface HubOpened {
  pinned: HubRef;
  commit: string;
  adapterConfig: string;
  adapter: HubAdapterSource;
  /** adapter_config.json's base_model_name_or_path. */
  baseModel: string | null;
  /** The base id the config was looked up for (request.base or baseModel). */
  baseId: string | null;
  /** The base config, from the bundled catalogue or the Hub; null with baseError when neither had it. */
  base: { text: string; origin: 'catalogue' | 'hub'; source: string } | null;
  baseError: SerializedConversionError | null;
}

/** Where the worker writes: a file the user picked, or a temporary file in the origin-private file system. */
/**
 * Where the worker writes (src/app/services/save-paths.ts picks the rung): the picked file; a
 * temporary file in the origin-private file system; a download streamed through the service
 * worker (`port` is the data port of public/download-sw.js's protocol); or a Blob in memory.
 */
export type SaveTarget =
  | { kind: 'handle'; handle: FileSystemFileHandle }
  | { kind: 'opfs'; directory: string; name: string }
  | { kind: 'stream'; port: MessagePort; name: string; id: string }
  | { kind: 'memory'; name: string };

export interface WorkerProgress {
  phase: 'writing' | 'verifying';
  bytesWritten: number;
  totalBytes: number;
  tensorsDone: number;
  totalTensors: number;
}

export interface VerifiedKey {
  key: string;
  value: string;
}

/** The output as read back from disk and checked against the plan. */
/** The plan's options, and how to convert: keep NaN/Inf values instead of failing. */
export type ConvertRequestOptions = InspectOptions & { keepNonFinite?: boolean };

export interface ConvertResult {
  size: number;
  tensorCount: number;
  ggufVersion: number;
  keys: VerifiedKey[];
  /** Which kernels encoded it: WebAssembly SIMD, or the JavaScript ones where the engine (or its CSP) has no WebAssembly. */
  kernels?: 'simd' | 'js';
  /** Tensors whose NaN/Inf values were kept (with keepNonFinite). */
  nonFinite?: { tensor: string; count: number }[];
  /** The output itself, for a conversion kept in memory (target kind 'memory'). */
  blob?: Blob;
}

export interface ConverterApi {
  /** Sniff every file's content; never throws for a bad file (its kind says so). */
  recognize(files: CandidateFile[]): Promise<RecognizedFile[]>;
  /** The core's inspect over the three files: the plan, nothing written. */
  inspect(inputs: ConversionInputs, options: InspectOptions): Promise<ConversionPlan>;
  /**
   * Plan again from the same files and options, write the GGUF to `target` tensor by tensor,
   * then read its header back and check it against the plan. On any failure or cancel, nothing
   * is left behind (writable aborted; a file we created is removed).
   */
  convert(inputs: ConversionInputs, options: ConvertRequestOptions, target: SaveTarget, onProgress: (p: WorkerProgress) => void): Promise<ConvertResult>;
  /** Cancel the running conversion (it rejects with code `aborted`). */
  cancel(): void;
  /** Open a PEFT adapter on the Hub (revision pinned to a commit) and find its base config. */
  openHub(request: HubOpenRequest): Promise<HubOpened>;
  /** Answers at once: the page's watchdog asks while a conversion runs, to learn that the worker still lives. */
  ping(): true;
  /** Read a .gguf's header (never its data): an adapter, inspected; or a model, named. */
  ggufInfo(file: File): Promise<GgufInfo>;
  /** Check an adapter against a base model's GGUF (every shard of a split one), by headers only. */
  checkBase(adapter: AdapterShape, base: File[]): Promise<BaseCheck>;
  /** The same against a base GGUF on the Hub (`owner/repo/path/model.gguf[@rev]`), its headers read by ranges. */
  checkBaseOnHub(adapter: AdapterShape, reference: string, endpoint: string, token: string | null): Promise<BaseCheck>;
  /** Upload a converted file and its model card to a Hub model repo (created when missing). */
  publish(request: PublishCall, onProgress: (p: PublishProgress) => void): Promise<{ commit: string; url: string; created: boolean }>;
  /** Stop a running publish before its commit: the repo is left unchanged. */
  cancelPublish(): void;
}

export interface PublishCall {
  file: Blob;
  fileName: string;
  repo: string;
  card: string;
  token: string;
  endpoint: string;
}

export interface PublishProgress {
  state: 'hashing' | 'uploading' | 'committing';
  progress: number;
}

export type GgufInfo =
  | { kind: 'adapter'; inspected: InspectedAdapter; shape: AdapterShape; bytesRead: number }
  | { kind: 'model'; file: string; name: string | null; architecture: string | null; tensorCount: number; bytesRead: number };

export interface BaseCheck extends CheckResult {
  baseFile: string;
  shards: number;
  /** Bytes read from the base's files (its headers), and their total size. */
  bytesRead: number;
  baseBytes: number;
}

/** How a thrown value crosses the thread boundary. */
export type SerializedThrown =
  | { kind: 'conversion'; error: SerializedConversionError; stack: string | undefined }
  | { kind: 'error'; name: string; message: string; stack: string | undefined }
  | { kind: 'value'; value: unknown };

/** Turn anything thrown into a structured-clonable value. */
export function serializeThrown(value: unknown): SerializedThrown {
  if (value instanceof ConversionError) {
    // details may hold non-clonable values in theory; a JSON round trip keeps what people read.
    const error = JSON.parse(JSON.stringify(value.toJSON())) as SerializedConversionError;
    return { kind: 'conversion', error, stack: value.stack };
  }
  if (value instanceof Error || (typeof value === 'object' && value !== null && 'name' in value && 'message' in value)) {
    const e = value as { name: unknown; message: unknown; stack?: unknown };
    return { kind: 'error', name: String(e.name), message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : undefined };
  }
  return { kind: 'value', value };
}

/** The value to throw on the receiving side. */
export function deserializeThrown(s: SerializedThrown): unknown {
  switch (s.kind) {
    case 'conversion': {
      const err = ConversionError.fromJSON(s.error);
      if (s.stack) err.stack = s.stack;
      return err;
    }
    case 'error': {
      const err = new Error(s.message);
      // Keep the name (AbortError, QuotaExceededError, NotAllowedError...): the page decides by it.
      Object.defineProperty(err, 'name', { value: s.name, configurable: true, writable: true });
      if (s.stack) err.stack = s.stack;
      return err;
    }
    case 'value':
      return s.value;
  }
}

let registered = false;

/** Replace Comlink's `throw` handler with one that keeps ConversionError intact. Idempotent. */
export function registerErrorTransfer(): void {
  if (registered) return;
  const builtin = transferHandlers.get('throw');
  if (!builtin) throw new Error('comlink has no throw handler to replace');
  // Comlink does not export its "thrown" marker; its own handler still recognises thrown values.
  const handler: TransferHandler<{ value: unknown }, SerializedThrown> = {
    canHandle: (v): v is { value: unknown } => builtin.canHandle(v),
    serialize: ({ value }) => [serializeThrown(value), []],
    deserialize: (s) => {
      throw deserializeThrown(s);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
  registered = true;
}
