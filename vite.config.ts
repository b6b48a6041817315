import react from '@vitejs/plugin-react';
import { defineConfig, type PluginOption } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { pwaOptions } from './pwa.config';

/**
 * The app: React, and the conversion worker bundled as an ES module worker (it imports the
 * core and @huggingface/gguf). The offline PWA plugin (vite-plugin-pwa) goes into `plugins`
 * below when the PWA issue lands; nothing else here needs to change for it.
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
