/**
 * One runtime case: base model, PEFT adapter, converted GGUF LoRA and merged model, all built
 * in the test; then llama.cpp evaluates base, base + LoRA and merged on the same tokens.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { bytesSource, convert, inspect, MemorySink, planHeader, type ConversionPlan, type InspectOptions, type OutType } from '../../../src/core/index';
import type { ArchSpec } from './arch';
import { spmVocabKvs, writeGgufModel } from './gguf-model';
import { loadModel, maxAbsDiff, nextTokenLogProbs } from './llama-runtime';
import { peftToMlx } from '../../helpers/mlx';
import { buildPeftAdapter, mergeAdapter, type AdapterOptions, type LoraTarget, type PeftAdapter } from './peft';
import { Rng, type Tensor } from './tensor';

export const VOCAB = 300;
/** The fixed evaluation input: BOS, then ids spread over byte and word-piece tokens. */
export const TOKENS = [1, 72, 105, 260, 33, 299, 150, 7, 280, 64, 3, 271, 200, 90, 258, 15];

let workDir: string | undefined;
/** A fresh directory per test file; file names are unique per case as well. */
export function runtimeDir(): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'lora2gguf-runtime-'));
  return workDir;
}

// Each spec file importing this module removes its models afterwards (KEEP_RUNTIME_FILES=1 keeps
// them for a look with llama.cpp's own tools).
afterAll(() => {
  if (workDir && !process.env.KEEP_RUNTIME_FILES) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
});

export interface CaseOptions {
  /** Unique per case: node-llama-cpp caches LoRA adapters by path. */
  name: string;
  spec: ArchSpec;
  adapter: AdapterOptions;
  /** Default: every target of the spec. */
  targets?: LoraTarget[];
  outtype?: OutType;
  seed?: number;
  inspectOptions?: InspectOptions;
  extraConfig?: Record<string, unknown>;
  /** Convert the adapter as mlx-lm would have written it (test/helpers/mlx.ts) instead of PEFT's file. */
  format?: 'peft' | 'mlx';
}

export interface CaseFiles {
  basePath: string;
  mergedPath: string;
  loraPath: string;
  plan: ConversionPlan;
  peft: PeftAdapter;
  base: Map<string, Tensor>;
}

export function writeModel(spec: ArchSpec, weights: Map<string, Tensor>, path: string): void {
  const { kvs, tensors } = spec.toGguf(weights);
  writeFileSync(path, writeGgufModel([...kvs, ...spmVocabKvs(VOCAB)], tensors));
}

/** Convert a PEFT adapter with the core; throws if the plan has refusals. */
export async function convertWithCore(
  peft: PeftAdapter,
  baseConfig: Record<string, unknown>,
  options: InspectOptions,
): Promise<{ plan: ConversionPlan; bytes: Uint8Array }> {
  const source = bytesSource(peft.safetensors);
  const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(baseConfig), adapter: source }, options);
  const sink = new MemorySink();
  await convert(plan, source, sink);
  return { plan, bytes: sink.bytes() };
}

/** Convert the MLX adapter equal to a PEFT adapter with the core; throws if the plan has refusals. */
export async function convertMlxWithCore(
  peft: PeftAdapter,
  baseConfig: Record<string, unknown>,
  options: InspectOptions,
): Promise<{ plan: ConversionPlan; bytes: Uint8Array }> {
  const mlx = peftToMlx(JSON.stringify(peft.config), peft.safetensors, JSON.stringify(baseConfig));
  const source = bytesSource(mlx.weights);
  const plan = await inspect({ adapterConfig: mlx.config, baseConfig: JSON.stringify(baseConfig), adapter: source }, options);
  if (plan.adapter.source !== 'mlx') throw new Error('not planned as an MLX adapter');
  const sink = new MemorySink();
  await convert(plan, source, sink);
  return { plan, bytes: sink.bytes() };
}

export async function buildCase(o: CaseOptions): Promise<CaseFiles> {
  const dir = runtimeDir();
  const rng = new Rng(o.seed ?? 1234);
  const base = o.spec.weights(rng);
  const peft = buildPeftAdapter(base, o.targets ?? o.spec.targets, o.adapter, rng, o.extraConfig);
  const merged = mergeAdapter(base, peft);
  const basePath = join(dir, `${o.name}.base.gguf`);
  const mergedPath = join(dir, `${o.name}.merged.gguf`);
  const loraPath = join(dir, `${o.name}.lora.gguf`);
  writeModel(o.spec, base, basePath);
  writeModel(o.spec, merged, mergedPath);
  const options: InspectOptions = { outtype: o.outtype ?? 'f32', ...o.inspectOptions };
  const { plan, bytes } = o.format === 'mlx' ? await convertMlxWithCore(peft, o.spec.config, options) : await convertWithCore(peft, o.spec.config, options);
  writeFileSync(loraPath, bytes);
  return { basePath, mergedPath, loraPath, plan, peft, base };
}

