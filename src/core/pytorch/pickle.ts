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
  const m = new Machine(bytes, file, start);
  for (;;) {
    const op = m.u8();
    const handler = OPCODES[op];
    if (!handler) {
      const name = OPCODE_NAMES[op];
      if (name) throw refuse(`the opcode ${name} (0x${op.toString(16)})`, file, { opcode: name });
      throw malformed(`unknown opcode 0x${op.toString(16)} at byte ${m.pos - 1}`, file);
    }
    const done = handler(m, op);
    if (done) return done;
  }
}

/** The unpickler's state: the bytes and a position in them, the stack, marks, memo and storages. */
class Machine {
  pos: number;
  readonly stack: Value[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, Value>();
  private readonly storages = new Map<string, PickledStorage>();
  private readonly dv: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
    start: number,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  // Reading the opcodes' arguments (little-endian unless said otherwise).
  need(n: number): void {
    if (this.pos + n > this.bytes.byteLength) {
      const err = malformed('it ends early', this.file);
      err.details['truncated'] = true;
      throw err;
    }
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.dv.getUint32(this.pos, true) + this.dv.getUint32(this.pos + 4, true) * 2 ** 32;
    this.pos += 8;
    return v;
  }
  f64be(): number {
    this.need(8);
    const v = this.dv.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  take(n: number): Uint8Array {
    if (n > MAX_STRING_BYTES) throw malformed(`a string of ${n} bytes`, this.file);
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  line(): string {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0) this.need(this.bytes.byteLength - this.pos + 1);
    const s = String.fromCharCode(...this.bytes.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }
  utf8(b: Uint8Array): string {
    try {
      return decodeUtf8(b);
    } catch {
      throw malformed('a string is not UTF-8', this.file);
    }
  }

  // The stack.
  pop(): Value {
    const { stack, marks } = this;
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) throw malformed('stack underflow', this.file);
    return stack.pop();
  }
  popMark(): Value[] {
    const m = this.marks.pop();
    if (m === undefined) throw malformed('no MARK', this.file);
    return this.stack.splice(m);
  }
  top(): Value {
    if (this.stack.length === 0) throw malformed('stack underflow', this.file);
    return this.stack[this.stack.length - 1];
  }
  setItem(d: Value, k: Value, v: Value): void {
    if (!(d instanceof Map)) throw malformed('SETITEM on something that is not a dict', this.file);
    d.set(k, v);
  }

  // The only "objects" a state dict may build: allow-listed globals, storages, tensors.
  resolveGlobal(module: string, name: string): GlobalRef {
    const full = `${module}.${name}`;
    if (CALLABLE_GLOBALS.has(full) || TYPE_GLOBALS.has(full) || STORAGE_GLOBAL.test(full)) return { kind: 'global', name: full };
    throw refuse(`the pickle asks for the global "${full}"`, this.file, { global: full });
  }

  persistentLoad(pid: Value): PickledStorage {
    const file = this.file;
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
    const known = this.storages.get(memoKey);
    if (known) {
      if (known.storageType !== storageType) throw malformed(`storage "${key}" is referenced with two types`, file);
      return known;
    }
    const s: PickledStorage = { kind: 'storage', storageType, key, location, numel: numel as number, view: viewInfo };
    this.storages.set(memoKey, s);
    return s;
  }

  rebuildTensor(args: readonly Value[]): PickledTensor {
    const file = this.file;
    const [storage, offset, size, stride] = args;
    if (!isStorage(storage)) throw malformed('a tensor without a storage', file);
    if (!isCount(offset)) throw malformed('a tensor with a bad storage offset', file);
    if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length || size.length > MAX_DIMS) {
      throw malformed('a tensor with a bad size or stride', file);
    }
    if (!size.every(isCount) || !stride.every(isCount)) throw malformed('a tensor with a bad size or stride', file);
    return { kind: 'tensor', storage, storageOffset: offset, size: [...(size as number[])], stride: [...(stride as number[])] };
  }

  call(fn: Value, args: Value): Value {
    const file = this.file;
    if (!isGlobal(fn) || !CALLABLE_GLOBALS.has(fn.name)) throw refuse(`a call of ${describe(fn)}`, file);
    if (!Array.isArray(args)) throw malformed(`${fn.name} called without an argument tuple`, file);
    switch (fn.name) {
      case 'collections.OrderedDict':
        if (args.length !== 0) throw refuse('OrderedDict called with arguments', file);
        return new Map();
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return this.rebuildTensor(args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (!isTensor(args[0])) throw malformed('a parameter without a tensor', file);
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        const [inner, type, innerArgs] = args as Value[];
        if (!isGlobal(type) || !TYPE_GLOBALS.has(type.name)) throw refuse(`a tensor of type ${describe(type)}`, file);
        return this.call(inner, innerArgs);
      }
    }
    throw refuse(`a call of ${fn.name}`, file);
  }
}

/** A tuple: a frozen array, so it can be told from a list where it matters (persistent ids). */
const tuple = (items: Value[]): Value => Object.freeze(items);

/** Push a value read by `read`. */
const push =
  (read: (m: Machine) => Value) =>
  (m: Machine): void => {
    m.stack.push(read(m));
  };

/** LONG1: little-endian two's complement of n bytes. */
function long1(m: Machine): Value {
  const n = m.u8();
  const b = m.take(n);
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
  if (n > 0 && b[n - 1]! & 0x80) v -= 2 ** (8 * n);
  if (!Number.isSafeInteger(v) && n > 0) throw malformed('an integer beyond 2^53', m.file);
  return v;
}

function memoGet(m: Machine, op: number): void {
  const idx = op === 0x68 ? m.u8() : op === 0x6a ? m.u32() : Number(m.line());
  if (!m.memo.has(idx)) throw malformed(`memo ${idx} is not set`, m.file);
  m.stack.push(m.memo.get(idx));
}

function append(m: Machine, items: Value[], what: string): void {
  const l = m.top();
  if (!Array.isArray(l) || Object.isFrozen(l)) throw malformed(`${what} to something that is not a list`, m.file);
  l.push(...items);
}

/** The allowed opcodes, each a small handler; anything else is refused by name (or unknown). */
const OPCODES: Partial<Record<number, (m: Machine, op: number) => UnpickleResult | void>> = {
  // Framing.
  0x80: (m) => {
    // PROTO
    if (m.u8() > 5) throw malformed('an unknown pickle protocol', m.file);
  },
  0x95: (m) => void m.u64(), // FRAME: an 8-byte length; the frame's contents follow inline
  0x2e: (m) => ({ value: m.pop(), end: m.pos }), // STOP
  // Containers.
  0x28: (m) => void m.marks.push(m.stack.length), // MARK
  0x7d: push(() => new Map()), // EMPTY_DICT
  0x5d: push(() => []), // EMPTY_LIST
  0x29: push(() => tuple([])), // EMPTY_TUPLE
  0x74: push((m) => tuple(m.popMark())), // TUPLE
  0x85: push((m) => tuple([m.pop()])), // TUPLE1
  0x86: push((m) => {
    // TUPLE2
    const b = m.pop();
    return tuple([m.pop(), b]);
  }),
  0x87: push((m) => {
    // TUPLE3
    const c = m.pop();
    const b = m.pop();
    return tuple([m.pop(), b, c]);
  }),
  0x6c: push((m) => m.popMark()), // LIST
  0x64: push((m) => {
    // DICT
    const items = m.popMark();
    const d = new Map();
    for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
    return d;
  }),
  0x61: (m) => append(m, [m.pop()], 'APPEND'), // APPEND
  0x65: (m) => append(m, m.popMark(), 'APPENDS'), // APPENDS
  0x73: (m) => {
    // SETITEM
    const v = m.pop();
    const k = m.pop();
    m.setItem(m.top(), k, v);
  },
  0x75: (m) => {
    // SETITEMS
    const items = m.popMark();
    const d = m.top();
    for (let i = 0; i + 1 < items.length; i += 2) m.setItem(d, items[i], items[i + 1]);
  },
  // The memo.
  0x71: (m) => void m.memo.set(m.u8(), m.top()), // BINPUT
  0x72: (m) => void m.memo.set(m.u32(), m.top()), // LONG_BINPUT
  0x94: (m) => void m.memo.set(m.memo.size, m.top()), // MEMOIZE
  0x70: (m) => void m.memo.set(Number(m.line()), m.top()), // PUT
  0x68: memoGet, // BINGET
  0x6a: memoGet, // LONG_BINGET
  0x67: memoGet, // GET
  // Numbers and constants.
  0x4a: push((m) => m.i32()), // BININT
  0x4b: push((m) => m.u8()), // BININT1
  0x4d: push((m) => m.u16()), // BININT2
  0x8a: push(long1), // LONG1
  0x47: push((m) => m.f64be()), // BINFLOAT (big-endian)
  0x4e: push(() => null), // NONE
  0x88: push(() => true), // NEWTRUE
  0x89: push(() => false), // NEWFALSE
  // Strings and bytes.
  0x58: push((m) => m.utf8(m.take(m.u32()))), // BINUNICODE
  0x8c: push((m) => m.utf8(m.take(m.u8()))), // SHORT_BINUNICODE
  0x8d: push((m) => m.utf8(m.take(m.u64()))), // BINUNICODE8
  0x55: push((m) => String.fromCharCode(...m.take(m.u8()))), // SHORT_BINSTRING (Python 2 str)
  0x54: push((m) => String.fromCharCode(...m.take(m.u32()))), // BINSTRING
  0x43: push((m) => m.take(m.u8()).slice()), // SHORT_BINBYTES
  0x42: push((m) => m.take(m.u32()).slice()), // BINBYTES
  0x8e: push((m) => m.take(m.u64()).slice()), // BINBYTES8
  // Globals, calls and storages: only the allow-listed ones (see Machine).
  0x63: push((m) => {
    // GLOBAL: "module\nname\n"
    const module = m.line();
    return m.resolveGlobal(module, m.line());
  }),
  0x93: push((m) => {
    // STACK_GLOBAL
    const name = m.pop();
    const module = m.pop();
    if (typeof module !== 'string' || typeof name !== 'string') throw malformed('STACK_GLOBAL without strings', m.file);
    return m.resolveGlobal(module, name);
  }),
  0x52: push((m) => {
    // REDUCE
    const args = m.pop();
    return m.call(m.pop(), args);
  }),
  0x62: (m) => {
    // BUILD: set state on the object below. Only OrderedDicts (state dict `_metadata`)
    // and tensors (empty state) are built; the state is dropped.
    m.pop();
    const obj = m.top();
    if (!(obj instanceof Map) && !isTensor(obj)) throw refuse(`BUILD on ${describe(obj)}`, m.file);
  },
  0x51: push((m) => m.persistentLoad(m.pop())), // BINPERSID
  // Stack manipulation.
  0x30: (m) => {
    // POP
    if (m.marks.length && m.stack.length === m.marks[m.marks.length - 1]) m.marks.pop();
    else m.pop();
  },
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => void m.stack.push(m.top()), // DUP
};

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isGlobal(v: unknown): v is GlobalRef {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'global';
}
/** Whether an unpickled value is a storage reference (from a persistent id). */
export function isStorage(v: unknown): v is PickledStorage {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'storage';
}
/** Whether an unpickled value is a tensor rebuilt by `_rebuild_tensor*`. */
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
