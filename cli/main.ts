/**
 * lora2gguf command line: a thin Node adapter over the core. Reads the adapter through a
 * FileSource (by offset, never whole), plans with inspect(), and writes with convert() into an
 * AtomicFileSink, so a failed or interrupted run never leaves a partial .gguf behind.
 *
 * Exit codes: 0 done, 1 refused or invalid input, 2 usage.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chooseBaseConfig,
  convert,
  ConversionError,
  DEFAULT_HUB_ENDPOINT,
  defaultOutputFileName,
  formatHubRef,
  hubRefDisplayName,
  inspect,
  isAbortError,
  isConversionError,
  looksLikeHubReference,
  openHubAdapter,
  parseAdapterConfig,
  parseHubRef,
  resolveBaseConfig,
  simdAvailable,
  mlxCheckpointStep,
  MLX_FINAL_WEIGHTS,
  type ByteSource,
  type ConversionPlan,
  type ConvertResult,
  type HubAdapter,
  type SerializedConversionError,
} from '../src/core';
import { parseCliArgs, USAGE, UsageError, type CliCommand, type CliOptions } from './args';
import { adapterFromGguf, isGgufPath, runCheckAgainst, runInspect } from './check';
import { isBatch, runBatch } from './batch';
import { formatBytes, formatDuration, formatPlan, formatProgressBar, formatRefusal, formatWarning } from './format';
import { AtomicFileSink, FileSource } from './node-io';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  /** Whether stderr is a terminal (progress bar). */
  isTTY: boolean;
  /** Redraw the progress line (TTY only). */
  progress?: (line: string) => void;
  /** Environment (HF_TOKEN, HF_ENDPOINT); default process.env. */
  env?: Record<string, string | undefined>;
  /** Aborts Hub reads and the conversion (main() wires SIGINT to it). */
  signal?: AbortSignal;
}

