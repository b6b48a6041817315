/**
 * Shareable conversion links: what is needed to repeat a conversion, in the URL fragment
 * (`#v=1&repo=…&…`). Pure functions; the page reads `location.hash` and writes the clipboard.
 *
 * A link comes from anyone, so decoding is strict: every parameter is validated, anything
 * malformed or unknown is reported and ignored (never executed, never guessed at), and a link
 * never carries a token or file contents — the encoder has no way to put them in.
 *
 * Parameter names (version 1; documented in docs/offline-and-links.md, "Shareable links"):
 *   v=1               the link format version (required first)
 *   repo=owner/name   the adapter's Hub repo id (absent for locally dropped files)
 *   path=sub/folder   the adapter's folder inside the repo (absent: the repo root)
 *   rev=<revision>    branch, tag or commit (the commit that was converted, when known)
 *   base=owner/name   the base model's Hub id (catalogue or Hub config.json)
 *   outtype=f32|f16|bf16|q8_0
 *   name=<text>       general.name and the output file name's stem
 *   drop_unapplied=1  leave out (with a warning) what llama.cpp would not apply, e.g. LoRA on a
 *                     tied lm_head (links made before keep_norms existed keep working: same name)
 *   keep_norms=1      keep mergekit norm vectors, knowing that llama.cpp ignores them
 *   format=mlx        the adapter was written by mlx-lm (absent: PEFT); for local files the
 *                     page then asks for the mlx-lm folder (adapter_config.json, adapters.safetensors)
 */
import { DEFAULT_REVISION, OUTTYPES, parseHubRef, repoIdProblem } from '../../core/light';
import type { HubRef, OutType } from '../../core';

export const LINK_VERSION = 1;

/** What a link restores. Deliberately no token and no file contents. */
export interface LinkState {
  /** The adapter on the Hub, or null for locally dropped files (the link then asks for them). */
  adapter: HubRef | null;
  /** The base model's Hub id, if the conversion named one. */
  base: string | null;
  outtype: OutType | null;
  name: string | null;
  dropUnapplied: boolean | null;
  keepNormVectors: boolean | null;
  /** Who wrote the adapter: 'mlx' (mlx-lm) or 'peft'; null when the link does not say (PEFT). */
  format: AdapterFormat | null;
}

export const ADAPTER_FORMATS = ['peft', 'mlx'] as const;
export type AdapterFormat = (typeof ADAPTER_FORMATS)[number];

export interface LinkProblem {
  /** The parameter concerned ('' for the link as a whole). */
  param: string;
  message: string;
}

export interface DecodedLink {
  /** null when the fragment is not a conversion link at all (or is unusable as a whole). */
  state: LinkState | null;
  problems: LinkProblem[];
}

/** Longer fragments are not links we wrote: refuse them whole rather than parse megabytes. */
export const MAX_FRAGMENT_LENGTH = 4096;
/** general.name is a label; a shared link has no reason to carry more. */
export const MAX_NAME_LENGTH = 200;

const KNOWN = ['v', 'repo', 'path', 'rev', 'base', 'outtype', 'name', 'drop_unapplied', 'keep_norms', 'format'] as const;
type Known = (typeof KNOWN)[number];

/** Shown for a parameter's value in messages: short, printable. */
function shown(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}…` : clean;
}

function enc(value: string): string {
  // Keep "/" readable in repo ids and folders; everything else percent-encoded.
  return encodeURIComponent(value).replace(/%2F/g, '/');
}

/** The fragment (without "#") for a conversion. */
export function encodeLink(state: LinkState): string {
  const parts: string[] = [`v=${LINK_VERSION}`];
  if (state.adapter) {
    parts.push(`repo=${enc(state.adapter.repo)}`);
    if (state.adapter.subfolder) parts.push(`path=${enc(state.adapter.subfolder)}`);
    if (state.adapter.revisionGiven || state.adapter.revision !== DEFAULT_REVISION) parts.push(`rev=${enc(state.adapter.revision)}`);
  }
  if (state.base) parts.push(`base=${enc(state.base)}`);
  if (state.outtype) parts.push(`outtype=${state.outtype}`);
  if (state.name) parts.push(`name=${enc(state.name.slice(0, MAX_NAME_LENGTH))}`);
  if (state.dropUnapplied !== null) parts.push(`drop_unapplied=${state.dropUnapplied ? 1 : 0}`);
  if (state.keepNormVectors) parts.push('keep_norms=1');
  if (state.format === 'mlx') parts.push('format=mlx');
  return parts.join('&');
}

/** A full URL: the page's URL without its fragment, plus the link's fragment. */
export function linkUrl(pageUrl: string, state: LinkState): string {
  const hash = pageUrl.indexOf('#');
  return `${hash >= 0 ? pageUrl.slice(0, hash) : pageUrl}#${encodeLink(state)}`;
}

/** Whether a fragment is meant as a conversion link (starts with `v=`), so other anchors are left alone. */
export function isLinkFragment(hash: string): boolean {
  return /^#?v=/.test(hash);
}

/**
 * Read a fragment (with or without "#"). Not a link (no leading `v=`): `{ state: null, problems: [] }`.
 * Each bad parameter yields a problem and is ignored; the rest of the link still applies.
 */
