import { ConversionError, throwIfAborted, type AbortSignalLike } from './errors';
import { alignUp } from './gguf/writer';
import type { ByteSink, ByteSource } from './io';
import { planHeader, type ConversionPlan, type PlannedTensor } from './plan';
import { ChunkWriter, DEFAULT_CHUNK_BYTES, DEFAULT_CHUNKS } from './stream/chunk-writer';
import { DEFAULT_WINDOW_BYTES, ReadAhead, syncReadShare } from './stream/read-ahead';
import { encodeTensor, type GgmlTypeName } from './tensor/encode';
import { elementView, encodeElements, OUTPUT_UNIT, type ElementArray } from './tensor/kernels';
import { acquireSimdArena, type KernelStats } from './tensor/simd';
import { applyOps, isMovementOp, moveElements, rowGatherOf, type ElementAlloc, type MatrixOp, type MovementOp, type RowGather } from './tensor/ops';
import { HOST_LITTLE_ENDIAN, readTensorF32, SOURCE_DTYPE_BYTES, widenToF32Bits, type F32Tensor, type SourceDtype, type TensorLocation } from './tensor/read';

export type ProgressEvent =
  | { type: 'start'; totalBytes: number; totalTensors: number }
  | { type: 'tensor'; name: string; index: number; totalTensors: number; bytesWritten: number; totalBytes: number }
  | { type: 'done'; bytesWritten: number };

export interface ConvertOptions {
  signal?: AbortSignalLike;
  onProgress?: (event: ProgressEvent) => void;
  /** Bytes read ahead per window (default 6 MiB); tests use small ones to cross boundaries. */
  readWindowBytes?: number;
  /** Output chunk size (default 4 MiB, a multiple of 32). */
  chunkBytes?: number;
  /** Output chunks in the ring (default 3; a sink taking several writes at once gets up to this minus one). */
  chunks?: number;
  /**
   * The share of reads made on this thread, for a source that can (`readIntoSync`): default
   * `syncReadShare` of the plan's output and input sizes.
   */
  syncReadShare?: number;
  /**
   * Write NaN and infinite values as they are. By default a tensor holding any fails the
   * conversion (`non_finite`), naming the tensor and the count: llama.cpp would apply them.
   */
  keepNonFinite?: boolean;
}

/** A tensor whose NaN or infinite values were kept (with `keepNonFinite`). */
export interface NonFiniteTensor {
  tensor: string;
  sources: string[];
  count: number;
}

export interface ConvertResult {
  bytesWritten: number;
  /** Tensors holding NaN or infinite values (only with `keepNonFinite`; else the conversion failed). */
  nonFinite: NonFiniteTensor[];
}

const PADDING = new Uint8Array(32);

/**
 * Execute a plan: write the GGUF header, then each tensor in order. Reads run ahead of the
 * encoding (the next window of tensors is read while this one is encoded) and writes behind it
 * (one chunk is written while the next is filled), in a fixed number of reused buffers, so memory
 * stays flat whatever the adapter's size: 6 MiB read windows (the one in use and those read
 * ahead), three 4 MiB output chunks (a sink that takes two writes at once has two in flight); a
 * tensor larger than a window streams through in pieces (whole row blocks if its rows are
 * permuted within blocks), except one that needs moving whole (a transpose) or arithmetic, which
 * is held whole (twice, moved).
 * Refuses a plan with refusals before writing a byte.
 */
