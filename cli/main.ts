/**
 * lora2gguf command line: a thin Node adapter over the core. Reads the adapter through a
 * FileSource (by offset, never whole), plans with inspect(), and writes with convert() into an
 * AtomicFileSink, so a failed or interrupted run never leaves a partial .gguf behind.
 *
 * Exit codes: 0 done, 1 refused or invalid input, 2 usage.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  convert,
  ConversionError,
  defaultOutputFileName,
  inspect,
  isConversionError,
  parseAdapterConfig,
  type ConversionPlan,
  type SerializedConversionError,
} from '../src/core';
import { parseCliArgs, USAGE, UsageError, type CliOptions } from './args';
import { formatBytes, formatPlan, formatProgressBar, formatRefusal, formatWarning } from './format';
import { AtomicFileSink, FileSource } from './node-io';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  /** Whether stderr is a terminal (progress bar). */
  isTTY: boolean;
  /** Redraw the progress line (TTY only). */
  progress?: (line: string) => void;
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

async function readBaseConfig(options: CliOptions, adapterConfigText: string): Promise<string> {
  if (options.baseConfig !== undefined) {
    if (!existsSync(options.baseConfig)) throw inputError(`--base-config: ${options.baseConfig} does not exist.`, options.baseConfig);
    return readFile(options.baseConfig, 'utf8');
  }
  if (options.base !== undefined) {
    const file = statSync(options.base, { throwIfNoEntry: false })?.isFile() ? options.base : join(options.base, 'config.json');
    if (!existsSync(file)) {
      throw inputError(
        `--base: ${file} does not exist.`,
        file,
        "Point --base at the folder holding the base model's config.json (a local download of the base model), or use --base-config <file>.",
      );
    }
    return readFile(file, 'utf8');
  }
  let baseName: string | null = null;
  try {
    baseName = parseAdapterConfig(adapterConfigText).baseModelNameOrPath;
  } catch {
    // the config error will be reported once a base is given
  }
  const named = baseName ? `"${baseName}"` : 'the base model (adapter_config.json does not name it)';
  throw new UsageError(
    `the base model's config.json is needed to map the adapter's tensors. This adapter was trained on ${named}.\n` +
      `Download that model's config.json (e.g. https://huggingface.co/${baseName ?? '<base-model>'}/blob/main/config.json) and pass ` +
      `--base-config <path/to/config.json>, or --base <folder containing config.json>.`,
  );
}

function refusalsOf(error: unknown): SerializedConversionError[] {
  if (!isConversionError(error)) return [];
  const nested = error.details.refusals;
  return Array.isArray(nested) ? (nested as SerializedConversionError[]) : [error.toJSON()];
}

/** Run the CLI; returns the exit code. Never calls process.exit (tests call it in-process). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions;
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
    options = command.options;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`lora2gguf: ${e.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }

  const fail = (errors: SerializedConversionError[], plan?: ConversionPlan): number => {
    if (options.json) io.stdout(`${jsonText({ ok: false, refusals: errors, ...(plan ? { warnings: plan.warnings } : {}) })}\n`);
    else io.stderr(`${errors.map(formatRefusal).join('\n\n')}\n`);
    return EXIT_REFUSED;
  };

  const adapterDir = resolve(io.cwd, options.adapterDir);
  let source: FileSource | undefined;
  try {
    if (!statSync(adapterDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw inputError(
        `${options.adapterDir} is not a folder.`,
        options.adapterDir,
        'Give the folder PEFT saved the adapter into (it holds adapter_config.json and adapter_model.safetensors).',
      );
    }
    const configPath = join(adapterDir, 'adapter_config.json');
    const weightsPath = join(adapterDir, 'adapter_model.safetensors');
    if (!existsSync(configPath)) {
      throw inputError(
        `${options.adapterDir} has no adapter_config.json.`,
        configPath,
        'Is this a PEFT adapter folder? A full model folder cannot be converted to a LoRA.',
      );
    }
    if (!existsSync(weightsPath)) {
      const hasBin = existsSync(join(adapterDir, 'adapter_model.bin'));
      throw inputError(
        `${options.adapterDir} has no adapter_model.safetensors${hasBin ? ' (only adapter_model.bin, a pickle file)' : ''}.`,
        weightsPath,
        hasBin ? 'Re-save the adapter with PEFT save_pretrained(..., safe_serialization=True).' : undefined,
      );
    }
    const adapterConfig = await readFile(configPath, 'utf8');
    const baseConfig = await readBaseConfig(options, adapterConfig);
    const name = options.name ?? basename(adapterDir);
    source = await FileSource.open(weightsPath);
    const plan = await inspect({ adapterConfig, baseConfig, adapter: source }, { outtype: options.outtype, name, dropUnapplied: options.dropTiedLmHead });
    const outfile = resolve(io.cwd, options.outfile ?? defaultOutputFileName(name, plan.outtype));

    if (options.dryRun) {
      if (options.json) io.stdout(`${jsonText({ ok: plan.refusals.length === 0, outfile, plan })}\n`);
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

    const sink = await AtomicFileSink.create(outfile);
    const started = performance.now();
    try {
      await convert(plan, source, sink, {
        onProgress: (event) => {
          if (!io.isTTY || !io.progress) return;
          if (event.type === 'tensor') io.progress(formatProgressBar(event.bytesWritten, event.totalBytes));
          else if (event.type === 'done') io.progress('');
        },
      });
      await sink.commit(options.force);
    } catch (e) {
      await sink.abort();
      throw e;
    }
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      ok: true,
      outfile,
      bytes: plan.totalBytes,
      outtype: plan.outtype,
      architecture: plan.architecture,
      ggufArchitecture: plan.ggufArchitecture,
      name: plan.name,
      tensors: plan.tensors.length,
      warnings: plan.warnings,
      skipped: plan.skipped,
      seconds,
    };
    if (options.json) io.stdout(`${jsonText(summary)}\n`);
    else io.stdout(`Wrote ${outfile} (${plan.tensors.length} tensors, ${formatBytes(plan.totalBytes)}, ${plan.outtype}) in ${seconds.toFixed(1)} s\n`);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`lora2gguf: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const refusals = refusalsOf(e);
    if (refusals.length) return fail(refusals);
    const err = e as NodeJS.ErrnoException;
    return fail([new ConversionError('io', err.message ?? String(e), { file: err.path }).toJSON()]);
  } finally {
    await source?.close();
  }
}

/** Run with the real process: stdio, cwd, exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const stderr = process.stderr;
  process.exitCode = await runCli(argv, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => stderr.write(t),
    cwd: process.cwd(),
    isTTY: stderr.isTTY === true,
    progress: (line) => {
      stderr.clearLine(0);
      stderr.cursorTo(0);
      stderr.write(line);
    },
  });
}

// `tsx cli/main.ts` (npm run convert) runs it directly; bin/lora2gguf.mjs imports and calls main().
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
