import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BIN_FIXTURE_BASE, BIN_FIXTURE_CONFIG, FIXTURES } from '../../../test/helpers/fixtures';
import { buildSafetensors } from '../../../test/helpers/safetensors-build';
import { convert } from '../convert';
import { ConversionError } from '../errors';
import { bytesSource, MemorySink, type ByteSource } from '../io';
import { inspect } from '../plan';
import { readTensorF32 } from '../tensor/read';
import { detectAdapterFormat, readPytorchCheckpoint } from './checkpoint';
import { readEntry, readZipDirectory } from './zip';

const BIN = join(FIXTURES, 'bin');

interface Expected {
  tensors: Record<string, { dtype: string; shape: number[]; stride: number[]; storage_offset: number; contiguous: boolean; values: number[] }>;
}

function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(BIN, name)));
}
function expectedOf(name: string): Expected {
  return JSON.parse(readFileSync(join(BIN, name.replace(/\.bin$/, '.expected.json')), 'utf8')) as Expected;
}

/** A source that records every read, to show that tensor data is not read while planning. */
function recording(bytes: Uint8Array): ByteSource & { reads: [number, number][] } {
  const inner = bytesSource(bytes);
  const reads: [number, number][] = [];
  return {
    byteLength: inner.byteLength,
    reads,
    read(offset, length) {
      reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
}

const DTYPES: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

async function thrown(p: Promise<unknown>): Promise<ConversionError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConversionError);
    return e as ConversionError;
  }
  throw new Error('expected a ConversionError');
}

describe('readPytorchCheckpoint on real torch.save files (test/fixtures/bin, torch 1.13)', () => {
  const cases: [string, string][] = [
    ['adapter_fp32.bin', 'pytorch-zip'],
    ['adapter_fp16.bin', 'pytorch-zip'],
    ['adapter_bf16.bin', 'pytorch-zip'],
    ['adapter_views.bin', 'pytorch-zip'],
    ['adapter_deflated.bin', 'pytorch-zip'],
    ['adapter_legacy.bin', 'pytorch-legacy'],
    // torch.save(module.state_dict()): an OrderedDict with _metadata (BUILD) holding Parameters.
    ['adapter_state_dict.bin', 'pytorch-zip'],
  ];
  for (const [file, format] of cases) {
    it(`${file}: every tensor's name, dtype, shape and values agree with torch.load`, async () => {
      const bytes = fixture(file);
      const expected = expectedOf(file);
      const ckpt = await readPytorchCheckpoint(bytesSource(bytes), file);
      expect(ckpt.format).toBe(format);
      expect(ckpt.tensors.map((t) => t.name)).toEqual(Object.keys(expected.tensors));
      for (const t of ckpt.tensors) {
        const e = expected.tensors[t.name]!;
        expect(t.dtype).toBe(DTYPES[e.dtype]);
        expect(t.shape).toEqual(e.shape);
        // A non-contiguous view keeps its strides; a contiguous one is a plain byte range.
        expect(t.strides === undefined).toBe(e.contiguous);
        const got = await readTensorF32(bytesSource(bytes), t);
        expect(new Float32Array(got.bits.buffer)).toEqual(Float32Array.from(e.values));
      }
    });
  }

  it('adapter_views.bin covers transposes, stepped slices, broadcasts, offsets and shared storages', () => {
    const e = expectedOf('adapter_views.bin').tensors;
    const views = Object.values(e);
    expect(views.some((t) => !t.contiguous && t.stride.includes(0))).toBe(true); // expand
    expect(views.some((t) => !t.contiguous && t.stride[1] === 2)).toBe(true); // [:, ::2]
    expect(views.some((t) => !t.contiguous && t.stride[0] === 1)).toBe(true); // .t()
    expect(views.some((t) => t.storage_offset > 0)).toBe(true); // big[8:]
    expect(new Set(views.map((t) => t.dtype))).toEqual(new Set(['float32', 'float16', 'bfloat16']));
  });

  it('two tensors sharing a storage point into the same bytes, 8 rows apart', async () => {
    const ckpt = await readPytorchCheckpoint(bytesSource(fixture('adapter_views.bin')));
    const q = ckpt.tensors.find((t) => t.name.endsWith('q_proj.lora_B.weight'))!;
    const v = ckpt.tensors.find((t) => t.name.endsWith('v_proj.lora_B.weight'))!;
    expect(v.begin - q.begin).toBe(8 * 4 * 4);
    expect(q.end).toBe(v.begin);
  });

  it('reads the tables without touching tensor data (lazy, like safetensors)', async () => {
    const bytes = fixture('adapter_views.bin');
    const src = recording(bytes);
    const ckpt = await readPytorchCheckpoint(src);
    // The tail scan for the end-of-directory record (up to 64 KiB: the whole of a tiny file) aside.
    const reads = src.reads.filter(([offset, length]) => offset + length !== bytes.byteLength);
    expect(reads.length).toBe(src.reads.length - 1);
    for (const [offset, length] of reads) {
      for (const t of ckpt.tensors) expect(offset + length <= t.begin || offset >= t.end).toBe(true);
    }
  });

  it('a deflated archive records where each compressed entry is and inflates it on read', async () => {
    const ckpt = await readPytorchCheckpoint(bytesSource(fixture('adapter_deflated.bin')));
    expect(ckpt.tensors.every((t) => t.deflated !== undefined && t.deflated.size === 4 * t.shape[0]! * t.shape[1]!)).toBe(true);
  });
});

