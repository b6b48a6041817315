import react from '@vitejs/plugin-react';
import { defineConfig, type PluginOption } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { pwaOptions } from './pwa.config.ts';

/**
 * The app: React, and the conversion worker bundled as an ES module worker (it imports the
 * core and @huggingface/gguf), and the offline PWA (vite-plugin-pwa; options in pwa.config.ts).
 * The Hub endpoint is a build-time env var read by the app (VITE_HUB_ENDPOINT, see docs/pwa.md).
 */
const plugins: PluginOption[] = [react(), VitePWA(pwaOptions)];

export default defineConfig({
  plugins,
  worker: {
    format: 'es',
  },
  build: {
    target: 'es2022',
    sourcemap: true,
  },
  preview: {
    host: '127.0.0.1',
  },
});