export async function convert(plan: ConversionPlan, adapter: ByteSource, sink: ByteSink, options: ConvertOptions = {}): Promise<ConvertResult> {
  assertConvertible(plan);
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const header = planHeader(plan);
  if (header.byteLength !== plan.headerBytes) throw new Error('internal: header size differs from the plan');
  onProgress?.({ type: 'start', totalBytes: plan.totalBytes, totalTensors: plan.tensors.length });
  const locations = plan.tensors.flatMap((t) =>
    t.parts.map((part) => {
      const loc = plan.sources[part.source];
      if (!loc) throw new Error(`internal: no source ${part.source}`);
      return loc;
    }),
  );
  const windowBytes = options.readWindowBytes ?? DEFAULT_WINDOW_BYTES;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  // The reused buffers live in the SIMD kernels' memory when it is free: no copies in or out.
  const chunkCount = options.chunks ?? DEFAULT_CHUNKS;
  // A slab for the window in use and one per window read ahead (as many as the source serves at once).
  const ahead = ReadAhead.aheadFor(adapter);
  const arena = acquireSimdArena(ReadAhead.slabBytes(windowBytes), chunkBytes, chunkCount, ahead + 1);
  // A tensor used element by element (no permutation; at most PEFT's scaling) may stream through
  // in pieces; one whose rows are permuted within blocks (q/k), in pieces of whole blocks.
  const streamable = plan.tensors.flatMap((t) =>
    t.parts.map((part) => {
      if (!HOST_LITTLE_ENDIAN) return false;
      if (scaleOnly(part.ops) !== undefined) return true;
      const loc = plan.sources[part.source]!;
      const gather = gatherFor(part.ops, loc, t.type);
      return gather ? gather.blockRows * loc.shape[1]! * SOURCE_DTYPE_BYTES[loc.dtype] : false;
    }),
  );
  const inputBytes = locations.reduce((sum, loc) => sum + (loc.end - loc.begin), 0);
  const syncShare = options.syncReadShare ?? syncReadShare(plan.totalBytes, inputBytes);
  const reader = new ReadAhead(adapter, locations, { windowBytes, slabs: arena?.slabs, streamable, ahead, syncShare });
  const writer = new ChunkWriter(sink, chunkBytes, arena?.chunks ?? chunkCount);
  const nonFinite: NonFiniteTensor[] = [];
  const scratch = new Scratch();
  try {
    await writer.write(header);
    for (let i = 0; i < plan.tensors.length; i++) {
      throwIfAborted(signal);
      const t = plan.tensors[i]!;
      const start = writer.position;
      // Values are checked by the kernels as they encode: no second pass over the data.
      const stats: KernelStats = { nonFinite: 0 };
      for (const part of t.parts) {
        const loc = plan.sources[part.source]!;
        if (reader.nextIsStreamed()) {
          const factor = scaleOnly(part.ops);
          const gather = factor === undefined ? gatherFor(part.ops, loc, t.type)! : undefined;
          for await (const piece of reader.pieces()) {
            const data = elementView(piece, loc.dtype);
            if (gather) await encodeGathered(data, loc.shape[1]!, gather, loc.dtype, t.type, writer, stats);
            else if (factor === 1) await encodeInto(data, loc.dtype, t.type, writer, stats);
            else await encodeScaled(data, loc.dtype, factor!, t.type, writer, stats, scratch);
          }
        } else {
          await encodePart(await reader.read(), loc, part.ops, t.type, writer, stats, scratch);
        }
        throwIfAborted(signal);
      }
      if (stats.nonFinite > 0) {
        const found = { tensor: t.name, sources: [...new Set(t.parts.map((p) => plan.sourceNames?.[p.source] ?? p.source))], count: stats.nonFinite };
        if (!options.keepNonFinite) throw nonFiniteError(found);
        nonFinite.push(found);
      }
      const tensorBytes = writer.position - start;
      if (tensorBytes !== t.byteSize) throw new Error(`internal: ${t.name} is ${tensorBytes} bytes, planned ${t.byteSize}`);
      const pad = alignUp(tensorBytes) - tensorBytes;
      if (pad) await writer.write(PADDING.subarray(0, pad));
      onProgress?.({ type: 'tensor', name: t.name, index: i, totalTensors: plan.tensors.length, bytesWritten: writer.position, totalBytes: plan.totalBytes });
    }
    await writer.finish();
  } catch (e) {
    // Let the write in flight end before the caller closes or removes its target.
    await writer.settle();
    throw e;
  } finally {
    // A read still in flight (after a failure) must land before the slabs go to another user.
    await reader.settle();
    arena?.release();
  }
  const written = writer.flushed;
  if (written !== plan.totalBytes) throw new Error(`internal: wrote ${written} bytes, planned ${plan.totalBytes}`);
  onProgress?.({ type: 'done', bytesWritten: written });
  return { bytesWritten: written, nonFinite };
}