describe('the unpickler refuses code, by name, without running it', () => {
  it('refuses os.system (pickled as posix.system)', async () => {
    const err = await thrown(readPytorchCheckpoint(bytesSource(fixture('malicious_os_system.bin'))));
    expect(err.code).toBe('malformed_header');
    expect(err.details['global']).toBe('posix.system');
    expect(err.message).toContain('"posix.system"');
    expect(err.message).toContain('nothing was executed');
    expect(existsSync('/tmp/lora2gguf-pwned')).toBe(false);
  });

  it('refuses eval (pickled by protocol 2 as __builtin__.eval)', async () => {
    const err = await thrown(readPytorchCheckpoint(bytesSource(fixture('malicious_eval.bin'))));
    expect(err.details['global']).toBe('__builtin__.eval');
  });

  function zipWithPickle(pickle: number[]): Uint8Array {
    // Swap data.pkl of a real checkpoint for `pickle` (same length budget is not needed: rebuild the zip).
    return buildStoredZip([
      ['archive/data.pkl', Uint8Array.from(pickle)],
      ['archive/version', new TextEncoder().encode('3\n')],
    ]);
  }
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

  it('refuses object-building opcodes by name', async () => {
    // PROTO 2, MARK, INST "os\nsystem\n"
    const err = await thrown(readPytorchCheckpoint(bytesSource(zipWithPickle([0x80, 2, 0x28, 0x69, ...ascii('os\nsystem\n'), 0x2e]))));
    expect(err.details['opcode']).toBe('INST');
    const err2 = await thrown(readPytorchCheckpoint(bytesSource(zipWithPickle([0x80, 2, 0x29, 0x29, 0x81, 0x2e]))));
    expect(err2.details['opcode']).toBe('NEWOBJ');
  });

  it('refuses a global even through STACK_GLOBAL (protocol 4)', async () => {
    const str = (s: string) => [0x8c, s.length, ...ascii(s)];
    const err = await thrown(readPytorchCheckpoint(bytesSource(zipWithPickle([0x80, 4, ...str('subprocess'), ...str('Popen'), 0x93, 0x2e]))));
    expect(err.details['global']).toBe('subprocess.Popen');
  });

  it('refuses a torch global outside the allow-list (torch.load)', async () => {
    const err = await thrown(readPytorchCheckpoint(bytesSource(zipWithPickle([0x80, 2, 0x63, ...ascii('torch\nload\n'), 0x2e]))));
    expect(err.details['global']).toBe('torch.load');
  });

  it('reports a truncated pickle as malformed', async () => {
    const err = await thrown(readPytorchCheckpoint(bytesSource(zipWithPickle([0x80, 2, 0x7d, 0x58, 10, 0, 0, 0, 0x61]))));
    expect(err.code).toBe('malformed_header');
    expect(err.message).toContain('ends early');
  });
});

