// Bundles the CLI (cli/main.ts and the core it imports, with their npm dependencies) into one
// ESM file, dist-cli/lora2gguf.mjs, so `lora2gguf` starts without compiling TypeScript.
// Run by `npm install` / `npm ci` (the `prepare` script) and before the tests; bin/lora2gguf.mjs
// falls back to the TypeScript sources (through tsx) when the bundle is missing or older than them.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'cli', 'main.ts')],
  outfile: join(root, 'dist-cli', 'lora2gguf.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Node built-ins stay imports; everything else (the core, @huggingface/*) is inlined.
  packages: 'bundle',
  // Some bundled CommonJS code calls require() for Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
