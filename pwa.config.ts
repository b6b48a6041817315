import type { VitePWAOptions } from 'vite-plugin-pwa';

/**
 * The offline PWA (vite-plugin-pwa, Workbox generateSW), Squoosh-style:
 *
 * - The service worker precaches the app shell (index.html, the JS/CSS chunks — the conversion
 *   worker's chunk included —, the icons, the manifest) and the bundled sample adapter, so after
 *   one visit the app loads and converts with no network at all.
 * - Only precached same-origin files are answered from the cache. There is no runtime caching:
 *   Hub requests (another origin), the user's files (read from disk, never fetched) and the
 *   converted output (written to the picked file / the origin-private file system) never enter
 *   a cache.
 * - Navigations to any URL of the app (with a query or a `#v=1&…` link fragment) are answered
 *   with the cached index.html, so shared links open offline.
 * - public/download-sw.js, imported into the service worker, streams a conversion's output as a
 *   download where the browser has neither the save dialog nor room in its private storage.
 * - registerType 'prompt': a new version waits until the user clicks "Reload" in the update
 *   toast (src/app/pwa); the page is never swapped silently, and never during a conversion.
 */
export const THEME_COLOR = '#2f5bd3';
export const BACKGROUND_COLOR = '#f6f7f9';

export const pwaOptions: Partial<VitePWAOptions> = {
  registerType: 'prompt',
  // src/app/pwa registers through `virtual:pwa-register`; no extra script in index.html.
  injectRegister: false,
  // The glob patterns below already precache the icons and favicon (listing them twice would duplicate entries).
  includeManifestIcons: false,
  manifest: {
    id: '/',
    name: 'lora2gguf — PEFT LoRA to GGUF',
    short_name: 'lora2gguf',
    description: 'Convert a Hugging Face PEFT LoRA adapter into a llama.cpp GGUF LoRA adapter, in your browser. Nothing is uploaded.',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    theme_color: THEME_COLOR,
    background_color: BACKGROUND_COLOR,
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icons/maskable-192.png', sizes: '192x192', type: 'image/png', purpose: 'maskable' },
      { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  },
  workbox: {
    // The shell and every chunk (the conversion worker is one of them), icons, and the sample.
    // Source maps are left out: only devtools fetch them.
    globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}', 'sample/**/*.{json,safetensors}'],
    navigateFallback: 'index.html',
    // Streamed downloads (public/download-sw.js): the service worker answers these itself.
    navigateFallbackDenylist: [/^\/__lora2gguf_download__\//],
    importScripts: ['download-sw.js'],
    cleanupOutdatedCaches: true,
    // The first service worker takes the open page at once (so it works offline right away);
    // later versions wait for the user's click (skipWaiting is sent by the update toast).
    clientsClaim: true,
    skipWaiting: false,
    // The conversion worker's chunk holds the core; leave room for it to grow.
    maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
    runtimeCaching: [],
  },
};
