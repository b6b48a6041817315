/**
 * The app's Content-Security-Policy, delivered where a static host can deliver it: a
 * `<meta http-equiv>` in the built index.html, and the same policy as a header from `vite preview`.
 *
 * - scripts and workers from the app's own origin only; no inline script, no eval — except
 *   'wasm-unsafe-eval', which compiling the WebAssembly SIMD kernels needs;
 * - connections to the app's origin and the Hub it is built for (VITE_HUB_ENDPOINT, default
 *   huggingface.co, whose downloads redirect to CDN hosts under *.huggingface.co and *.hf.co),
 *   plus VITE_HUB_CDN_ORIGINS (comma-separated) for a mirror whose CDN lives elsewhere;
 * - no plugins, frames, base-URI changes or form posts.
 */
export const DEFAULT_HUB = 'https://huggingface.co';

export function hubConnectSources(env: Record<string, string | undefined>): string[] {
  const endpoint = (env['VITE_HUB_ENDPOINT'] || DEFAULT_HUB).replace(/\/+$/, '');
  const origin = new URL(endpoint).origin;
  const sources = [origin];
  if (origin === DEFAULT_HUB) sources.push('https://*.huggingface.co', 'https://*.hf.co');
  for (const extra of (env['VITE_HUB_CDN_ORIGINS'] ?? '').split(',')) {
    if (extra.trim()) sources.push(new URL(extra.trim()).origin);
  }
  return sources;
}

/**
 * The policy. `asMeta`: for the <meta> element, without frame-ancestors (browsers ignore it there,
 * with a console error); the header carries it.
 */
export function contentSecurityPolicy(env: Record<string, string | undefined>, asMeta = false): string {
  const directives = [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    `connect-src 'self' ${hubConnectSources(env).join(' ')}`,
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  return (asMeta ? directives.filter((d) => !d.startsWith('frame-ancestors')) : directives).join('; ');
}
