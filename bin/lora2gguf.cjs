#!/usr/bin/env node
// The published command. Runs the prebuilt bundle (dist-cli/lora2gguf.mjs, made by `npm install`
// through the `prepare` script, or `npm run build:cli`): no TypeScript is compiled at start.
// Where the bundle is missing, or older than the sources it was built from (a contributor edited
// cli/ or src/core/ since), it runs the TypeScript sources through tsx instead, saying so.
//
// CommonJS on purpose: Node loads it without its ES module loader, whose first file read starts
// libuv's thread pool — this file runs first, so the pool's size can still be chosen here.
'use strict';

// One thread for the file reads and writes (unless the user chose a size): a conversion keeps a
// read and a write or two in flight while the main thread encodes, and on two cores the default
// four threads only fight over the same file and the same cores (1 GB BF16 → f16: 0.50 s against
// 0.52 s; each run's own figures in docs/benchmarks.md).
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '1';

const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const root = join(__dirname, '..');
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

async function run() {
  let main;
  if (bundleIsCurrent()) {
    ({ main } = await import(pathToFileURL(bundle).href));
  } else {
    process.stderr.write('lora2gguf: dist-cli/ is missing or older than the sources; running them through tsx (npm run build:cli makes it current)\n');
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import(pathToFileURL(join(root, 'cli', 'main.ts')).href));
  }
  await main();
}

run().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
});
