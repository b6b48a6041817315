/** Header validation on well-formed and malformed files built in memory. */
import { describe, expect, it } from 'vitest';
import {
  buildEditedSafetensors,
  buildRawSafetensors,
  buildSafetensors,
  concatBytes,
  headerPrefix,
  truncateBytes,
} from '../../../test/helpers/safetensors-build';
import { ConversionError, type ErrorCode } from '../errors';
import { bytesSource } from '../io';
import { MAX_HEADER_BYTES, parseSafetensorsHeader } from './header';

async function failure(bytes: Uint8Array): Promise<ConversionError> {
  try {
    await parseSafetensorsHeader(bytesSource(bytes));
  } catch (e) {
    expect(e).toBeInstanceOf(ConversionError);
    return e as ConversionError;
  }
  throw new Error('expected the header to be refused');
}

async function expectRefused(bytes: Uint8Array, code: ErrorCode, words: RegExp, tensors?: string[]): Promise<void> {
  const e = await failure(bytes);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(words);
  if (tensors) expect(e.details.tensors).toEqual(tensors);
}

const A = { name: 'a.lora_A.weight', dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } as const;
const B = { name: 'a.lora_B.weight', dtype: 'BF16', shape: [4, 2], data: [0x3f80, 0, 0, 0, 0, 0, 0, 0xbf80] } as const;

