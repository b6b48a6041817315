import type { AdapterConfig } from './config';
import { ConversionError } from '../errors';
import type { Diagnostic } from '../plan';

/**
 * PEFT's scaling of one module, and what llama.cpp will compute instead.
 *
 * PEFT: scale = alpha_m / r_m, or alpha_m / sqrt(r_m) with use_rslora, where r_m and alpha_m
 * come from rank_pattern / alpha_pattern when a key matches the module, else r / lora_alpha.
 * llama.cpp (llama_adapter_lora_weight::get_scale): scale = adapter.lora.alpha / rank, with
 * rank read from the tensor (lora_b's ne[0]); an alpha of 0 means "no alpha": scale 1.
 * We keep adapter.lora.alpha = lora_alpha and fold the ratio into lora_b, so llama.cpp computes
 * PEFT's exact scaling (and --lora-scaled keeps its usual meaning).
 */
export interface ModuleScaling {
  rank: number;
  alpha: number;
  /** PEFT's scaling for this module. */
  peftScale: number;
  /** What llama.cpp computes from the file (alpha in file / rank of the tensor; 1 when alpha is 0). */
  runtimeScale: number;
  /** peftScale / runtimeScale: multiplied into lora_b (1 when nothing to fold). */
  fold: number;
  /** Which rank_pattern / alpha_pattern keys applied, if any. */
  rankPatternKey: string | null;
  alphaPatternKey: string | null;
}

/**
 * The regular expression PEFT builds for one pattern key: `re.match(rf"(.*\.)?({key})$", name)`
 * (peft/utils/other.py, `get_pattern_key`). `re.match` anchors at the start, so the key must
 * match a whole dot-separated suffix of the module name (or the whole name). Python-only group
 * syntax is translated; anything JavaScript still cannot compile is refused by the caller.
 */
export function patternKeyRegex(key: string): RegExp {
  const js = key.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  return new RegExp(`^(.*\\.)?(${js})$`);
}

/**
 * Check every rank_pattern / alpha_pattern key once, so a key PEFT could compile but we cannot
 * is a clear config error, not a silently different match.
 */
export function validatePatternKeys(keys: readonly string[], field: 'rank_pattern' | 'alpha_pattern'): void {
  for (const key of keys) {
    try {
      patternKeyRegex(key);
    } catch (e) {
      throw new ConversionError(
        'invalid_config',
        `adapter_config.json: the ${field} key ${JSON.stringify(key)} is not a regular expression this converter can evaluate (${(e as Error).message}).`,
        { file: 'adapter_config.json', field: `adapter_config.json: ${field}` },
        `Rewrite the key as a plain module-name suffix (e.g. "model.layers.0.self_attn.q_proj" or "q_proj").`,
      );
    }
  }
}

/**
 * The pattern key that applies to a module, exactly as PEFT's `get_pattern_key` picks it
 * (peft/utils/other.py; called from LoraModel._create_and_replace with the module's full name
 * in the base model, e.g. `model.layers.0.self_attn.q_proj`): keys are tried in the order they
 * appear in adapter_config.json and the FIRST key whose regex matches wins (not the longest or
 * the most specific). A key is a Python regular expression, not a literal: `.` matches any
 * character and `q_proj|v_proj` is an alternation.
 */
export function matchPatternKey(keys: readonly string[], moduleName: string): string | null {
  for (const key of keys) {
    if (patternKeyRegex(key).test(moduleName)) return key;
  }
  return null;
}

/** llama.cpp's scale for a pair: alpha / rank, or 1 when the file's alpha is 0 ("no alpha"). */
export function runtimeScaleOf(fileAlpha: number, rank: number): number {
  return fileAlpha === 0 ? 1 : fileAlpha / rank;
}

export function peftScaling(config: AdapterConfig, moduleName: string, tensorRank: number): ModuleScaling & { rankMismatch?: Diagnostic } {
  const rankKey = matchPatternKey(config.rankPatternKeys, moduleName);
  const alphaKey = matchPatternKey(config.alphaPatternKeys, moduleName);
  const configRank = rankKey !== null ? config.rankPattern[rankKey]! : config.r;
  const alpha = alphaKey !== null ? config.alphaPattern[alphaKey]! : config.loraAlpha;
  // PEFT builds the module with rank r_m and then loads the tensors: a saved adapter's tensors
  // always have r_m rows, so the tensor's rank is the truth.
  const rank = tensorRank;
  // An MLX adapter's scale is the whole multiplier, whatever the rank; its file alpha is
  // scale · r, so llama.cpp computes it exactly where the tensors have rank r (and alpha is not 0).
  const mlxScale = config.mlx?.scale;
  const peftScale = mlxScale ?? (config.useRslora ? alpha / Math.sqrt(rank) : alpha / rank);
  const runtimeScale = runtimeScaleOf(config.loraAlpha, rank);
  const exact = peftScale === runtimeScale || (mlxScale !== undefined && config.loraAlpha !== 0 && rank === config.r);
  const fold = exact ? 1 : peftScale / runtimeScale;
  const result: ModuleScaling & { rankMismatch?: Diagnostic } = {
    rank,
    alpha,
    peftScale,
    runtimeScale,
    fold,
    rankPatternKey: rankKey,
    alphaPatternKey: alphaKey,
  };
  if (configRank !== tensorRank) {
    result.rankMismatch = {
      code: 'rank_mismatch',
      message: `${moduleName}: the tensors have rank ${tensorRank} but adapter_config.json implies ${configRank}${rankKey ? ` (rank_pattern "${rankKey}")` : ''}; the tensors' rank is used.`,
    };
  }
  return result;
}

/** Warnings about the adapter's scaling as a whole (once per plan, not per module). */
export function scalingWarnings(config: AdapterConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (config.mlx) {
    if (config.mlx.scale === 0) {
      out.push({
        code: 'zero_alpha',
        message:
          'adapter_config.json (mlx-lm) has lora_parameters.scale 0: mlx-lm applies no update. llama.cpp reads an alpha of 0 as "no alpha" (scale 1), so the converter folds the 0 into lora_b to keep the result exact.',
        hint: 'If the adapter was meant to have an effect, the config is probably wrong: check lora_parameters.scale.',
      });
    } else if (config.mlx.scale < 0) {
      out.push({ code: 'negative_alpha', message: `adapter_config.json (mlx-lm) has a negative lora_parameters.scale (${config.mlx.scale}): the update is applied with a negative scale, which is unusual.` });
    }
    return out;
  }
  if (config.loraAlpha === 0) {
    out.push({
      code: 'zero_alpha',
      message:
        'adapter_config.json has lora_alpha 0: PEFT scales every module without an alpha_pattern entry by 0, so those updates have no effect. llama.cpp reads an alpha of 0 as "no alpha" (scale 1), so the converter folds PEFT\'s scaling into lora_b (zeroing those modules) to keep the result exact.',
      hint: 'If the adapter was meant to have an effect, the config is probably wrong: check lora_alpha.',
    });
  } else if (config.loraAlpha < 0) {
    out.push({
      code: 'negative_alpha',
      message: `adapter_config.json has a negative lora_alpha (${config.loraAlpha}): PEFT and llama.cpp both apply the update with a negative scale, which is unusual.`,
    });
  }
  return out;
}
