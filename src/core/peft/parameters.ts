import type { BaseConfig } from './config';
import type { MatrixOp } from '../tensor/ops';
import type { TensorLocation } from '../tensor/read';

/**
 * PEFT `target_parameters`: LoRA on an nn.Parameter (PEFT's ParamWrapper) instead of a Linear.
 * The factors are saved under the module that owns the parameter (`<module>.lora_A.weight`);
 * a second targeted parameter of the same module wraps the first, adding `.base_layer`.
 *
 * PEFT's update (peft/tuners/lora/layer.py, ParamWrapper.get_delta_weight):
 * - 2-D parameter (out, in): ΔW = B @ A · scale, as for a Linear (A (r, in), B (out, r)).
 * - 3-D parameter (E, d1, d2): A (r·E, d1) read as (E, r, d1), B (d2, r·E) read as (d2, r, E),
 *   ΔW[e] = (B[:, :, e] @ A[e])ᵀ · scale.
 *
 * Converted only where the layout of the parameter in llama.cpp's tensors is known:
 * - DBRX (`transformer.blocks.{bid}.ffn.experts.mlp.{w1,v1,w2}`, each (E·ffn, d_model), 2-D):
 *   transformers views w1 / v1 as (E, ffn, d_model) used as `x @ W1[e]ᵀ`, and w2 as
 *   (E, ffn, d_model) used as `h @ W2[e]`; llama.cpp's converter stores w1 → ffn_gate_exps and
 *   v1 → ffn_up_exps as (E, ffn, d_model), and w2 → ffn_down_exps permuted to (E, d_model, ffn).
 *   Expert e's slice of PEFT's ΔW is B[e·ffn:(e+1)·ffn] @ A, so each expert gets the pair
 *   (A, B rows of e) for w1 / v1, and (B rows of e)ᵀ, Aᵀ for w2: exact, rank r per expert.
 */

export interface ParameterLoraOutput {
  gguf: string;
  /** GGML dims of lora_a and lora_b (3-D: [in, r, E] and [r, out, E]). */
  neA: number[];
  neB: number[];
  a: { source: string; ops: MatrixOp[] }[];
  b: { source: string; ops: MatrixOp[] }[];
}

export type ParameterLoraResult = { ok: ParameterLoraOutput } | { why: string };

type Named = TensorLocation & { name: string };

/** The parameter names that `target_parameters` aims at this module (nested `.base_layer` ignored). */
export function targetedParameters(module: string, targets: readonly string[]): string[] {
  const mod = module.replace(/(\.base_layer)+$/, '');
  const out = new Set<string>();
  for (const target of targets) {
    const param = target.slice(target.lastIndexOf('.') + 1);
    const full = `${mod}.${param}`;
    if (full === target || full.endsWith(`.${target}`)) out.add(param);
  }
  return [...out];
}

function intOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

const DBRX_EXPERTS = /^transformer\.blocks\.(\d+)\.ffn\.experts\.mlp$/;
const DBRX_TENSOR: Record<string, string> = { w1: 'ffn_gate_exps', v1: 'ffn_up_exps', w2: 'ffn_down_exps' };

/**
 * The GGUF pair for one parameter-LoRA module, or why it cannot be converted. `bScale` is the
 * PEFT scaling fold, applied to every lora_b part.
 */
export function planParameterLora(
  familyId: string,
  base: BaseConfig,
  module: string,
  targets: readonly string[],
  a: Named,
  b: Named,
  bScale: MatrixOp[],
): ParameterLoraResult {
  const params = targetedParameters(module, targets);
  if (module.endsWith('.base_layer') || params.length !== 1) {
    return {
      why: `several parameters of ${module.replace(/(\.base_layer)+$/, '')} are targeted (${params.join(', ')}); PEFT nests their wrappers, and which saved pair belongs to which parameter cannot be told from the file`,
    };
  }
  const param = params[0]!;
  const m = DBRX_EXPERTS.exec(module);
  if (familyId !== 'dbrx' || !m || !(param in DBRX_TENSOR)) {
    return { why: `the layout of ${module}.${param} in llama.cpp's tensors is not known for ${base.architecture}` };
  }
  const ffnConfig = (base.hparams['ffn_config'] ?? {}) as Record<string, unknown>;
  const nExpert = intOf(ffnConfig['moe_num_experts']);
  const ffn = intOf(ffnConfig['ffn_hidden_size']);
  const dModel = intOf(base.hparams['d_model']);
  if (!nExpert || !ffn || !dModel) {
    return { why: 'the base config.json lacks ffn_config.moe_num_experts, ffn_config.ffn_hidden_size or d_model, needed to split the experts' };
  }
  const r = a.shape[0]!;
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== dModel || b.shape[0] !== nExpert * ffn || b.shape[1] !== r) {
    return {
      why: `${a.name} [${a.shape}] and ${b.name} [${b.shape}] do not fit a (${nExpert}·${ffn}, ${dModel}) DBRX expert parameter`,
    };
  }
  const gguf = `blk.${m[1]}.${DBRX_TENSOR[param]!}.weight`;
  const experts = Array.from({ length: nExpert }, (_, e) => e);
  const rowsOf = (e: number): MatrixOp => ({ op: 'rows', start: e * ffn, count: ffn });
  if (param === 'w2') {
    return {
      ok: {
        gguf,
        neA: [ffn, r, nExpert],
        neB: [r, dModel, nExpert],
        a: experts.map((e) => ({ source: b.name, ops: [rowsOf(e), { op: 'transpose' }] })),
        b: experts.map(() => ({ source: a.name, ops: [{ op: 'transpose' } as MatrixOp, ...bScale] })),
      },
    };
  }
  return {
    ok: {
      gguf,
      neA: [dModel, r, nExpert],
      neB: [r, ffn, nExpert],
      a: experts.map(() => ({ source: a.name, ops: [] })),
      b: experts.map((e) => ({ source: b.name, ops: [rowsOf(e), ...bScale] })),
    },
  };
}
