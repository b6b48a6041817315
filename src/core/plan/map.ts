/**
 * Stage 2: check each LoRA pair, map its module to GGUF tensors with the architecture's rules
 * (permutations, fused splits, the token-embedding transpose, PEFT's scaling folded into
 * lora_b), and apply the rules that refuse or leave out what llama.cpp would not apply as PEFT
 * does. Expert pairs are only grouped here; stage 3 stacks them.
 */
import { fillName, matchModule } from '../arch/match';
import type { ArchFamily, ModuleRule } from '../arch/types';
import type { ErrorCode, SerializedConversionError } from '../errors';
import type { AdapterConfig, BaseConfig } from '../peft/config';
import { planParameterLora, targetedParameters } from '../peft/parameters';
import { peftScaling } from '../peft/scaling';
import type { MatrixOp } from '../tensor/ops';
import { unexpectedTensorWords } from './pair';
import {
  findings,
  NON_TEXT,
  partOf,
  planned,
  refusal,
  summarise,
  type Findings,
  type InspectOptions,
  type Pair,
  type PlannedModule,
  type PlannedTensor,
} from './types';

/** What every stage after pairing reads. */
export interface PlanContext {
  config: AdapterConfig;
  base: BaseConfig;
  family: ArchFamily;
  options: InspectOptions;
  /** Whether the base ties its output head to the token embeddings. */
  tied: boolean;
  /** The base's hidden size, when its config says. */
  hidden: number | undefined;
}

/** The experts of one layer's module, by expert index, for stage 3. */
export interface ExpertGroup {
  rule: ModuleRule;
  bid: number | undefined;
  /** How many experts the base has. */
  count: number;
  members: Map<number, Pair>;
}

/** Stage 2's output: the planned tensors and modules of every non-expert pair, and the expert groups for stage 3. */
export interface Mapped extends Findings {
  outputs: PlannedTensor[];
  modules: PlannedModule[];
  /** Keyed by the GGUF tensor name (without `.weight`). */
  expertGroups: Map<string, ExpertGroup>;
}

/** Stage 2: map every pair. `leftOut`: tensors stage 1 left out (textOnly), for their warning. */
export function mapPairs(pairs: readonly Pair[], ctx: PlanContext, leftOut: readonly string[]): Mapped {
  const out: Mapped = { ...findings(), outputs: [], modules: [], expertGroups: new Map() };
  const unmappable: string[] = [];
  const nonText: string[] = [];
  const parameterLora: string[] = [];
  const parameterWhy = new Set<string>();
  for (const p of pairs) {
    if (ctx.config.targetParameters?.length && targetedParameters(p.module, ctx.config.targetParameters).length) {
      const why = planParameterPair(p, ctx, out);
      if (why !== null) {
        if (why) parameterWhy.add(why);
        for (const t of [p.a, p.b]) if (t) parameterLora.push(t.name);
      }
      continue;
    }
    const problem = pairProblem(p);
    if (problem) {
      out.refusals.push(problem);
      continue;
    }
    const match = matchModule(ctx.family, p.module);
    if (!match || (p.kind === 'embedding' && !match.rule.isTokenEmbedding)) {
      (match || !NON_TEXT.test(p.module) ? unmappable : nonText).push(p.a!.name, p.b!.name);
      continue;
    }
    if (!passesRules(p, match.rule, ctx, out)) continue;
    if (match.rule.experts) {
      groupExpert(out.expertGroups, p, match.rule, match.bid, match.xid!, ctx.base);
      continue;
    }
    planPair(p, match.rule, match.bid, ctx, out);
  }
  out.refusals.push(...leftoverRefusals(ctx, unmappable, parameterLora, parameterWhy, nonText));
  if (leftOut.length) {
    out.warnings.push({
      code: 'non_text_dropped',
      message: `Left out ${leftOut.length} tensor${leftOut.length > 1 ? 's' : ''} of modules outside the language model (vision / audio): ${summarise([...leftOut])}. The GGUF holds only the language model's LoRA.`,
      tensors: [...leftOut],
    });
  }
  return out;
}

