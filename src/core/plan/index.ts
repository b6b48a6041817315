/**
 * inspect: plan the whole conversion from the headers alone — every output tensor (name, shape,
 * type, size, offset), the metadata, warnings and refusals — before a byte is written. The plan
 * is a pipeline of named stages:
 *
 *   1. pair.ts     classify every tensor by name and pair the LoRA factors by module
 *   2. map.ts      check each pair, map it to GGUF tensors with the architecture's rules
 *   3. experts.ts  stack the experts of each MoE layer into 3-D tensors
 *   4. norms.ts    mergekit norm vectors: refuse, leave out or keep
 *   5. layout.ts   output type, transform checks, metadata, types, sizes and offsets
 *
 * Each stage returns its outputs and what it found (warnings, refusals, skipped tensors), which
 * are listed in stage order.
 */
import { familyFor, ggufArchFor } from '../arch/registry';
import { ConversionError } from '../errors';
import type { ByteSource } from '../io';
import { optionalInt, parseAdapterConfig, parseBaseConfig, type AdapterConfig, type BaseConfig } from '../peft/config';
import { baseFamilyMismatch, modifiedBaseWarning } from '../peft/family';
import { assertMlxConvertible, mlxLayerRange, originalNamesIn, presentMlxTensors } from '../mlx/adapter';
import { compareNatural } from '../peft/names';
import { scalingWarnings } from '../peft/scaling';
import { detectAdapterFormat, readPytorchCheckpoint, type AdapterFileFormat } from '../pytorch/checkpoint';
import { parseSafetensorsHeader } from '../safetensors/header';
import type { TensorLocation } from '../tensor/read';
import { stackExperts } from './experts';
import { adapterKvs, checkTransforms, chooseOuttype, layOut, sizesByOuttype } from './layout';
import { mapPairs, type PlanContext } from './map';
import { planNorms } from './norms';
import { classifyAndPair } from './pair';
import {
  refusal,
  type AdapterTensor,
  type ConversionPlan,
  type Diagnostic,
  type Findings,
  type InspectInput,
  type InspectOptions,
  type PlannedModule,
} from './types';

export { planHeader } from './layout';
export type { AdapterTensor, ConversionPlan, Diagnostic, InspectInput, InspectOptions, PartRecipe, PlannedModule, PlannedTensor } from './types';

