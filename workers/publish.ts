/**
 * Publish a converted adapter to a Hub model repo (created when missing) with its model card,
 * through @huggingface/hub's commit: the file (any Blob: a file on disk, a picked file, browser
 * storage) is hashed and uploaded by LFS in streamed slices, never copied whole; the token goes to
 * the Hub only. Aborting before the commit (the last step) leaves the repo unchanged. Shared by
 * the CLI (`lora2gguf publish`) and the app's worker.
 */
import { commitIter, createRepo } from '@huggingface/hub';
import { ConversionError, isAbortError } from '../src/core';
import type { PublishCall, PublishProgress } from './protocol';

export interface PublishRequest extends PublishCall {
  signal?: AbortSignal;
  onProgress?: (p: PublishProgress) => void;
}

export interface Published {
  commit: string;
  url: string;
  created: boolean;
}

export async function publishAdapter(r: PublishRequest): Promise<Published> {
  const hubUrl = r.endpoint.replace(/\/+$/, '');
  const repo = { type: 'model' as const, name: r.repo };
  let created = false;
  try {
    await createRepo({ repo, accessToken: r.token, hubUrl });
    created = true;
  } catch (e) {
    // An existing repo is where it goes; anything else is an error.
    if ((e as { statusCode?: number }).statusCode !== 409) throw hubError(e, r.repo);
  }
  try {
    const it = commitIter({
      repo,
      accessToken: r.token,
      hubUrl,
      title: `Add ${r.fileName} (converted with lora2gguf)`,
      operations: [
        { operation: 'addOrUpdate', path: r.fileName, content: r.file },
        { operation: 'addOrUpdate', path: 'README.md', content: new Blob([r.card], { type: 'text/markdown' }) },
      ],
      abortSignal: r.signal,
    });
    for (;;) {
      // Stopping between steps means the commit, the last step, is never sent.
      if (r.signal?.aborted) {
        await it.return?.(undefined as never).catch(() => undefined);
        throw new DOMException('Aborted', 'AbortError');
      }
      const step = await it.next();
      if (step.done) return { commit: step.value?.commit?.oid ?? '', url: `${hubUrl}/${r.repo}`, created };
      const ev = step.value;
      if (ev.event === 'fileProgress' && ev.path === r.fileName && ev.state !== 'error') r.onProgress?.({ state: ev.state, progress: ev.progress });
      else if (ev.event === 'phase' && ev.phase === 'committing') r.onProgress?.({ state: 'committing', progress: 1 });
    }
  } catch (e) {
    if (isAbortError(e) || r.signal?.aborted) throw new ConversionError('aborted', 'Publishing cancelled before the commit: the repository is unchanged.');
    throw e instanceof ConversionError ? e : hubError(e, r.repo);
  }
}

function hubError(e: unknown, repo: string): ConversionError {
  const status = (e as { statusCode?: number }).statusCode;
  const message = (e as Error)?.message ?? String(e);
  if (status === 401 || status === 403) {
    return new ConversionError('auth_required', `The Hub refused the token for ${repo}: ${message}`, { repo }, 'Use a token with write access to this namespace.');
  }
  return new ConversionError('io', `Publishing to ${repo} failed: ${message}`, { repo }, 'Try again; nothing was committed unless the Hub says otherwise.');
}
