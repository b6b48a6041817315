import { describe, expect, it } from 'vitest';
import { encodeTensor } from './encode';
import { widenToF32Bits } from './read';

describe('widenToF32Bits / encodeTensor fast paths', () => {
  // Node's Buffer.slice() is a view into a shared pool, not a copy: the fast paths must copy the
  // bytes they are given, whatever kind of Uint8Array a ByteSource returns.
  it('reads F32 and BF16 correctly from a pooled Node Buffer', () => {
    const f32 = Buffer.allocUnsafe(12);
    f32.writeFloatLE(1.5, 0);
    f32.writeFloatLE(-2, 4);
    f32.writeUInt32LE(0x7fa00001, 8); // a signalling NaN keeps its bits
    expect([...widenToF32Bits(f32, 'F32')]).toEqual([0x3fc00000, 0xc0000000, 0x7fa00001]);
    const bf16 = Buffer.allocUnsafe(4);
    bf16.writeUInt16LE(0x3fc0, 0);
    bf16.writeUInt16LE(0xff81, 2);
    expect([...widenToF32Bits(bf16, 'BF16')]).toEqual([0x3fc00000, 0xff810000]);
  });

  it('encodes F32 from a view into a larger array as exactly its own elements', () => {
    const all = new Uint32Array([1, 2, 0x3f800000, 0x80000000, 5]);
    const view = all.subarray(2, 4);
    expect([...encodeTensor(view, 'F32')]).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0x80]);
  });
});