function nonFiniteError(found: NonFiniteTensor): ConversionError {
  const values = found.count === 1 ? 'value is' : 'values are';
  return new ConversionError(
    'non_finite',
    `${found.tensor}: ${found.count} ${values} NaN or infinite (in ${found.sources.join(', ')}); llama.cpp would apply them and produce garbage. Nothing was kept.`,
    { tensors: found.sources, gguf: found.tensor, count: found.count },
    'The adapter is damaged (a training run that diverged, or a broken save): save it again from a good checkpoint. To write the values as they are anyway, convert with --keep-non-finite.',
  );
}

/**
 * Encode one source tensor (its contiguous bytes) with its ops into the writer. Data movement
 * (permutations, transposes, row slices) moves the source's own elements; only arithmetic
 * (scale, +1) widens to f32 first, exactly as the plain path does. The plain path
 * (`readTensorF32` → `applyOps` → `encodeTensor`) serves big-endian hosts.
 */
async function encodePart(
  bytes: Uint8Array,
  loc: TensorLocation,
  ops: readonly MatrixOp[],
  type: GgmlTypeName,
  writer: ChunkWriter,
  stats: KernelStats,
  scratch: Scratch,
): Promise<void> {
  if (!HOST_LITTLE_ENDIAN) {
    const bits = applyOps({ shape: loc.shape.slice(), bits: widenToF32Bits(bytes, loc.dtype) }, ops).bits;
    for (const b of bits) if ((b & 0x7f800000) === 0x7f800000) stats.nonFinite++;
    await writer.write(encodeTensor(bits, type));
    return;
  }
  // The plan puts data movement first and PEFT's scaling last; anything else (a norm's +1) takes
  // the plain path: widen everything to f32, apply the ops in order.
  const last = ops[ops.length - 1];
  const scale = last?.op === 'scale' ? last.factor : 1;
  const movement = last?.op === 'scale' ? ops.slice(0, -1) : ops;
  if (!movement.every(isMovementOp)) {
    await encodeInto(applyOps({ shape: loc.shape.slice(), bits: widenToF32Bits(bytes, loc.dtype) }, ops).bits, 'F32', type, writer, stats);
    return;
  }
  let data: ElementArray = elementView(bytes, loc.dtype);
  // (A tensor whose rows are permuted within blocks is encoded row by row only when it streams
  // through in pieces: whole, a move into a reused buffer and one kernel call per chunk measured
  // faster than a kernel call per row.)
  let shape: readonly number[] = loc.shape;
  // Moves ping-pong between two reused buffers: no allocation per permuted tensor.
  movement.forEach((op, k) => ({ shape, data } = moveElements(data, shape, op as MovementOp, scratch.slot(k % 2))));
  if (scale === 1) await encodeInto(data, loc.dtype, type, writer, stats);
  else await encodeScaled(data, loc.dtype, scale, type, writer, stats, scratch);
}

/** Encode elements into the writer's chunks, as many per kernel call as the chunk has room for. */
async function encodeInto(data: ElementArray, dtype: SourceDtype, type: GgmlTypeName, writer: ChunkWriter, stats: KernelStats): Promise<void> {
  const unit = OUTPUT_UNIT[type];
  const n = data.length;
  let i = 0;
  while (i < n) {
    await writer.ensure(unit.bytes);
    const count = Math.min(n - i, Math.floor(writer.room / unit.bytes) * unit.elements);
    writer.advance(encodeElements(dtype, data, i, count, type, writer.chunk, writer.at, stats));
    i += count;
  }
}

/**
 * The row gather for a part whose only op is a row permutation within blocks (no scaling), when
 * its rows can be encoded one by one: whole Q8_0 blocks per row (a multiple of 32 columns).
 */
function gatherFor(ops: readonly MatrixOp[], loc: TensorLocation, type: GgmlTypeName): RowGather | undefined {
  if (ops.length !== 1 || loc.shape.length !== 2) return undefined;
  if (type === 'Q8_0' && loc.shape[1]! % 32 !== 0) return undefined;
  return rowGatherOf(ops[0]!, loc.shape);
}

/**
 * Encode whole blocks of rows, each block's rows in the gather's order, straight from `data`
 * into the writer's chunks: a row that fits in the chunk is one kernel call, with no await.
 */