/**
 * PEFT target_parameters: converted where the parameter's layout in llama.cpp is known. Returns
 * null when planned, else why not ('' when the factors are incomplete or malformed).
 */
function planParameterPair(p: Pair, ctx: PlanContext, out: Mapped): string | null {
  if (!p.a || !p.b || checkPairShapes(p)) return '';
  const scaling = peftScaling(ctx.config, p.module, p.a.shape[0]!);
  if (scaling.rankMismatch) out.warnings.push(scaling.rankMismatch);
  const bScale: MatrixOp[] = scaling.fold === 1 ? [] : [{ op: 'scale', factor: scaling.fold }];
  const res = planParameterLora(ctx.family.id, ctx.base, p.module, ctx.config.targetParameters!, p.a, p.b, bScale);
  if (!('ok' in res)) return res.why;
  const dtype = pairDtype(p);
  out.outputs.push(planned(`${res.ok.gguf}.lora_a`, 'lora_a', p.module, dtype, res.ok.a, res.ok.neA));
  out.outputs.push(planned(`${res.ok.gguf}.lora_b`, 'lora_b', p.module, dtype, res.ok.b, res.ok.neB));
  out.modules.push({ module: p.module, gguf: [res.ok.gguf], kind: 'experts', ...scaling });
  return null;
}

/** A pair with a factor missing, or factors that are not matrices of one rank. */
function pairProblem(p: Pair): SerializedConversionError | undefined {
  if (!p.a || !p.b) {
    const present = (p.a ?? p.b)!;
    const missing = p.a ? 'lora_B' : 'lora_A';
    return refusal(
      'unpaired_factor',
      `${present.name} has no matching ${missing} tensor.`,
      [present.name],
      'The adapter file is incomplete or was edited; re-save it with PEFT.',
      {
        missing,
      },
    );
  }
  return checkPairShapes(p);
}

/** Both factors matrices of one (non-zero) rank; else a shape_mismatch refusal. Needs both factors present. */
export function checkPairShapes(p: Pair): SerializedConversionError | undefined {
  const a = p.a!;
  const b = p.b!;
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    return refusal(
      'shape_mismatch',
      `${a.name} and ${b.name} must be matrices; their shapes are [${a.shape}] and [${b.shape}].`,
      [a.name, b.name],
      'Only LoRA on linear and embedding layers can be converted (not on convolutions).',
    );
  }
  // linear: A (r, in), B (out, r); embedding: A (r, vocab), B (hidden, r).
  if (a.shape[0] !== b.shape[1] || a.shape[0] === 0) {
    return refusal(
      'shape_mismatch',
      `The ranks of ${a.name} [${a.shape}] and ${b.name} [${b.shape}] do not agree.`,
      [a.name, b.name],
      'The adapter file is inconsistent; re-save it with PEFT.',
    );
  }
  return undefined;
}

/**
 * The module's rules: unsupported modules and those llama.cpp would not apply (tied head, MLA)
 * are refused, or left out with `dropUnapplied`; factors that fit neither side of the base's
 * hidden size mean another base. Returns whether the pair goes on to be planned.
 */