describe('format detection by magic bytes', () => {
  it('recognises safetensors, zip and legacy checkpoints', async () => {
    expect(await detectAdapterFormat(bytesSource(buildSafetensors([{ name: 'x', dtype: 'F32', shape: [1] }])))).toBe('safetensors');
    expect(await detectAdapterFormat(bytesSource(fixture('adapter_fp32.bin')))).toBe('pytorch-zip');
    expect(await detectAdapterFormat(bytesSource(fixture('adapter_legacy.bin')))).toBe('pytorch-legacy');
  });

  it('names what a wrong file is', async () => {
    const lfs = new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n');
    const err = await thrown(detectAdapterFormat(bytesSource(lfs)));
    expect(err.code).toBe('wrong_input');
    expect(err.message).toContain('Git LFS pointer');
    const gguf = await thrown(detectAdapterFormat(bytesSource(new TextEncoder().encode('GGUF\x03\x00\x00\x00xxxxxxxxxxxx'))));
    expect(gguf.message).toContain('already a GGUF');
  });
});

// ---- End to end: a .bin converts to the very same GGUF as the same tensors in safetensors. ----

describe('inspect + convert accept adapter_model.bin', () => {
  for (const file of ['adapter_fp32.bin', 'adapter_bf16.bin', 'adapter_views.bin', 'adapter_deflated.bin', 'adapter_legacy.bin']) {
    it(`${file} gives the same GGUF as the same values in safetensors`, async () => {
      const bin = fixture(file);
      const expected = expectedOf(file);
      const st = buildSafetensors(Object.entries(expected.tensors).map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.values })));
      const planBin = await inspect({ adapterConfig: BIN_FIXTURE_CONFIG, baseConfig: BIN_FIXTURE_BASE, adapter: bytesSource(bin) });
      const planSt = await inspect({ adapterConfig: BIN_FIXTURE_CONFIG, baseConfig: BIN_FIXTURE_BASE, adapter: bytesSource(st) });
      expect(planBin.refusals).toEqual([]);
      expect(planBin.adapter.format).toBe(file.includes('legacy') ? 'pytorch-legacy' : 'pytorch-zip');
      expect(planSt.adapter.format).toBe('safetensors');
      expect(planBin.tensors.length).toBe(Object.keys(expected.tensors).length);
      const a = new MemorySink();
      const b = new MemorySink();
      await convert(planBin, bytesSource(bin), a);
      await convert(planSt, bytesSource(st), b);
      expect(a.bytes()).toEqual(b.bytes());
    });
  }
});

/**
 * A zip of stored entries (for hand-made pickles). With `zip64`, every size and offset in the
 * central directory is 0xffffffff with the real value in a ZIP64 extra field, and the end record
 * points to a ZIP64 end record, as torch writes archives over 4 GiB.
 */
