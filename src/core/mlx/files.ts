/**
 * mlx-lm's file names (type-free, no imports: the page uses them too): its final weights, and the
 * numbered checkpoints it saves beside them (`0000100_adapters.safetensors`).
 */
export const MLX_FINAL_WEIGHTS = 'adapters.safetensors';

/** The training step of an mlx-lm checkpoint file (a path or a bare name), else undefined. */
export function mlxCheckpointStep(path: string): number | undefined {
  const m = /^(\d+)_adapters\.safetensors$/.exec(path.slice(path.lastIndexOf('/') + 1));
  return m ? Number(m[1]) : undefined;
}
