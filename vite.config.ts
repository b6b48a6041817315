import react from '@vitejs/plugin-react';
import { defineConfig, type PluginOption } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { contentSecurityPolicy } from './csp.config.ts';
import { pwaOptions } from './pwa.config.ts';

/**
 * The app: React, and the conversion worker bundled as an ES module worker (it imports the
 * core and @huggingface/gguf), and the offline PWA (vite-plugin-pwa; options in pwa.config.ts).
 * The Hub endpoint is a build-time env var read by the app (VITE_HUB_ENDPOINT, see docs/offline-and-links.md) and its Content-Security-Policy (csp.config.ts).
 */
const cspForMeta = contentSecurityPolicy(process.env, true);

/** The policy as a <meta> in the built page (a static host may not send headers). */
const cspMeta: PluginOption = {
  name: 'lora2gguf-csp',
  apply: 'build',
  transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: cspForMeta }, injectTo: 'head' }],
};

/**
 * The same policy as a header from `vite preview`, read from the built index.html (so a build made
 * for another Hub endpoint is served with its own policy), plus frame-ancestors, which only a
 * header can carry. The header also covers the worker's script, which a <meta> cannot.
 */
const cspHeader: PluginOption = {
  name: 'lora2gguf-csp-header',
  configurePreviewServer(server) {
    const index = resolve(server.config.root, server.config.build.outDir, 'index.html');
    let policy: string | undefined;
    server.middlewares.use((_req, res, next) => {
      policy ??= /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(readFileSync(index, 'utf8'))?.[1]?.replace(/&#39;/g, "'");
      if (policy) res.setHeader('Content-Security-Policy', `${policy}; frame-ancestors 'none'`);
      next();
    });
  },
};

const plugins: PluginOption[] = [react(), VitePWA(pwaOptions), cspMeta, cspHeader];

export default defineConfig({
  plugins,
  worker: {
    format: 'es',
    rolldownOptions: {
      // The core takes two enums from @huggingface/gguf, which re-exports them from
      // @huggingface/tasks; that package is data and pure functions, so treating its modules as
      // free of side effects lets the rest of it be tree-shaken out of the worker (355 → ~136 kB).
      treeshake: { moduleSideEffects: (id: string) => !/[\\/]node_modules[\\/]@huggingface[\\/]tasks[\\/]/.test(id) },
    },
  },
  build: {
    target: 'es2022',
    sourcemap: true,
  },
  preview: {
    host: '127.0.0.1',
  },
});