function passesRules(p: Pair, rule: ModuleRule, ctx: PlanContext, out: Findings): boolean {
  const names = [p.a!.name, p.b!.name];
  if (rule.unsupported) {
    out.refusals.push(
      refusal(
        'unsupported_adapter',
        `${p.module}: ${rule.unsupported}`,
        names,
        'Retrain without this module, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
        {
          module: p.module,
        },
      ),
    );
    return false;
  }
  const blocked = blockedReason(rule, ctx.tied, ctx.family, ctx.base);
  if (blocked) {
    if (ctx.options.dropUnapplied) {
      out.warnings.push({ code: 'dropped', message: `Left out ${p.module} LoRA: ${blocked.why}`, tensors: names });
      out.skipped.push({ tensor: p.a!.name, reason: blocked.why }, { tensor: p.b!.name, reason: blocked.why });
    } else {
      out.refusals.push(refusal(blocked.code, `${p.module}: ${blocked.why}`, names, blocked.hint, { module: p.module }));
    }
    return false;
  }
  // Every LoRA-able projection reads or writes the residual stream (hidden_size wide), so an
  // adapter whose factors fit neither side was trained on another base than this config
  // describes (e.g. a catalogue entry or a config.json of another size): refused, as the file
  // would not fit the base llama.cpp loads it onto.
  if (ctx.hidden !== undefined && !rule.innerDims) {
    const inDim = p.kind === 'embedding' ? undefined : p.a!.shape[1];
    const outDim = p.b!.shape[0];
    if (inDim !== ctx.hidden && outDim !== ctx.hidden) {
      out.refusals.push(
        refusal(
          'shape_mismatch',
          `${p.module}: its LoRA factors (${p.kind === 'embedding' ? '' : `in ${inDim}, `}out ${outDim}) do not fit the base config's hidden size ${ctx.hidden}; the adapter was trained on a different base.`,
          names,
          `Give the config.json of the base model the adapter was trained on (the adapter names ${ctx.config.baseModelNameOrPath ?? 'no base'}).`,
          { module: p.module, hidden: ctx.hidden },
        ),
      );
      return false;
    }
  }
  return true;
}

/** Why llama.cpp would not apply this module's LoRA as PEFT does, or undefined. */
export function blockedReason(
  rule: ModuleRule,
  tied: boolean,
  family: ArchFamily,
  base: BaseConfig,
): { code: ErrorCode; why: string; hint: string } | undefined {
  const tiedWhy =
    family.tiedDefault === 'always'
      ? `${base.architecture} always ties the output head to the token embeddings`
      : base.tieWordEmbeddings === true
        ? 'the base config has tie_word_embeddings: true'
        : `the base config has no tie_word_embeddings key and ${base.architecture} ties by default`;
  if (rule.isOutputHead && tied) {
    return {
      code: 'tied_head',
      why: `LoRA on lm_head cannot be applied: ${tiedWhy}, so llama.cpp has no separate output tensor to attach it to (the file would fail to load, or the update would be lost).`,
      hint: 'Retrain without "lm_head" in target_modules, or convert with --drop-unapplied (the app: "leave out what llama.cpp would not apply") to knowingly leave the lm_head update out.',
    };
  }
  if (rule.isTokenEmbedding && tied) {
    return {
      code: 'tied_head',
      why: `LoRA on the token embeddings cannot be applied as PEFT does: ${tiedWhy}, and llama.cpp finds LoRA by tensor name, so it would also apply this update to the output projection (which shares token_embd.weight).`,
      hint: 'Retrain without the embeddings in target_modules, or convert with --drop-unapplied (the app: "leave out what llama.cpp would not apply") to knowingly leave this update out.',
    };
  }
  if (rule.notApplied) {
    return {
      code: 'not_applied_by_runtime',
      why: rule.notApplied,
      hint: 'Retrain without this module in target_modules, or convert with --drop-unapplied (the app: "leave out what llama.cpp would not apply") to knowingly leave it out.',
    };
  }
  return undefined;
}

function groupExpert(groups: Map<string, ExpertGroup>, p: Pair, rule: ModuleRule, bid: number | undefined, xid: number, base: BaseConfig): void {
  const key = fillName(rule.gguf, bid);
  let g = groups.get(key);
  if (!g) groups.set(key, (g = { rule, bid, count: rule.experts!(base), members: new Map() }));
  g.members.set(xid, p);
}

function pairDtype(p: Pair): string {
  return p.a!.dtype === p.b!.dtype ? p.a!.dtype : `${p.a!.dtype}/${p.b!.dtype}`;
}

