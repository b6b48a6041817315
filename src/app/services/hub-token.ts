/**
 * The Hugging Face access token, for gated or private repos: in this module's memory only, for
 * the session. It is never put into the store, a link, storage (no localStorage, no IndexedDB,
 * no cookie) or a log line; it goes to the worker with each call that reads from the Hub, and
 * the worker sends it only to the Hub's origin.
 */
let token: string | null = null;

export function setHubToken(value: string): void {
  const t = value.trim();
  token = t === '' ? null : t;
}

export function hubToken(): string | null {
  return token;
}

export function clearHubToken(): void {
  token = null;
}
