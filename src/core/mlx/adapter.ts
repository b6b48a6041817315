/**
 * MLX adapters (mlx-lm's `mlx_lm.lora`): recognised by their adapter_config.json (the training
 * arguments: `fine_tune_type`, `num_layers`, `lora_parameters`), and presented to the planner as
 * the PEFT adapter they are equal to, so the same architecture rules, transforms and refusals apply.
 *
 * Facts from mlx-lm (mlx_lm/tuner/lora.py, tuner/utils.py, lora.py):
 * - names are the model's module paths, no PEFT prefix: `model.layers.N.self_attn.q_proj.lora_a`;
 * - LoRALinear: lora_a is (in, r), lora_b is (r, out), update `scale · (x @ lora_a) @ lora_b`, so
 *   PEFT's A (r, in) = lora_aᵀ and B (out, r) = lora_bᵀ, with PEFT's alpha / r = `scale`;
 * - LoRAEmbedding: lora_a (vocab, r), lora_b (r, dims), update `scale · lora_a[x] @ lora_b`:
 *   PEFT's lora_embedding_A (r, vocab) = lora_aᵀ and lora_embedding_B (dims, r) = lora_bᵀ;
 * - LoRASwitchLinear (MoE experts stacked in `switch_mlp.{gate,up,down}_proj`): lora_a
 *   (E, r, in), lora_b (E, out, r): already PEFT's orientation, one expert after another;
 * - `num_layers` LoRA-fies the last N blocks; `lora_parameters.keys` names the modules (relative
 *   to a block), default every Linear, SwitchLinear and Embedding in the blocks;
 * - `fine_tune_type` "dora" adds magnitude vectors `.m`; "full" trains whole weights.
 */
import { matchModule } from '../arch/match';
import type { ArchFamily } from '../arch/types';
import { ConversionError } from '../errors';
import type { AdapterConfig } from '../peft/config';
import { PEFT_PREFIX } from '../peft/names';
import { SOURCE_DTYPE_BYTES } from '../tensor/read';

/** What an MLX adapter_config.json says about the adapter. */
export interface MlxAdapterInfo {
  fineTuneType: 'lora' | 'dora' | 'full';
  rank: number;
  /** The whole multiplier of the update (not an alpha). */
  scale: number;
  dropout: number;
  /** How many blocks, counted from the last, carry LoRA; null when the config does not say. */
  numLayers: number | null;
  /** Modules given in lora_parameters.keys, or null for mlx-lm's default (every linear layer). */
  keys: string[] | null;
  /** The base model as given to mlx_lm.lora (`--model`): a Hub id or a local path. */
  model: string | null;
}

/** A tensor as the planner sees it: a PEFT name, and whether the file stores its transpose. */
export interface MlxPresented {
  name: string;
  /** The file stores the transpose of `shape` (LoRALinear and LoRAEmbedding factors). */
  transposed: boolean;
}

const FILE = 'adapter_config.json';
const FINE_TUNE_TYPES = ['lora', 'dora', 'full'] as const;

/** An adapter_config.json written by mlx-lm: training arguments, no `peft_type`. */
export function isMlxAdapterConfig(raw: Record<string, unknown>): boolean {
  if (raw['peft_type'] !== undefined) return false;
  const params = raw['lora_parameters'];
  return (typeof params === 'object' && params !== null && !Array.isArray(params)) || typeof raw['fine_tune_type'] === 'string';
}

function invalid(field: string, message: string): ConversionError {
  return new ConversionError('invalid_config', `${FILE} (mlx-lm): "${field}" ${message}`, { file: FILE, field: `${FILE}: ${field}` });
}

