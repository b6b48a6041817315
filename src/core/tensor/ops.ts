import { ConversionError } from '../errors';
import type { F32Tensor } from './read';

/**
 * Transforms applied to one factor matrix (row-major, HF layout), as plain data so a plan can
 * be sent to a worker, printed and compared. Data movement works on bit patterns; only `scale`
 * and `addOne` do arithmetic (in float32, as the reference does).
 */
export type MatrixOp =
  /** Swap rows and columns. */
  | { op: 'transpose' }
  /** Keep rows [start, start + count). */
  | { op: 'rows'; start: number; count: number }
  /**
   * Decompose the row index into `dims` (row-major, last dim fastest) and permute the axes
   * like numpy's `reshape(dims).transpose(perm)`; the Llama q/k rotary permutation is
   * `dims = [nHead, 2, -1], perm = [0, 2, 1]`. One dim may be -1 (inferred).
   */
  | { op: 'rowAxes'; dims: number[]; perm: number[] }
  /** Rows in blocks of `blockRows`; output block i is input block `order[i]`. */
  | { op: 'rowBlocks'; blockRows: number; order: number[] }
  /** Multiply every value by `factor` (float32 product). */
  | { op: 'scale'; factor: number }
  /** Add 1 to every value (float32): Gemma-style norm weights. */
  | { op: 'addOne' };

/** The Llama-family rotary permutation of the output rows of a q or k projection. */
export function ropePermute(nHead: number): MatrixOp {
  return { op: 'rowAxes', dims: [nHead, 2, -1], perm: [0, 2, 1] };
}

function shapeError(message: string): ConversionError {
  return new ConversionError('shape_mismatch', message);
}

/**
 * A `rowAxes` op's dims for `rows` rows, the one -1 inferred as numpy's reshape does; `ok` is false
 * when they do not divide the rows (the dims are still given, for the message).
 */
function rowAxesDims(op: Extract<MatrixOp, { op: 'rowAxes' }>, rows: number): { dims: number[]; ok: boolean } {
  const known = op.dims.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const dims = op.dims.map((d) => (d === -1 ? rows / known : d));
  return { dims, ok: dims.reduce((a, d) => a * d, 1) === rows && dims.every((d) => Number.isInteger(d) && d > 0) };
}

/**
 * For rows viewed as `dims` (row-major, last fastest) with the axes permuted by `perm`: the input
 * row of each output row, as numpy's `reshape(dims).transpose(perm)` orders them.
 */
function permutedRows(dims: readonly number[], perm: readonly number[]): Int32Array {
  const rows = dims.reduce((a, d) => a * d, 1);
  // Strides of the input axes, and the output's dims (input dims permuted).
  const inStrides = dims.map((_, i) => dims.slice(i + 1).reduce((a, d) => a * d, 1));
  const outDims = perm.map((p) => dims[p]!);
  const order = new Int32Array(rows);
  const idx = new Array<number>(outDims.length).fill(0);
  for (let o = 0; o < rows; o++) {
    let src = 0;
    for (let k = 0; k < outDims.length; k++) src += idx[k]! * inStrides[perm[k]!]!;
    order[o] = src;
    for (let k = outDims.length - 1; k >= 0; k--) {
      idx[k]! += 1;
      if (idx[k]! < outDims[k]!) break;
      idx[k] = 0;
    }
  }
  return order;
}

/**
 * The shape `ops` produce from `shape`, checking every op against it without touching data, so
 * the plan can refuse (before a byte is written) a fused tensor whose rows don't fit the config.
 * Throws the same `shape_mismatch` errors applyOps would.
 */
export function opsOutputShape(shape: readonly number[], ops: readonly MatrixOp[]): number[] {
  let cur = shape.slice();
  for (const op of ops) {
    const [rows, cols] = dims2({ shape: cur, bits: new Uint32Array(0) });
    switch (op.op) {
      case 'transpose':
        cur = [cols, rows];
        break;
      case 'rows':
        if (op.start < 0 || op.count < 0 || op.start + op.count > rows) throw shapeError(`cannot take rows ${op.start}..${op.start + op.count} of ${rows}`);
        cur = [op.count, cols];
        break;
      case 'rowAxes':
        if (!rowAxesDims(op, rows).ok) throw shapeError(`cannot view ${rows} rows as [${op.dims.join(', ')}]`);
        break;
      case 'rowBlocks':
        if (op.blockRows * op.order.length !== rows) throw shapeError(`cannot regroup ${rows} rows as ${op.order.length} blocks of ${op.blockRows}`);
        break;
      case 'scale':
      case 'addOne':
        break;
    }
  }
  return cur;
}

/** Apply `ops` in order to a 2-D (or 1-D, for scale/addOne) tensor. Returns a new tensor. */
export function applyOps(t: F32Tensor, ops: readonly MatrixOp[]): F32Tensor {
  let cur = t;
  for (const op of ops) cur = applyOp(cur, op);
  return cur;
}

function dims2(t: F32Tensor): [number, number] {
  if (t.shape.length === 1) return [t.shape[0]!, 1];
  if (t.shape.length !== 2) throw shapeError(`expected a matrix, got shape [${t.shape.join(', ')}]`);
  return [t.shape[0]!, t.shape[1]!];
}