function buildStoredZip(files: [string, Uint8Array][], options: { zip64?: boolean; deflate?: boolean } = {}): Uint8Array {
  const enc = new TextEncoder();
  const z64 = options.zip64 === true;
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [name, raw] of files) {
    const n = enc.encode(name);
    const data = options.deflate ? new Uint8Array(deflateRawSync(raw)) : raw;
    const local = new Uint8Array(30 + n.length + data.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    if (options.deflate) lv.setUint16(8, 8, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, raw.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    local.set(data, 30 + n.length);
    const extra = z64 ? 4 + 24 : 0;
    const central = new Uint8Array(46 + n.length + extra);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    if (options.deflate) cv.setUint16(10, 8, true);
    cv.setUint32(20, z64 ? 0xffffffff : data.length, true);
    cv.setUint32(24, z64 ? 0xffffffff : raw.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, z64 ? 0xffffffff : offset, true);
    central.set(n, 46);
    if (z64) {
      const e = 46 + n.length;
      cv.setUint16(e, 0x0001, true);
      cv.setUint16(e + 2, 24, true);
      cv.setBigUint64(e + 4, BigInt(raw.length), true); // uncompressed
      cv.setBigUint64(e + 12, BigInt(data.length), true); // compressed
      cv.setBigUint64(e + 20, BigInt(offset), true); // local header offset
    }
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((a, c) => a + c.length, 0);
  const tail: Uint8Array[] = [];
  if (z64) {
    const rec = new Uint8Array(56);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setBigUint64(24, BigInt(files.length), true);
    rv.setBigUint64(32, BigInt(files.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(offset), true);
    const loc = new Uint8Array(20);
    const lv = new DataView(loc.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(offset + cdSize), true);
    lv.setUint32(16, 1, true);
    tail.push(rec, loc);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, z64 ? 0xffff : files.length, true);
  ev.setUint16(10, z64 ? 0xffff : files.length, true);
  ev.setUint32(12, z64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, z64 ? 0xffffffff : offset, true);
  tail.push(eocd);
  const parts = [...locals, ...centrals, ...tail];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The entries of a real fixture, to re-pack them differently. */
async function entriesOf(bytes: Uint8Array): Promise<[string, Uint8Array][]> {
  const src = bytesSource(bytes);
  const out: [string, Uint8Array][] = [];
  for (const e of await readZipDirectory(src, 'x')) out.push([e.name, (await readEntry(src, e, 'x')).slice()]);
  return out;
}

describe('archive structure', () => {
  it('reads a ZIP64 archive (sizes and offsets in the ZIP64 extra field and end record)', async () => {
    const files = await entriesOf(fixture('adapter_views.bin'));
    const bytes = buildStoredZip(files, { zip64: true });
    const expected = expectedOf('adapter_views.bin');
    const ckpt = await readPytorchCheckpoint(bytesSource(bytes));
    expect(ckpt.tensors).toHaveLength(8);
    for (const t of ckpt.tensors) {
      const got = await readTensorF32(bytesSource(bytes), t);
      expect(new Float32Array(got.bits.buffer)).toEqual(Float32Array.from(expected.tensors[t.name]!.values));
    }
  });

  it('reads strided views out of deflated entries', async () => {
    const bytes = buildStoredZip(await entriesOf(fixture('adapter_views.bin')), { deflate: true });
    const expected = expectedOf('adapter_views.bin');
    const ckpt = await readPytorchCheckpoint(bytesSource(bytes));
    expect(ckpt.tensors.filter((t) => t.deflated && t.strides)).toHaveLength(4);
    for (const t of ckpt.tensors) {
      const got = await readTensorF32(bytesSource(bytes), t);
      expect(new Float32Array(got.bits.buffer)).toEqual(Float32Array.from(expected.tensors[t.name]!.values));
    }
  });

  it('refuses a corrupt deflated entry when its tensor is read', async () => {
    const bytes = buildStoredZip(await entriesOf(fixture('adapter_fp32.bin')), { deflate: true });
    const ckpt = await readPytorchCheckpoint(bytesSource(bytes));
    const t = ckpt.tensors[0]!;
    const broken = bytes.slice();
    broken.fill(0xff, t.deflated!.offset, t.deflated!.offset + t.deflated!.compressedSize);
    await expect(readTensorF32(bytesSource(broken), t)).rejects.toMatchObject({ code: 'malformed_header' });
  });

  it('refuses a truncated download', async () => {
    const bytes = fixture('adapter_fp32.bin');
    const err = await thrown(readPytorchCheckpoint(bytesSource(bytes.slice(0, bytes.length - 100))));
    expect(err.code).toBe('malformed_header');
  });

  it('refuses a tensor that reaches past its storage, naming it', async () => {
    const files = await entriesOf(fixture('adapter_fp32.bin'));
    // Cut storage 0 short: the tensor that uses it now reaches past the entry.
    const cut = files.map(([n, d]): [string, Uint8Array] => [n, n.endsWith('/data/0') ? d.slice(0, 8) : d]);
    const err = await thrown(readPytorchCheckpoint(bytesSource(buildStoredZip(cut))));
    expect(err.code).toBe('malformed_header');
    expect(err.details.tensors).toHaveLength(1);
  });

  it('refuses big-endian storages (torch >= 2.1 byteorder entry)', async () => {
    const files = await entriesOf(fixture('adapter_fp32.bin'));
    const prefix = files[0]![0].slice(0, files[0]![0].indexOf('/') + 1);
    const err = await thrown(readPytorchCheckpoint(bytesSource(buildStoredZip([...files, [`${prefix}byteorder`, new TextEncoder().encode('big')]]))));
    expect(err.message).toContain('big-endian');
  });
});
