/**
 * Stage 4: mergekit norm vectors. llama.cpp loads an adapter's norm vectors but never applies
 * them (llama-adapter.cpp skips them; proven in test/runtime/llama.spec.ts), so the file would
 * silently lack part of the adapter: refused by default. `keepNormVectors` writes them as
 * llama.cpp's converter does (always F32, Gemma-style + 1), with a warning; `dropUnapplied`
 * leaves them out, with a warning listing them.
 */
import type { NormVector } from './pair';
import { findings, planned, refusal, summarise, type Findings, type InspectOptions, type PlannedTensor } from './types';

/** Stage 4's output: the norm tensors to write (only with keepNormVectors). */
export interface PlannedNorms extends Findings {
  outputs: PlannedTensor[];
}

const WHY =
  'llama.cpp ignores norm vectors in a LoRA adapter (it applies only lora_a/lora_b pairs), so this part of the adapter (mergekit-style replaced norms) would have no effect.';

/** Stage 4: keep, leave out or refuse the norm vectors. */
export function planNorms(norms: readonly NormVector[], options: Pick<InspectOptions, 'keepNormVectors' | 'dropUnapplied'>): PlannedNorms {
  const out: PlannedNorms = { ...findings(), outputs: [] };
  if (!norms.length) return out;
  const names = norms.map((n) => n.tensor.name);
  const count = `${norms.length} norm vector${norms.length > 1 ? 's' : ''} (${summarise(names)})`;
  if (options.keepNormVectors) {
    out.warnings.push({ code: 'norms_not_applied', message: `${count} written as llama.cpp's converter does, but ${WHY}`, tensors: names });
    for (const n of norms) {
      out.outputs.push(
        planned(n.gguf, 'norm', n.module, n.tensor.dtype, [{ source: n.tensor.name, ops: n.addOne ? [{ op: 'addOne' }] : [] }], [n.tensor.shape[0]!]),
      );
    }
  } else if (options.dropUnapplied) {
    out.warnings.push({ code: 'dropped', message: `Left out ${count}: ${WHY}`, tensors: names });
    for (const n of names) out.skipped.push({ tensor: n, reason: 'a norm vector: llama.cpp ignores norm vectors in a LoRA adapter' });
  } else {
    out.refusals.push(
      refusal(
        'not_applied_by_runtime',
        `Norm vectors: ${WHY} (${summarise(names)})`,
        names,
        'Merge the adapter into the base model and convert the merged model to keep the norms. Or convert with --drop-unapplied (the app: "leave out what llama.cpp would not apply") to leave them out, or with --keep-norm-vectors to write them anyway, knowing that llama.cpp ignores them.',
      ),
    );
  }
  return out;
}
