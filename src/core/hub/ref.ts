import { ConversionError } from '../errors';

/**
 * A reference to a folder of files in a Hugging Face Hub model repository: what the user types
 * (`owner/repo`, `owner/repo/sub/folder`, `…@revision`, `hf:` prefix) or pastes (a huggingface.co
 * URL). Parsing is pure and strict: anything that is not a valid Hub model reference is refused
 * with `wrong_input`, never guessed at, because a reference can arrive from a shared link.
 */
export interface HubRef {
  /** `owner/name`, as written (the Hub matches repo ids case-insensitively). */
  repo: string;
  /** Folder inside the repo, without leading or trailing slashes; '' for the root. */
  subfolder: string;
  /** Branch, tag or commit; 'main' when none was given. */
  revision: string;
  /** False when the revision defaulted to 'main'. */
  revisionGiven: boolean;
}

export const DEFAULT_REVISION = 'main';
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** The Hub's limit on the name part of a repo id (huggingface_hub validate_repo_id). */
const MAX_NAME_LENGTH = 96;
/** Long enough for any real revision (a 40-hex commit, `refs/pr/123`, a branch name). */
const MAX_REVISION_LENGTH = 256;
/** Long enough for any checkpoint folder; guards shared links against absurd input. */
const MAX_SUBFOLDER_LENGTH = 1024;

const NAME_PART = /^[A-Za-z0-9_.-]+$/;

/** Why a repo id part is not valid on the Hub, or undefined when it is. */
function namePartProblem(part: string, what: string): string | undefined {
  if (part.length === 0) return `the ${what} is empty`;
  if (part.length > MAX_NAME_LENGTH) return `the ${what} is longer than ${MAX_NAME_LENGTH} characters`;
  if (!NAME_PART.test(part)) return `the ${what} "${part}" may only contain letters, digits, "-", "_" and "."`;
  if (/^[-.]|[-.]$/.test(part)) return `the ${what} "${part}" may not start or end with "-" or "."`;
  if (part.includes('--') || part.includes('..')) return `the ${what} "${part}" may not contain "--" or ".."`;
  return undefined;
}

/** Why `id` is not a valid `owner/name` Hub repo id, or undefined when it is. */
export function repoIdProblem(id: string): string | undefined {
  const parts = id.split('/');
  if (parts.length !== 2) return `"${id}" is not of the form owner/name`;
  return namePartProblem(parts[0]!, 'owner') ?? namePartProblem(parts[1]!, 'repository name');
}

export function isValidRepoId(id: string): boolean {
  return repoIdProblem(id) === undefined;
}

/** Why a revision is not acceptable (git ref-name rules, plus no URL-significant characters). */
export function revisionProblem(rev: string): string | undefined {
  if (rev.length === 0) return 'the revision after "@" is empty';
  if (rev.length > MAX_REVISION_LENGTH) return `the revision is longer than ${MAX_REVISION_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\#%@{}]/.test(rev)) return `the revision "${rev}" has a character a branch, tag or commit cannot have`;
  if (rev.includes('..') || rev.includes('//') || rev.startsWith('/') || rev.endsWith('/') || rev.endsWith('.') || rev.endsWith('.lock')) {
    return `the revision "${rev}" is not a valid branch, tag or commit name`;
  }
  return undefined;
}

function subfolderProblem(sub: string): string | undefined {
  if (sub.length > MAX_SUBFOLDER_LENGTH) return `the folder path is longer than ${MAX_SUBFOLDER_LENGTH} characters`;
  for (const seg of sub.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `the folder path "${sub}" has an empty, "." or ".." segment`;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\\?#]/.test(seg)) return `the folder path "${sub}" has a character a Hub path cannot have`;
  }
  return undefined;
}

function refuse(input: string, why: string): ConversionError {
  const shown = input.length > 200 ? `${input.slice(0, 200)}…` : input;
  return new ConversionError(
    'wrong_input',
    `"${shown}" is not a Hugging Face Hub model reference: ${why}.`,
    { field: 'hub reference', input: shown },
    'Use owner/repo, owner/repo/sub/folder, optionally followed by @revision (e.g. hf:owner/repo@main), or paste the huggingface.co URL of the model or folder.',
  );
}

function originOf(url: string): string | undefined {
  const m = /^(https?):\/\/([^/?#]+)/i.exec(url);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  let host = m[2]!.toLowerCase();
  if (host.includes('@')) return undefined; // user-info in a pasted URL: refuse rather than guess
  if ((scheme === 'https' && host.endsWith(':443')) || (scheme === 'http' && host.endsWith(':80'))) host = host.replace(/:\d+$/, '');
  return `${scheme}://${host}`;
}

/** `scheme://host[:port]`, lower-cased, default port dropped; undefined for anything but http(s). */
export function urlOrigin(url: string): string | undefined {
  return originOf(url);
}

const HUB_HOSTS = new Set(['https://huggingface.co', 'https://www.huggingface.co', 'https://hf.co']);

function decodeSegment(input: string, seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw refuse(input, `"${seg}" is not valid URL encoding`);
  }
}

export interface ParseHubRefOptions {
  /** Pasted URLs on this origin are accepted too (besides huggingface.co / hf.co). */
  endpoint?: string;
}