export function decodeLink(hash: string): DecodedLink {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!isLinkFragment(text)) return { state: null, problems: [] };
  if (text.length > MAX_FRAGMENT_LENGTH) {
    return { state: null, problems: [{ param: '', message: `The link is ${text.length} characters long; a conversion link is far shorter. It was ignored.` }] };
  }
  const problems: LinkProblem[] = [];
  const values = new Map<Known, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq >= 0 ? pair.slice(0, eq) : pair;
    const rawValue = eq >= 0 ? pair.slice(eq + 1) : '';
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeURIComponent(rawValue);
    } catch {
      problems.push({ param: shown(rawKey), message: `The link parameter "${shown(rawKey)}" is not valid URL encoding; it was ignored.` });
      continue;
    }
    if (!(KNOWN as readonly string[]).includes(key)) {
      problems.push({ param: shown(key), message: `The link has an unknown parameter "${shown(key)}"; it was ignored.` });
      continue;
    }
    if (values.has(key as Known)) {
      problems.push({ param: key, message: `The link gives "${key}" more than once; only the first was used.` });
      continue;
    }
    values.set(key as Known, value);
  }

  const version = values.get('v');
  if (version !== String(LINK_VERSION)) {
    return {
      state: null,
      problems: [
        {
          param: 'v',
          message: `The link is of version "${shown(version ?? '')}"; this app reads version ${LINK_VERSION} links. It was ignored; a newer version of the app may read it.`,
        },
      ],
    };
  }

  const state: LinkState = { adapter: null, base: null, outtype: null, name: null, dropUnapplied: null, keepNormVectors: null, format: null };

  const repo = values.get('repo');
  const path = values.get('path');
  const rev = values.get('rev');
  if (repo === undefined) {
    if (path !== undefined || rev !== undefined) {
      problems.push({ param: path !== undefined ? 'path' : 'rev', message: 'The link gives a folder or revision but no repository; they were ignored.' });
    }
  } else {
    const adapter = adapterFrom(repo, path, rev);
    if ('problem' in adapter) problems.push(adapter.problem);
    else state.adapter = adapter.ref;
  }

  const base = values.get('base');
  if (base !== undefined) {
    const problem = repoIdProblem(base);
    if (problem) problems.push({ param: 'base', message: `The link's base model "${shown(base)}" is not a Hub model id (${problem}); it was ignored.` });
    else state.base = base;
  }

  const outtype = values.get('outtype');
  if (outtype !== undefined) {
    if ((OUTTYPES as readonly string[]).includes(outtype)) state.outtype = outtype as OutType;
    else problems.push({ param: 'outtype', message: `The link's output type "${shown(outtype)}" is not one of ${OUTTYPES.join(', ')}; the default is used.` });
  }

  const name = values.get('name');
  if (name !== undefined) {
    // eslint-disable-next-line no-control-regex
    if (name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name) || name.trim() === '') {
      problems.push({
        param: 'name',
        message: `The link's name is empty, longer than ${MAX_NAME_LENGTH} characters or has control characters; the default is used.`,
      });
    } else {
      state.name = name;
    }
  }

  const drop = values.get('drop_unapplied');
  if (drop !== undefined) {
    if (drop === '1' || drop === 'true') state.dropUnapplied = true;
    else if (drop === '0' || drop === 'false') state.dropUnapplied = false;
    else problems.push({ param: 'drop_unapplied', message: `The link's drop_unapplied "${shown(drop)}" is not 1 or 0; the default (keep, refuse) is used.` });
  }

  const keepNorms = values.get('keep_norms');
  if (keepNorms !== undefined) {
    if (keepNorms === '1' || keepNorms === 'true') state.keepNormVectors = true;
    else if (keepNorms === '0' || keepNorms === 'false') state.keepNormVectors = false;
    else
      problems.push({ param: 'keep_norms', message: `The link's keep_norms "${shown(keepNorms)}" is not 1 or 0; the default (refuse norm vectors) is used.` });
  }

  const format = values.get('format');
  if (format !== undefined) {
    if ((ADAPTER_FORMATS as readonly string[]).includes(format)) state.format = format as AdapterFormat;
    else problems.push({ param: 'format', message: `The link's format "${shown(format)}" is not one of ${ADAPTER_FORMATS.join(', ')}; it was ignored.` });
  }

  return { state, problems };
}

/**
 * The adapter reference from repo/path/rev, all validated by the core's Hub reference rules.
 * Any bad part drops the whole reference: converting a different folder or revision than the
 * one shared would be worse than asking.
 */
function adapterFrom(repo: string, path: string | undefined, rev: string | undefined): { ref: HubRef } | { problem: LinkProblem } {
  const repoProblem = repoIdProblem(repo);
  if (repoProblem)
    return { problem: { param: 'repo', message: `The link's repository "${shown(repo)}" is not a Hub model id (${repoProblem}); it was ignored.` } };
  const sub = (path ?? '').replace(/^\/+|\/+$/g, '');
  if (sub.includes('@') || (path !== undefined && sub === '')) {
    return { problem: { param: 'path', message: `The link's folder "${shown(path ?? '')}" is not a valid folder path; the repository was ignored.` } };
  }
  if (rev !== undefined && rev === '') return { problem: { param: 'rev', message: "The link's revision is empty; the repository was ignored." } };
  const text = `${repo}${sub ? `/${sub}` : ''}${rev !== undefined ? `@${rev}` : ''}`;
  let ref: HubRef;
  try {
    // The same rules as a typed reference: Hub repo naming, git ref names, folder segments.
    ref = parseHubRef(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { problem: { param: rev !== undefined ? 'rev' : 'path', message: `The link's adapter reference is not valid: ${why} It was ignored.` } };
  }
  if (ref.repo !== repo || ref.subfolder !== sub) {
    return { problem: { param: 'path', message: `The link's folder "${shown(path ?? '')}" is not a valid folder path; the repository was ignored.` } };
  }
  return { ref };
}
