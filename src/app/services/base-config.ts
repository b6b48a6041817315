/**
 * Where a base model's config.json can come from when the user did not drop one. Today only the
 * user can provide it; the offline catalogue and the Hub (issue: PWA / links / Hub) plug in here
 * as further providers, tried in order. A dropped config.json always wins over all of them.
 */

export interface BaseConfigProvider {
  /** A short label for the UI ("bundled catalogue", "Hugging Face Hub"). */
  readonly label: string;
  /** The config.json text for a Hub model id, or null when this provider does not know it. */
  lookup(baseModel: string, signal?: AbortSignal): Promise<string | null>;
}

/** Providers tried in order; empty until the catalogue and the Hub are added. */
export const baseConfigProviders: BaseConfigProvider[] = [];

/** The first provider's answer, as a File like a dropped one (so the rest of the app does not care). */
export async function findBaseConfig(
  baseModel: string,
  providers: readonly BaseConfigProvider[] = baseConfigProviders,
): Promise<{ file: File; source: string } | null> {
  for (const p of providers) {
    const text = await p.lookup(baseModel).catch(() => null);
    if (text !== null) return { file: new File([text], 'config.json', { type: 'application/json' }), source: p.label };
  }
  return null;
}
