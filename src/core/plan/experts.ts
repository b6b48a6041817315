/**
 * Stage 3: stack the LoRA of every expert of a layer into one 3-D pair, as llama.cpp stores the
 * experts of a layer in one tensor. All experts must be there, with one shape; each expert's
 * PEFT scaling is folded into its own slice of lora_b.
 */
import type { SerializedConversionError } from '../errors';
import { peftScaling } from '../peft/scaling';
import type { MatrixOp } from '../tensor/ops';
import type { ExpertGroup, PlanContext } from './map';
import { findings, partOf, planned, refusal, type Findings, type Pair, type PlannedModule, type PlannedTensor } from './types';

/** Stage 3's output: two 3-D tensors and one module per complete expert group. */
export interface Stacked extends Findings {
  outputs: PlannedTensor[];
  modules: PlannedModule[];
}

/** Stage 3: one stacked pair per complete expert group, refusals for the others. */
export function stackExperts(groups: ReadonlyMap<string, ExpertGroup>, ctx: PlanContext): Stacked {
  const out: Stacked = { ...findings(), outputs: [], modules: [] };
  for (const [key, g] of groups) {
    const members = [...g.members.entries()].sort((x, y) => x[0] - y[0]).map(([, p]) => p);
    const problem = incompleteGroup(key, g, members) ?? unevenShapes(key, members);
    if (problem) {
      out.refusals.push(problem);
      continue;
    }
    const first = members[0]!;
    const r = first.a!.shape[0]!;
    const scalings = members.map((p) => peftScaling(ctx.config, p.module, r));
    const dtypes = new Set(members.flatMap((p) => [p.a!.dtype, p.b!.dtype]));
    const dtype = dtypes.size === 1 ? [...dtypes][0]! : [...dtypes].join('/');
    const gguf = `${key}.weight`;
    const pattern = expertPattern(first);
    const scale = (fold: number): MatrixOp[] => (fold === 1 ? [] : [{ op: 'scale', factor: fold }]);
    out.outputs.push(
      planned(
        `${gguf}.lora_a`,
        'lora_a',
        pattern,
        dtype,
        members.map((p) => partOf(p.a!, [])),
        [first.a!.shape[1]!, r, g.count],
      ),
      planned(
        `${gguf}.lora_b`,
        'lora_b',
        pattern,
        dtype,
        members.map((p, i) => partOf(p.b!, scale(scalings[i]!.fold))),
        [r, first.b!.shape[0]!, g.count],
      ),
    );
    if (new Set(scalings.map((s) => s.fold)).size > 1) {
      out.warnings.push({ code: 'expert_scaling', message: `Experts of ${key} have different PEFT scalings; each is folded into its own lora_b.` });
    }
    out.modules.push({ module: pattern, gguf: [gguf], kind: 'experts', ...scalings[0]! });
  }
  return out;
}

/** The module name with the expert index replaced by `{xid}`. */
function expertPattern(p: Pair): string {
  return p.module.replace(/\.(\d+)\.(?=[^.]+$)/, '.{xid}.');
}

/** Experts missing from the group, or indexes beyond the base's expert count. */
function incompleteGroup(key: string, g: ExpertGroup, members: Pair[]): SerializedConversionError | undefined {
  const missing: number[] = [];
  for (let x = 0; x < g.count; x++) if (!g.members.has(x)) missing.push(x);
  const extra = [...g.members.keys()].filter((x) => x >= g.count);
  if (!missing.length && !extra.length) return undefined;
  const pattern = expertPattern(members[0]!);
  return refusal(
    'partial_experts',
    missing.length
      ? `${pattern}: LoRA covers ${g.members.size} of the ${g.count} experts; missing expert${missing.length > 1 ? 's' : ''} ${missing.join(', ')}. llama.cpp stores the experts of a layer as one tensor, so its LoRA must cover all of them.`
      : `${pattern}: expert index ${extra.join(', ')} is beyond the ${g.count} experts of the base config.`,
    members.flatMap((p) => [p.a!.name, p.b!.name]),
    'Retrain with LoRA on every expert of the layer (or none), or check that the base config.json matches.',
    { missingExperts: missing },
  );
}

/** An expert whose factors differ in shape from the first's: one tensor needs one rank. */
function unevenShapes(key: string, members: Pair[]): SerializedConversionError | undefined {
  const [r, inDim, outDim] = [members[0]!.a!.shape[0], members[0]!.a!.shape[1], members[0]!.b!.shape[0]];
  const bad = members.find((p) => p.a!.shape[0] !== r || p.a!.shape[1] !== inDim || p.b!.shape[0] !== outDim || p.b!.shape[1] !== r);
  if (!bad) return undefined;
  return refusal(
    'shape_mismatch',
    `Experts of ${key} have LoRA factors of different shapes (${bad.module}); llama.cpp needs one rank for all experts of a layer.`,
    [bad.a!.name, bad.b!.name],
  );
}
