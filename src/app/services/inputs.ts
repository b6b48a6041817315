/**
 * From recognised files, choose the three inputs of a conversion and say plainly what is
 * missing or wrong. Pure: the store calls it, tests call it.
 */
import { MLX_FINAL_WEIGHTS, mlxCheckpointStep } from '../../core/mlx/files';
import type { CandidateFile, RecognizedFile } from '../../../workers/protocol';

export interface InputProblem {
  /** Stable id for tests and styling. */
  id:
    | 'base_model_not_adapter'
    | 'no_adapter_config'
    | 'no_adapter_weights'
    | 'pickle_adapter'
    | 'gguf_given'
    | 'malformed_safetensors'
    | 'nothing_usable'
    | 'several_adapters';
  message: string;
  /** What to do. */
  hint?: string;
  /** blocking: conversion cannot go on until it is fixed. */
  blocking: boolean;
}

export interface InputSelection {
  adapterConfig: CandidateFile | null;
  adapter: CandidateFile | null;
  baseConfig: CandidateFile | null;
  /** The base the adapter names (base_model_name_or_path), if any. */
  baseModel: string | null;
  problems: InputProblem[];
}

function depth(path: string): number {
  return path.split('/').length;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}


/**
 * Prefer the canonical names in order (PEFT's, then mlx-lm's final adapters.safetensors), then
 * mlx-lm's latest checkpoint, then the shallowest path, then path order.
 */
function pick(files: RecognizedFile[], ...canonical: string[]): RecognizedFile | undefined {
  const rank = (f: RecognizedFile) => {
    const i = canonical.findIndex((c) => baseName(f.path) === c);
    return i >= 0 ? i : canonical.length;
  };
  return [...files].sort((a, b) => {
    const steps = (mlxCheckpointStep(b.path) ?? -1) - (mlxCheckpointStep(a.path) ?? -1);
    return rank(a) - rank(b) || steps || depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  })[0];
}

export function selectInputs(recognized: readonly RecognizedFile[], candidates: readonly CandidateFile[]): InputSelection {
  const byPath = new Map(candidates.map((c) => [c.path, c]));
  const of = (kind: RecognizedFile['kind']) => recognized.filter((r) => r.kind === kind);
  const configs = of('adapter_config');
  const weights = of('adapter_weights');
  const bases = of('base_config');
  const problems: InputProblem[] = [];

  const config = pick(configs, 'adapter_config.json');
  // The adapter's weights: prefer the one beside the chosen config.
  const configDir = config ? config.path.slice(0, config.path.lastIndexOf('/') + 1) : '';
  const besideConfig = weights.filter((w) => w.path.startsWith(configDir) && !w.path.slice(configDir.length).includes('/'));
  const adapter = pick(besideConfig.length ? besideConfig : weights, 'adapter_model.safetensors', 'adapter_model.bin', MLX_FINAL_WEIGHTS);
  // The base config: never the adapter's own folder's config if it is the adapter config itself (kinds differ anyway).
  const base = pick(bases, 'config.json');

  const checkpoints = weights.filter((w) => mlxCheckpointStep(w.path) !== undefined && w !== adapter);
  if (adapter && weights.length > 1 && checkpoints.length === weights.length - 1) {
    // An mlx_lm.lora folder: the final adapters.safetensors (or the latest step) and its checkpoints.
    const final = mlxCheckpointStep(adapter.path) === undefined;
    problems.push({
      id: 'several_adapters',
      message: final
        ? `Using ${adapter.path}, mlx-lm's final weights; the ${checkpoints.length} numbered checkpoint${checkpoints.length > 1 ? 's' : ''} beside it ${checkpoints.length > 1 ? 'are' : 'is'} not converted.`
        : `No adapters.safetensors: using mlx-lm's latest checkpoint, ${adapter.path} (step ${mlxCheckpointStep(adapter.path)}, of ${weights.length}).`,
      hint: 'To convert a particular checkpoint, drop only that file with adapter_config.json.',
      blocking: false,
    });
  } else if (weights.length > 1) {
    problems.push({
      id: 'several_adapters',
      message: `Found ${weights.length} adapter weight files; using ${adapter!.path}.`,
      hint: 'To convert another one, drop only its folder.',
      blocking: false,
    });
  }

  const baseWeights = of('base_weights').length + of('base_weights_index').length;
  if (!config && !adapter && (baseWeights > 0 || bases.length > 0)) {
    problems.push({
      id: 'base_model_not_adapter',
      message: 'This looks like a base model, not an adapter: it has model weights and a config.json, but no LoRA adapter files.',
      hint: 'Drop the folder PEFT saved the adapter in (it has adapter_config.json and adapter_model.safetensors).',
      blocking: true,
    });
  } else {
    if (!config) {
      problems.push({
        id: 'no_adapter_config',
        message: 'No adapter_config.json: without it the rank, alpha and target modules of the adapter are unknown.',
        hint: 'Add the adapter_config.json that PEFT saved next to adapter_model.safetensors.',
        blocking: true,
      });
    }
    if (!adapter) {
      const pickle = of('pickle')[0];
      const malformed = of('malformed_safetensors')[0];
      if (malformed) {
        problems.push({
          id: 'malformed_safetensors',
          message: `${malformed.path} is not a readable safetensors file: ${malformed.note}.`,
          hint: 'The file is probably truncated or damaged (an interrupted download?). Download or save it again.',
          blocking: true,
        });
      } else if (pickle) {
        problems.push({
          id: 'pickle_adapter',
          message: `${pickle.path}: ${pickle.note}.`,
          hint: 'Re-save the adapter as safetensors with PEFT: model.save_pretrained(dir, safe_serialization=True).',
          blocking: true,
        });
      } else if (!config && of('gguf').length === 0) {
        problems.push({
          id: 'nothing_usable',
          message: 'None of these files is part of a PEFT LoRA adapter.',
          hint: 'Drop the adapter folder, or adapter_config.json and adapter_model.safetensors together.',
          blocking: true,
        });
      } else {
        problems.push({
          id: 'no_adapter_weights',
          message: 'No adapter_model.safetensors: the adapter configuration is there, but not its weights.',
          hint: 'Add adapter_model.safetensors from the same folder.',
          blocking: true,
        });
      }
    }
  }
  if (of('gguf').length > 0) {
    problems.push({
      id: 'gguf_given',
      message:
        config && adapter
          ? `${of('gguf')[0]!.path} is a GGUF file: it is taken as the base model to check the adapter against (below).`
          : `${of('gguf')[0]!.path} is already a GGUF file: there is nothing to convert in it, but it is shown below (what it holds, and whether it fits a base model).`,
      hint: config && adapter ? undefined : 'Use it with llama.cpp directly, or drop the PEFT adapter it was made from to convert again.',
      blocking: !config && !adapter,
    });
  }

  return {
    adapterConfig: config ? byPath.get(config.path)! : null,
    adapter: adapter ? byPath.get(adapter.path)! : null,
    baseConfig: base ? byPath.get(base.path)! : null,
    baseModel: config?.baseModel ?? null,
    problems,
  };
}
