import { ConversionError } from '../errors';
import { decodeUtf8 } from '../io';

/**
 * A minimal, safe unpickler for PyTorch state dicts. It never executes anything: a GLOBAL is
 * only a name, looked up in a short allow-list of the functions a state dict of tensors needs
 * (tensor and parameter rebuilds, OrderedDict, typed storages), each implemented here as plain
 * data construction. Any other global, and any opcode that builds arbitrary objects (INST, OBJ,
 * NEWOBJ, EXT*), is refused by name before anything else happens.
 */

/** A `torch.<Name>Storage` reference from a persistent id: which dtype, which archive entry. */
export interface PickledStorage {
  kind: 'storage';
  /** The storage class, e.g. "FloatStorage". */
  storageType: string;
  /** Archive key: `data/<key>` in the zip format. */
  key: string;
  location: string;
  /** Elements in the storage. */
  numel: number;
  /** Legacy format only: (view key, offset, size) when the storage is a view of another. */
  view: { key: string; offset: number; numel: number } | null;
}

/** What `_rebuild_tensor_v2` describes: a strided view of a storage (offset and strides in elements). */
export interface PickledTensor {
  kind: 'tensor';
  storage: PickledStorage;
  storageOffset: number;
  size: number[];
  stride: number[];
}

interface GlobalRef {
  kind: 'global';
  name: string;
}
interface Mark {
  kind: 'mark';
}
/** Tuples are frozen arrays so they can be told from lists where it matters (persistent ids). */
type Value = unknown;

const MARK: Mark = { kind: 'mark' };

/** The globals a tensor state dict may name. Everything else is refused. */
const CALLABLE_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
]);
const TYPE_GLOBALS = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);
const STORAGE_GLOBAL = /^torch\.([A-Za-z0-9_]+Storage)$/;

/** Safety limits: a state dict's pickle is small; these bound memory on hostile input. */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const MAX_STRING_BYTES = 64 * 1024 * 1024;
const MAX_DIMS = 16;