async function encodeGathered(
  data: ElementArray,
  cols: number,
  gather: RowGather,
  dtype: SourceDtype,
  type: GgmlTypeName,
  writer: ChunkWriter,
  stats: KernelStats,
): Promise<void> {
  const unit = OUTPUT_UNIT[type];
  const rowBytes = (cols / unit.elements) * unit.bytes;
  const blockElements = gather.blockRows * cols;
  if (data.length % blockElements !== 0) throw new Error('internal: a gathered piece is not whole blocks of rows');
  for (let base = 0; base < data.length; base += blockElements) {
    for (let o = 0; o < gather.blockRows; o++) {
      const from = base + gather.order[o]! * cols;
      if (writer.room >= rowBytes) writer.advance(encodeElements(dtype, data, from, cols, type, writer.chunk, writer.at, stats));
      else await encodeInto(data.subarray(from, from + cols), dtype, type, writer, stats);
    }
  }
}

/** The factor when `ops` is at most one scale (1 for none), else undefined. */
function scaleOnly(ops: readonly MatrixOp[]): number | undefined {
  if (ops.length === 0) return 1;
  const [op] = ops;
  return ops.length === 1 && op!.op === 'scale' ? op!.factor : undefined;
}

/** Elements per piece when scaling: widened to f32 in a reused 1 MiB buffer, scaled, encoded. */
const SCALE_PIECE = 256 * 1024;

/**
 * Encode `data` × `factor` piece by piece: each piece widened exactly to f32, multiplied in f32
 * (rounded once, on the store, as applyOps' scale does), and encoded from f32. The values are
 * counted for NaN/Inf as written (after scaling).
 */
async function encodeScaled(
  data: ElementArray,
  dtype: SourceDtype,
  factor: number,
  type: GgmlTypeName,
  writer: ChunkWriter,
  stats: KernelStats,
  scratch: Scratch,
): Promise<void> {
  const wide = scratch.widened();
  const values = new Float32Array(wide.buffer, wide.byteOffset, SCALE_PIECE);
  const widenStats = { nonFinite: 0 };
  for (let from = 0; from < data.length; from += SCALE_PIECE) {
    const n = Math.min(SCALE_PIECE, data.length - from);
    encodeElements(dtype, data, from, n, 'F32', wide, 0, widenStats);
    for (let i = 0; i < n; i++) values[i] = values[i]! * factor;
    await encodeInto(new Uint32Array(wide.buffer, wide.byteOffset, n), 'F32', type, writer, stats);
  }
}

/** Reused buffers for moved elements (two, for chains of moves) and for widened f32 pieces. */
class Scratch {
  private readonly slots: (ArrayBuffer | undefined)[] = [undefined, undefined];
  private wide: Uint8Array | undefined;

  slot(k: number): ElementAlloc {
    return <T extends ElementArray>(like: T, n: number): T => {
      const bytes = n * like.BYTES_PER_ELEMENT;
      let buf = this.slots[k];
      if (!buf || buf.byteLength < bytes) buf = this.slots[k] = new ArrayBuffer(bytes);
      return (like instanceof Uint16Array ? new Uint16Array(buf, 0, n) : new Uint32Array(buf, 0, n)) as T;
    };
  }

  widened(): Uint8Array {
    return (this.wide ??= new Uint8Array(SCALE_PIECE * 4));
  }
}

/** Throw the plan's refusals (all of them, the first as the message) if there are any. */
export function assertConvertible(plan: ConversionPlan): void {
  if (plan.refusals.length === 0) return;
  const first = plan.refusals[0]!;
  const err = new ConversionError(first.code, first.message, { ...first.details, refusals: plan.refusals }, first.hint);
  throw err;
}

/** Compute one planned tensor's f32 values in GGUF order (tests, previews). */
export async function materialize(plan: ConversionPlan, t: PlannedTensor, adapter: ByteSource): Promise<F32Tensor[]> {
  const out: F32Tensor[] = [];
  for (const part of t.parts) out.push(applyOps(await readTensorF32(adapter, plan.sources[part.source]!), part.ops));
  return out;
}
