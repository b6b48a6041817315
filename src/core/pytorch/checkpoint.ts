import { ConversionError } from '../errors';
import type { ByteSource } from '../io';
import { SOURCE_DTYPE_BYTES, type SourceDtype, type TensorLocation } from '../tensor/read';
import { isTensor, MAX_PICKLE_BYTES, unpickle, type PickledStorage, type PickledTensor } from './pickle';
import { entryDataOffset, readEntry, readZipDirectory, unsupportedMethod, type ZipEntry } from './zip';

/**
 * PyTorch checkpoints (`adapter_model.bin`, written by torch.save): the zip format (torch >= 1.6:
 * `<archive>/data.pkl` + one `<archive>/data/<key>` entry per storage) and the legacy format (a
 * sequence of pickles followed by the raw storages). Only the pickle is read whole; tensor data
 * is located by offset and read lazily, like safetensors.
 */

export interface CheckpointTensor extends TensorLocation {
  name: string;
}

export interface PytorchCheckpoint {
  format: 'pytorch-zip' | 'pytorch-legacy';
  tensors: CheckpointTensor[];
}

/** The dtypes of `torch.<Name>Storage`, with element sizes (to walk past legacy storages). */
const STORAGE_TYPES: Record<string, { dtype: string; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
  ComplexFloatStorage: { dtype: 'complex64', bytes: 8 },
  ComplexDoubleStorage: { dtype: 'complex128', bytes: 16 },
  QInt8Storage: { dtype: 'qint8', bytes: 1 },
  QUInt8Storage: { dtype: 'quint8', bytes: 1 },
  QInt32Storage: { dtype: 'qint32', bytes: 4 },
};
const READABLE: Record<string, SourceDtype> = { FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16' };

/** The protocol-2 pickle of the legacy format's magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

function malformed(message: string, file: string, extra: Record<string, unknown> = {}): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file} is not a valid PyTorch checkpoint: ${message}`,
    { file, ...extra },
    'Re-save the adapter with PEFT (save_pretrained, preferably with safe_serialization=True) or check that the download is complete.',
  );
}

/** The state dict from the unpickled value: string keys to tensors, in the file's order. */
function stateDict(value: unknown, file: string): [string, PickledTensor][] {
  if (!(value instanceof Map)) throw malformed('the pickle does not hold a dict of tensors', file);
  const out: [string, PickledTensor][] = [];
  for (const [k, v] of value) {
    if (typeof k !== 'string') throw malformed('the state dict has a key that is not a string', file);
    if (!isTensor(v)) throw malformed(`"${k}" is not a tensor`, file, { tensors: [k] });
    out.push([k, v]);
  }
  return out;
}

function dtypeOf(name: string, storage: PickledStorage, file: string): SourceDtype {
  const readable = READABLE[storage.storageType];
  if (readable) return readable;
  const known = STORAGE_TYPES[storage.storageType];
  throw new ConversionError(
    'unsupported_dtype',
    known
      ? `Tensor "${name}" is stored as ${known.dtype}; only float32, float16 and bfloat16 LoRA weights can be converted.`
      : `Tensor "${name}" has an unknown storage type "${storage.storageType}".`,
    { file, tensors: [name], dtype: known?.dtype ?? storage.storageType },
    'Save the adapter in float32, float16 or bfloat16.',
  );
}

/**
 * Where a strided view of a storage lives: `base` is the storage's first byte (absolute, or 0
 * in an inflated entry). Contiguous views get a plain [begin, end); others keep their strides.
 */
function locate(name: string, t: PickledTensor, dtype: SourceDtype, storageNumel: number, base: number, file: string): Omit<CheckpointTensor, 'deflated'> {
  const es = SOURCE_DTYPE_BYTES[dtype];
  const numel = t.size.reduce((a, d) => a * d, 1);
  const begin = base + t.storageOffset * es;
  if (numel === 0) return { name, dtype, shape: t.size, begin, end: begin };
  let last = t.storageOffset;
  for (let d = 0; d < t.size.length; d++) last += (t.size[d]! - 1) * t.stride[d]!;
  if (last >= storageNumel) {
    throw malformed(`tensor "${name}" reaches element ${last} of a storage of ${storageNumel} elements`, file, { tensors: [name] });
  }
  let expected = 1;
  let contiguous = true;
  for (let d = t.size.length - 1; d >= 0; d--) {
    if (t.size[d] === 1) continue;
    if (t.stride[d] !== expected) contiguous = false;
    expected *= t.size[d]!;
  }
  if (contiguous) return { name, dtype, shape: t.size, begin, end: begin + numel * es };
  return { name, dtype, shape: t.size, begin, end: base + (last + 1) * es, strides: t.stride.slice() };
}

async function readZipCheckpoint(source: ByteSource, file: string): Promise<PytorchCheckpoint> {
  const entries = await readZipDirectory(source, file);
  const pickles = entries.filter((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (pickles.length !== 1) {
    throw malformed(pickles.length ? 'it holds more than one data.pkl' : 'the archive has no data.pkl (is this a torch.save file?)', file);
  }
  const pkl = pickles[0]!;
  if (pkl.size > MAX_PICKLE_BYTES) throw malformed(`data.pkl is ${pkl.size} bytes (the limit is ${MAX_PICKLE_BYTES})`, file);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  // torch >= 2.1 records the byte order of the storages; older files are little-endian.
  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder && byteorder.size <= 16) {
    const order = String.fromCharCode(...(await readEntry(source, byteorder, file))).trim();
    if (order !== 'little') throw malformed(`its storages are ${order}-endian; only little-endian checkpoints can be read`, file);
  }
  const { value } = unpickle(await readEntry(source, pkl, file), file);
  const dataOffsets = new Map<string, number>();
  const tensors: CheckpointTensor[] = [];
  for (const [name, t] of stateDict(value, file)) {
    const dtype = dtypeOf(name, t.storage, file);
    const entry = byName.get(`${prefix}data/${t.storage.key}`);
    if (!entry) throw malformed(`the storage "${t.storage.key}" of "${name}" is missing from the archive`, file, { tensors: [name] });
    const bytes = t.storage.numel * SOURCE_DTYPE_BYTES[dtype];
    if (entry.size < bytes) throw malformed(`storage "${t.storage.key}" has ${entry.size} bytes, ${bytes} expected`, file, { tensors: [name] });
    let offset = dataOffsets.get(entry.name);
    if (offset === undefined) dataOffsets.set(entry.name, (offset = await entryDataOffset(source, entry, file)));
    if (entry.method === 0) {
      tensors.push(locate(name, t, dtype, t.storage.numel, offset, file));
    } else if (entry.method === 8) {
      tensors.push({ ...locate(name, t, dtype, t.storage.numel, 0, file), deflated: { offset, compressedSize: entry.compressedSize, size: entry.size } });
    } else {
      throw unsupportedMethod(entry, file);
    }
  }
  return { format: 'pytorch-zip', tensors };
}

/** Bytes the legacy reader holds to parse its pickles: grown until they fit, up to the limit. */
const LEGACY_FIRST_WINDOW = 1024 * 1024;

async function readLegacyCheckpoint(source: ByteSource, file: string): Promise<PytorchCheckpoint> {
  let window = Math.min(source.byteLength, LEGACY_FIRST_WINDOW);
  let parsed: { entries: [string, PickledTensor][]; keys: string[]; end: number };
  for (;;) {
    const bytes = await source.read(0, window);
    try {
      parsed = parseLegacyPickles(bytes, file);
      break;
    } catch (e) {
      const truncated = e instanceof ConversionError && e.details['truncated'] === true;
      if (!truncated || window >= source.byteLength || window >= MAX_PICKLE_BYTES) throw e;
      window = Math.min(source.byteLength, window * 4, MAX_PICKLE_BYTES);
    }
  }
  const { entries, keys } = parsed;
  // Element size of each root storage, from the tensors that use it.
  const typeOfKey = new Map<string, string>();
  for (const [, t] of entries) typeOfKey.set(t.storage.key, t.storage.storageType);
  // Walk the storages (in the order of the key list): an 8-byte element count, then the elements.
  const dataStart = new Map<string, { offset: number; numel: number }>();
  let pos = parsed.end;
  for (const key of keys) {
    const type = typeOfKey.get(key);
    const size = type ? STORAGE_TYPES[type]?.bytes : undefined;
    if (size === undefined) throw malformed(`cannot tell the element size of storage "${key}"`, file);
    if (pos + 8 > source.byteLength) throw malformed('the storages end early (truncated download?)', file);
    const count = await source.read(pos, 8);
    const dv = new DataView(count.buffer, count.byteOffset, 8);
    const numel = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
    dataStart.set(key, { offset: pos + 8, numel });
    pos += 8 + numel * size;
    if (pos > source.byteLength) throw malformed(`storage "${key}" runs past the end of the file (truncated download?)`, file);
  }
  const tensors: CheckpointTensor[] = [];
  for (const [name, t] of entries) {
    const dtype = dtypeOf(name, t.storage, file);
    const start = dataStart.get(t.storage.key);
    if (!start) throw malformed(`the storage "${t.storage.key}" of "${name}" is not in the file`, file, { tensors: [name] });
    if (start.numel < t.storage.numel)
      throw malformed(`storage "${t.storage.key}" has ${start.numel} elements, ${t.storage.numel} expected`, file, { tensors: [name] });
    const es = SOURCE_DTYPE_BYTES[dtype];
    const view = t.storage.view;
    if (view && view.offset + view.numel > start.numel) throw malformed(`a storage view of "${name}" lies outside its storage`, file, { tensors: [name] });
    const base = start.offset + (view ? view.offset * es : 0);
    tensors.push(locate(name, t, dtype, view ? view.numel : start.numel, base, file));
  }
  return { format: 'pytorch-legacy', tensors };
}

/** The legacy format's pickles: magic number, protocol version, system info, the state dict, the storage keys. */
function parseLegacyPickles(bytes: Uint8Array, file: string): { entries: [string, PickledTensor][]; keys: string[]; end: number } {
  const protocol = unpickle(bytes, file, LEGACY_MAGIC.length);
  if (protocol.value !== 1001) throw malformed(`unknown legacy protocol version ${String(protocol.value)}`, file);
  const sysInfo = unpickle(bytes, file, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw malformed('it was saved on a big-endian machine', file);
  }
  const main = unpickle(bytes, file, sysInfo.end);
  const keys = unpickle(bytes, file, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw malformed('the storage key list is malformed', file);
  return { entries: stateDict(main.value, file), keys: keys.value as string[], end: keys.end };
}

export type AdapterFileFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy';

/**
 * Recognise an adapter file by its first bytes: safetensors (8-byte little-endian header length,
 * then "{"), a zip archive ("PK\x03\x04", torch.save since 1.6) or a legacy torch.save pickle.
 * A GGUF file, a Git LFS pointer, an HTML page or a foreign pickle is refused with what it is;
 * anything else is handed to the safetensors parser.
 */
export async function detectAdapterFormat(source: ByteSource, file = 'adapter file'): Promise<AdapterFileFormat> {
  const head = await source.read(0, Math.min(source.byteLength, 64));
  if (head.byteLength >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'pytorch-zip';
  if (head.byteLength >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => head[i] === b)) return 'pytorch-legacy';
  if (head.byteLength >= 9 && head[8] === 0x7b) return 'safetensors';
  const text = String.fromCharCode(...head.subarray(0, 64));
  let what: string | undefined;
  if (text.startsWith('GGUF')) what = 'already a GGUF file';
  else if (text.startsWith('version https://git-lfs')) what = 'a Git LFS pointer, not the file itself (the download fetched the pointer)';
  else if (/^\s*</.test(text)) what = 'an HTML or XML page (an error page instead of the file?)';
  else if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) what = 'a pickle that is not a torch.save checkpoint';
  // Anything else goes to the safetensors parser, whose errors say precisely what is wrong.
  if (!what) return 'safetensors';
  throw new ConversionError(
    'wrong_input',
    `The ${file} is ${what}.`,
    { file },
    'Give adapter_model.safetensors (or adapter_model.bin) as written by PEFT save_pretrained.',
  );
}

/** Read a PyTorch checkpoint's tensor table (either format). */
export async function readPytorchCheckpoint(source: ByteSource, file = 'adapter_model.bin'): Promise<PytorchCheckpoint> {
  const format = await detectAdapterFormat(source, file);
  if (format === 'pytorch-zip') return readZipCheckpoint(source, file);
  if (format === 'pytorch-legacy') return readLegacyCheckpoint(source, file);
  throw new ConversionError('wrong_input', `${file} is a safetensors file, not a PyTorch checkpoint.`, { file });
}
