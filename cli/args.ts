import { parseArgs } from 'node:util';
import type { OutTypeOption } from '../src/core';

/** A command-line mistake: exit code 2 with the usage text. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  adapterDir: string;
  base: string | undefined;
  baseConfig: string | undefined;
  outtype: OutTypeOption;
  outfile: string | undefined;
  name: string | undefined;
  force: boolean;
  dryRun: boolean;
  json: boolean;
  /** Leave out what llama.cpp would not apply (tied-head LoRA, MLA, norm vectors), with a warning. */
  dropUnapplied: boolean;
  /** Keep mergekit norm vectors as llama.cpp's converter writes them (llama.cpp ignores them). */
  keepNormVectors: boolean;
  /** The old --drop-tied-lm-head was given: it means --drop-unapplied --keep-norm-vectors (said on stderr). */
  usedOldDropFlag: boolean;
  textOnly: boolean;
  /** Write NaN / infinite values as they are instead of failing. */
  keepNonFinite: boolean;
  /** Hub base URL for `hf:` references (else HF_ENDPOINT, else the public Hub). */
  hubEndpoint: string | undefined;
  /** Convert every adapter found in the folder (also implied when the folder is not one but holds some). */
  all: boolean;
  /** Where a batch writes its files (default: the current folder). */
  outdir: string | undefined;
  /** How many adapters a batch converts at once. */
  jobs: number;
}

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'convert'; options: CliOptions }
  /** `check <adapter> <base.gguf>`: the adapter (a folder, hf:…, or a .gguf) against a base model's GGUF. */
  | { kind: 'check'; options: CliOptions; baseGguf: string }
  /** `inspect <adapter.gguf>`: what a GGUF adapter holds, and what llama.cpp would reject. */
  | { kind: 'inspect'; file: string; json: boolean }
  /** `publish <file.gguf> <owner/repo>`: upload with a model card (HF_TOKEN). */
  | { kind: 'publish'; file: string; repo: string; baseModel: string | undefined; json: boolean; hubEndpoint: string | undefined };

export const OUTTYPE_CHOICES: readonly OutTypeOption[] = ['f32', 'f16', 'bf16', 'q8_0', 'auto'];

export const USAGE = `Usage: lora2gguf <adapter-dir | hf:owner/repo[/sub/folder][@revision]> [options]
       lora2gguf check <adapter-dir | hf:… | adapter.gguf> <base.gguf> [--json] [--base … | --base-config …]
       lora2gguf inspect <adapter.gguf> [--json]
       lora2gguf publish <adapter.gguf> <owner/repo> [--base-model <owner/name>] [--json]   (HF_TOKEN)

Convert a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors or .bin) into a
llama.cpp GGUF LoRA adapter. An adapter on the Hugging Face Hub (hf:… or a pasted
huggingface.co URL) is read by range requests, never downloaded whole; set HF_TOKEN in the
environment for gated or private repositories.

Options:
  --base <dir>            folder holding the base model's config.json
  --base-config <file>    the base model's config.json itself
                          (default: the bundled catalogue for the adapter's base model, else,
                          for a Hub adapter, the base's config.json from the Hub)
  --outtype <type>        f32 | f16 | bf16 | q8_0 | auto (default: f32)
  --outfile <path>        output file (default: <name>-<OUTTYPE>-LoRA.gguf in the current folder)
  --name <name>           general.name (default: the adapter folder's name)
  --force                 overwrite an existing output file
  --dry-run               print the conversion plan; write nothing
  --json                  machine-readable output (the plan with --dry-run, else the summary)
  --drop-unapplied        leave out, with a warning listing them, the tensors llama.cpp would not
                          apply as PEFT does (lm_head / token-embedding LoRA on a tied base,
                          DeepSeek MLA projections, mergekit norm vectors); else they are refused
  --keep-norm-vectors     write mergekit norm vectors as llama.cpp's converter does, knowing that
                          llama.cpp ignores them (else refused, or left out by --drop-unapplied)
  --drop-tied-lm-head     the old name: --drop-unapplied --keep-norm-vectors
  --text-only             convert only the language model's LoRA: leave out, with a warning,
                          vision tower / multimodal projector / audio encoder tensors
  --keep-non-finite       write NaN and infinite values as they are (by default a tensor holding
                          any fails the conversion, naming the tensor and the count)
  --all                   convert every adapter in the folder: its subfolders (checkpoint-500/, …)
                          and mlx-lm's numbered checkpoints; implied when the folder holds
                          adapters but is not one itself
  --outdir <dir>          where --all writes (default: the current folder)
  --jobs <n>              adapters converted at once with --all (default 2)
  --hub-endpoint <url>    Hub to read hf: references from (default: $HF_ENDPOINT, else
                          https://huggingface.co)
  -h, --help              show this help
  -v, --version           show the version

check: will llama.cpp load this adapter on this base? Reads only the base's header (any size; for a
split model give its first -00001-of-0000N.gguf, the other shards are found beside it) and makes
llama.cpp's own load-time checks: architecture, every LoRA tensor's base tensor, shapes, experts.
inspect: a GGUF adapter's metadata, pairs, ranks and scaling, and what llama.cpp would reject.
publish: upload a GGUF adapter to a (new or existing) Hub model repo with a model card naming
--base-model as its base; HF_TOKEN must be a token with write access. Streams from the file.
(An adapter folder literally named check or inspect: write ./check.)

Exit codes: 0 done (check: compatible; inspect: nothing to flag), 1 refused, incompatible or
invalid input, 2 usage error.`;

