import { fillName, matchModule, matchNorm } from './arch/match';
import { familyFor, ggufArchFor } from './arch/registry';
import type { ArchFamily, ModuleRule } from './arch/types';
import { ConversionError, type ErrorCode, type SerializedConversionError } from './errors';
import { alignUp, serializeGgufHeader, type GgufKv } from './gguf/writer';
import type { ByteSource } from './io';
import { optionalInt, parseAdapterConfig, parseBaseConfig, type AdapterConfig, type BaseConfig } from './peft/config';
import { classifyTensorName, compareBytewise, compareNatural, stripPeftPrefix } from './peft/names';
import { baseFamilyMismatch, modifiedBaseWarning } from './peft/family';
import { planParameterLora, targetedParameters } from './peft/parameters';
import { peftScaling, scalingWarnings, type ModuleScaling } from './peft/scaling';
import { detectAdapterFormat, readPytorchCheckpoint, type AdapterFileFormat } from './pytorch/checkpoint';
import { parseSafetensorsHeader } from './safetensors/header';
import { ggmlByteSize, OUTTYPES, tensorTypeFor, type GgmlTypeName, type OutType, type OutTypeOption } from './tensor/encode';
import { opsOutputShape, type MatrixOp } from './tensor/ops';
import type { TensorLocation } from './tensor/read';

/** One tensor of the adapter file, whatever its format: a name and where its data is. */
export type AdapterTensor = TensorLocation & { name: string };

/** One matrix that goes into an output tensor: a source tensor and the ops applied to it. */
export interface PartRecipe {
  source: string;
  ops: MatrixOp[];
}

export interface PlannedTensor {
  /** GGUF tensor name, e.g. `blk.0.attn_q.weight.lora_a`. */
  name: string;
  /** GGML dims, fastest first. */
  ne: number[];
  type: GgmlTypeName;
  /** Data bytes (without padding). */
  byteSize: number;
  /** Offset in the data section. */
  offset: number;
  role: 'lora_a' | 'lora_b' | 'norm';
  /** The HF module this comes from (for experts: the `{xid}` pattern). */
  module: string;
  /** Dtype of the source tensors. */
  sourceDtype: string;
  /** Concatenated in order (more than one for stacked experts). */
  parts: PartRecipe[];
}

export interface Diagnostic {
  code: string;
  message: string;
  tensors?: string[];
  hint?: string;
}

/** Per source module: where it goes and with which scaling. */
export interface PlannedModule extends ModuleScaling {
  module: string;
  gguf: string[];
  kind: 'linear' | 'embedding' | 'experts';
}

export interface InspectOptions {
  /** Output type; default f32 (as in the CLI and the app). */
  outtype?: OutTypeOption;
  /** `general.name`; default "LoRA adapter". */
  name?: string;
  /**
   * Leave out, with a warning listing them, the tensors llama.cpp would not apply as PEFT does:
   * lm_head and token-embedding LoRA on a tied base, DeepSeek MLA projections, and mergekit norm
   * vectors (unless `keepNormVectors`). Off by default: refused. (CLI: --drop-unapplied.)
   */
  dropUnapplied?: boolean;
  /**
   * Keep mergekit norm vectors, as llama.cpp's converter writes them, knowing that llama.cpp
   * ignores them (a warning says so). Off by default: refused, or left out with `dropUnapplied`.
   * (CLI: --keep-norm-vectors.)
   */
  keepNormVectors?: boolean;
  /**
   * Convert only the language model's LoRA: leave out (with a warning listing them) every tensor
   * of a vision tower, multimodal projector or audio encoder. Off by default: refused.
   */
  textOnly?: boolean;
}

export interface InspectInput {
  /** Text of adapter_config.json. */
  adapterConfig: string;
  /** Text of the base model's config.json. */
  baseConfig: string;
  /** adapter_model.safetensors or adapter_model.bin (recognised by its first bytes). */
  adapter: ByteSource;
}