export interface CaseResult {
  /** max |Δ log p| between base + converted LoRA and the merged model. */
  adapterVsMerged: number;
  /** max |Δ log p| between base + converted LoRA and the base: proves the LoRA does something. */
  adapterVsBase: number;
  files: CaseFiles;
}

export async function runCase(o: CaseOptions): Promise<CaseResult> {
  const files = await buildCase(o);
  const baseModel = await loadModel(files.basePath);
  let withLora: Float64Array[];
  let plain: Float64Array[];
  try {
    plain = await nextTokenLogProbs(baseModel, TOKENS, VOCAB);
    withLora = await nextTokenLogProbs(baseModel, TOKENS, VOCAB, [files.loraPath]);
  } finally {
    await baseModel.dispose();
  }
  const mergedModel = await loadModel(files.mergedPath);
  let merged: Float64Array[];
  try {
    merged = await nextTokenLogProbs(mergedModel, TOKENS, VOCAB);
  } finally {
    await mergedModel.dispose();
  }
  return { adapterVsMerged: maxAbsDiff(withLora, merged), adapterVsBase: maxAbsDiff(withLora, plain), files };
}

export interface ChildOutcome {
  /** Exit code, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  logProbs?: Float64Array[];
  error?: string;
  /** llama.cpp's log and anything else written to stderr (an abort's message included). */
  stderr: string;
}

/** Evaluate in a child process (see harness/child.ts): survives llama.cpp aborting. */
export function evaluateInChild(model: string, loras: string[], tokens: number[] = TOKENS): ChildOutcome {
  const child = fileURLToPath(new URL('./child.ts', import.meta.url));
  const res = spawnSync(process.execPath, ['--import', 'tsx', child, JSON.stringify({ model, loras, tokens, nVocab: VOCAB })], {
    encoding: 'utf8',
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    timeout: 60_000,
  });
  const out: ChildOutcome = { status: res.status, signal: res.signal, stderr: res.stderr };
  for (const line of res.stdout.split('\n')) {
    if (line.startsWith('RESULT ')) out.logProbs = (JSON.parse(line.slice(7)) as number[][]).map((r) => Float64Array.from(r));
    if (line.startsWith('ERROR ')) out.error = (JSON.parse(line.slice(6)) as { message: string }).message;
  }
  return out;
}

/**
 * Convert with the core, then let `mutate` edit the plan before writing (negative checks: a
 * renamed tensor, another general.architecture). The header size is recomputed.
 */
export async function convertMutated(
  peft: PeftAdapter,
  baseConfig: Record<string, unknown>,
  mutate: (plan: ConversionPlan) => void,
  options: InspectOptions = { outtype: 'f32' },
): Promise<Uint8Array> {
  const source = bytesSource(peft.safetensors);
  const plan = await inspect({ adapterConfig: JSON.stringify(peft.config), baseConfig: JSON.stringify(baseConfig), adapter: source }, options);
  mutate(plan);
  const headerBytes = planHeader(plan).byteLength;
  plan.totalBytes += headerBytes - plan.headerBytes;
  plan.headerBytes = headerBytes;
  const sink = new MemorySink();
  await convert(plan, source, sink);
  return sink.bytes();
}

/** The bar: agree with the merged model to `tolerance`, and differ from the base by > 0.1. */
export function expectMatchesMerged(r: CaseResult, tolerance = 1e-4): void {
  if (process.env.RUNTIME_REPORT) {
    console.log(
      `[runtime] ${r.files.loraPath.split('/').pop()}: max|Δlog p| vs merged ${r.adapterVsMerged.toExponential(2)}, vs base ${r.adapterVsBase.toFixed(3)}`,
    );
  }
  expect(r.adapterVsMerged).toBeLessThanOrEqual(tolerance);
  expect(r.adapterVsBase).toBeGreaterThan(0.1);
}

/**
 * Unit roundoff of each outtype's LoRA factors: f16 2^-11, bf16 2^-8; q8_0 rounds to a step of
 * max|block|/127, half a step at most, so 1/254 of the block's largest value.
 */
export const UNIT_ROUNDOFF: Record<OutType, number> = { f32: 2 ** -24, f16: 2 ** -11, bf16: 2 ** -8, q8_0: 1 / 254 };
