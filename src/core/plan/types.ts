/**
 * The plan's types, shared by its stages (pair → map → experts → norms → layout), and the small
 * helpers every stage uses to word a refusal or create a planned tensor.
 */
import { ConversionError, type ErrorCode, type SerializedConversionError } from '../errors';
import type { GgufKv } from '../gguf/writer';
import type { ByteSource } from '../io';
import type { ModuleScaling } from '../peft/scaling';
import type { GgmlTypeName, OutType, OutTypeOption } from '../tensor/encode';
import type { MatrixOp } from '../tensor/ops';
import type { TensorLocation } from '../tensor/read';
import type { AdapterFileFormat } from '../pytorch/checkpoint';
import type { MlxAdapterInfo } from '../mlx/adapter';

/**
 * One tensor of the adapter file, whatever its format: a name and where its data is. `transposed`:
 * the file stores the transpose of `shape` (an MLX factor presented as PEFT's, src/core/mlx).
 */
export type AdapterTensor = TensorLocation & { name: string; transposed?: boolean };

/** One matrix that goes into an output tensor: a source tensor and the ops applied to it. */
export interface PartRecipe {
  source: string;
  ops: MatrixOp[];
}

export interface PlannedTensor {
  /** GGUF tensor name, e.g. `blk.0.attn_q.weight.lora_a`. */
  name: string;
  /** GGML dims, fastest first. */
  ne: number[];
  type: GgmlTypeName;
  /** Data bytes (without padding). */
  byteSize: number;
  /** Offset in the data section. */
  offset: number;
  role: 'lora_a' | 'lora_b' | 'norm';
  /** The HF module this comes from (for experts: the `{xid}` pattern). */
  module: string;
  /** Dtype of the source tensors. */
  sourceDtype: string;
  /** Concatenated in order (more than one for stacked experts). */
  parts: PartRecipe[];
}

export interface Diagnostic {
  code: string;
  message: string;
  tensors?: string[];
  hint?: string;
}

/** Per source module: where it goes and with which scaling. */
export interface PlannedModule extends ModuleScaling {
  module: string;
  gguf: string[];
  kind: 'linear' | 'embedding' | 'experts';
}

export interface InspectOptions {
  /** Output type; default f32 (as in the CLI and the app). */
  outtype?: OutTypeOption;
  /** `general.name`; default "LoRA adapter". */
  name?: string;
  /**
   * Leave out, with a warning listing them, the tensors llama.cpp would not apply as PEFT does:
   * lm_head and token-embedding LoRA on a tied base, DeepSeek MLA projections, and mergekit norm
   * vectors (unless `keepNormVectors`). Off by default: refused. (CLI: --drop-unapplied.)
   */
  dropUnapplied?: boolean;
  /**
   * Keep mergekit norm vectors, as llama.cpp's converter writes them, knowing that llama.cpp
   * ignores them (a warning says so). Off by default: refused, or left out with `dropUnapplied`.
   * (CLI: --keep-norm-vectors.)
   */
  keepNormVectors?: boolean;
  /**
   * Convert only the language model's LoRA: leave out (with a warning listing them) every tensor
   * of a vision tower, multimodal projector or audio encoder. Off by default: refused.
   */
  textOnly?: boolean;
}

export interface InspectInput {
  /** Text of adapter_config.json. */
  adapterConfig: string;
  /** Text of the base model's config.json. */
  baseConfig: string;
  /** adapter_model.safetensors or adapter_model.bin (recognised by its first bytes). */
  adapter: ByteSource;
}

export interface ConversionPlan {
  planVersion: 1;
  name: string;
  architecture: string;
  family: string;
  ggufArchitecture: string;
  requestedOuttype: OutTypeOption;
  outtype: OutType;
  /** How `auto` was resolved, for display. */
  outtypeReason: string;
  adapter: {
    r: number;
    loraAlpha: number;
    useRslora: boolean;
    targetModules: string[] | string | null;
    baseModel: string | null;
    layers: number;
    peftType: string;
    /** The adapter file's format (set by inspect). */
    format?: AdapterFileFormat;
    /** Who wrote it: PEFT, or mlx-lm (src/core/mlx). */
    source: 'peft' | 'mlx';
    /** An MLX adapter's training arguments, and the blocks `num_layers` covers in this base. */
    mlx?: MlxAdapterInfo & { layerRange: { first: number; last: number } | null };
  };
  tied: boolean;
  modules: PlannedModule[];
  tensors: PlannedTensor[];
  kvs: GgufKv[];
  headerBytes: number;
  totalBytes: number;
  /** Total file size for every outtype, for the selector. */
  sizeByOuttype: Record<OutType, number>;
  /** Where each source tensor lives. */
  sources: Record<string, TensorLocation>;
  /** Source tensors left out on purpose (base_layer copies, dropped ones), with why. */
  skipped: { tensor: string; reason: string }[];
  /**
   * The adapter's norm vectors (mergekit), which llama.cpp ignores: refused, left out
   * (`dropUnapplied`) or kept (`keepNormVectors`). The app offers the opt-ins when there are any.
   */
  normVectors: string[];
  /** Display names of source tensors the planner renamed (an MLX adapter's own names). */
  sourceNames?: Record<string, string>;
  warnings: Diagnostic[];
  /** Non-empty: convert() refuses. */
  refusals: SerializedConversionError[];
}

/** A LoRA pair of one module, as found in the file (either factor may be missing). */
export interface Pair {
  module: string;
  kind: 'linear' | 'embedding';
  a?: AdapterTensor;
  b?: AdapterTensor;
  /** Order of first appearance among sorted names (for `auto`). */
  firstSeen: number;
}

/** A source tensor left out on purpose, with why. */
export interface Skipped {
  tensor: string;
  reason: string;
}

/** What a stage found besides its outputs, appended to the plan's lists in stage order. */
export interface Findings {
  warnings: Diagnostic[];
  refusals: SerializedConversionError[];
  skipped: Skipped[];
}

/** Empty findings, for a stage to fill. */
export function findings(): Findings {
  return { warnings: [], refusals: [], skipped: [] };
}

/** A refusal as the plan lists it: the serialized ConversionError, naming the tensors it is about. */
export function refusal(code: ErrorCode, message: string, tensors: string[], hint?: string, extra: Record<string, unknown> = {}): SerializedConversionError {
  return new ConversionError(code, message, { tensors, ...extra }, hint).toJSON();
}

/** Module paths of vision towers, projectors and audio encoders (outside the language model). */
export const NON_TEXT =
  /(^|\.)(vision_tower|vision_model|visual|vision_encoder|multi_modal_projector|mm_projector|audio_tower|audio_model|audio_encoder|image_encoder|vision)(\.|$)/;

/** Up to four names, then how many more: keeps a message readable when hundreds of tensors share one problem. */
export function summarise(names: string[]): string {
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
}

/** The part reading tensor `t` with `ops`: a stored transpose is undone first (two transposes cancel). */
export function partOf(t: AdapterTensor, ops: MatrixOp[]): PartRecipe {
  if (!t.transposed) return { source: t.name, ops };
  if (ops[0]?.op === 'transpose') return { source: t.name, ops: ops.slice(1) };
  return { source: t.name, ops: [{ op: 'transpose' }, ...ops] };
}

/** A planned output tensor; type, size and offset are placeholders until stage 5 lays it out. */
export function planned(name: string, role: PlannedTensor['role'], module: string, sourceDtype: string, parts: PartRecipe[], ne: number[]): PlannedTensor {
  return { name, ne, type: 'F32', byteSize: 0, offset: 0, role, module, sourceDtype, parts };
}