export interface ConversionPlan {
  planVersion: 1;
  name: string;
  architecture: string;
  family: string;
  ggufArchitecture: string;
  requestedOuttype: OutTypeOption;
  outtype: OutType;
  /** How `auto` was resolved, for display. */
  outtypeReason: string;
  adapter: {
    r: number;
    loraAlpha: number;
    useRslora: boolean;
    targetModules: string[] | string | null;
    baseModel: string | null;
    layers: number;
    peftType: string;
    /** The adapter file's format (set by inspect). */
    format?: AdapterFileFormat;
  };
  tied: boolean;
  modules: PlannedModule[];
  tensors: PlannedTensor[];
  kvs: GgufKv[];
  headerBytes: number;
  totalBytes: number;
  /** Total file size for every outtype, for the selector. */
  sizeByOuttype: Record<OutType, number>;
  /** Where each source tensor lives. */
  sources: Record<string, TensorLocation>;
  /** Source tensors left out on purpose (base_layer copies, dropped ones), with why. */
  skipped: { tensor: string; reason: string }[];
  /**
   * The adapter's norm vectors (mergekit), which llama.cpp ignores: refused, left out
   * (`dropUnapplied`) or kept (`keepNormVectors`). The app offers the opt-ins when there are any.
   */
  normVectors: string[];
  warnings: Diagnostic[];
  /** Non-empty: convert() refuses. */
  refusals: SerializedConversionError[];
}

interface Pair {
  module: string;
  kind: 'linear' | 'embedding';
  a?: AdapterTensor;
  b?: AdapterTensor;
  /** Order of first appearance among sorted names (for `auto`). */
  firstSeen: number;
}

function refusal(code: ErrorCode, message: string, tensors: string[], hint?: string, extra: Record<string, unknown> = {}): SerializedConversionError {
  return new ConversionError(code, message, { tensors, ...extra }, hint).toJSON();
}

const NON_TEXT =
  /(^|\.)(vision_tower|vision_model|visual|vision_encoder|multi_modal_projector|mm_projector|audio_tower|audio_model|audio_encoder|image_encoder|vision)(\.|$)/;

/**
 * Plan the whole conversion from the headers alone: every output tensor (name, shape, type,
 * size, offset), the metadata, warnings, and refusals. Nothing is written. Structural problems
 * (malformed files, unsupported architecture) throw; per-tensor problems are collected in
 * `refusals` so they can all be shown at once.
 */
export async function inspect(input: InspectInput, options: InspectOptions = {}): Promise<ConversionPlan> {
  const config = parseAdapterConfig(input.adapterConfig);
  const base = parseBaseConfig(input.baseConfig);
  const { format, tensors } = await readAdapterTensors(input.adapter);
  const plan = planFrom(config, base, tensors, options);
  plan.adapter.format = format;
  return plan;
}

/** The tensor table of an adapter file in any supported format, recognised by magic bytes. */
export async function readAdapterTensors(source: ByteSource): Promise<{ format: AdapterFileFormat; tensors: AdapterTensor[] }> {
  const format = await detectAdapterFormat(source);
  if (format === 'safetensors') return { format, tensors: (await parseSafetensorsHeader(source)).tensors };
  return readPytorchCheckpoint(source);
}

