import { ConversionError, throwIfAborted, type AbortSignalLike } from './errors';
import { alignUp } from './gguf/writer';
import type { ByteSink, ByteSource } from './io';
import { planHeader, type ConversionPlan, type PlannedTensor } from './plan';
import { encodeTensor } from './tensor/encode';
import { applyOps } from './tensor/ops';
import { readTensorF32, type F32Tensor } from './tensor/read';

export type ProgressEvent =
  | { type: 'start'; totalBytes: number; totalTensors: number }
  | { type: 'tensor'; name: string; index: number; totalTensors: number; bytesWritten: number; totalBytes: number }
  | { type: 'done'; bytesWritten: number };

export interface ConvertOptions {
  signal?: AbortSignalLike;
  onProgress?: (event: ProgressEvent) => void;
}

const PADDING = new Uint8Array(32);

/**
 * Execute a plan: write the GGUF header, then each tensor in order, awaiting every write, so
 * memory holds one tensor (one expert, for stacked experts) at a time. Refuses a plan with
 * refusals before writing a byte.
 */
export async function convert(plan: ConversionPlan, adapter: ByteSource, sink: ByteSink, options: ConvertOptions = {}): Promise<{ bytesWritten: number }> {
  assertConvertible(plan);
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const header = planHeader(plan);
  if (header.byteLength !== plan.headerBytes) throw new Error('internal: header size differs from the plan');
  onProgress?.({ type: 'start', totalBytes: plan.totalBytes, totalTensors: plan.tensors.length });
  await sink.write(header);
  let written = header.byteLength;
  for (let i = 0; i < plan.tensors.length; i++) {
    throwIfAborted(signal);
    const t = plan.tensors[i]!;
    let tensorBytes = 0;
    for (const part of t.parts) {
      const loc = plan.sources[part.source];
      if (!loc) throw new Error(`internal: no source ${part.source}`);
      const m = applyOps(await readTensorF32(adapter, loc), part.ops);
      const bytes = encodeTensor(m.bits, t.type);
      await sink.write(bytes);
      tensorBytes += bytes.byteLength;
      throwIfAborted(signal);
    }
    if (tensorBytes !== t.byteSize) throw new Error(`internal: ${t.name} is ${tensorBytes} bytes, planned ${t.byteSize}`);
    const pad = alignUp(tensorBytes) - tensorBytes;
    if (pad) await sink.write(PADDING.subarray(0, pad));
    written += tensorBytes + pad;
    onProgress?.({ type: 'tensor', name: t.name, index: i, totalTensors: plan.tensors.length, bytesWritten: written, totalBytes: plan.totalBytes });
  }
  if (written !== plan.totalBytes) throw new Error(`internal: wrote ${written} bytes, planned ${plan.totalBytes}`);
  onProgress?.({ type: 'done', bytesWritten: written });
  return { bytesWritten: written };
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
