/**
 * Read a written GGUF's header back with @huggingface/gguf (an independent parser) and check it
 * against the plan: every key/value, every tensor's name, shape, type and offset, the data
 * offset and the file size. A mismatch is an error: the file must not be trusted.
 */
import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import { ConversionError, type ConversionPlan } from '../src/core';
import type { ConvertResult, VerifiedKey } from './protocol';

/** Serve byte ranges of a Blob the way an HTTP server would, for the parser's range reads. */
export function blobFetch(blob: Blob): typeof fetch {
  return (async (_input: unknown, init?: { headers?: Record<string, string> }) => {
    const range = /bytes=(\d+)-(\d+)?/.exec(init?.headers?.['Range'] ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] !== undefined ? Math.min(Number(range[2]) + 1, blob.size) : blob.size;
    return new Response(blob.slice(start, end), {
      status: 206,
      headers: { 'Content-Range': `bytes ${start}-${Math.max(start, end - 1)}/${blob.size}`, 'Content-Length': String(Math.max(0, end - start)) },
    });
  }) as typeof fetch;
}

const GGML_TYPE_IDS: Record<string, number> = {
  F32: GGMLQuantizationType.F32,
  F16: GGMLQuantizationType.F16,
  BF16: GGMLQuantizationType.BF16,
  Q8_0: GGMLQuantizationType.Q8_0,
};

function display(value: unknown): string {
  if (Array.isArray(value)) return value.length > 8 ? `[${value.slice(0, 8).join(', ')}, … ${value.length} items]` : `[${value.join(', ')}]`;
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

function same(expected: unknown, actual: unknown, type: string): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => same(v, actual[i], type));
  }
  if (typeof expected === 'number') {
    const a = typeof actual === 'bigint' ? Number(actual) : actual;
    if (typeof a !== 'number') return false;
    return type === 'FLOAT32' ? Math.fround(expected) === Math.fround(a) : expected === a;
  }
  if (typeof expected === 'bigint') return BigInt(actual as number | bigint) === expected;
  return expected === actual;
}

function mismatch(what: string): ConversionError {
  return new ConversionError(
    'io',
    `The written file does not match the plan: ${what}.`,
    { check: what },
    'The file was removed. Try again; if it happens again, the disk or the browser storage may be failing.',
  );
}

/**
 * Parse `file`'s header and compare it with `plan`; returns the summary shown on the result page.
 * `size`: the bytes written (default the file's size; a streamed download passes its header bytes
 * as `file` and the count it sent).
 */
export async function verifyOutput(file: Blob, plan: ConversionPlan, size = file.size): Promise<ConvertResult> {
  if (size !== plan.totalBytes) throw mismatch(`its size is ${size} bytes, the plan says ${plan.totalBytes}`);
  let parsed;
  try {
    // The URL is never fetched: the custom fetch serves the Blob. It must look like http(s) for the parser.
    parsed = await gguf('https://output.invalid/adapter.gguf', { fetch: blobFetch(file) });
  } catch (e) {
    throw mismatch(`its header could not be parsed (${(e as Error).message})`);
  }
  const metadata = parsed.metadata as Record<string, unknown>;
  const keys: VerifiedKey[] = [];
  for (const kv of plan.kvs) {
    if (!(kv.key in metadata)) throw mismatch(`key ${kv.key} is missing`);
    if (!same(kv.value, metadata[kv.key], kv.type)) throw mismatch(`key ${kv.key} is ${display(metadata[kv.key])}, expected ${display(kv.value)}`);
    keys.push({ key: kv.key, value: display(metadata[kv.key]) });
  }
  const count = Number(metadata['kv_count']);
  if (count !== plan.kvs.length) throw mismatch(`it has ${count} keys, expected ${plan.kvs.length}`);
  if (parsed.tensorInfos.length !== plan.tensors.length) throw mismatch(`it has ${parsed.tensorInfos.length} tensors, expected ${plan.tensors.length}`);
  plan.tensors.forEach((t, i) => {
    const info = parsed.tensorInfos[i]!;
    if (info.name !== t.name) throw mismatch(`tensor ${i} is ${info.name}, expected ${t.name}`);
    const shape = info.shape.map(Number);
    if (shape.length !== t.ne.length || shape.some((d, j) => d !== t.ne[j])) throw mismatch(`${t.name} has shape [${shape}], expected [${t.ne}]`);
    if (info.dtype !== GGML_TYPE_IDS[t.type]) throw mismatch(`${t.name} has type ${info.dtype}, expected ${t.type}`);
    if (Number(info.offset) !== t.offset) throw mismatch(`${t.name} is at offset ${info.offset}, expected ${t.offset}`);
  });
  if (Number(parsed.tensorDataOffset) !== plan.headerBytes) throw mismatch(`tensor data starts at ${parsed.tensorDataOffset}, expected ${plan.headerBytes}`);
  return { size, tensorCount: parsed.tensorInfos.length, ggufVersion: Number(metadata['version']), keys };
}
