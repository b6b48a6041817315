import { ConversionError, throwIfAborted, type AbortSignalLike } from '../errors';
import { urlOrigin } from './ref';

/**
 * The slice of the Fetch API the Hub client uses. The core compiles without DOM types, so
 * fetch is described here and passed in (defaulting to the global one), which also lets tests
 * count requests.
 */
export interface FetchLike {
  (url: string, init?: FetchInit): Promise<ResponseLike>;
}

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  redirect?: 'follow' | 'manual' | 'error';
  signal?: AbortSignalLike;
}

export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  /** Final URL after redirects ('' for some synthetic responses). */
  readonly url: string;
  /** 'opaqueredirect' in browsers for a redirect under `redirect: 'manual'`. */
  readonly type?: string;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
}

export interface HubClientOptions {
  /** Hub base URL, fixed by the caller (build config / CLI flag); default https://huggingface.co. */
  endpoint?: string;
  /**
   * Access token for gated or private repos. Sent only to the endpoint's origin, never to a
   * redirect target elsewhere (the Hub redirects file downloads to a CDN with signed URLs).
   * Never put into an error, a log line or a URL.
   */
  token?: string;
  fetch?: FetchLike;
  signal?: AbortSignalLike;
}

const MAX_REDIRECTS = 10;

export function defaultFetch(): FetchLike {
  const g = globalThis as unknown as { fetch?: FetchLike };
  if (typeof g.fetch !== 'function') {
    throw new ConversionError('io', 'This environment has no fetch(): the Hub cannot be reached.', {});
  }
  // Called through the global so browsers do not throw "Illegal invocation".
  return (url, init) => g.fetch!(url, init);
}

/** Resolve a Location header against the URL it came from (no URL global in the core). */
export function resolveLocation(base: string, location: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) return location;
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+/i.exec(base)?.[0] ?? '';
  if (location.startsWith('//')) return `${base.slice(0, base.indexOf(':') + 1)}${location}`;
  if (location.startsWith('/')) return `${origin}${location}`;
  const path = base.slice(origin.length).replace(/[?#].*$/, '');
  return `${origin}${path.slice(0, path.lastIndexOf('/') + 1)}${location}`;
}

/** Drop the query (signed CDN URLs carry credentials there) before a URL goes into a message. */
export function redactUrl(url: string): string {
  return url.replace(/[?#].*$/, '');
}

export interface HubResponse {
  response: ResponseLike;
  /** Where the body came from (after redirects). */
  finalUrl: string;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

async function discard(res: ResponseLike): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Nothing to do: the body was already consumed or the stream is gone.
  }
}

export function networkError(url: string, e: unknown, signal: AbortSignalLike | undefined): ConversionError {
  if (signal?.aborted || (e as { name?: string } | null)?.name === 'AbortError') return new ConversionError('aborted', 'Cancelled.');
  return new ConversionError(
    'io',
    `Could not reach ${redactUrl(url)}: ${(e as Error)?.message ?? String(e)}`,
    { url: redactUrl(url) },
    'Check the network connection (the Hugging Face Hub must be reachable), or drop the files instead.',
  );
}

/**
 * GET `url`, following redirects by hand so the Authorization header goes only to the Hub's own
 * origin. Where the runtime hides redirects (browsers answer `redirect: 'manual'` with an opaque
 * response), the request is repeated with `redirect: 'follow'`: the Fetch standard drops
 * Authorization when a redirect crosses origins.
 */
export async function hubGet(url: string, options: HubClientOptions, headers: Record<string, string> = {}): Promise<HubResponse> {
  const fetchFn = options.fetch ?? defaultFetch();
  const hubOrigin = urlOrigin(options.endpoint ?? url);
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    throwIfAborted(options.signal);
    const h: Record<string, string> = { ...headers };
    if (options.token && urlOrigin(current) === hubOrigin) h['Authorization'] = `Bearer ${options.token}`;
    let res: ResponseLike;
    try {
      res = await fetchFn(current, { method: 'GET', headers: h, redirect: 'manual', signal: options.signal });
    } catch (e) {
      throw networkError(current, e, options.signal);
    }
    if (res.type === 'opaqueredirect') {
      try {
        res = await fetchFn(current, { method: 'GET', headers: h, redirect: 'follow', signal: options.signal });
      } catch (e) {
        throw networkError(current, e, options.signal);
      }
      return { response: res, finalUrl: res.url || current };
    }
    if (isRedirect(res.status)) {
      const location = res.headers.get('location');
      await discard(res);
      if (!location) throw new ConversionError('io', `${redactUrl(current)} redirected without a Location.`, { url: redactUrl(current) });
      current = resolveLocation(current, location);
      continue;
    }
    return { response: res, finalUrl: current };
  }
  throw new ConversionError('io', `Too many redirects from ${redactUrl(url)}.`, { url: redactUrl(url) });
}

export interface FailureContext {
  /** What was being fetched, for the message: e.g. `adapter_config.json of owner/repo`. */
  what: string;
  repo: string;
  file?: string;
  revision?: string;
  hadToken: boolean;
}

/** Turn a non-2xx Hub answer into a precise ConversionError (auth_required / not_found / io). */
export async function failureFor(res: ResponseLike, ctx: FailureContext): Promise<ConversionError> {
  const hubCode = res.headers.get('x-error-code') ?? '';
  await discard(res);
  const details = { status: res.status, repo: ctx.repo, file: ctx.file, revision: ctx.revision, hubErrorCode: hubCode || undefined };
  const tokenHint = ctx.hadToken
    ? 'Check that the token is valid and that its account has access (for a gated model: accept its conditions on the model page).'
    : 'If the repository is gated or private, paste a Hugging Face access token (read access) and try again.';
  if (res.status === 401 || res.status === 403) {
    if (hubCode === 'RepoNotFound') {
      return new ConversionError('auth_required', `${ctx.repo} was not found, or it is private.`, details, tokenHint);
    }
    const gated = hubCode === 'GatedRepo' || res.status === 403;
    return new ConversionError(
      'auth_required',
      `${ctx.what}: the Hub refused access (HTTP ${res.status}${hubCode ? `, ${hubCode}` : ''}); ${gated ? 'the repository is gated' : 'the repository needs a token'}${ctx.hadToken ? ' and the token given does not grant access' : ''}.`,
      details,
      tokenHint,
    );
  }
  if (res.status === 404) {
    const which =
      hubCode === 'RepoNotFound'
        ? `repository ${ctx.repo} does not exist`
        : hubCode === 'RevisionNotFound'
          ? `revision "${ctx.revision}" does not exist in ${ctx.repo}`
          : `${ctx.file ?? 'the file'} does not exist in ${ctx.repo}${ctx.revision ? `@${ctx.revision}` : ''}`;
    return new ConversionError(
      'not_found',
      `${ctx.what}: ${which}.`,
      details,
      ctx.file
        ? 'Check the repository id, the folder and the revision; a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors.'
        : 'Check the repository id.',
    );
  }
  return new ConversionError('io', `${ctx.what}: the Hub answered HTTP ${res.status}.`, details, 'Try again later.');
}
