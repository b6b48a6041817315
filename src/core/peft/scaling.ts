import type { AdapterConfig } from './config';
import type { Diagnostic } from '../plan';

/**
 * PEFT's scaling of one module, and what llama.cpp will compute instead.
 *
 * PEFT: scale = alpha_m / r_m, or alpha_m / sqrt(r_m) with use_rslora, where r_m and alpha_m
 * come from rank_pattern / alpha_pattern when a key matches the module, else r / lora_alpha.
 * llama.cpp: scale = adapter.lora.alpha / rank, with rank read from the tensor (lora_a's ne[1]).
 * We keep adapter.lora.alpha = lora_alpha and fold the ratio into lora_b, so llama.cpp computes
 * PEFT's exact scaling (and --lora-scaled keeps its usual meaning).
 */
export interface ModuleScaling {
  rank: number;
  alpha: number;
  /** PEFT's scaling for this module. */
  peftScale: number;
  /** What llama.cpp computes from the file (alpha in file / rank of the tensor). */
  runtimeScale: number;
  /** peftScale / runtimeScale: multiplied into lora_b (1 when nothing to fold). */
  fold: number;
  /** Which rank_pattern / alpha_pattern keys applied, if any. */
  rankPatternKey: string | null;
  alphaPatternKey: string | null;
}

/**
 * The pattern key that applies to a module, following PEFT's `get_pattern_key`
 * (peft/tuners/tuners_utils.py): a key matches when the module name equals it or ends with
 * `.<key>` (the key is a regular expression, anchored at the end); keys are tried in the
 * order they appear in the config and the first match wins.
 */
export function matchPatternKey(keys: readonly string[], moduleName: string): string | null {
  for (const key of keys) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${key})$`);
    } catch {
      // Not a valid JS regex: fall back to a literal suffix match.
      if (moduleName === key || moduleName.endsWith(`.${key}`)) return key;
      continue;
    }
    if (re.test(moduleName)) return key;
  }
  return null;
}

export function peftScaling(config: AdapterConfig, moduleName: string, tensorRank: number): ModuleScaling & { rankMismatch?: Diagnostic } {
  const rankKey = matchPatternKey(Object.keys(config.rankPattern), moduleName);
  const alphaKey = matchPatternKey(Object.keys(config.alphaPattern), moduleName);
  const configRank = rankKey !== null ? config.rankPattern[rankKey]! : config.r;
  const alpha = alphaKey !== null ? config.alphaPattern[alphaKey]! : config.loraAlpha;
  // PEFT builds the module with rank r_m and then loads the tensors: a saved adapter's tensors
  // always have r_m rows, so the tensor's rank is the truth.
  const rank = tensorRank;
  const peftScale = config.useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
  const runtimeScale = config.loraAlpha / rank;
  const fold = peftScale === runtimeScale ? 1 : peftScale / runtimeScale;
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
