/**
 * `lora2gguf publish <file.gguf> <owner/repo>`: upload a converted adapter to a Hub model repo
 * (created when missing) with a generated model card, through @huggingface/hub's commit (the file
 * streamed from disk, hashed and uploaded by LFS; the token only to the Hub). Ctrl-C aborts the
 * upload before the commit: the repo is left as it was.
 */
import { openAsBlob } from 'node:fs';
import { basename, resolve } from 'node:path';
import { commitIter, createRepo } from '@huggingface/hub';
import { ConversionError, inspectGgufAdapter, isValidRepoId, modelCard, readGgufHeader } from '../src/core';
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

export async function runPublish(o: PublishOptions, io: PublishIo): Promise<{ commit: string; url: string }> {
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
  const credentials = { accessToken: o.token };
  try {
    await createRepo({ repo: { type: 'model', name: o.repo }, ...credentials, hubUrl: o.endpoint });
    if (!o.json) io.stderr(`created ${o.repo}\n`);
  } catch (e) {
    // An existing repo is where it goes; anything else is an error.
    if ((e as { statusCode?: number }).statusCode !== 409) throw hubError(e, o.repo);
  }
  const content = await openAsBlob(path);
  let last = -1;
  try {
    const it = commitIter({
      repo: { type: 'model', name: o.repo },
      ...credentials,
      hubUrl: o.endpoint,
      title: `Add ${fileName} (converted with lora2gguf)`,
      operations: [
        { operation: 'addOrUpdate', path: fileName, content },
        { operation: 'addOrUpdate', path: 'README.md', content: new Blob([card], { type: 'text/markdown' }) },
      ],
      abortSignal: o.signal,
    });
    for (;;) {
      // Stopping between steps means the commit, the last step, is never sent.
      if (o.signal?.aborted) {
        await it.return?.(undefined as never).catch(() => undefined);
        throw new DOMException('Aborted', 'AbortError');
      }
      const r = await it.next();
      if (r.done) {
        const url = `${o.endpoint.replace(/\/+$/, '')}/${o.repo}`;
        const commit = r.value?.commit?.oid ?? '';
        if (o.json) io.stdout(`${JSON.stringify({ ok: true, repo: o.repo, file: fileName, commit, url }, null, 2)}\n`);
        else io.stdout(`Published ${fileName} to ${url}${commit ? ` (commit ${commit.slice(0, 12)})` : ''}\n`);
        return { commit, url };
      }
      const ev = r.value;
      if (!o.json && ev.event === 'fileProgress' && ev.path === fileName) {
        const pct = Math.floor(ev.progress * 100);
        if (pct !== last && pct % 25 === 0) io.stderr(`  ${ev.state} ${fileName}: ${pct}%\n`);
        last = pct;
      }
    }
  } catch (e) {
    if ((e as Error)?.name === 'AbortError' || o.signal?.aborted) throw new ConversionError('aborted', 'Publishing cancelled before the commit: the repository is unchanged.');
    throw hubError(e, o.repo);
  }
}

function hubError(e: unknown, repo: string): ConversionError {
  const status = (e as { statusCode?: number }).statusCode;
  const message = (e as Error)?.message ?? String(e);
  if (status === 401 || status === 403) {
    return new ConversionError('auth_required', `The Hub refused the token for ${repo}: ${message}`, { repo }, 'Check that HF_TOKEN has write access to this namespace.');
  }
  return new ConversionError('io', `Publishing to ${repo} failed: ${message}`, { repo }, 'Try again; nothing was committed unless the Hub says otherwise.');
}