/**
 * Parse what a user typed or pasted into a HubRef. Accepted forms:
 * `owner/repo`, `owner/repo/sub/folder`, each optionally with `@revision` and an `hf:` (or
 * `hf://`) prefix; and `https://huggingface.co/owner/repo[/tree|blob|resolve/<rev>/<path>]`.
 * A blob/resolve URL names a file: its folder is taken. Throws `wrong_input` otherwise.
 */
export function parseHubRef(input: string, options: ParseHubRefOptions = {}): HubRef {
  const text = input.trim();
  if (text.length === 0) throw refuse(input, 'it is empty');
  const origin = originOf(text);
  if (origin !== undefined || (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && !/^hf:\/\//i.test(text))) {
    const endpointOrigin = options.endpoint ? originOf(options.endpoint) : undefined;
    if (origin === undefined || (!HUB_HOSTS.has(origin) && origin !== endpointOrigin)) {
      throw refuse(input, 'only huggingface.co URLs are accepted');
    }
    return parseHubUrl(input, text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+/i, ''));
  }
  let rest = text;
  if (/^hf:\/\//i.test(rest)) rest = rest.slice(5);
  else if (/^hf:/i.test(rest)) rest = rest.slice(3);
  let revision = DEFAULT_REVISION;
  let revisionGiven = false;
  const at = rest.indexOf('@');
  if (at >= 0) {
    revision = rest.slice(at + 1);
    revisionGiven = true;
    rest = rest.slice(0, at);
    const problem = revisionProblem(revision);
    if (problem) throw refuse(input, problem);
  }
  rest = rest.replace(/\/+$/, '');
  const parts = rest.split('/');
  if (parts.length < 2) throw refuse(input, 'a repository id has the form owner/name');
  const repo = `${parts[0]}/${parts[1]}`;
  const repoProblem = repoIdProblem(repo);
  if (repoProblem) throw refuse(input, repoProblem);
  const subfolder = parts.slice(2).join('/');
  if (subfolder) {
    const problem = subfolderProblem(subfolder);
    if (problem) throw refuse(input, problem);
  }
  return { repo, subfolder, revision, revisionGiven };
}

function parseHubUrl(input: string, pathAndQuery: string): HubRef {
  const path = pathAndQuery.replace(/[?#].*$/, '');
  const segs = path.split('/').filter((s) => s !== '');
  if (segs[0] === 'datasets' || segs[0] === 'spaces') throw refuse(input, `it is a ${segs[0].slice(0, -1)}, not a model repository`);
  if (segs.length < 2) throw refuse(input, 'the URL does not name a repository');
  const repo = `${decodeSegment(input, segs[0]!)}/${decodeSegment(input, segs[1]!)}`;
  const repoProblem = repoIdProblem(repo);
  if (repoProblem) throw refuse(input, repoProblem);
  if (segs.length === 2) return { repo, subfolder: '', revision: DEFAULT_REVISION, revisionGiven: false };
  const kind = segs[2];
  if (kind !== 'tree' && kind !== 'blob' && kind !== 'resolve') {
    throw refuse(input, `"/${kind}" URLs are not supported; use the repository page or a folder (/tree/…) URL`);
  }
  if (segs.length < 4) throw refuse(input, 'the URL has no revision after /' + kind);
  const revision = decodeSegment(input, segs[3]!);
  const revProblem = revisionProblem(revision);
  if (revProblem) throw refuse(input, revProblem);
  let rest = segs.slice(4).map((s) => decodeSegment(input, s));
  // blob/resolve name a file: the adapter is the folder that holds it.
  if (kind !== 'tree') {
    if (rest.length === 0) throw refuse(input, 'the URL names no file');
    rest = rest.slice(0, -1);
  }
  const subfolder = rest.join('/');
  if (subfolder) {
    const problem = subfolderProblem(subfolder);
    if (problem) throw refuse(input, problem);
  }
  return { repo, subfolder, revision, revisionGiven: true };
}

/**
 * Whether a command-line argument names the Hub rather than a local path: an `hf:` prefix or a
 * huggingface.co / hf.co URL. A bare `owner/repo` is also a valid relative path, so it is not
 * taken as a Hub reference here (the CLI asks for `hf:`).
 */
export function looksLikeHubReference(input: string): boolean {
  const text = input.trim();
  if (/^hf:/i.test(text)) return true;
  const origin = originOf(text);
  return origin !== undefined && HUB_HOSTS.has(origin);
}

/** The canonical text form, `owner/repo[/sub][@rev]` (what `parseHubRef` reads back). */
export function formatHubRef(ref: HubRef): string {
  return `${ref.repo}${ref.subfolder ? `/${ref.subfolder}` : ''}${ref.revisionGiven || ref.revision !== DEFAULT_REVISION ? `@${ref.revision}` : ''}`;
}

/** Path of a file of the referenced folder, inside the repo. */
export function refFilePath(ref: HubRef, file: string): string {
  return ref.subfolder ? `${ref.subfolder}/${file}` : file;
}

/** The name a Hub adapter gets by default: its subfolder's last part, else the repo's name. */
export function hubRefDisplayName(ref: HubRef): string {
  const sub = ref.subfolder.split('/').filter(Boolean);
  return sub.length ? sub[sub.length - 1]! : ref.repo.split('/')[1]!;
}