/**
 * Plan the whole conversion from the headers alone. Nothing is written. Structural problems
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

/** The planning stages on already-parsed inputs (exported for tests and other input formats). */
export function planFrom(config: AdapterConfig, base: BaseConfig, fileTensors: readonly AdapterTensor[], options: InspectOptions = {}): ConversionPlan {
  if (config.peftType !== 'LORA') {
    throw new ConversionError(
      'unsupported_adapter',
      `This is a ${config.peftType} adapter; only LoRA adapters (peft_type "LORA") can be converted to a GGUF LoRA.`,
      { field: 'adapter_config.json: peft_type' },
    );
  }
  if (config.mlx) assertMlxConvertible(config.mlx);
  const family = familyFor(base);
  family.validate?.(base);
  // An MLX adapter is planned as the PEFT adapter it equals; its own names come back at the end.
  const mlx = config.mlx ? presentMlxTensors(fileTensors, family) : null;
  const tensors = mlx ? mlx.tensors : fileTensors;
  const ctx: PlanContext = {
    config,
    base,
    family,
    options,
    tied: family.tiedDefault === 'always' || (base.tieWordEmbeddings ?? family.tiedDefault),
    hidden: optionalInt(base, ['hidden_size', 'n_embd', 'n_embed', 'd_model', 'hidden_dim']),
  };
  const sources: Record<string, TensorLocation> = {};
  // A factor stored transposed is read in its stored shape; its parts begin with the transpose.
  for (const { name, transposed, ...loc } of tensors) sources[name] = transposed ? { ...loc, shape: [loc.shape[1]!, loc.shape[0]!] } : loc;

  const paired = classifyAndPair(tensors, family, config, options);
  const mapped = mapPairs(paired.pairs, ctx, paired.leftOut);
  const stacked = stackExperts(mapped.expertGroups, ctx);
  const norms = planNorms(paired.norms, options);
  const found: Findings = { warnings: configWarnings(config, base), refusals: [], skipped: [] };
  for (const stage of [paired, mapped, stacked, norms]) {
    found.warnings.push(...stage.warnings);
    found.refusals.push(...stage.refusals);
    found.skipped.push(...stage.skipped);
  }
  const planned = [...mapped.outputs, ...stacked.outputs, ...norms.outputs];
  if (planned.length === 0 && found.refusals.length === 0) {
    found.refusals.push(
      refusal('unsupported_adapter', 'The adapter has no LoRA tensors to convert.', [], 'Check that this is the adapter_model.safetensors written by PEFT.'),
    );
  }

  const requested = options.outtype ?? 'f32';
  const { outtype, reason } = chooseOuttype(requested, paired.pairs);
  const checked = checkTransforms(planned, sources);
  found.refusals.push(...checked.refusals);
  const name = options.name?.trim() || 'LoRA adapter';
  const ggufArchitecture = ggufArchFor(family, base);
  const { kvs, refusals: kvRefusals } = adapterKvs(config, name, ggufArchitecture);
  found.refusals.push(...kvRefusals);
  const layout = layOut(checked.outputs, kvs, outtype);
  const modules: PlannedModule[] = [...mapped.modules, ...stacked.modules].sort((x, y) => compareNatural(x.module, y.module));

  const plan: ConversionPlan = {
    planVersion: 1,
    name,
    architecture: base.architecture,
    family: family.id,
    ggufArchitecture,
    requestedOuttype: requested,
    outtype,
    outtypeReason: reason,
    adapter: {
      r: config.r,
      loraAlpha: config.loraAlpha,
      useRslora: config.useRslora,
      targetModules: config.targetModules,
      baseModel: config.baseModelNameOrPath,
      layers: layersCovered(modules),
      peftType: config.peftType,
      source: config.mlx ? 'mlx' : 'peft',
      ...(config.mlx ? { mlx: { ...config.mlx, layerRange: mlxLayerRange(config.mlx, optionalInt(base, ['num_hidden_layers', 'n_layer', 'num_layers', 'n_layers'])) } } : {}),
    },
    tied: ctx.tied,
    modules,
    tensors: layout.tensors,
    kvs,
    headerBytes: layout.headerBytes,
    totalBytes: layout.totalBytes,
    sizeByOuttype: sizesByOuttype(checked.outputs, kvs, outtype, layout),
    sources,
    skipped: found.skipped,
    normVectors: paired.norms.map((n) => n.tensor.name),
    warnings: found.warnings,
    refusals: found.refusals,
  };
  if (mlx) showOriginalNames(plan, mlx.originalNames);
  return plan;
}

/**
 * Name an MLX adapter's tensors as its file does in everything the user reads (warnings,
 * refusals, skipped tensors, norm vectors); `sourceNames` maps the parts' sources for display.
 */
function showOriginalNames(plan: ConversionPlan, names: Readonly<Record<string, string>>): void {
  const name = (n: string) => names[n] ?? n;
  const text = (t: string) => originalNamesIn(t, names);
  for (const w of plan.warnings) {
    w.message = text(w.message);
    if (w.tensors) w.tensors = w.tensors.map(name);
  }
  for (const r of plan.refusals) {
    r.message = text(r.message);
    if (r.hint) r.hint = text(r.hint);
    if (Array.isArray(r.details.tensors)) r.details.tensors = (r.details.tensors as string[]).map(name);
  }
  for (const s of plan.skipped) s.tensor = name(s.tensor);
  plan.normVectors = plan.normVectors.map(name);
  plan.sourceNames = { ...names };
}

/** Warnings from the configs alone: a defaulted alpha, scaling features, a base of another family. */
function configWarnings(config: AdapterConfig, base: BaseConfig): Diagnostic[] {
  const warnings: Diagnostic[] = [];
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
  return warnings;
}

/** How many distinct layers the planned modules touch. */
function layersCovered(modules: readonly PlannedModule[]): number {
  const layers = new Set<number>();
  for (const m of modules) {
    const mm = /(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\./.exec(m.module);
    if (mm) layers.add(Number(mm[1]));
  }
  return layers.size;
}
