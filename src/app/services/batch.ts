/**
 * Several adapters in one drop (the checkpoints of a training run, or unrelated adapters): each
 * folder holding an adapter config and its weights is one candidate, named after its folder, with
 * the step its name carries. Pure: the batch view and tests call it.
 */
import { MLX_FINAL_WEIGHTS, mlxCheckpointStep } from '../../core/mlx/files';
import type { CandidateFile, RecognizedFile } from '../../../workers/protocol';

export interface BatchCandidate {
  /** The folder, relative to the drop ('' for the top). */
  folder: string;
  /** The output's name: the folder's path, '/' → '-'. */
  label: string;
  /** The training step, from a `checkpoint-500` / `step_500` folder name. */
  step: number | null;
  config: CandidateFile;
  weights: CandidateFile;
  baseModel: string | null;
  size: number;
}

const WEIGHTS_PREFERENCE = ['adapter_model.safetensors', 'adapter_model.bin', MLX_FINAL_WEIGHTS];

function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function stepOf(folder: string): number | null {
  const m = /(?:checkpoint|step|ckpt|iter)[-_]?(\d+)$/i.exec(folder.split('/').pop() ?? '');
  return m ? Number(m[1]) : null;
}

/** The rank an adapter config states (PEFT `r`, mlx-lm `lora_parameters.rank`), else null. */
export function rankOf(configText: string): number | null {
  try {
    const c = JSON.parse(configText) as { r?: unknown; lora_parameters?: { rank?: unknown } };
    const r = c.r ?? c.lora_parameters?.rank;
    return typeof r === 'number' ? r : null;
  } catch {
    return null;
  }
}

/** Every adapter in the drop: a config with weights beside it, in natural order of their folders. */
export function batchCandidates(recognized: readonly RecognizedFile[], files: readonly CandidateFile[], root: string | null): BatchCandidate[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const out: BatchCandidate[] = [];
  for (const c of recognized.filter((r) => r.kind === 'adapter_config')) {
    const folder = folderOf(c.path);
    // Damaged weights stay in the list: converting them fails, in words, instead of the checkpoint vanishing.
    const weights = recognized
      .filter((r) => (r.kind === 'adapter_weights' || r.kind === 'malformed_safetensors') && folderOf(r.path) === folder)
      .sort((a, b) => {
        const ra = WEIGHTS_PREFERENCE.indexOf(a.path.split('/').pop()!);
        const rb = WEIGHTS_PREFERENCE.indexOf(b.path.split('/').pop()!);
        return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb);
      })[0];
    // Only files the user gave (a Hub adapter's are read by ranges, not held here).
    if (!weights || !byPath.has(c.path) || !byPath.has(weights.path)) continue;
    // Paths start with the dropped folder's name; the label leaves it out unless it is all there is.
    const inner = root && folder.startsWith(`${root}/`) ? folder.slice(root.length + 1) : folder;
    const label = (inner || root || 'adapter').split('/').join('-');
    out.push({ folder, label, step: stepOf(folder), config: byPath.get(c.path)!, weights: byPath.get(weights.path)!, baseModel: c.baseModel ?? null, size: weights.size });
    // mlx-lm's numbered checkpoints beside its final weights: each one can be converted too.
    for (const ck of recognized.filter((r) => r.kind === 'adapter_weights' && folderOf(r.path) === folder && r !== weights)) {
      const step = mlxCheckpointStep(ck.path);
      if (step === undefined) continue;
      out.push({
        folder: ck.path,
        label: `${label}-step${step}`,
        step,
        config: byPath.get(c.path)!,
        weights: byPath.get(ck.path)!,
        baseModel: c.baseModel ?? null,
        size: ck.size,
      });
    }
  }
  return out.sort((a, b) => a.folder.localeCompare(b.folder, 'en', { numeric: true }));
}
