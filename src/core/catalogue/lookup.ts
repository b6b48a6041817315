import { CATALOGUE, type CatalogueEntry } from './entries';

export { CATALOGUE } from './entries';
export type { CatalogueEntry } from './entries';

export interface CatalogueHit {
  /** The catalogue entry's canonical Hub id. */
  id: string;
  /** config.json text for `inspect` (only the fields conversion reads). */
  config: string;
  /** The Hub config.json the values come from. */
  source: string;
  /** The stored copy the values were confirmed against. */
  confirmedFrom: string;
  /** How the id matched: as written, a renamed repo, or a re-upload of the same weights. */
  matchedAs: 'id' | 'alias' | 'reupload';
}

/**
 * Re-uploaders whose repos hold the same weights (and so the same config dimensions) under the
 * original's name, possibly with a quantization suffix. Only these owners are matched by name:
 * an arbitrary owner's repo of the same name may be a different model.
 */
const REUPLOADERS = new Set(['unsloth', 'mlx-community']);
/**
 * Suffixes re-uploads add to the original name: bitsandbytes-quantized copies (unsloth), and
 * mlx-community's conversions for mlx-lm (`…-4bit`, `…-8bit`, `…-bf16`, …); their config.json
 * keeps the original's dimensions (a `quantization` block aside).
 */
const REUPLOAD_SUFFIXES = ['-unsloth-bnb-4bit', '-bnb-4bit', '-unsloth', '-4bit', '-8bit', '-3bit', '-6bit', '-bf16', '-fp16', '-mlx', '-4bit-mlx', '-8bit-mlx'];

const byId = new Map<string, { entry: CatalogueEntry; alias: boolean }>();
const byName = new Map<string, CatalogueEntry>();
for (const entry of CATALOGUE) {
  for (const [id, alias] of [[entry.id, false] as const, ...(entry.aliases ?? []).map((a) => [a, true] as const)]) {
    const key = id.toLowerCase();
    if (byId.has(key)) throw new Error(`catalogue: ${id} listed twice`);
    byId.set(key, { entry, alias });
    const name = key.split('/')[1]!;
    if (byName.has(name) && byName.get(name) !== entry) throw new Error(`catalogue: name ${name} is ambiguous`);
    byName.set(name, entry);
  }
}

function hit(entry: CatalogueEntry, matchedAs: CatalogueHit['matchedAs']): CatalogueHit {
  return { id: entry.id, config: JSON.stringify(entry.config, null, 2), source: entry.source, confirmedFrom: entry.confirmedFrom, matchedAs };
}

/**
 * mlx-lm's `model` may be the Hugging Face cache folder it downloaded the base into
 * (`…/models--owner--name/snapshots/<commit>`): that names the Hub id.
 */
function hubIdOfCachePath(id: string): string {
  const m = /(?:^|[/\\])models--([^/\\]+?)--([^/\\]+)(?:[/\\]|$)/.exec(id);
  return m ? `${m[1]}/${m[2]}` : id;
}

/**
 * The bundled config for a base model id (as in adapter_config.json's base_model_name_or_path),
 * or undefined. Ids match case-insensitively; `hf:` prefixes, `@revision` suffixes and trailing
 * slashes are ignored; unsloth re-uploads (`unsloth/<name>`, `…-bnb-4bit`, `…-unsloth-bnb-4bit`)
 * map to the original. A config.json the user supplies or fetched from the Hub always wins over
 * this: callers consult the catalogue only when they have no config.
 */
export function lookupBaseConfig(baseId: string): CatalogueHit | undefined {
  const id = hubIdOfCachePath(baseId)
    .trim()
    .replace(/^hf:(\/\/)?/i, '')
    .replace(/@[^/]*$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();
  const direct = byId.get(id);
  if (direct) return hit(direct.entry, direct.alias ? 'alias' : 'id');
  const parts = id.split('/');
  if (parts.length !== 2) return undefined;
  const [owner, name] = parts as [string, string];
  const ownOwner = (e: CatalogueEntry) => e.id.toLowerCase().startsWith(`${owner}/`);
  for (const suffix of ['', ...REUPLOAD_SUFFIXES]) {
    if (suffix && !name.endsWith(suffix)) continue;
    const entry = byName.get(name.slice(0, name.length - suffix.length));
    if (!entry) continue;
    if (REUPLOADERS.has(owner)) return hit(entry, 'reupload');
    // The original owner's own quantized copy (e.g. …-bnb-4bit under the same namespace).
    if (suffix && ownOwner(entry)) return hit(entry, 'reupload');
  }
  return undefined;
}

/** Every id the catalogue answers for as written (canonical ids and aliases), for display. */
export function catalogueIds(): string[] {
  return CATALOGUE.map((e) => e.id);
}

export interface ChosenBaseConfig {
  /** config.json text for `inspect`. */
  text: string;
  /** 'supplied': the user's (or a fetched) config.json; 'catalogue': the bundled entry. */
  origin: 'supplied' | 'catalogue';
  /** Catalogue only: the entry that matched and where its values come from. */
  hit?: CatalogueHit;
}

/**
 * The base config to plan with: a supplied config.json always wins; otherwise the catalogue
 * entry for adapter_config.json's base_model_name_or_path (offline). Undefined when there is
 * neither: the caller then fetches it from the Hub (`resolveBaseConfig`) or asks the user.
 */
export function chooseBaseConfig(baseModelNameOrPath: string | null | undefined, supplied?: string): ChosenBaseConfig | undefined {
  if (supplied !== undefined) return { text: supplied, origin: 'supplied' };
  if (!baseModelNameOrPath) return undefined;
  const hit = lookupBaseConfig(baseModelNameOrPath);
  return hit ? { text: hit.config, origin: 'catalogue', hit } : undefined;
}