/** Read mlx-lm's training arguments. Older mlx-lm wrote `lora_layers` and `use_dora`; both are understood. */
export function parseMlxInfo(raw: Record<string, unknown>): MlxAdapterInfo {
  const type = raw['fine_tune_type'] ?? (raw['use_dora'] === true ? 'dora' : 'lora');
  if (typeof type !== 'string' || !(FINE_TUNE_TYPES as readonly string[]).includes(type)) {
    throw invalid('fine_tune_type', `must be one of ${FINE_TUNE_TYPES.join(', ')}; it is ${JSON.stringify(type)}`);
  }
  const params = raw['lora_parameters'];
  const p = typeof params === 'object' && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  // mlx-lm's defaults (lora.py CONFIG_DEFAULTS): rank 8, scale 20.0, dropout 0.
  const rank = p['rank'] ?? 8;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank <= 0) throw invalid('lora_parameters.rank', 'must be a positive integer');
  const scale = p['scale'] ?? 20.0;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw invalid('lora_parameters.scale', 'must be a finite number');
  const dropout = typeof p['dropout'] === 'number' ? p['dropout'] : 0;
  const keys = p['keys'];
  if (keys !== undefined && keys !== null && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) {
    throw invalid('lora_parameters.keys', 'must be a list of module names');
  }
  const layers = raw['num_layers'] ?? raw['lora_layers'];
  if (layers !== undefined && layers !== null && (typeof layers !== 'number' || !Number.isInteger(layers))) throw invalid('num_layers', 'must be an integer');
  return {
    fineTuneType: type as MlxAdapterInfo['fineTuneType'],
    rank,
    scale,
    dropout,
    numLayers: typeof layers === 'number' ? layers : null,
    keys: Array.isArray(keys) ? (keys as string[]) : null,
    model: typeof raw['model'] === 'string' ? (raw['model'] as string) : null,
  };
}

/**
 * The PEFT adapter config an MLX adapter is equal to: r = rank, lora_alpha = scale · rank (so
 * llama.cpp's alpha / rank is mlx-lm's scale: one alpha per file, as for rsLoRA), and the MLX
 * facts kept in `mlx` (the scaling stage takes `scale` from there, exactly).
 */
export function mlxAdapterConfig(raw: Record<string, unknown>): AdapterConfig {
  const mlx = parseMlxInfo(raw);
  return {
    peftType: 'LORA',
    r: mlx.rank,
    loraAlpha: mlx.scale * mlx.rank,
    loraAlphaDefaulted: false,
    targetModules: mlx.keys,
    baseModelNameOrPath: mlx.model,
    useRslora: false,
    rankPattern: {},
    alphaPattern: {},
    rankPatternKeys: [],
    alphaPatternKeys: [],
    useDora: mlx.fineTuneType === 'dora',
    loraBias: false,
    modulesToSave: null,
    fanInFanOut: false,
    initLoraWeights: true,
    layersToTransform: null,
    aloraInvocationTokens: null,
    invocationString: null,
    trainableTokenIndices: null,
    targetParameters: null,
    raw,
    mlx,
  };
}

/** DoRA and full fine-tunes are no LoRA: refused before anything else, with what to do instead. */
export function assertMlxConvertible(mlx: MlxAdapterInfo): void {
  const fuse =
    'Fuse the adapter into the model with mlx-lm (mlx_lm.fuse --model <base> --adapter-path <this folder> --dequantize --save-path fused) and convert the fused model with llama.cpp (convert_hf_to_gguf.py).';
  if (mlx.fineTuneType === 'dora') {
    throw new ConversionError(
      'dora',
      'This MLX adapter was trained with fine_tune_type "dora": DoRA rescales each merged weight by its magnitude vector, which needs the base weights and cannot be expressed as a GGUF LoRA.',
      { file: FILE, field: `${FILE}: fine_tune_type` },
      fuse,
    );
  }
  if (mlx.fineTuneType === 'full') {
    throw new ConversionError(
      'unsupported_adapter',
      'This MLX adapter was trained with fine_tune_type "full": it holds whole weights of the last layers, not a low-rank update, so it is no LoRA.',
      { file: FILE, field: `${FILE}: fine_tune_type` },
      fuse,
    );
  }
}

/** mlx-lm's SwitchLinear projections and the names the per-expert HF modules have. */
const SWITCH = /^(.*)\.switch_mlp\.(gate_proj|up_proj|down_proj)$/;
const MIXTRAL_EXPERT_NAMES: Record<string, string> = { gate_proj: 'w1', down_proj: 'w2', up_proj: 'w3' };

/**
 * The HF module of expert `e` for a `switch_mlp` projection: `<block>.experts.e.<proj>`
 * (Qwen-MoE, OLMoE, DeepSeek …) or Mixtral's `<block>.experts.e.w1/w2/w3` — whichever the
 * architecture maps.
 */
