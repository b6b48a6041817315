import { lookupBaseConfig } from '../catalogue/lookup';
import { ConversionError } from '../errors';
import { decodeUtf8 } from '../io';
import { parseAdapterConfig } from '../peft/config';
import { throwIfAborted } from '../errors';
import { defaultFetch, failureFor, hubGet, networkError, type HubClientOptions, type ResponseLike } from './http';
import { DEFAULT_HUB_ENDPOINT, formatHubRef, parseHubRef, refFilePath, repoIdProblem, type HubRef } from './ref';
import { openRangeSource, type HttpRangeSource, type RangeSourceOptions } from './source';

/** The weights files PEFT writes, in order of preference (safetensors is what PEFT saves by default). */
const ADAPTER_FILES = ['adapter_model.safetensors', 'adapter_model.bin'] as const;
/** mlx-lm writes its final weights as adapters.safetensors (checkpoints as NNNNNNN_adapters.safetensors). */
const MLX_ADAPTER_FILES = ['adapters.safetensors'] as const;

/** JSON files larger than this are not configs: refuse instead of reading them into memory. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

function endpointOf(options: HubClientOptions): string {
  return (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** `<endpoint>/<repo>/resolve/<rev>/<path>`: the Hub's download URL for a file. */
export function hubFileUrl(ref: HubRef, file: string, endpoint: string = DEFAULT_HUB_ENDPOINT): string {
  return `${endpoint.replace(/\/+$/, '')}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${encodePath(refFilePath(ref, file))}`;
}

export interface ModelInfo {
  id: string;
  /** The commit the revision points at (pin shared links and reads to it). */
  sha: string;
  private: boolean;
  /** false, or the gating mode ('auto' / 'manual'). */
  gated: false | string;
  /** Paths of the repo's files at that commit (empty when the answer did not list them). */
  files: string[];
}

/** Folders ('' for the root) that hold an adapter_config.json, from a file list, sorted naturally. */
export function adapterFolders(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f === 'adapter_config.json') out.push('');
    else if (f.endsWith('/adapter_config.json')) out.push(f.slice(0, -'/adapter_config.json'.length));
  }
  return out.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * `/api/models/<repo>/revision/<rev>`: resolve the revision to a commit, learn if it is gated and
 * list its files — through @huggingface/hub's `modelInfo` (one request, as our own client made;
 * test/unit/hub-client.spec.ts). Its requests go through our fetch, so the caller's abort signal
 * holds and a refusal keeps its response, which `failureFor` puts into our words.
 */
export async function fetchModelInfo(ref: HubRef, options: HubClientOptions = {}): Promise<ModelInfo> {
  const ctx = { what: `Model info of ${ref.repo}`, repo: ref.repo, revision: ref.revision, hadToken: !!options.token };
  const fetchFn = options.fetch ?? defaultFetch();
  let refused: ResponseLike | undefined;
  const viaOurFetch = async (input: unknown, init?: { headers?: Record<string, string> }): Promise<ResponseLike> => {
    const url = typeof input === 'string' ? input : String((input as { href?: string }).href ?? input);
    throwIfAborted(options.signal);
    let res: ResponseLike;
    try {
      res = await fetchFn(url, { method: 'GET', headers: { Accept: 'application/json', ...(init?.headers ?? {}) }, signal: options.signal });
    } catch (e) {
      throw networkError(url, e, options.signal);
    }
    if (!res.ok) refused = res;
    return res;
  };
  let o: { sha?: unknown; filePaths?: unknown; gated?: unknown; private?: unknown; name?: unknown };
  try {
    // Loaded when the Hub is first used: the library stays out of the converter's own chunk.
    const { modelInfo } = await import('@huggingface/hub');
    o = (await modelInfo({
      name: ref.repo,
      revision: ref.revision,
      hubUrl: endpointOf(options),
      ...(options.token ? { accessToken: options.token } : {}),
      additionalFields: ['sha', 'filePaths'],
      fetch: viaOurFetch as never,
    })) as typeof o;
  } catch (e) {
    if (e instanceof ConversionError) throw e;
    if (refused) throw await failureFor(refused, ctx);
    throw new ConversionError('io', `Model info of ${ref.repo}: ${(e as Error)?.message ?? String(e)}`, { repo: ref.repo });
  }
  if (typeof o.sha !== 'string' || !/^[0-9a-f]{40}$/i.test(o.sha)) {
    throw new ConversionError('io', `Model info of ${ref.repo}: no commit sha in the answer.`, { repo: ref.repo });
  }
  return {
    id: typeof o.name === 'string' ? o.name : ref.repo,
    sha: o.sha.toLowerCase(),
    private: o.private === true,
    gated: typeof o.gated === 'string' ? o.gated : o.gated === true ? 'auto' : false,
    files: Array.isArray(o.filePaths) ? (o.filePaths as unknown[]).filter((f): f is string => typeof f === 'string') : [],
  };
}

