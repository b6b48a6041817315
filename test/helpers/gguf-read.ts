import { gguf } from '@huggingface/gguf';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from './fixtures';

export interface ReadTensor {
  name: string;
  ne: number[];
  type: number;
  offset: number;
  bytes: Uint8Array;
  sha256: string;
}

export interface ReadGguf {
  metadata: Record<string, unknown>;
  tensors: ReadTensor[];
  tensorDataOffset: number;
}

const TYPE_SIZE: Record<number, (n: number) => number> = {
  0: (n) => n * 4,
  1: (n) => n * 2,
  30: (n) => n * 2,
  8: (n) => (n / 32) * 34,
};

/**
 * Parse a GGUF with @huggingface/gguf (an independent reader) and slice out each tensor's data,
 * checking that offsets are aligned, in bounds and non-overlapping.
 */
export async function readGguf(bytes: Uint8Array): Promise<ReadGguf> {
  const dir = mkdtempSync(join(tmpdir(), 'l2g-read-'));
  const file = join(dir, 'x.gguf');
  writeFileSync(file, bytes);
  try {
    const parsed = await gguf(file, { allowLocalFile: true });
    const dataOffset = Number(parsed.tensorDataOffset);
    const alignment = Number((parsed.metadata as Record<string, unknown>)['general.alignment'] ?? 32);
    if (dataOffset % alignment !== 0) throw new Error(`tensor data offset ${dataOffset} is not aligned`);
    const tensors: ReadTensor[] = parsed.tensorInfos.map((t) => {
      const ne = t.shape.map(Number);
      const n = ne.reduce((a, d) => a * d, 1);
      const size = TYPE_SIZE[t.dtype]!(n);
      const start = dataOffset + Number(t.offset);
      if (Number(t.offset) % alignment !== 0) throw new Error(`${t.name}: offset ${t.offset} is not aligned`);
      if (start + size > bytes.byteLength) throw new Error(`${t.name}: data past the end of the file`);
      const data = bytes.subarray(start, start + size);
      return { name: t.name, ne, type: t.dtype, offset: Number(t.offset), bytes: data, sha256: sha256(data) };
    });
    const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < byOffset.length; i++) {
      const prev = byOffset[i - 1]!;
      if (prev.offset + prev.bytes.byteLength > byOffset[i]!.offset) throw new Error(`${prev.name} overlaps ${byOffset[i]!.name}`);
    }
    const last = byOffset[byOffset.length - 1];
    if (last) {
      const end = dataOffset + last.offset + last.bytes.byteLength;
      const padded = Math.ceil(end / alignment) * alignment;
      if (bytes.byteLength !== padded) throw new Error(`file is ${bytes.byteLength} bytes, expected ${padded} (last tensor padded)`);
    }
    return { metadata: parsed.metadata as Record<string, unknown>, tensors, tensorDataOffset: dataOffset };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
