// Bundles the CLI (cli/main.ts and the core it imports, with their npm dependencies) into ESM,
// dist-cli/lora2gguf.mjs and the chunks it loads on demand, so `lora2gguf` starts without
// compiling TypeScript. What is imported dynamically (`publish`: @huggingface/hub, ~70 % of the
// code) is split into its own chunk, so a conversion neither parses nor holds it.
// Run by `npm install` / `npm ci` (the `prepare` script) and before the tests; bin/lora2gguf.cjs
// falls back to the TypeScript sources (through tsx) when the bundle is missing or older than them.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Chunks of an earlier build would otherwise pile up beside the new ones.
rmSync(join(root, 'dist-cli'), { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'cli', 'main.ts')],
  outdir: join(root, 'dist-cli'),
  entryNames: 'lora2gguf',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
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