/** The planning step on already-parsed inputs (exported for tests and other input formats). */
export function planFrom(config: AdapterConfig, base: BaseConfig, tensors: readonly AdapterTensor[], options: InspectOptions = {}): ConversionPlan {
  if (config.peftType !== 'LORA') {
    throw new ConversionError(
      'unsupported_adapter',
      `This is a ${config.peftType} adapter; only LoRA adapters (peft_type "LORA") can be converted to a GGUF LoRA.`,
      { field: 'adapter_config.json: peft_type' },
    );
  }
  const family = familyFor(base);
  family.validate?.(base);
  const warnings: Diagnostic[] = [];
  const refusals: SerializedConversionError[] = [];
  const skipped: { tensor: string; reason: string }[] = [];
  const sources: Record<string, TensorLocation> = {};
  for (const t of tensors) {
    const { name, ...loc } = t;
    sources[name] = loc;
  }

  if (config.loraAlphaDefaulted) {
    warnings.push({
      code: 'default_alpha',
      message: `adapter_config.json has no lora_alpha; PEFT's default (${config.loraAlpha}) is used, as PEFT itself does when loading it.`,
      hint: 'If the adapter was trained with another alpha, add "lora_alpha" to adapter_config.json.',
    });
  }

  warnings.push(...scalingWarnings(config));
  const familyMismatch = baseFamilyMismatch(config.baseModelNameOrPath, base);
  if (familyMismatch) warnings.push(familyMismatch);
  const modifiedBase = modifiedBaseWarning(config.initLoraWeights);
  if (modifiedBase) warnings.push(modifiedBase);

  const hidden = optionalInt(base, ['hidden_size', 'n_embd', 'n_embed', 'd_model', 'hidden_dim']);
  const tied = family.tiedDefault === 'always' || (base.tieWordEmbeddings ?? family.tiedDefault);

  // 1. Classify and pair, in byte-wise sorted order (the order `auto` scans in).
  const sorted = [...tensors].sort((x, y) => compareBytewise(x.name, y.name));
  const pairs = new Map<string, Pair>();
  const norms: { tensor: AdapterTensor; gguf: string; addOne: boolean; module: string }[] = [];
  const byCode = new Map<ErrorCode, string[]>();
  const note = (code: ErrorCode, name: string) => {
    const list = byCode.get(code) ?? [];
    list.push(name);
    byCode.set(code, list);
  };
  let seen = 0;
  const leftOut: string[] = [];
  for (const t of sorted) {
    const stripped = stripPeftPrefix(t.name);
    if (options.textOnly && NON_TEXT.test(stripped)) {
      leftOut.push(t.name);
      skipped.push({ tensor: t.name, reason: 'outside the language model (textOnly)' });
      continue;
    }
    const role = classifyTensorName(stripped);
    switch (role.kind) {
      case 'lora_A':
      case 'lora_B':
      case 'lora_embedding_A':
      case 'lora_embedding_B': {
        const kind = role.kind.startsWith('lora_embedding') ? 'embedding' : 'linear';
        let p = pairs.get(role.module);
        if (!p) pairs.set(role.module, (p = { module: role.module, kind, firstSeen: seen++ }));
        if (p.kind !== kind) {
          note('unknown_tensor', t.name);
          break;
        }
        if (role.kind.endsWith('A')) p.a = t;
        else p.b = t;
        break;
      }
      case 'lora_bias':
        note('lora_bias', t.name);
        break;
      case 'dora_magnitude':
        note('dora', t.name);
        break;
      case 'base_layer':
        skipped.push({ tensor: t.name, reason: 'a copy of the base weight, not part of the LoRA' });
        break;
      case 'modules_to_save':
      case 'trainable_tokens':
        note('full_tensor', t.name);
        break;
      case 'full': {
        const norm = role.param === 'weight' && t.shape.length === 1 ? matchNorm(family, role.module) : undefined;
        if (norm) {
          norms.push({ tensor: t, gguf: `${fillName(norm.rule.gguf, norm.bid)}.weight`, addOne: norm.rule.addOne === true, module: role.module });
        } else if (NON_TEXT.test(role.module)) {
          note('non_text_module', t.name);
        } else if (matchModule(family, role.module) || t.shape.length >= 2) {
          // A whole weight matrix: PEFT's modules_to_save (e.g. resized embed_tokens / lm_head).
          note('full_tensor', t.name);
        } else {
          note('unknown_tensor', t.name);
        }
        break;
      }
    }
  }

  const HINTS: Partial<Record<ErrorCode, [string, string]>> = {
    lora_bias: [
      'The adapter was trained with lora_bias=True: its lora_B has a bias, and a GGUF LoRA has no bias term.',
      'Retrain with lora_bias=False, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
    ],
    dora: [
      'This is a DoRA adapter (use_dora=True): its magnitude vectors rescale the merged weight, which needs the base weights and cannot be expressed as a GGUF LoRA.',
      'Merge the adapter into the base model with PEFT (merge_and_unload) and convert the merged model with convert_hf_to_gguf.py.',
    ],
    full_tensor: [
      'The adapter stores whole tensors (modules_to_save, e.g. a resized embed_tokens or lm_head, or trainable_token_indices); a LoRA file can only add low-rank updates, not replace a tensor.',
      'Merge the adapter into the base model (merge_and_unload) and convert the merged model; or retrain without modules_to_save.',
    ],
    non_text_module: [
      'The adapter has LoRA on modules outside the language model (vision or audio encoder); a GGUF LoRA for llama.cpp applies to the text model only.',
      "Convert only the language model's LoRA with the text-only option (inspect option textOnly), which leaves these tensors out and lists them; or retrain targeting only the language model.",
    ],
    unknown_tensor: [
      `These tensors are not LoRA factors of any module the ${family.id} architecture has in llama.cpp.`,
      'Check that the base config.json is the one the adapter was trained on. If the module is real, please report it.',
    ],
  };
  for (const [code, names] of byCode) {
    const [msg, hint] = HINTS[code] ?? ['Unexpected tensors.', undefined];
    refusals.push(
      refusal(
        code,
        `${msg} (${names.length} tensor${names.length > 1 ? 's' : ''}: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`,
        names,
        hint,
      ),
    );
  }
  if (config.useDora && !byCode.has('dora')) {
    refusals.push(
      refusal('dora', 'adapter_config.json says use_dora=true: DoRA cannot be expressed as a GGUF LoRA.', [], HINTS.dora?.[1], {
        field: 'adapter_config.json: use_dora',
      }),
    );
  }

  // 2. Check pairs, map them, apply the architecture's rules.
  const outputs: PlannedTensor[] = [];
  const modules: PlannedModule[] = [];
  const pairList = [...pairs.values()];
  const unmappable: string[] = [];
  const nonText: string[] = [];
  const parameterLora: string[] = [];
  const parameterWhy = new Set<string>();
  const expertGroups = new Map<string, { rule: ModuleRule; bid: number | undefined; count: number; members: Map<number, Pair> }>();

  for (const p of pairList) {
    if (config.targetParameters?.length && targetedParameters(p.module, config.targetParameters).length) {
      // PEFT target_parameters: converted where the parameter's layout in llama.cpp is known.
      if (p.a && p.b && !checkPairShapes(p)) {
        const scaling = peftScaling(config, p.module, p.a.shape[0]!);
        if (scaling.rankMismatch) warnings.push(scaling.rankMismatch);
        const bScale: MatrixOp[] = scaling.fold === 1 ? [] : [{ op: 'scale', factor: scaling.fold }];
        const res = planParameterLora(family.id, base, p.module, config.targetParameters, p.a, p.b, bScale);
        if ('ok' in res) {
          const dtype = p.a.dtype === p.b.dtype ? p.a.dtype : `${p.a.dtype}/${p.b.dtype}`;
          outputs.push(planned(`${res.ok.gguf}.lora_a`, 'lora_a', p.module, dtype, res.ok.a, res.ok.neA));
          outputs.push(planned(`${res.ok.gguf}.lora_b`, 'lora_b', p.module, dtype, res.ok.b, res.ok.neB));
          modules.push({ module: p.module, gguf: [res.ok.gguf], kind: 'experts', ...scaling });
          continue;
        }
        parameterWhy.add(res.why);
      }
      for (const t of [p.a, p.b]) if (t) parameterLora.push(t.name);
      continue;
    }
    if (!p.a || !p.b) {
      const present = (p.a ?? p.b)!;
      const missing = p.a ? 'lora_B' : 'lora_A';
      refusals.push(
        refusal(
          'unpaired_factor',
          `${present.name} has no matching ${missing} tensor.`,
          [present.name],
          'The adapter file is incomplete or was edited; re-save it with PEFT.',
          { missing },
        ),
      );
      continue;
    }
    const shapeProblem = checkPairShapes(p);
    if (shapeProblem) {
      refusals.push(shapeProblem);
      continue;
    }
    const match = matchModule(family, p.module);
    if (!match) {
      (NON_TEXT.test(p.module) ? nonText : unmappable).push(p.a.name, p.b.name);
      continue;
    }
    const rule = match.rule;
    if (p.kind === 'embedding' && !rule.isTokenEmbedding) {
      unmappable.push(p.a.name, p.b.name);
      continue;
    }
    if (rule.unsupported) {
      refusals.push(
        refusal(
          'unsupported_adapter',
          `${p.module}: ${rule.unsupported}`,
          [p.a.name, p.b.name],
          'Retrain without this module, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
          {
            module: p.module,
          },
        ),
      );
      continue;
    }
    // The tied-head rule and the "loaded but not applied" rule.
    const blocked = blockedReason(rule, tied, family, base);
    if (blocked) {
      if (options.dropUnapplied) {
        warnings.push({ code: 'dropped', message: `Left out ${p.module} LoRA: ${blocked.why}`, tensors: [p.a.name, p.b.name] });
        skipped.push({ tensor: p.a.name, reason: blocked.why }, { tensor: p.b.name, reason: blocked.why });
      } else {
        refusals.push(refusal(blocked.code, `${p.module}: ${blocked.why}`, [p.a.name, p.b.name], blocked.hint, { module: p.module }));
      }
      continue;
    }
    // Every LoRA-able projection reads or writes the residual stream (hidden_size wide), so an
    // adapter whose factors fit neither side was trained on another base than this config
    // describes (e.g. a catalogue entry or a config.json of another size): refused, as the file
    // would not fit the base llama.cpp loads it onto.
    if (hidden !== undefined && !rule.innerDims) {
      const inDim = p.kind === 'embedding' ? undefined : p.a.shape[1];
      const outDim = p.b.shape[0];
      if (inDim !== hidden && outDim !== hidden) {
        refusals.push(
          refusal(
            'shape_mismatch',
            `${p.module}: its LoRA factors (${p.kind === 'embedding' ? '' : `in ${inDim}, `}out ${outDim}) do not fit the base config's hidden size ${hidden}; the adapter was trained on a different base.`,
            [p.a.name, p.b.name],
            `Give the config.json of the base model the adapter was trained on (the adapter names ${config.baseModelNameOrPath ?? 'no base'}).`,
            { module: p.module, hidden },
          ),
        );
        continue;
      }
    }
    if (rule.experts) {
      const key = `${fillName(rule.gguf, match.bid)}`;
      let g = expertGroups.get(key);
      if (!g) expertGroups.set(key, (g = { rule, bid: match.bid, count: rule.experts(base), members: new Map() }));
      g.members.set(match.xid!, p);
      continue;
    }
    const scaling = peftScaling(config, p.module, p.a.shape[0]!);
    if (scaling.rankMismatch) warnings.push(scaling.rankMismatch);
    const bScale: MatrixOp[] = scaling.fold === 1 ? [] : [{ op: 'scale', factor: scaling.fold }];
    const dtype = p.a.dtype === p.b.dtype ? p.a.dtype : `${p.a.dtype}/${p.b.dtype}`;
    if (p.kind === 'embedding') {
      // token_embd.lora_a = lora_embedding_A^T (vocab rows of r), lora_b = lora_embedding_B.
      const gguf = `${fillName(rule.gguf, match.bid)}.weight`;
      outputs.push(planned(`${gguf}.lora_a`, 'lora_a', p.module, dtype, [{ source: p.a.name, ops: [{ op: 'transpose' }] }], [p.a.shape[0]!, p.a.shape[1]!]));
      outputs.push(planned(`${gguf}.lora_b`, 'lora_b', p.module, dtype, [{ source: p.b.name, ops: bScale }], [p.b.shape[1]!, p.b.shape[0]!]));
      modules.push({ module: p.module, gguf: [gguf], kind: 'embedding', ...scaling });
      continue;
    }
    const ruleOps = rule.bOps ? rule.bOps(base) : [];
    const parts = rule.split
      ? rule.split(base).map((s) => ({
          gguf: fillName(s.gguf, match.bid),
          ops: [...ruleOps, { op: 'rows', start: s.rowStart, count: s.rowCount } as MatrixOp, ...(s.bOps ?? [])],
        }))
      : [{ gguf: fillName(rule.gguf, match.bid), ops: ruleOps }];
    const outRows = p.b.shape[0]!;
    const names: string[] = [];
    for (const part of parts) {
      const rowsOp = part.ops.find((o): o is Extract<MatrixOp, { op: 'rows' }> => o.op === 'rows');
      const rows = rowsOp ? rowsOp.count : outRows;
      if (rowsOp && rowsOp.start + rowsOp.count > outRows) {
        refusals.push(
          refusal(
            'shape_mismatch',
            `${p.b.name} has ${outRows} output rows, fewer than the fused ${p.module} of this base config needs.`,
            [p.b.name],
            'Check that the base config.json matches the adapter.',
          ),
        );
        break;
      }
      const gguf = `${part.gguf}.weight`;
      names.push(gguf);
      outputs.push(planned(`${gguf}.lora_a`, 'lora_a', p.module, dtype, [{ source: p.a.name, ops: [] }], [p.a.shape[1]!, p.a.shape[0]!]));
      outputs.push(planned(`${gguf}.lora_b`, 'lora_b', p.module, dtype, [{ source: p.b.name, ops: [...part.ops, ...bScale] }], [p.b.shape[1]!, rows]));
    }
    modules.push({ module: p.module, gguf: names, kind: 'linear', ...scaling });
  }

  if (unmappable.length) {
    refusals.push(
      refusal(
        'unknown_tensor',
        `LoRA on modules the ${family.id} architecture does not have in llama.cpp: ${summarise(unmappable)}.`,
        unmappable,
        'Check that the base config.json is the one the adapter was trained on.',
        { architecture: base.architecture },
      ),
    );
  }
  if (parameterLora.length) {
    refusals.push(
      refusal(
        'unsupported_adapter',
        `LoRA on parameters (target_parameters: ${config.targetParameters!.map((x) => JSON.stringify(x)).join(', ')}) cannot be converted: ${parameterWhy.size ? [...parameterWhy].join('; ') : 'the factors are incomplete or malformed'}; it is refused rather than written wrongly (${summarise(parameterLora)}).`,
        parameterLora,
        'Retrain with target_modules on per-expert linear layers if the model has them, or merge the adapter into the base model (merge_and_unload) and convert the merged model.',
        { field: 'adapter_config.json: target_parameters' },
      ),
    );
  }
  if (leftOut.length) {
    warnings.push({
      code: 'non_text_dropped',
      message: `Left out ${leftOut.length} tensor${leftOut.length > 1 ? 's' : ''} of modules outside the language model (vision / audio): ${summarise(leftOut)}. The GGUF holds only the language model's LoRA.`,
      tensors: leftOut,
    });
  }
  if (nonText.length) {
    refusals.push(refusal('non_text_module', `${HINTS.non_text_module![0]} (${summarise(nonText)})`, nonText, HINTS.non_text_module![1]));
  }

  // 3. Experts: stack every expert of a layer into one 3-D pair; all experts must be there.
  for (const [key, g] of expertGroups) {
    const missing: number[] = [];
    for (let x = 0; x < g.count; x++) if (!g.members.has(x)) missing.push(x);
    const members = [...g.members.entries()].sort((x, y) => x[0] - y[0]).map(([, p]) => p);
    const extra = [...g.members.keys()].filter((x) => x >= g.count);
    if (missing.length || extra.length) {
      const names = members.flatMap((p) => [p.a!.name, p.b!.name]);
      const pattern = members[0]!.module.replace(/\.(\d+)\.(?=[^.]+$)/, '.{xid}.');
      refusals.push(
        refusal(
          'partial_experts',
          missing.length
            ? `${pattern}: LoRA covers ${g.members.size} of the ${g.count} experts; missing expert${missing.length > 1 ? 's' : ''} ${missing.join(', ')}. llama.cpp stores the experts of a layer as one tensor, so its LoRA must cover all of them.`
            : `${pattern}: expert index ${extra.join(', ')} is beyond the ${g.count} experts of the base config.`,
          names,
          'Retrain with LoRA on every expert of the layer (or none), or check that the base config.json matches.',
          { missingExperts: missing },
        ),
      );
      continue;
    }
    const first = members[0]!;
    const r = first.a!.shape[0]!;
    const inDim = first.a!.shape[1]!;
    const outDim = first.b!.shape[0]!;
    const bad = members.find((p) => p.a!.shape[0] !== r || p.a!.shape[1] !== inDim || p.b!.shape[0] !== outDim || p.b!.shape[1] !== r);
    if (bad) {
      refusals.push(
        refusal(
          'shape_mismatch',
          `Experts of ${key} have LoRA factors of different shapes (${bad.module}); llama.cpp needs one rank for all experts of a layer.`,
          [bad.a!.name, bad.b!.name],
        ),
      );
      continue;
    }
    const scalings = members.map((p) => peftScaling(config, p.module, r));
    const folds = new Set(scalings.map((s) => s.fold));
    const dtypes = new Set(members.flatMap((p) => [p.a!.dtype, p.b!.dtype]));
    const dtype = dtypes.size === 1 ? [...dtypes][0]! : [...dtypes].join('/');
    const gguf = `${key}.weight`;
    const pattern = first.module.replace(/\.(\d+)\.(?=[^.]+$)/, '.{xid}.');
    outputs.push(
      planned(
        `${gguf}.lora_a`,
        'lora_a',
        pattern,
        dtype,
        members.map((p) => ({ source: p.a!.name, ops: [] })),
        [inDim, r, g.count],
      ),
    );
    outputs.push(
      planned(
        `${gguf}.lora_b`,
        'lora_b',
        pattern,
        dtype,
        members.map((p, i) => ({ source: p.b!.name, ops: scalings[i]!.fold === 1 ? [] : [{ op: 'scale', factor: scalings[i]!.fold } as MatrixOp] })),
        [r, outDim, g.count],
      ),
    );
    if (folds.size > 1)
      warnings.push({ code: 'expert_scaling', message: `Experts of ${key} have different PEFT scalings; each is folded into its own lora_b.` });
    modules.push({ module: pattern, gguf: [gguf], kind: 'experts', ...scalings[0]! });
  }

  // 4. Norm vectors (mergekit): always F32, Gemma-style +1. llama.cpp loads an adapter's norm
  //    vectors but never applies them (llama-adapter.cpp skips them; proven in
  //    test/runtime/llama.spec.ts), so the file would silently lack part of the adapter: refused
  //    by default. With the opt-in they are kept, as llama.cpp's converter writes them, with a warning.
  if (norms.length) {
    const names = norms.map((n) => n.tensor.name);
    const why =
      'llama.cpp ignores norm vectors in a LoRA adapter (it applies only lora_a/lora_b pairs), so this part of the adapter (mergekit-style replaced norms) would have no effect.';
    if (options.keepNormVectors) {
      warnings.push({
        code: 'norms_not_applied',
        message: `${norms.length} norm vector${norms.length > 1 ? 's' : ''} (${summarise(names)}) written as llama.cpp's converter does, but ${why}`,
        tensors: names,
      });
      for (const n of norms) {
        outputs.push(
          planned(n.gguf, 'norm', n.module, n.tensor.dtype, [{ source: n.tensor.name, ops: n.addOne ? [{ op: 'addOne' }] : [] }], [n.tensor.shape[0]!]),
        );
      }
    } else if (options.dropUnapplied) {
      warnings.push({
        code: 'dropped',
        message: `Left out ${norms.length} norm vector${norms.length > 1 ? 's' : ''} (${summarise(names)}): ${why}`,
        tensors: names,
      });
      for (const n of names) skipped.push({ tensor: n, reason: 'a norm vector: llama.cpp ignores norm vectors in a LoRA adapter' });
    } else {
      refusals.push(
        refusal(
          'not_applied_by_runtime',
          `Norm vectors: ${why} (${summarise(names)})`,
          names,
          'Merge the adapter into the base model and convert the merged model to keep the norms. Or convert with --drop-unapplied (the app: "leave out what llama.cpp would not apply") to leave them out, or with --keep-norm-vectors to write them anyway, knowing that llama.cpp ignores them.',
        ),
      );
    }
  }

  if (outputs.length === 0 && refusals.length === 0) {
    refusals.push(
      refusal('unsupported_adapter', 'The adapter has no LoRA tensors to convert.', [], 'Check that this is the adapter_model.safetensors written by PEFT.'),
    );
  }

  // 5. Output type. `auto` follows the reference: the first LoRA pair (in sorted order of first
  //    appearance) stored as BF16 gives bf16, as F16 gives f16; F32 or mixed pairs are skipped.
  const requested = options.outtype ?? 'f32';
  let outtype: OutType;
  let outtypeReason: string;
  if (requested === 'auto') {
    const firstHalf = pairList.filter((p) => p.a && p.b && p.a.dtype === p.b.dtype && p.a.dtype !== 'F32').sort((x, y) => x.firstSeen - y.firstSeen)[0];
    outtype = firstHalf?.a?.dtype === 'BF16' ? 'bf16' : 'f16';
    outtypeReason = firstHalf ? `auto: the first 16-bit LoRA pair (${firstHalf.module}) is ${firstHalf.a!.dtype}` : 'auto: no 16-bit LoRA pair, so f16';
  } else {
    outtype = requested;
    outtypeReason = requested;
  }

  // Every transform is checked against its source's shape now, so a fused tensor whose rows do
  // not fit the config (e.g. a q_proj whose rows are not n_head * 2 * k) is refused before writing.
  const badModules = new Set<string>();
  for (const t of outputs) {
    const problem = badModules.has(t.module) ? undefined : checkTensorShape(t, sources);
    if (problem) {
      badModules.add(t.module);
      refusals.push(
        refusal(
          'shape_mismatch',
          `${t.module}: ${problem} (for ${t.name})`,
          t.parts.map((p) => p.source),
          'Check that the base config.json is the one the adapter was trained on (head counts, hidden size).',
          { module: t.module },
        ),
      );
    }
  }
  if (badModules.size) {
    const kept = outputs.filter((t) => !badModules.has(t.module));
    outputs.length = 0;
    outputs.push(...kept);
  }
  outputs.sort((x, y) => compareNatural(x.name, y.name) || (x.role < y.role ? -1 : 1));
  const name = options.name?.trim() || 'LoRA adapter';
  const ggufArchitecture = ggufArchFor(family, base);
  const kvs: GgufKv[] = [
    { key: 'general.architecture', type: 'STRING', value: ggufArchitecture },
    { key: 'general.type', type: 'STRING', value: 'adapter' },
    { key: 'adapter.type', type: 'STRING', value: 'lora' },
    { key: 'general.name', type: 'STRING', value: name },
    { key: 'adapter.lora.alpha', type: 'FLOAT32', value: config.loraAlpha },
  ];
  if (config.aloraInvocationTokens) {
    kvs.push({ key: 'adapter.alora.invocation_tokens', type: 'ARRAY', itemType: 'UINT32', value: config.aloraInvocationTokens });
  } else if (config.invocationString !== null) {
    refusals.push(
      refusal(
        'unsupported_adapter',
        `This is an aLoRA adapter whose config has only the invocation string ${JSON.stringify(config.invocationString)}, not its token ids (alora_invocation_tokens); llama.cpp needs the ids to know when to activate the adapter.`,
        [],
        'Tokenize the invocation string with the base model\'s own tokenizer — in Python tokenizer.encode(s, add_special_tokens=False), or offline with llama.cpp on the base GGUF: llama-tokenize -m base.gguf -p "<string>" --ids --no-bos — and add the ids as "alora_invocation_tokens" to adapter_config.json.',
        { field: 'adapter_config.json: alora_invocation_tokens' },
      ),
    );
  }
  kvs.push({ key: 'general.quantization_version', type: 'UINT32', value: 2 });

  const layout = layOut(outputs, kvs, outtype);
  const sizeByOuttype = Object.fromEntries(
    OUTTYPES.map((o) => [
      o,
      o === outtype
        ? layout.totalBytes
        : layOut(
            outputs.map((t) => ({ ...t })),
            kvs,
            o,
          ).totalBytes,
    ]),
  ) as Record<OutType, number>;
  const layerSet = new Set<number>();
  for (const m of modules) {
    const mm = /(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\./.exec(m.module);
    if (mm) layerSet.add(Number(mm[1]));
  }

  return {
    planVersion: 1,
    name,
    architecture: base.architecture,
    family: family.id,
    ggufArchitecture,
    requestedOuttype: requested,
    outtype,
    outtypeReason,
    adapter: {
      r: config.r,
      loraAlpha: config.loraAlpha,
      useRslora: config.useRslora,
      targetModules: config.targetModules,
      baseModel: config.baseModelNameOrPath,
      layers: layerSet.size,
      peftType: config.peftType,
    },
    tied,
    modules: modules.sort((x, y) => compareNatural(x.module, y.module)),
    tensors: layout.tensors,
    kvs,
    headerBytes: layout.headerBytes,
    totalBytes: layout.totalBytes,
    sizeByOuttype,
    sources,
    skipped,
    normVectors: norms.map((n) => n.tensor.name),
    warnings,
    refusals,
  };
}

/** Why a planned tensor's parts don't produce its planned dims, or undefined when they do. */
function checkTensorShape(t: PlannedTensor, sources: Record<string, TensorLocation>): string | undefined {
  const per = t.ne.length === 3 ? t.ne.slice(0, 2) : t.ne;
  const want = [...per].reverse();
  for (const part of t.parts) {
    const loc = sources[part.source];
    if (!loc) return `no source tensor ${part.source}`;
    let got: number[];
    try {
      got = opsOutputShape(loc.shape, part.ops);
    } catch (e) {
      return e instanceof ConversionError ? e.message : String(e);
    }
    if (got.length === 1 && want.length === 1 ? got[0] !== want[0] : got.join('x') !== want.join('x')) {
      return `${part.source} gives shape [${got.join(', ')}], expected [${want.join(', ')}]`;
    }
  }
  return undefined;
}

function summarise(names: string[]): string {
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
}

function planned(name: string, role: PlannedTensor['role'], module: string, sourceDtype: string, parts: PartRecipe[], ne: number[]): PlannedTensor {
  return { name, ne, type: 'F32', byteSize: 0, offset: 0, role, module, sourceDtype, parts };
}

/** Assign types, sizes and offsets for an outtype; returns the header size and total size. */
function layOut(tensors: PlannedTensor[], kvs: GgufKv[], outtype: OutType): { tensors: PlannedTensor[]; headerBytes: number; totalBytes: number } {
  let offset = 0;
  for (const t of tensors) {
    t.type = t.role === 'norm' ? 'F32' : tensorTypeFor(outtype, t.ne);
    t.byteSize = ggmlByteSize(
      t.type,
      t.ne.reduce((a, d) => a * d, 1),
    );
    t.offset = offset;
    offset = alignUp(offset + t.byteSize);
  }
  const headerBytes = serializeGgufHeader(kvs, tensors).byteLength;
  return { tensors, headerBytes, totalBytes: headerBytes + offset };
}

function checkPairShapes(p: Pair): SerializedConversionError | undefined {
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

function blockedReason(rule: ModuleRule, tied: boolean, family: ArchFamily, base: BaseConfig): { code: ErrorCode; why: string; hint: string } | undefined {
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

/** Serialize the plan's header (for convert and for tests). */
export function planHeader(plan: ConversionPlan): Uint8Array {
  return serializeGgufHeader(plan.kvs, plan.tensors);
}