function expertModule(family: ArchFamily, block: string, proj: string, e: number): string {
  const candidates = [`${block}.experts.${e}.${proj}`, `${block}.experts.${e}.${MIXTRAL_EXPERT_NAMES[proj]}`];
  return candidates.find((c) => matchModule(family, c)) ?? candidates[0]!;
}

export interface MlxTensorsPresented<T> {
  tensors: (T & { transposed?: boolean })[];
  /** PEFT name given to a tensor → its name in the MLX file (`…[e]` for one expert's slice). */
  originalNames: Record<string, string>;
}

/**
 * The tensors of an MLX adapter file as the PEFT adapter they are equal to. Nothing is read:
 * names change, linear and embedding factors are marked as stored transposed, and each stacked
 * expert factor becomes one contiguous slice per expert, which the expert stage stacks again.
 */
export function presentMlxTensors<T extends { name: string; shape: number[]; dtype: keyof typeof SOURCE_DTYPE_BYTES; begin: number; end: number; strides?: number[] }>(
  tensors: readonly T[],
  family: ArchFamily,
): MlxTensorsPresented<T> {
  const out: MlxTensorsPresented<T> = { tensors: [], originalNames: {} };
  const add = (t: T, name: string, extra: Partial<T> & { transposed?: boolean }, original: string) => {
    out.tensors.push({ ...t, ...extra, name });
    out.originalNames[name] = original;
  };
  for (const t of tensors) {
    const m = /^(.+)\.(lora_a|lora_b|m)$/.exec(t.name);
    if (!m) {
      // A whole weight (fine_tune_type "full", or a stray tensor): the pair stage refuses it by kind.
      add(t, PEFT_PREFIX + t.name, {}, t.name);
      continue;
    }
    const [, module, leaf] = m as unknown as [string, string, 'lora_a' | 'lora_b' | 'm'];
    if (leaf === 'm') {
      add(t, `${PEFT_PREFIX}${module}.lora_magnitude_vector`, {}, t.name);
      continue;
    }
    const side = leaf === 'lora_a' ? 'A' : 'B';
    const sw = SWITCH.exec(module);
    if (sw && t.shape.length === 3 && !t.strides) {
      const [experts, rows, cols] = t.shape as [number, number, number];
      const slice = rows * cols * SOURCE_DTYPE_BYTES[t.dtype];
      for (let e = 0; e < experts; e++) {
        const begin = t.begin + e * slice;
        add(t, `${PEFT_PREFIX}${expertModule(family, sw[1]!, sw[2]!, e)}.lora_${side}.weight`, { shape: [rows, cols], begin, end: begin + slice } as Partial<T>, `${t.name}[${e}]`);
      }
      continue;
    }
    if (t.shape.length !== 2) {
      // Not a factor mlx-lm writes: presented as is, so the planner's shape check words it.
      add(t, `${PEFT_PREFIX}${module}.lora_${side}.weight`, {}, t.name);
      continue;
    }
    const embedding = matchModule(family, module)?.rule.isTokenEmbedding === true;
    const name = embedding ? `${PEFT_PREFIX}${module}.lora_embedding_${side}` : `${PEFT_PREFIX}${module}.lora_${side}.weight`;
    add(t, name, { shape: [t.shape[1]!, t.shape[0]!], transposed: true } as Partial<T> & { transposed: boolean }, t.name);
  }
  return out;
}

const PRESENTED_NAME = /base_model\.model\.[\w.-]*[\w-]/g;

/** Put the MLX file's own names back into a text that names presented tensors. */
export function originalNamesIn(text: string, originalNames: Readonly<Record<string, string>>): string {
  return text.replace(PRESENTED_NAME, (n) => originalNames[n] ?? n);
}

/**
 * The blocks an MLX adapter covers, from the config: the last `num_layers` of the base's blocks.
 * mlx-lm takes `layers[-max(num_layers, 0):]`, so 0, a negative value or more than there are
 * means every block.
 */
export function mlxLayerRange(mlx: MlxAdapterInfo, baseLayers: number | undefined): { first: number; last: number } | null {
  if (baseLayers === undefined || mlx.numLayers === null) return null;
  const n = mlx.numLayers <= 0 || mlx.numLayers > baseLayers ? baseLayers : mlx.numLayers;
  return { first: baseLayers - n, last: baseLayers - 1 };
}
