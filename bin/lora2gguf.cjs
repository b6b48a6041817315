#!/usr/bin/env node
// The published command. Runs the prebuilt bundle (dist-cli/lora2gguf.mjs, made by `npm install`
// through the `prepare` script, or `npm run build:cli`): no TypeScript is compiled at start.
// Where the bundle is missing, or older than the sources it was built from (a contributor edited
// cli/ or src/core/ since), it runs the TypeScript sources through tsx instead, saying so.
//
// CommonJS on purpose: Node loads it without its ES module loader, whose first file read starts
// libuv's thread pool — this file runs first, so the pool's size can still be chosen here.
'use strict';

const { closeSync, existsSync, openSync, readdirSync, readSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

/** Bytes per element written for each --outtype (auto is f16 or bf16). */
const OUT_BYTES = { f32: 4, f16: 2, bf16: 2, auto: 2, q8_0: 34 / 32 };
const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2 };

// libuv's thread pool does the file reads and writes while the main thread encodes. Its size is
// fixed when it starts, so it is chosen here, first (unless the user set UV_THREADPOOL_SIZE):
// two threads, a read and a write at once, when writing is at least half the work — the output is
// no smaller than the input (16-bit → f16 or bf16, anything → f32) — and one otherwise, where a
// second pool thread only takes a core from the encoder. The default four only fought over the
// same file and cores. 1 GB on two cores, interleaved, one thread against two: BF16 → f16 0.525
// against 0.495 s, → bf16 0.509 against 0.469 s; BF16 → q8_0 0.521 against 0.540 s, F32 → f16
// 0.418 against 0.454 s.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(poolSizeFor(process.argv.slice(2)));

/** 2 when the conversion the arguments ask for writes at least as many bytes as it reads, else 1. */
function poolSizeFor(argv) {
  try {
    let outtype = 'f32';
    argv.forEach((a, i) => {
      if (a === '--outtype' && i + 1 < argv.length) outtype = argv[i + 1].toLowerCase();
      else if (a.startsWith('--outtype=')) outtype = a.slice('--outtype='.length).toLowerCase();
    });
    const outBytes = OUT_BYTES[outtype];
    if (!outBytes) return 1;
    for (const a of argv) {
      if (a.startsWith('-')) continue;
      const weights = ['adapter_model.safetensors', 'adapters.safetensors'].map((f) => join(a, f)).find((f) => existsSync(f));
      if (weights) return outBytes >= mainDtypeBytes(weights) ? 2 : 1;
    }
  } catch {
    // Anything unexpected: the safe choice.
  }
  return 1;
}

/** Bytes per element of the dtype holding most of a safetensors file's bytes (Infinity if unknown). */
function mainDtypeBytes(path) {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) return Infinity;
    const length = Number(head.readBigUInt64LE(0));
    if (length > 64 << 20) return Infinity;
    const json = Buffer.alloc(length);
    if (readSync(fd, json, 0, length, 8) !== length) return Infinity;
    const byDtype = {};
    for (const [name, t] of Object.entries(JSON.parse(json.toString('utf8')))) {
      if (name === '__metadata__' || !t || !Array.isArray(t.data_offsets)) continue;
      byDtype[t.dtype] = (byDtype[t.dtype] || 0) + (t.data_offsets[1] - t.data_offsets[0]);
    }
    const main = Object.keys(byDtype).sort((x, y) => byDtype[y] - byDtype[x])[0];
    return DTYPE_BYTES[main] || Infinity;
  } finally {
    closeSync(fd);
  }
}

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