function refuse(message: string, file: string, extra: Record<string, unknown> = {}): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file}: refused to unpickle: ${message}. A checkpoint of LoRA tensors never needs this; nothing was executed.`,
    { file, ...extra },
    'Only load checkpoints you trust. Ask for (or re-save as) adapter_model.safetensors, which cannot contain code.',
  );
}

function malformed(message: string, file: string): ConversionError {
  return new ConversionError(
    'malformed_header',
    `${file}: the pickle is malformed: ${message}.`,
    { file },
    'Re-save the adapter with PEFT or check the download.',
  );
}

const OPCODE_NAMES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x50: 'PERSID',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x8b: 'LONG4',
};

export interface UnpickleResult {
  value: Value;
  /** Offset just past the STOP opcode (several pickles follow each other in the legacy format). */
  end: number;
}

/**
 * Unpickle one pickle starting at `start`. Throws `malformed_header` for anything outside the
 * allow-list, naming the global or opcode. Throws a RangeError-free `malformed_header` when the
 * bytes run out (the caller may retry with more bytes: `truncated` is set in the details).
 */
export function unpickle(bytes: Uint8Array, file: string, start = 0): UnpickleResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const stack: Value[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Value>();
  const storages = new Map<string, PickledStorage>();

  const need = (n: number) => {
    if (pos + n > bytes.byteLength) {
      const err = malformed('it ends early', file);
      err.details['truncated'] = true;
      throw err;
    }
  };
  const u8 = () => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getUint32(pos, true) + dv.getUint32(pos + 4, true) * 2 ** 32;
    pos += 8;
    return v;
  };
  const take = (n: number) => {
    if (n > MAX_STRING_BYTES) throw malformed(`a string of ${n} bytes`, file);
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = () => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) {
      need(bytes.byteLength - pos + 1);
    }
    const s = String.fromCharCode(...bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return decodeUtf8(b);
    } catch {
      throw malformed('a string is not UTF-8', file);
    }
  };
  const pop = (): Value => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) throw malformed('stack underflow', file);
    return stack.pop();
  };
  const popMark = (): Value[] => {
    const m = marks.pop();
    if (m === undefined) throw malformed('no MARK', file);
    return stack.splice(m);
  };
  const top = (): Value => {
    if (stack.length === 0) throw malformed('stack underflow', file);
    return stack[stack.length - 1];
  };
  const tuple = (items: Value[]) => Object.freeze(items);
  const setItem = (d: Value, k: Value, v: Value) => {
    if (!(d instanceof Map)) throw malformed('SETITEM on something that is not a dict', file);
    d.set(k, v);
  };
  const resolveGlobal = (module: string, name: string): GlobalRef => {
    const full = `${module}.${name}`;
    if (CALLABLE_GLOBALS.has(full) || TYPE_GLOBALS.has(full) || STORAGE_GLOBAL.test(full)) return { kind: 'global', name: full };
    throw refuse(`the pickle asks for the global "${full}"`, file, { global: full });
  };

  const persistentLoad = (pid: Value): PickledStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw refuse(`an unknown persistent id ${describe(pid)}`, file);
    const [, type, key, location, numel, view] = pid as Value[];
    if (!isGlobal(type) || !STORAGE_GLOBAL.test(type.name)) throw refuse(`a persistent id whose storage type is ${describe(type)}`, file);
    if (typeof key !== 'string' || typeof location !== 'string' || !isCount(numel)) throw malformed(`a malformed storage id ${describe(pid)}`, file);
    let viewInfo: PickledStorage['view'] = null;
    if (view !== undefined && view !== null) {
      if (!Array.isArray(view) || typeof view[0] !== 'string' || !isCount(view[1]) || !isCount(view[2])) throw malformed('a malformed storage view', file);
      viewInfo = { key: view[0] as string, offset: view[1] as number, numel: view[2] as number };
    }
    const storageType = STORAGE_GLOBAL.exec(type.name)![1]!;
    const memoKey = viewInfo ? `${key}\u0000${viewInfo.key}` : key;
    const known = storages.get(memoKey);
    if (known) {
      if (known.storageType !== storageType) throw malformed(`storage "${key}" is referenced with two types`, file);
      return known;
    }
    const s: PickledStorage = { kind: 'storage', storageType, key, location, numel: numel as number, view: viewInfo };
    storages.set(memoKey, s);
    return s;
  };

  const rebuildTensor = (args: readonly Value[]): PickledTensor => {
    const [storage, offset, size, stride] = args;
    if (!isStorage(storage)) throw malformed('a tensor without a storage', file);
    if (!isCount(offset)) throw malformed('a tensor with a bad storage offset', file);
    if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length || size.length > MAX_DIMS) {
      throw malformed('a tensor with a bad size or stride', file);
    }
    if (!size.every(isCount) || !stride.every(isCount)) throw malformed('a tensor with a bad size or stride', file);
    return { kind: 'tensor', storage, storageOffset: offset, size: [...(size as number[])], stride: [...(stride as number[])] };
  };

  const call = (fn: Value, args: Value): Value => {
    if (!isGlobal(fn) || !CALLABLE_GLOBALS.has(fn.name)) throw refuse(`a call of ${describe(fn)}`, file);
    if (!Array.isArray(args)) throw malformed(`${fn.name} called without an argument tuple`, file);
    switch (fn.name) {
      case 'collections.OrderedDict':
        if (args.length !== 0) throw refuse('OrderedDict called with arguments', file);
        return new Map();
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return rebuildTensor(args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (!isTensor(args[0])) throw malformed('a parameter without a tensor', file);
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        const [inner, type, innerArgs] = args as Value[];
        if (!isGlobal(type) || !TYPE_GLOBALS.has(type.name)) throw refuse(`a tensor of type ${describe(type)}`, file);
        return call(inner, innerArgs);
      }
    }
    throw refuse(`a call of ${fn.name}`, file);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw malformed('an unknown pickle protocol', file);
        break;
      case 0x95: // FRAME: an 8-byte length; the frame's contents follow inline
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l) || Object.isFrozen(l)) throw malformed('APPEND to something that is not a list', file);
        l.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l) || Object.isFrozen(l)) throw malformed('APPENDS to something that is not a list', file);
        l.push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const idx = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(idx)) throw malformed(`memo ${idx} is not set`, file);
        stack.push(memo.get(idx));
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const b = take(n);
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
        if (n > 0 && b[n - 1]! & 0x80) v -= 2 ** (8 * n);
        if (!Number.isSafeInteger(v) && n > 0) throw malformed('an integer beyond 2^53', file);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        stack.push(String.fromCharCode(...take(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(String.fromCharCode(...take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw malformed('STACK_GLOBAL without strings', file);
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x62: {
        // BUILD: set state on the object below. Only OrderedDicts (state dict `_metadata`)
        // and tensors (empty state) are built; the state is dropped.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) && !isTensor(obj)) throw refuse(`BUILD on ${describe(obj)}`, file);
        void state;
        break;
      }
      case 0x51: {
        // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      }
      case 0x30: // POP
        if (marks.length && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default: {
        const name = OPCODE_NAMES[op];
        if (name) throw refuse(`the opcode ${name} (0x${op.toString(16)})`, file, { opcode: name });
        throw malformed(`unknown opcode 0x${op.toString(16)} at byte ${pos - 1}`, file);
      }
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isGlobal(v: unknown): v is GlobalRef {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'global';
}
export function isStorage(v: unknown): v is PickledStorage {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'storage';
}
export function isTensor(v: unknown): v is PickledTensor {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor';
}

function describe(v: unknown): string {
  if (isGlobal(v)) return `"${v.name}"`;
  if (v === null) return 'None';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'a tuple' : 'a list';
  if (v === MARK) return 'a MARK';
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 60)) : typeof v;
}