/** Ops that only move values (never change one): they work on elements of any width. */
export type MovementOp = Extract<MatrixOp, { op: 'transpose' | 'rows' | 'rowAxes' | 'rowBlocks' }>;

export function isMovementOp(op: MatrixOp): op is MovementOp {
  return op.op === 'transpose' || op.op === 'rows' || op.op === 'rowAxes' || op.op === 'rowBlocks';
}

/** Element bit patterns of any width: movement ops never look inside them. */
export type ElementBits = Uint16Array | Uint32Array;

/** Where moved elements go: a fresh array by default, or a reused scratch buffer. */
export type ElementAlloc = <T extends ElementBits>(like: T, n: number) => T;

const allocFresh: ElementAlloc = <T extends ElementBits>(like: T, n: number): T => (like instanceof Uint16Array ? new Uint16Array(n) : new Uint32Array(n)) as T;

/**
 * Apply one movement op to row-major elements of any width (2-byte F16/BF16 bits or 4-byte F32
 * bits): the fast converter moves the source's own elements, so a permutation never widens to
 * f32. Returns new elements and the new shape.
 */
export function moveElements<T extends ElementBits>(
  data: T,
  shape: readonly number[],
  op: MovementOp,
  allocLike: ElementAlloc = allocFresh,
): { shape: number[]; data: T } {
  const [rows, cols] = dims2({ shape: shape as number[], bits: new Uint32Array(0) });
  switch (op.op) {
    case 'transpose': {
      const out = allocLike(data, rows * cols);
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
      }
      return { shape: [cols, rows], data: out };
    }
    case 'rows': {
      if (op.start < 0 || op.start + op.count > rows) throw shapeError(`cannot take rows ${op.start}..${op.start + op.count} of ${rows}`);
      const out = allocLike(data, op.count * cols);
      out.set(data.subarray(op.start * cols, (op.start + op.count) * cols));
      return { shape: [op.count, cols], data: out };
    }
    case 'rowAxes': {
      const { dims, ok } = rowAxesDims(op, rows);
      if (!ok) throw shapeError(`cannot view ${rows} rows as [${dims.join(', ')}]`);
      const order = permutedRows(dims, op.perm);
      const out = allocLike(data, rows * cols);
      for (let o = 0; o < rows; o++) out.set(data.subarray(order[o]! * cols, order[o]! * cols + cols), o * cols);
      return { shape: shape.slice(), data: out };
    }
    case 'rowBlocks': {
      const { blockRows, order } = op;
      if (blockRows * order.length !== rows) throw shapeError(`cannot regroup ${rows} rows as ${order.length} blocks of ${blockRows}`);
      const out = allocLike(data, rows * cols);
      const blockLen = blockRows * cols;
      order.forEach((src, i) => out.set(data.subarray(src * blockLen, src * blockLen + blockLen), i * blockLen));
      return { shape: shape.slice(), data: out };
    }
  }
}

/**
 * A row permutation that never moves a row out of its block of `blockRows` consecutive rows
 * (a `rowAxes` whose first axis stays first, as the Llama q/k rotary permutation keeps each head's
 * rows together): output row `b * blockRows + i` is input row `b * blockRows + order[i]`.
 * Undefined for any other op. The converter encodes such a tensor row by row from where it was
 * read, a block at a time, instead of moving it whole into a buffer first.
 */
export interface RowGather {
  blockRows: number;
  order: Int32Array;
}

export function rowGatherOf(op: MatrixOp, shape: readonly number[]): RowGather | undefined {
  if (op.op !== 'rowAxes' || op.perm[0] !== 0 || shape.length !== 2) return undefined;
  const { dims, ok } = rowAxesDims(op, shape[0]!);
  if (!ok) return undefined;
  // Within a block: the remaining axes, permuted as moveElements permutes them.
  return {
    blockRows: shape[0]! / dims[0]!,
    order: permutedRows(
      dims.slice(1),
      op.perm.slice(1).map((p) => p - 1),
    ),
  };
}

export function applyOp(t: F32Tensor, op: MatrixOp): F32Tensor {
  if (isMovementOp(op)) {
    const moved = moveElements(t.bits, t.shape, op);
    return { shape: moved.shape, bits: moved.data };
  }
  switch (op.op) {
    case 'scale': {
      if (op.factor === 1) return t;
      const out = new Uint32Array(t.bits.length);
      const src = new Float32Array(t.bits.buffer, t.bits.byteOffset, t.bits.length);
      const dst = new Float32Array(out.buffer);
      // The product is rounded to float32 once, on the store.
      for (let i = 0; i < src.length; i++) dst[i] = src[i]! * op.factor;
      return { shape: t.shape.slice(), bits: out };
    }
    case 'addOne': {
      const out = new Uint32Array(t.bits.length);
      const src = new Float32Array(t.bits.buffer, t.bits.byteOffset, t.bits.length);
      const dst = new Float32Array(out.buffer);
      for (let i = 0; i < src.length; i++) dst[i] = src[i]! + 1;
      return { shape: t.shape.slice(), bits: out };
    }
  }
}