/** A linear or token-embedding pair: its GGUF tensors, with the rule's ops and the scaling fold. */
function planPair(p: Pair, rule: ModuleRule, bid: number | undefined, ctx: PlanContext, out: Mapped): void {
  const a = p.a!;
  const b = p.b!;
  const scaling = peftScaling(ctx.config, p.module, a.shape[0]!);
  if (scaling.rankMismatch) out.warnings.push(scaling.rankMismatch);
  const bScale: MatrixOp[] = scaling.fold === 1 ? [] : [{ op: 'scale', factor: scaling.fold }];
  const dtype = pairDtype(p);
  if (p.kind === 'embedding') {
    // token_embd.lora_a = lora_embedding_A^T (vocab rows of r), lora_b = lora_embedding_B.
    const gguf = `${fillName(rule.gguf, bid)}.weight`;
    out.outputs.push(planned(`${gguf}.lora_a`, 'lora_a', p.module, dtype, [partOf(a, [{ op: 'transpose' }])], [a.shape[0]!, a.shape[1]!]));
    out.outputs.push(planned(`${gguf}.lora_b`, 'lora_b', p.module, dtype, [partOf(b, bScale)], [b.shape[1]!, b.shape[0]!]));
    out.modules.push({ module: p.module, gguf: [gguf], kind: 'embedding', ...scaling });
    return;
  }
  const ruleOps = rule.bOps ? rule.bOps(ctx.base) : [];
  const parts = rule.split
    ? rule.split(ctx.base).map((s) => ({
        gguf: fillName(s.gguf, bid),
        ops: [...ruleOps, { op: 'rows', start: s.rowStart, count: s.rowCount } as MatrixOp, ...(s.bOps ?? [])],
      }))
    : [{ gguf: fillName(rule.gguf, bid), ops: ruleOps }];
  const outRows = b.shape[0]!;
  const names: string[] = [];
  for (const part of parts) {
    const rowsOp = part.ops.find((o): o is Extract<MatrixOp, { op: 'rows' }> => o.op === 'rows');
    const rows = rowsOp ? rowsOp.count : outRows;
    if (rowsOp && rowsOp.start + rowsOp.count > outRows) {
      out.refusals.push(
        refusal(
          'shape_mismatch',
          `${b.name} has ${outRows} output rows, fewer than the fused ${p.module} of this base config needs.`,
          [b.name],
          'Check that the base config.json matches the adapter.',
        ),
      );
      break;
    }
    const gguf = `${part.gguf}.weight`;
    names.push(gguf);
    out.outputs.push(planned(`${gguf}.lora_a`, 'lora_a', p.module, dtype, [partOf(a, [])], [a.shape[1]!, a.shape[0]!]));
    out.outputs.push(planned(`${gguf}.lora_b`, 'lora_b', p.module, dtype, [partOf(b, [...part.ops, ...bScale])], [b.shape[1]!, rows]));
  }
  out.modules.push({ module: p.module, gguf: names, kind: 'linear', ...scaling });
}

/** The refusals collected over all pairs: unknown modules, target_parameters, non-text modules. */
function leftoverRefusals(
  ctx: PlanContext,
  unmappable: string[],
  parameterLora: string[],
  parameterWhy: Set<string>,
  nonText: string[],
): SerializedConversionError[] {
  const refusals: SerializedConversionError[] = [];
  if (unmappable.length) {
    refusals.push(
      refusal(
        'unknown_tensor',
        `LoRA on modules the ${ctx.family.id} architecture does not have in llama.cpp: ${summarise(unmappable)}.`,
        unmappable,
        'Check that the base config.json is the one the adapter was trained on.',
        { architecture: ctx.base.architecture },
      ),
    );
  }
  if (parameterLora.length) {
    refusals.push(
      refusal(
        'unsupported_adapter',
        `LoRA on parameters (target_parameters: ${ctx.config.targetParameters!.map((x) => JSON.stringify(x)).join(', ')}) cannot be converted: ${parameterWhy.size ? [...parameterWhy].join('; ') : 'the factors are incomplete or malformed'}; it is refused rather than written wrongly (${summarise(parameterLora)}).`,
        parameterLora,
        'Retrain with target_modules on per-expert linear layers if the model has them, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
        { field: 'adapter_config.json: target_parameters' },
      ),
    );
  }
  if (nonText.length) {
    const [message, hint] = unexpectedTensorWords(ctx.family).non_text_module!;
    refusals.push(refusal('non_text_module', `${message} (${summarise(nonText)})`, nonText, hint));
  }
  return refusals;
}