/** Fetch a small text file (a JSON config) of the referenced folder. */
export async function fetchHubText(ref: HubRef, file: string, options: HubClientOptions = {}): Promise<string> {
  const url = hubFileUrl(ref, file, endpointOf(options));
  const { response } = await hubGet(url, options);
  const ctx = { what: `${file} of ${formatHubRef(ref)}`, repo: ref.repo, file: refFilePath(ref, file), revision: ref.revision, hadToken: !!options.token };
  if (!response.ok) throw await failureFor(response, ctx);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > MAX_JSON_BYTES) {
    try {
      await response.body?.cancel();
    } catch {
      // Already closed.
    }
    throw new ConversionError('wrong_input', `${ctx.what} is ${declared} bytes: too large for a config file.`, { repo: ref.repo, file: ctx.file });
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  try {
    return decodeUtf8(bytes);
  } catch {
    throw new ConversionError('invalid_config', `${ctx.what} is not UTF-8 text.`, { repo: ref.repo, file: ctx.file });
  }
}

/** Open a (large) file of the referenced folder for random access by range requests. */
export async function openHubFile(ref: HubRef, file: string, options: RangeSourceOptions = {}): Promise<HttpRangeSource> {
  const url = hubFileUrl(ref, file, endpointOf(options));
  return openRangeSource(url, options, {
    what: `${file} of ${formatHubRef(ref)}`,
    repo: ref.repo,
    file: refFilePath(ref, file),
    revision: ref.revision,
    hadToken: !!options.token,
  });
}

export interface HubAdapter {
  /** The reference as given. */
  ref: HubRef;
  /** The same reference pinned to the commit that was read (for shareable links). */
  pinned: HubRef;
  commit: string;
  /** Text of adapter_config.json. */
  adapterConfig: string;
  /** The adapter weights, read by ranges (the core tells safetensors from a torch.save file by its bytes). */
  adapter: HttpRangeSource;
  /** Which weights file the folder has (safetensors preferred). */
  adapterFile: 'adapter_model.safetensors' | 'adapter_model.bin' | 'adapters.safetensors';
  /** adapter_config.json's base_model_name_or_path, if any. */
  baseModel: string | null;
}

/**
 * Open a PEFT adapter on the Hub: resolve the revision to a commit, then read
 * adapter_config.json and open adapter_model.safetensors (or, failing that, adapter_model.bin)
 * by ranges, all at that commit (so they come from the same version even if the branch moves).
 */