describe('parseSafetensorsHeader', () => {
  it('reads names, dtypes, shapes, absolute offsets and metadata', async () => {
    const bytes = buildSafetensors(
      [
        { ...A, shape: [...A.shape], data: [...A.data] },
        { ...B, shape: [...B.shape], data: [...B.data] },
      ],
      { metadata: { format: 'pt' } },
    );
    const h = await parseSafetensorsHeader(bytesSource(bytes));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.dataOffset % 8).toBe(0);
    expect(h.tensors).toEqual([
      { name: A.name, dtype: 'F32', shape: [2, 3], begin: h.dataOffset, end: h.dataOffset + 24 },
      { name: B.name, dtype: 'BF16', shape: [4, 2], begin: h.dataOffset + 24, end: h.dataOffset + 40 },
    ]);
    expect(h.dataOffset + 40).toBe(bytes.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getFloat32(h.tensors[0]!.begin + 20, true)).toBe(6);
  });

  it('accepts an empty tensor and tensors stored out of order', async () => {
    const bytes = buildEditedSafetensors(
      [
        { name: 'x', dtype: 'F16', shape: [2] },
        { name: 'y', dtype: 'F16', shape: [2] },
        { name: 'z', dtype: 'F32', shape: [0, 4] },
      ],
      (h) => {
        h.x!.data_offsets = [4, 8];
        h.y!.data_offsets = [0, 4];
        h.z!.data_offsets = [8, 8];
      },
    );
    const h = await parseSafetensorsHeader(bytesSource(bytes));
    expect(h.tensors.map((t) => [t.name, t.begin - h.dataOffset])).toEqual([
      ['x', 4],
      ['y', 0],
      ['z', 8],
    ]);
  });

  it('refuses a file shorter than the length prefix', async () => {
    await expectRefused(new Uint8Array(5), 'malformed_header', /5 bytes long/);
    await expectRefused(new Uint8Array(0), 'malformed_header', /too short/);
  });

  it('refuses a huge header length without reading it', async () => {
    await expectRefused(concatBytes(headerPrefix(MAX_HEADER_BYTES + 1), new TextEncoder().encode('{}')), 'malformed_header', /limit/);
    await expectRefused(concatBytes(headerPrefix(2n ** 64n - 1n), new Uint8Array(16)), 'malformed_header', /limit/);
  });

  it('refuses a header length beyond the file', async () => {
    await expectRefused(concatBytes(headerPrefix(1000), new TextEncoder().encode('{}')), 'malformed_header', /1000 bytes/);
  });

  it('refuses non-JSON, non-object and non-UTF-8 headers', async () => {
    await expectRefused(buildRawSafetensors('{"a": [1, 2'), 'malformed_header', /JSON/);
    await expectRefused(buildRawSafetensors('[1,2,3]', undefined, { pad: false }), 'malformed_header', /"\{"/);
    await expectRefused(concatBytes(headerPrefix(4), new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'malformed_header', /UTF-8 JSON/);
    await expectRefused(concatBytes(headerPrefix(0)), 'malformed_header', /empty/);
    await expectRefused(buildRawSafetensors({ t: 'nope' }), 'malformed_header', /"t" is not an object/, ['t']);
    await expectRefused(buildRawSafetensors({ __metadata__: { a: 1 } }), 'malformed_header', /__metadata__\.a/);
  });

  it('refuses truncated data, naming the tensor that runs past the end', async () => {
    const bytes = buildSafetensors([
      { name: 'first', dtype: 'F32', shape: [4] },
      { name: 'second', dtype: 'F32', shape: [4] },
    ]);
    await expectRefused(truncateBytes(bytes, bytes.byteLength - 1), 'malformed_header', /truncated/, ['second']);
  });

  it('refuses overlapping offsets, naming both tensors', async () => {
    const bytes = buildEditedSafetensors(
      [
        { name: 'p', dtype: 'F32', shape: [2] },
        { name: 'q', dtype: 'F32', shape: [2] },
      ],
      (h) => {
        h.q!.data_offsets = [4, 12];
        h.p!.data_offsets = [0, 8];
      },
    );
    await expectRefused(bytes, 'malformed_header', /overlap/, ['p', 'q']);
  });

  it('refuses a shape that disagrees with its offsets', async () => {
    const bytes = buildEditedSafetensors([{ name: 'm', dtype: 'F16', shape: [2, 2] }], (h) => {
      h.m!.shape = [2, 3];
    });
    await expectRefused(bytes, 'malformed_header', /shape \[2,3\].*12 bytes.*8 bytes/, ['m']);
  });

  it('refuses invalid shapes and offsets', async () => {
    const one = (edit: (e: Record<string, unknown>) => void) =>
      buildEditedSafetensors([{ name: 't', dtype: 'F32', shape: [2] }], (h) => {
        edit(h.t!);
      });
    await expectRefused(
      one((e) => (e.shape = [-2])),
      'malformed_header',
      /invalid shape/,
      ['t'],
    );
    await expectRefused(
      one((e) => (e.shape = [1.5])),
      'malformed_header',
      /invalid shape/,
    );
    await expectRefused(
      one((e) => (e.shape = new Array<number>(9).fill(1))),
      'malformed_header',
      /invalid shape/,
    );
    await expectRefused(
      one((e) => (e.data_offsets = [8, 0])),
      'malformed_header',
      /invalid data_offsets/,
    );
    await expectRefused(
      one((e) => (e.data_offsets = [0])),
      'malformed_header',
      /invalid data_offsets/,
    );
    await expectRefused(
      one((e) => delete e.dtype),
      'malformed_header',
      /no dtype/,
    );
  });

  it('refuses unsupported dtypes by name', async () => {
    for (const dtype of ['I8', 'F8_E4M3', 'F64', 'U8']) {
      const bytes = buildSafetensors([{ name: `w.${dtype}`, dtype, shape: [8], data: new Uint8Array(dtype === 'F64' ? 64 : 8) }]);
      const e = await failure(bytes);
      expect(e.code).toBe('unsupported_dtype');
      expect(e.message).toContain(dtype);
      expect(e.message).toContain(`w.${dtype}`);
      expect(e.details.tensors).toEqual([`w.${dtype}`]);
      expect(e.hint).toBeTruthy();
    }
  });

  it('refuses an unknown dtype as malformed, naming it', async () => {
    const e = await failure(buildSafetensors([{ name: 'w', dtype: 'F13', shape: [1], data: new Uint8Array(2) }]));
    expect(e.code).toBe('malformed_header');
    expect(e.message).toContain('"F13"');
    expect(e.details.tensors).toEqual(['w']);
  });
});
