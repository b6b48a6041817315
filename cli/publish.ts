/**
 * `lora2gguf publish <file.gguf> <owner/repo>`: upload a converted adapter to a Hub model repo
 * (created when missing) with a generated model card, through @huggingface/hub's commit (the file
 * streamed from disk, hashed and uploaded by LFS; the token only to the Hub). Ctrl-C aborts the
 * upload before the commit: the repo is left as it was.
 */
import { openAsBlob } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ConversionError, inspectGgufAdapter, isValidRepoId, modelCard, readGgufHeader } from '../src/core';
import { publishAdapter, type Published } from '../workers/publish';
import { FileSource } from './node-io';

export interface PublishIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
}

export interface PublishOptions {
  file: string;
  repo: string;
  baseModel: string | undefined;
  json: boolean;
  endpoint: string;
  token: string | undefined;
  signal?: AbortSignal;
}

export async function runPublish(o: PublishOptions, io: PublishIo): Promise<Published> {
  if (!o.token) {
    throw new ConversionError('auth_required', 'Publishing needs a Hugging Face token with write access.', {}, 'Set HF_TOKEN to a token with write access (huggingface.co/settings/tokens) and run again.');
  }
  if (!isValidRepoId(o.repo)) throw new ConversionError('wrong_input', `"${o.repo}" is not a Hub repo id (owner/name).`, {}, 'Give the repo as owner/name.');
  if (o.baseModel !== undefined && !isValidRepoId(o.baseModel)) {
    throw new ConversionError('wrong_input', `--base-model "${o.baseModel}" is not a Hub model id (owner/name).`, {}, 'Give the base model as owner/name, e.g. meta-llama/Llama-3.2-1B-Instruct.');
  }
  const path = resolve(io.cwd, o.file);
  const source = await FileSource.open(path);
  let inspected;
  try {
    inspected = inspectGgufAdapter(await readGgufHeader(source, o.file), basename(path));
  } finally {
    await source.close();
  }
  if (inspected.flags.length > 0) {
    throw new ConversionError(
      'wrong_input',
      `${o.file} is not a GGUF LoRA adapter llama.cpp would load: ${inspected.flags.map((f) => f.message).join(' ')}`,
      { file: o.file },
      'Publish a file lora2gguf wrote (lora2gguf inspect shows what is wrong with this one).',
    );
  }
  if (!o.baseModel && !o.json) io.stderr('note: no --base-model: the model card cannot name the base model the adapter is for.\n');
  const fileName = basename(path);
  const card = modelCard({
    repo: o.repo,
    fileName,
    baseModel: o.baseModel ?? null,
    architecture: inspected.architecture,
    outtype: inspected.pairs[0]?.a.type.toLowerCase() ?? null,
    pairs: inspected.pairs.length,
  });
  let last = -1;
  const published = await publishAdapter({
    file: await openAsBlob(path),
    fileName,
    repo: o.repo,
    card,
    token: o.token,
    endpoint: o.endpoint,
    signal: o.signal,
    onProgress: (p) => {
      const pct = Math.floor(p.progress * 100);
      if (!o.json && pct !== last && pct % 25 === 0) io.stderr(`  ${p.state} ${fileName}: ${pct}%\n`);
      last = pct;
    },
  });
  if (!o.json && published.created) io.stderr(`created ${o.repo}\n`);
  if (o.json) io.stdout(`${JSON.stringify({ ok: true, repo: o.repo, file: fileName, commit: published.commit, url: published.url }, null, 2)}\n`);
  else io.stdout(`Published ${fileName} to ${published.url}${published.commit ? ` (commit ${published.commit.slice(0, 12)})` : ''}\n`);
  return published;
}