export async function openHubAdapter(ref: HubRef, options: RangeSourceOptions = {}): Promise<HubAdapter> {
  const info = await fetchModelInfo(ref, options);
  const pinned: HubRef = { ...ref, revision: info.sha, revisionGiven: true };
  let adapterConfig: string;
  try {
    adapterConfig = await fetchHubText(pinned, 'adapter_config.json', options);
  } catch (e) {
    // A repo of checkpoints often has no adapter at its root: say where the adapters are.
    const elsewhere = adapterFolders(info.files);
    if (e instanceof ConversionError && e.code === 'not_found' && elsewhere.length > 0) {
      const shown = elsewhere.slice(0, 8).map((f) => (f ? `${ref.repo}/${f}` : ref.repo));
      throw new ConversionError(
        'not_found',
        `${formatHubRef(ref)} has no adapter_config.json; the repository has adapters in: ${shown.join(', ')}${elsewhere.length > 8 ? ', …' : ''}.`,
        { ...e.details, adapterFolders: elsewhere },
        `Add the folder to the reference, e.g. ${formatHubRef({ ...ref, subfolder: elsewhere[elsewhere.length - 1]! })}.`,
      );
    }
    throw e;
  }
  const config = parseAdapterConfig(adapterConfig);
  let adapter: HttpRangeSource | undefined;
  const candidates = config.mlx ? MLX_ADAPTER_FILES : ADAPTER_FILES;
  let adapterFile: HubAdapter['adapterFile'] = candidates[0];
  for (const file of candidates) {
    try {
      adapter = await openHubFile(pinned, file, options);
      adapterFile = file;
      break;
    } catch (e) {
      if (!(e instanceof ConversionError && e.code === 'not_found')) throw e;
    }
  }
  if (!adapter) {
    throw new ConversionError(
      'not_found',
      config.mlx
        ? `${formatHubRef(ref)} has an mlx-lm adapter_config.json but no adapters.safetensors.`
        : `${formatHubRef(ref)} has adapter_config.json but neither adapter_model.safetensors nor adapter_model.bin.`,
      { repo: ref.repo, file: refFilePath(pinned, candidates[0]), revision: pinned.revision },
      config.mlx
        ? 'Check the folder: mlx_lm.lora saves adapters.safetensors next to adapter_config.json (in its --adapter-path).'
        : 'Check the folder: PEFT saves the weights next to adapter_config.json (save_pretrained).',
    );
  }
  return { ref, pinned, commit: info.sha, adapterConfig, adapter, adapterFile, baseModel: config.baseModelNameOrPath };
}

export interface ResolvedBaseConfig {
  /** Text of the base model's config.json (for `inspect`). */
  text: string;
  /** Where it came from: the bundled catalogue (offline) or the Hub. */
  origin: 'catalogue' | 'hub';
  /** Catalogue: the entry's id; Hub: the resolve URL fetched. */
  source: string;
  /** Catalogue: where the entry's values were confirmed. */
  citation?: string;
}

export interface ResolveBaseOptions extends HubClientOptions {
  /** 'auto' (default): catalogue, then the Hub. 'catalogue': never the network. 'hub': skip the catalogue. */
  prefer?: 'auto' | 'catalogue' | 'hub';
}

/**
 * The base model's config.json for a base id (adapter_config.json's base_model_name_or_path or
 * what the user typed): from the bundled catalogue when it has the id (offline, and needs no
 * token for gated bases such as meta-llama/*), else `config.json` from the Hub. A config.json the
 * user supplies should be passed to `inspect` directly: it always wins over both.
 */
export async function resolveBaseConfig(baseId: string, options: ResolveBaseOptions = {}): Promise<ResolvedBaseConfig> {
  const prefer = options.prefer ?? 'auto';
  if (prefer !== 'hub') {
    const hit = lookupBaseConfig(baseId);
    if (hit) return { text: hit.config, origin: 'catalogue', source: hit.id, citation: hit.source };
    if (prefer === 'catalogue') {
      throw new ConversionError(
        'missing_config_field',
        `The base model "${baseId}" is not in the bundled catalogue, and fetching from the Hub is off.`,
        { field: 'config.json', baseModel: baseId },
        "Provide the base model's config.json.",
      );
    }
  }
  let ref: HubRef;
  try {
    ref = parseHubRef(baseId, { endpoint: options.endpoint });
  } catch {
    const problem = repoIdProblem(baseId) ?? 'it is not a Hub repository id';
    throw new ConversionError(
      'wrong_input',
      `The base model "${baseId}" is not in the bundled catalogue and cannot be fetched from the Hub: ${problem}.`,
      { field: 'base_model_name_or_path', baseModel: baseId },
      "Provide the base model's config.json, or type the base model's Hub id (owner/name).",
    );
  }
  const text = await fetchHubText(ref, 'config.json', options);
  return { text, origin: 'hub', source: hubFileUrl(ref, 'config.json', endpointOf(options)) };
}

export { hubRefDisplayName } from './ref';
