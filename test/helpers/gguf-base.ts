/**
 * Base model GGUFs for the check tests: the base tensors a converted adapter applies to (with the
 * dims llama.cpp checks), written as a header followed by a sparse extent (a "3 GiB model" costs
 * no disk), so a test can show that only the header is read.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { GgufHeaderRead } from '../../src/core';
import { serializeGgufHeader, type GgufKv, type GgufTensorInfo } from '../../src/core/gguf/writer';

/** The base tensors of an adapter's pairs (`keep` filters by base tensor name). */
export function baseTensorsFor(adapter: GgufHeaderRead, keep: (name: string) => boolean = () => true): GgufTensorInfo[] {
  const out: GgufTensorInfo[] = [];
  for (const t of adapter.tensors) {
    if (!t.name.endsWith('.lora_a')) continue;
    const name = t.name.slice(0, -'.lora_a'.length);
    const b = adapter.tensors.find((x) => x.name === `${name}.lora_b`)!;
    if (keep(name)) out.push({ name, ne: [t.ne[0]!, b.ne[1]!], type: 'F16', offset: 0 });
  }
  return out;
}

/** Write a base GGUF header with these tensors, the file extended sparsely to `size` bytes. */
export function writeSparseBase(path: string, o: { arch: string; name: string; blocks: number; tensors: GgufTensorInfo[]; size?: number; extra?: GgufKv[] }): void {
  const header = serializeGgufHeader(
    [
      { key: 'general.architecture', type: 'STRING', value: o.arch },
      { key: 'general.name', type: 'STRING', value: o.name },
      { key: `${o.arch}.block_count`, type: 'UINT32', value: o.blocks },
      ...(o.extra ?? []),
    ],
    o.tensors,
  );
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    ftruncateSync(fd, Math.max(o.size ?? 0, header.byteLength));
  } finally {
    closeSync(fd);
  }
}
