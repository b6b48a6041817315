import { f32BitsToBf16Bits } from './bf16';
import { f32BitsToF16Bits } from './f16';
import { encodeQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './q8_0';
import { HOST_LITTLE_ENDIAN } from './read';
import type { OutType } from '../outtype';

/**
 * GGML tensor types this converter writes, with their ids in the GGUF format (ggml_type; the same
 * as @huggingface/gguf's GGMLQuantizationType, checked in writer.spec — not imported from it, as
 * its package pulls in @huggingface/tasks).
 */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
  BF16: 30,
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

export { OUTTYPES, type OutType, type OutTypeOption } from '../outtype';

export const OUTTYPE_TO_GGML: Record<OutType, GgmlTypeName> = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' };

/** Byte size of `elements` values (row length `ne0`) in a GGML type. */
export function ggmlByteSize(type: GgmlTypeName, elements: number): number {
  switch (type) {
    case 'F32':
      return elements * 4;
    case 'F16':
    case 'BF16':
      return elements * 2;
    case 'Q8_0':
      return (elements / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

/**
 * The GGML type a LoRA factor is written in: the requested one, except that Q8_0 needs the
 * row length (ne[0]) to be a multiple of 32 and otherwise falls back to F16 (as llama.cpp's
 * converter does); 1-D tensors (norm vectors) are always F32.
 */
export function tensorTypeFor(outtype: OutType, ne: readonly number[]): GgmlTypeName {
  if (ne.length < 2) return 'F32';
  const t = OUTTYPE_TO_GGML[outtype];
  if (t === 'Q8_0' && ne[0]! % Q8_0_BLOCK !== 0) return 'F16';
  return t;
}

/** Encode f32 bit patterns (row-major, ne[0] fastest) as `type`. */
export function encodeTensor(bits: Uint32Array, type: GgmlTypeName): Uint8Array {
  const n = bits.length;
  switch (type) {
    case 'F32': {
      // On a little-endian host the bit patterns are the file's bytes: one copy.
      if (HOST_LITTLE_ENDIAN) return new Uint8Array(new Uint32Array(bits).buffer);
      const out = new Uint8Array(n * 4);
      const view = new DataView(out.buffer);
      for (let i = 0; i < n; i++) view.setUint32(i * 4, bits[i]!, true);
      return out;
    }
    case 'F16': {
      const out = new Uint8Array(n * 2);
      const view = new DataView(out.buffer);
      for (let i = 0; i < n; i++) view.setUint16(i * 2, f32BitsToF16Bits(bits[i]!), true);
      return out;
    }
    case 'BF16': {
      const out = new Uint8Array(n * 2);
      const view = new DataView(out.buffer);
      for (let i = 0; i < n; i++) view.setUint16(i * 2, f32BitsToBf16Bits(bits[i]!), true);
      return out;
    }
    case 'Q8_0': {
      const out = new Uint8Array(ggmlByteSize('Q8_0', n));
      encodeQ8_0(new Float32Array(bits.buffer, bits.byteOffset, n), out);
      return out;
    }
  }
}
