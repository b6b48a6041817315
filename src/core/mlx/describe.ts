/**
 * MLX adapter facts in words, for the preflight and the CLI's plan (type-only imports: the page
 * loads this before the converter).
 */
import type { ConversionPlan } from '../plan/types';

type MlxFacts = NonNullable<ConversionPlan['adapter']['mlx']>;

/** "layers 16–31 (num_layers 16, counted from the last)" and friends. */
export function describeMlxLayers(mlx: MlxFacts): string {
  const range = mlx.layerRange;
  const given = mlx.numLayers === null ? 'num_layers not given' : `num_layers ${mlx.numLayers}, counted from the last`;
  if (!range) return `layers: ${given}`;
  return range.first === range.last ? `layer ${range.first} (${given})` : `layers ${range.first}–${range.last} (${given})`;
}

/** One line: format, rank, scale, layers, targets. */
export function describeMlxAdapter(mlx: MlxFacts): string {
  const targets = mlx.keys ? mlx.keys.join(', ') : "mlx-lm's default (every linear layer of those blocks)";
  return `MLX adapter (mlx-lm): rank ${mlx.rank}, scale ${mlx.scale}, ${describeMlxLayers(mlx)}, targets ${targets}`;
}
