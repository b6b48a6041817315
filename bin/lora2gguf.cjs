#!/usr/bin/env node
// The published command. Runs the prebuilt bundle (dist-cli/lora2gguf.mjs, made by `npm install`
// through the `prepare` script, or `npm run build:cli`): no TypeScript is compiled at start.
// Where the bundle is missing, or older than the sources it was built from (a contributor edited
// cli/ or src/core/ since), it runs the TypeScript sources through tsx instead, saying so.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist-cli', 'lora2gguf.mjs');

/** Newest modification time of the .ts files under `dir` (a few hundred stats: milliseconds). */
function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function bundleIsCurrent() {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    return false;
  }
  return built >= Math.max(newestSource(join(root, 'cli')), newestSource(join(root, 'src', 'core')));
}

let main;
if (bundleIsCurrent()) {
  ({ main } = await import(bundle));
} else {
  process.stderr.write('lora2gguf: dist-cli/ is missing or older than the sources; running them through tsx (npm run build:cli makes it current)\n');
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
await main();
