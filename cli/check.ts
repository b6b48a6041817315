/**
 * `lora2gguf check` and `lora2gguf inspect`: read GGUF headers (never the tensor data) and say,
 * before anyone loads them in llama.cpp, whether an adapter fits a base model, and what a GGUF
 * adapter holds. The checks are llama.cpp's own (src/core/check).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  adapterShapeOf,
  checkAgainstBase,
  ConversionError,
  looksLikeHubReference,
  inspectGgufAdapter,
  readGgufHeader,
  readHubBaseModel,
  shardNames,
  splitPart,
  type AdapterShape,
  type BaseModel,
  type CheckProblem,
  type CheckResult,
  type GgufHeaderRead,
  type InspectedAdapter,
} from '../src/core';
import { FileSource } from './node-io';

export interface CheckIo {
  stdout(text: string): void;
  cwd: string;
}

async function header(path: string): Promise<GgufHeaderRead> {
  const source = await FileSource.open(path);
  try {
    return await readGgufHeader(source, path);
  } finally {
    await source.close();
  }
}

/** Whether an argument names a GGUF file (an adapter given as .gguf). */
export function isGgufPath(path: string): boolean {
  return /\.gguf$/i.test(path);
}

/** Where hf: references are read from, and with which token. */
export interface HubAccess {
  endpoint: string;
  token: string | undefined;
}

/** A base model's header, with every shard of a split model (found beside the first); local or on the Hub. */
export async function readBaseModel(given: string, cwd: string, hub?: HubAccess): Promise<BaseModel> {
  if (hub && (looksLikeHubReference(given) || given.startsWith(`${hub.endpoint.replace(/\/+$/, '')}/`))) return readHubBaseModel(given, hub);
  const path = resolve(cwd, given);
  if (!existsSync(path)) throw new ConversionError('wrong_input', `${given} does not exist.`, { file: given }, "Give the base model's .gguf file.");
  const part = splitPart(path);
  if (!part) return { file: basename(path), headers: [await header(path)] };
  const names = shardNames(basename(path));
  const shards: string[] = [];
  for (const name of names) {
    const shard = join(dirname(path), name);
    if (!existsSync(shard)) {
      const present = names.filter((n) => existsSync(join(dirname(path), n))).length;
      throw new ConversionError('wrong_input', `${given} is part ${part.index} of ${part.count}, but ${name} is not beside it (${present} of ${part.count} found).`, { file: name }, 'Put every shard of the split model in one folder.');
    }
    shards.push(shard);
  }
  const headers: GgufHeaderRead[] = [];
  for (const s of shards) headers.push(await header(s));
  return { file: basename(shards[0]!), headers };
}

function problemText(p: CheckProblem): string {
  return `  ✗ ${p.message}${p.cause ? `\n    likely cause: ${p.cause}` : ''}`;
}

/** The verdict in words. */
export function formatCheck(r: CheckResult, adapter: string, base: string): string {
  if (r.compatible) return `compatible: ${adapter} loads on ${r.base} (${base}): ${r.pairsChecked} LoRA pairs checked, as llama.cpp checks them.`;
  return [`not compatible: ${adapter} would be rejected by llama.cpp on ${r.base} (${base}):`, ...r.problems.map(problemText)].join('\n');
}

/** Check an adapter's shape against the base GGUF; prints the verdict. Returns whether compatible. */
export async function runCheckAgainst(adapter: AdapterShape, adapterLabel: string, baseGguf: string, json: boolean, io: CheckIo, hub?: HubAccess): Promise<boolean> {
  const base = await readBaseModel(baseGguf, io.cwd, hub);
  const r = checkAgainstBase(adapter, base);
  const bytesRead = base.headers.reduce((n, h) => n + h.bytesRead, 0);
  if (json) io.stdout(`${JSON.stringify({ ...r, adapter: adapterLabel, baseFile: base.file, shards: base.headers.length, baseBytesRead: bytesRead }, null, 2)}\n`);
  else io.stdout(`${formatCheck(r, adapterLabel, base.file)}\n`);
  return r.compatible;
}

/** The adapter side from a GGUF adapter file. */
export async function adapterFromGguf(path: string, cwd: string): Promise<AdapterShape> {
  return adapterShapeOf(await header(resolve(cwd, path)));
}

function formatInspect(i: InspectedAdapter): string {
  const lines = [
    `${i.file}: ${i.generalType === 'adapter' && i.adapterType === 'lora' ? 'a GGUF LoRA adapter' : 'not a GGUF LoRA adapter llama.cpp loads'}`,
    `  architecture ${i.architecture ?? '(none)'}, name ${i.name ?? '(none)'}, alpha ${i.alpha ?? '(none)'}${i.alphaType && i.alphaType !== 'FLOAT32' ? ` (${i.alphaType})` : ''}`,
    `  ${i.pairs.length} LoRA pairs in ${i.tensorCount} tensors; ${i.fileBytes} bytes, header ${i.headerBytes}`,
    '',
    '  pair                                         rank  types        scale',
  ];
  for (const p of i.pairs) lines.push(`  ${p.name.padEnd(44)} ${String(p.rank).padStart(4)}  ${`${p.a.type}/${p.b.type}`.padEnd(12)} ${p.scale}`);
  lines.push('', '  metadata:');
  for (const k of i.keys) lines.push(`    ${k.key} (${k.type}) = ${k.value}`);
  lines.push('');
  if (i.flags.length === 0) lines.push('  nothing llama.cpp would reject.');
  else lines.push('  llama.cpp would reject or misread:', ...i.flags.map(problemText));
  return lines.join('\n');
}

/** `lora2gguf inspect`: prints the adapter; returns whether nothing is flagged. */
export async function runInspect(file: string, json: boolean, io: CheckIo): Promise<boolean> {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) throw new ConversionError('wrong_input', `${file} does not exist.`, { file }, 'Give a .gguf LoRA adapter file.');
  const inspected = inspectGgufAdapter(await header(path), file);
  if (json) io.stdout(`${JSON.stringify(inspected, null, 2)}\n`);
  else io.stdout(`${formatInspect(inspected)}\n`);
  return inspected.flags.length === 0;
}