/** Parse argv (without node and the script). Throws UsageError on mistakes. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        base: { type: 'string' },
        'base-config': { type: 'string' },
        outtype: { type: 'string' },
        outfile: { type: 'string', short: 'o' },
        name: { type: 'string' },
        force: { type: 'boolean', short: 'f' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        'drop-unapplied': { type: 'boolean' },
        'keep-norm-vectors': { type: 'boolean' },
        'drop-tied-lm-head': { type: 'boolean' },
        'text-only': { type: 'boolean' },
        'keep-non-finite': { type: 'boolean' },
        'hub-endpoint': { type: 'string' },
        all: { type: 'boolean' },
        outdir: { type: 'string' },
        jobs: { type: 'string' },
        'base-model': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const sub = positionals[0];
  if (sub === 'inspect') {
    if (positionals.length !== 2) throw new UsageError('inspect takes one <adapter.gguf>');
    return { kind: 'inspect', file: positionals[1]!, json: values.json === true };
  }
  if (sub === 'publish') {
    if (positionals.length !== 3) throw new UsageError('publish takes <file.gguf> and <owner/repo>');
    return {
      kind: 'publish',
      file: positionals[1]!,
      repo: positionals[2]!,
      baseModel: values['base-model'],
      json: values.json === true,
      hubEndpoint: values['hub-endpoint'],
    };
  }
  let baseGguf: string | undefined;
  if (sub === 'check') {
    if (positionals.length !== 3) throw new UsageError('check takes <adapter> and <base.gguf>');
    baseGguf = positionals[2]!;
    positionals.splice(0, 3, positionals[1]!);
  }
  if (positionals.length === 0) throw new UsageError('missing <adapter-dir> (or hf:owner/repo)');
  if (positionals.length > 1) throw new UsageError(`expected one <adapter-dir>, got ${positionals.length}: ${positionals.join(' ')}`);
  if (values.base !== undefined && values['base-config'] !== undefined) {
    throw new UsageError('give either --base or --base-config, not both');
  }
  const outtype = (values.outtype ?? 'f32').toLowerCase();
  if (!(OUTTYPE_CHOICES as readonly string[]).includes(outtype)) {
    throw new UsageError(`--outtype must be one of ${OUTTYPE_CHOICES.join(', ')} (got "${values.outtype}")`);
  }
  const jobs = values.jobs === undefined ? 2 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 16) throw new UsageError(`--jobs must be a whole number from 1 to 16 (got "${values.jobs}")`);
  for (const key of ['base', 'base-config', 'outfile', 'name', 'hub-endpoint', 'outdir'] as const) {
    if (values[key] === '') throw new UsageError(`--${key} needs a value`);
  }
  const options: CliOptions = {
    adapterDir: positionals[0]!,
    base: values.base,
    baseConfig: values['base-config'],
    outtype: outtype as OutTypeOption,
    outfile: values.outfile,
    name: values.name,
    force: values.force === true,
    dryRun: values['dry-run'] === true,
    json: values.json === true,
    dropUnapplied: values['drop-unapplied'] === true || values['drop-tied-lm-head'] === true,
    keepNormVectors: values['keep-norm-vectors'] === true || values['drop-tied-lm-head'] === true,
    usedOldDropFlag: values['drop-tied-lm-head'] === true,
    textOnly: values['text-only'] === true,
    keepNonFinite: values['keep-non-finite'] === true,
    hubEndpoint: values['hub-endpoint'],
    all: values.all === true,
    outdir: values.outdir,
    jobs,
  };
  return baseGguf !== undefined ? { kind: 'check', options, baseGguf } : { kind: 'convert', options };
}