/** Where the base model's config.json came from (printed on stderr, and in --json). */
interface BaseConfigSource {
  origin: 'supplied' | 'catalogue' | 'hub' | 'mlx-model';
  /** File path (supplied, or the model folder an MLX adapter names), catalogue entry id, or the Hub URL fetched. */
  source: string;
  /** Catalogue: the Hub config.json its values come from. */
  citation?: string;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** Input problems found by the CLI itself (missing files), in the core's error vocabulary. */
function inputError(message: string, field: string, hint?: string): ConversionError {
  return new ConversionError('wrong_input', message, { file: field }, hint);
}

/** The base config the user gave with --base / --base-config, if any. */
async function suppliedBaseConfig(options: CliOptions, cwd: string): Promise<{ text: string; path: string } | undefined> {
  if (options.baseConfig !== undefined) {
    const path = resolve(cwd, options.baseConfig);
    if (!existsSync(path)) throw inputError(`--base-config: ${options.baseConfig} does not exist.`, options.baseConfig);
    return { text: await readFile(path, 'utf8'), path };
  }
  if (options.base !== undefined) {
    const dir = resolve(cwd, options.base);
    const file = statSync(dir, { throwIfNoEntry: false })?.isFile() ? dir : join(dir, 'config.json');
    if (!existsSync(file)) {
      throw inputError(
        `--base: ${file} does not exist.`,
        file,
        "Point --base at the folder holding the base model's config.json (a local download of the base model), or use --base-config <file>.",
      );
    }
    return { text: await readFile(file, 'utf8'), path: file };
  }
  return undefined;
}

interface HubAccess {
  endpoint: string;
  token: string | undefined;
  signal: AbortSignal | undefined;
}

/**
 * The base config: a supplied config.json always wins; then the bundled catalogue entry for
 * base_model_name_or_path (offline); then, for a Hub adapter, the base's config.json from the
 * Hub; else a usage error naming the base model to fetch.
 */
async function readBaseConfig(
  options: CliOptions,
  cwd: string,
  adapterConfigText: string,
  hub: HubAccess | undefined,
  adapterDir?: string,
): Promise<{ text: string; from: BaseConfigSource }> {
  const supplied = await suppliedBaseConfig(options, cwd);
  if (supplied) return { text: supplied.text, from: { origin: 'supplied', source: supplied.path } };
  let baseName: string | null = null;
  let mlx = false;
  try {
    const parsed = parseAdapterConfig(adapterConfigText);
    baseName = parsed.baseModelNameOrPath;
    mlx = parsed.mlx !== undefined;
  } catch {
    // the config error will be reported by inspect once a base is found, or below
  }
  // mlx-lm records the model it trained on; a local folder of it (an mlx-community download,
  // whose quantization block is no obstacle) holds the config.json.
  if (mlx && baseName) {
    for (const dir of [resolve(cwd, baseName), ...(adapterDir ? [resolve(adapterDir, '..', baseName)] : [])]) {
      const file = join(dir, 'config.json');
      if (existsSync(file)) return { text: await readFile(file, 'utf8'), from: { origin: 'mlx-model', source: file } };
    }
  }
  const chosen = chooseBaseConfig(baseName);
  if (chosen?.hit) return { text: chosen.text, from: { origin: 'catalogue', source: chosen.hit.id, citation: chosen.hit.source } };
  if (hub && baseName) {
    const resolved = await resolveBaseConfig(baseName, { endpoint: hub.endpoint, token: hub.token, signal: hub.signal, prefer: 'hub' });
    return { text: resolved.text, from: { origin: 'hub', source: resolved.source } };
  }
  const named = baseName ? `"${baseName}"` : 'the base model (adapter_config.json does not name it)';
  if (mlx) {
    throw new UsageError(
      `the base model's config.json is needed to map the adapter's tensors. This MLX adapter was trained on ${named}, which is neither a folder here nor in the bundled catalogue.\n` +
        `Pass --base <the model folder given to mlx_lm.lora> (an mlx-community download works: its config.json is enough), or --base-config <path/to/config.json>.`,
    );
  }
  throw new UsageError(
    `the base model's config.json is needed to map the adapter's tensors. This adapter was trained on ${named}, which is not in the bundled catalogue.\n` +
      `Download that model's config.json (e.g. https://huggingface.co/${baseName ?? '<base-model>'}/blob/main/config.json) and pass ` +
      `--base-config <path/to/config.json>, or --base <folder containing config.json>.`,
  );
}

function describeBase(from: BaseConfigSource): string {
  if (from.origin === 'catalogue') return `base config: bundled catalogue entry ${from.source} (values from ${from.citation})`;
  if (from.origin === 'hub') return `base config: ${from.source}`;
  if (from.origin === 'mlx-model') return `base config: ${from.source} (the model folder mlx-lm trained on, named in adapter_config.json)`;
  return `base config: ${from.source}`;
}

/**
 * The adapter's weights file in a local folder: PEFT's safetensors, else its torch.save .bin,
 * else mlx-lm's adapters.safetensors (the final weights), else mlx-lm's latest numbered
 * checkpoint (with a note).
 */
function localWeights(adapterDir: string): { path: string; note?: string } | undefined {
  for (const f of ['adapter_model.safetensors', 'adapter_model.bin', MLX_FINAL_WEIGHTS])
    if (existsSync(join(adapterDir, f))) return { path: join(adapterDir, f) };
  const checkpoints = readdirSync(adapterDir)
    .map((f) => ({ f, step: mlxCheckpointStep(f) }))
    .filter((c): c is { f: string; step: number } => c.step !== undefined)
    .sort((a, b) => b.step - a.step);
  const latest = checkpoints[0];
  if (!latest) return undefined;
  return {
    path: join(adapterDir, latest.f),
    note: `no adapters.safetensors: converting mlx-lm's latest checkpoint, ${latest.f} (step ${latest.step}, of ${checkpoints.length})`,
  };
}

/** In the CLI the token comes from HF_TOKEN: say so instead of the app's "paste a token". */
function cliHint(e: SerializedConversionError, hadToken: boolean): SerializedConversionError {
  if (e.code !== 'auth_required') return e;
  const hint = hadToken
    ? 'Check that HF_TOKEN is a valid token whose account has access (for a gated model: accept its conditions on the model page).'
    : 'If the repository is gated or private, set HF_TOKEN to a Hugging Face access token (read access) in the environment and run again.';
  return { ...e, hint };
}

function refusalsOf(error: unknown): SerializedConversionError[] {
  if (!isConversionError(error)) return [];
  const nested = error.details.refusals;
  return Array.isArray(nested) ? (nested as SerializedConversionError[]) : [error.toJSON()];
}

/** The Hub to talk to: --hub-endpoint, else $HF_ENDPOINT, else the public Hub. */
function hubEndpointOf(option: string | undefined, env: Record<string, string | undefined>): string {
  return option ?? (env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT);
}

/** Run a command that reads GGUF headers: its result as the exit code, its errors in words. */
async function headerCommand(io: CliIo, json: boolean, run: () => Promise<boolean>): Promise<number> {
  try {
    return (await run()) ? EXIT_OK : EXIT_REFUSED;
  } catch (e) {
    const err = isConversionError(e) ? e.toJSON() : new ConversionError('io', (e as Error)?.message ?? String(e)).toJSON();
    if (json) io.stdout(`${jsonText({ ok: false, refusals: [err] })}\n`);
    else io.stderr(`${formatRefusal(err)}\n`);
    return EXIT_REFUSED;
  }
}

/** Run the CLI; returns the exit code. Never calls process.exit (tests call it in-process). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const command = parseCommand(argv, io);
  if (typeof command === 'number') return command;
  if (command.kind === 'inspect') return headerCommand(io, command.json, () => runInspect(command.file, command.json, io));
  if (command.kind === 'publish') {
    const env = io.env ?? process.env;
    const endpoint = hubEndpointOf(command.hubEndpoint, env);
    return headerCommand(io, command.json, async () => {
      // Loaded on first use: @huggingface/hub's upload code (most of the bundle) stays out of every other command's start.
      const { runPublish } = await import('./publish');
      await runPublish(
        {
          file: command.file,
          repo: command.repo,
          baseModel: command.baseModel,
          json: command.json,
          endpoint,
          token: env.HF_TOKEN || undefined,
          signal: io.signal,
        },
        io,
      );
      return true;
    });
  }
  // check with a GGUF adapter: headers only, no plan.
  const hubFor = (o: CliOptions) => {
    const env = io.env ?? process.env;
    return { endpoint: hubEndpointOf(o.hubEndpoint, env), token: env.HF_TOKEN || undefined };
  };
  if (command.kind === 'check' && isGgufPath(command.options.adapterDir)) {
    const { adapterDir, json } = command.options;
    return headerCommand(io, json, async () =>
      runCheckAgainst(await adapterFromGguf(adapterDir, io.cwd), adapterDir, command.baseGguf, json, io, hubFor(command.options)),
    );
  }
  const checkBase = command.kind === 'check' ? command.baseGguf : undefined;
  const options = command.options;
  // A folder of adapters (checkpoints of a run, or several), or --all: each one, into --outdir.
  if (command.kind === 'convert' && !looksLikeHubReference(options.adapterDir) && isBatch(options, io.cwd)) {
    return runBatch(options, io, (argv, sub) => runCli(argv, { ...io, ...sub, isTTY: false }));
  }
  if (options.usedOldDropFlag) {
    io.stderr('note: --drop-tied-lm-head is now --drop-unapplied --keep-norm-vectors (same effect); the new names say what they do.\n');
  }
  const env = io.env ?? process.env;
  const token = env.HF_TOKEN || undefined;
  const fail = (errors: SerializedConversionError[], plan?: ConversionPlan): number => {
    const shown = errors.map((e) => cliHint(e, token !== undefined));
    if (options.json) io.stdout(`${jsonText({ ok: false, refusals: shown, ...(plan ? { warnings: plan.warnings } : {}) })}\n`);
    else io.stderr(`${shown.map(formatRefusal).join('\n\n')}\n`);
    return EXIT_REFUSED;
  };

  let input: OpenedInput | undefined;
  try {
    input = await openInput(options, io, env, token);
    const { source, hubAdapter } = input;
    if (!options.json && input.note) io.stderr(`note: ${input.note}\n`);
    const base = await readBaseConfig(options, io.cwd, input.adapterConfig, input.hubAccess, input.adapterDir);
    if (!options.json && base.from.origin !== 'supplied') io.stderr(`${describeBase(base.from)}\n`);
    const name = options.name ?? input.defaultName;
    const plan = await inspect(
      { adapterConfig: input.adapterConfig, baseConfig: base.text, adapter: source },
      { outtype: options.outtype, name, dropUnapplied: options.dropUnapplied, keepNormVectors: options.keepNormVectors, textOnly: options.textOnly },
    );
    if (checkBase !== undefined) {
      // check: the plan's tensors are what the file would hold.
      if (plan.refusals.length) return fail(plan.refusals, plan);
      const adapter = { architecture: plan.ggufArchitecture, tensors: plan.tensors.map((t) => ({ name: t.name, ne: t.ne })) };
      return (await runCheckAgainst(adapter, options.adapterDir, checkBase, options.json, io, hubFor(options))) ? EXIT_OK : EXIT_REFUSED;
    }
    const outfile = resolve(io.cwd, options.outfile ?? defaultOutputFileName(name, plan.outtype));
    const hubInfo = hubAdapter ? { hub: { ref: formatHubRef(hubAdapter.pinned), commit: hubAdapter.commit, file: hubAdapter.adapterFile } } : {};

    if (options.dryRun) {
      if (options.json) io.stdout(`${jsonText({ ok: plan.refusals.length === 0, outfile, baseConfig: base.from, ...hubInfo, plan })}\n`);
      else {
        io.stdout(`${formatPlan(plan, outfile)}\n`);
        if (plan.refusals.length) io.stderr(`\n${plan.refusals.map(formatRefusal).join('\n\n')}\n`);
      }
      return plan.refusals.length ? EXIT_REFUSED : EXIT_OK;
    }
    if (plan.refusals.length) return fail(plan.refusals, plan);
    if (existsSync(outfile) && !options.force) {
      return fail([inputError(`${outfile} already exists.`, outfile, 'Use --force to overwrite it, or --outfile to choose another name.').toJSON()]);
    }
    if (!options.json) for (const w of plan.warnings) io.stderr(`${formatWarning(w)}\n`);
    const { converted, seconds } = await writeOutput(plan, source, outfile, options, io);
    const summary = {
      ok: true,
      outfile,
      bytes: plan.totalBytes,
      outtype: plan.outtype,
      architecture: plan.architecture,
      ggufArchitecture: plan.ggufArchitecture,
      name: plan.name,
      tensors: plan.tensors.length,
      adapterFormat: plan.adapter.format,
      baseConfig: base.from,
      ...hubInfo,
      warnings: plan.warnings,
      skipped: plan.skipped,
      nonFinite: converted.nonFinite,
      seconds,
      inputBytes: source.byteLength,
      inputMiBPerSecond: source.byteLength / 2 ** 20 / seconds,
      /** WebAssembly SIMD, or the JavaScript kernels where WebAssembly memory cannot be had (a tight `ulimit -v`). */
      kernels: simdAvailable() ? 'simd' : 'js',
    };
    if (options.json) io.stdout(`${jsonText(summary)}\n`);
    else reportWritten(io, plan, outfile, converted, seconds, source.byteLength, hubAdapter);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`lora2gguf: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (isAbortError(e)) {
      io.stderr('lora2gguf: interrupted\n');
      return EXIT_INTERRUPTED;
    }
    const refusals = refusalsOf(e);
    if (refusals.length) return fail(refusals);
    const err = e as NodeJS.ErrnoException;
    return fail([new ConversionError('io', err.message ?? String(e), { file: err.path }).toJSON()]);
  } finally {
    await input?.close?.();
  }
}

/** The command to run, or the exit code when the command is help, version or a usage error. */
function parseCommand(argv: readonly string[], io: CliIo): Exclude<CliCommand, { kind: 'help' } | { kind: 'version' }> | number {
  try {
    const command = parseCliArgs(argv);
    if (command.kind === 'help') {
      io.stdout(`${USAGE}\n`);
      return EXIT_OK;
    }
    if (command.kind === 'version') {
      io.stdout(`lora2gguf ${version()}\n`);
      return EXIT_OK;
    }
    return command;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`lora2gguf: ${e.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

/** The adapter to convert: its config, weights and default name, from the Hub or a folder. */
interface OpenedInput {
  adapterConfig: string;
  source: ByteSource;
  defaultName: string;
  /** A local adapter's folder (an MLX adapter's `model` may be relative to it). */
  adapterDir?: string;
  /** Said on stderr before converting (e.g. which MLX checkpoint was picked). */
  note?: string;
  hubAccess?: HubAccess;
  hubAdapter?: HubAdapter;
  close?: () => Promise<void>;
}

async function openInput(options: CliOptions, io: CliIo, env: Record<string, string | undefined>, token: string | undefined): Promise<OpenedInput> {
  const endpoint = hubEndpointOf(options.hubEndpoint, env);
  // A URL pasted from the configured Hub (a mirror or a test Hub) is a Hub reference too.
  const onEndpoint = options.adapterDir.startsWith(`${endpoint.replace(/\/+$/, '')}/`);
  if (looksLikeHubReference(options.adapterDir) || onEndpoint) {
    const ref = parseHubRef(options.adapterDir, { endpoint });
    const hubAccess = { endpoint, token, signal: io.signal };
    const hubAdapter = await openHubAdapter(ref, hubAccess);
    if (!options.json) io.stderr(`adapter: ${formatHubRef(hubAdapter.pinned)} (${hubAdapter.adapterFile}, read by ranges)\n`);
    return { adapterConfig: hubAdapter.adapterConfig, source: hubAdapter.adapter, defaultName: hubRefDisplayName(ref), hubAccess, hubAdapter };
  }
  return openLocalInput(options.adapterDir, io.cwd);
}

/** A PEFT adapter folder: adapter_config.json and the weights beside it, read by offset. */
async function openLocalInput(given: string, cwd: string): Promise<OpenedInput> {
  const adapterDir = resolve(cwd, given);
  if (!statSync(adapterDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw inputError(
      `${given} is not a folder.`,
      given,
      'Give the folder PEFT saved the adapter into (it holds adapter_config.json and adapter_model.safetensors), or hf:owner/repo for an adapter on the Hub.',
    );
  }
  const configPath = join(adapterDir, 'adapter_config.json');
  if (!existsSync(configPath)) {
    throw inputError(`${given} has no adapter_config.json.`, configPath, 'Is this a PEFT adapter folder? A full model folder cannot be converted to a LoRA.');
  }
  const weights = localWeights(adapterDir);
  if (!weights) {
    throw inputError(
      `${given} has neither adapter_model.safetensors nor adapter_model.bin (PEFT), nor adapters.safetensors (mlx-lm).`,
      join(adapterDir, 'adapter_model.safetensors'),
      'PEFT saves the weights next to adapter_config.json (save_pretrained); mlx_lm.lora saves adapters.safetensors in its --adapter-path.',
    );
  }
  const adapterConfig = await readFile(configPath, 'utf8');
  const file = await FileSource.open(weights.path);
  return { adapterConfig, source: file, defaultName: basename(adapterDir), close: () => file.close(), note: weights.note, adapterDir };
}

/** Convert into `<outfile>.partial-<pid>`, renamed into place when complete; removed on any failure. */
async function writeOutput(
  plan: ConversionPlan,
  source: ByteSource,
  outfile: string,
  options: CliOptions,
  io: CliIo,
): Promise<{ converted: ConvertResult; seconds: number }> {
  const sink = await AtomicFileSink.create(outfile);
  const started = performance.now();
  try {
    const converted = await convert(plan, source, sink, {
      signal: io.signal,
      keepNonFinite: options.keepNonFinite,
      onProgress: (event) => {
        if (!io.isTTY || !io.progress) return;
        if (event.type === 'tensor') io.progress(formatProgressBar(event.bytesWritten, event.totalBytes));
        else if (event.type === 'done') io.progress('');
      },
    });
    // Reads check the file now and then; once more before the output is kept.
    if (source instanceof FileSource) await source.assertUnchanged();
    await sink.commit(options.force);
    return { converted, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    await sink.abort();
    throw e;
  }
}

function reportWritten(
  io: CliIo,
  plan: ConversionPlan,
  outfile: string,
  converted: ConvertResult,
  seconds: number,
  inputBytes: number,
  hubAdapter?: HubAdapter,
): void {
  for (const t of converted.nonFinite) {
    io.stderr(
      `warning [non_finite_kept]: ${t.tensor}: ${t.count} NaN or infinite value${t.count === 1 ? '' : 's'} written as they are (--keep-non-finite; from ${t.sources.join(', ')})\n`,
    );
  }
  const from = hubAdapter ? ` from ${formatHubRef(hubAdapter.pinned)} (commit ${hubAdapter.commit})` : '';
  io.stdout(
    `Wrote ${outfile}${from} (${plan.tensors.length} tensors, ${formatBytes(plan.totalBytes)}, ${plan.outtype}) in ${formatDuration(seconds, inputBytes)}\n`,
  );
}

/** Run with the real process: stdio, cwd, exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const stderr = process.stderr;
  // Ctrl-C while reading from the Hub cancels the requests; once the output file is being
  // written, node-io's handler removes the partial file and exits.
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  process.exitCode = await runCli(argv, {
    env: process.env,
    signal: controller.signal,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => stderr.write(t),
    cwd: process.cwd(),
    isTTY: stderr.isTTY === true,
    progress: (line) => {
      stderr.clearLine(0);
      stderr.cursorTo(0);
      stderr.write(line);
    },
  }).finally(() => process.off('SIGINT', onSigint));
}

// `tsx cli/main.ts` (npm run convert) runs it directly; bin/lora2gguf.cjs imports and calls main().
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
