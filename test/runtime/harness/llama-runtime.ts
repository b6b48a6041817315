/**
 * llama.cpp through node-llama-cpp: the prebuilt CPU binary only (never built, never
 * downloaded), one thread, F32 KV cache, flash attention off. If the prebuilt binary is missing,
 * getLlama throws and every runtime test fails loudly.
 */
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';

export interface LogLine {
  level: string;
  message: string;
}

let llamaPromise: Promise<Llama> | undefined;
/** Everything llama.cpp logs, for assertions on its reasons. */
export const llamaLog: LogLine[] = [];

export function loadRuntime(): Promise<Llama> {
  process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true';
  llamaPromise ??= getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    maxThreads: 1,
    logLevel: LlamaLogLevel.debug,
    logger: (level, message) => {
      llamaLog.push({ level: String(level), message });
    },
  });
  return llamaPromise;
}

/** Log lines written since `mark` (an index into llamaLog), joined. */
export function logSince(mark: number): string {
  return llamaLog
    .slice(mark)
    .map((l) => l.message)
    .join('');
}

export async function loadModel(path: string): Promise<LlamaModel> {
  const llama = await loadRuntime();
  const mark = llamaLog.length;
  try {
    return await llama.loadModel({ modelPath: path, gpuLayers: 0, useMmap: false, defaultContextFlashAttention: false });
  } catch (e) {
    // Say why: llama.cpp's own error lines (a missing key or tensor, a wrong shape). The log
    // callback can trail the rejection: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const why = llamaLog
      .slice(mark)
      .filter((l) => l.level === 'error' || /error|failed/i.test(l.message))
      .map((l) => l.message.trim())
      .join(' | ');
    throw new Error(`${(e as Error).message} (${path}): ${why}`, { cause: e });
  }
}

/**
 * log p(next token) over the whole vocabulary after each of `tokens` (rows: positions, columns:
 * token ids), with the given LoRA files attached at scale 1.
 */
export async function nextTokenLogProbs(model: LlamaModel, tokens: number[], nVocab: number, loras: string[] = []): Promise<Float64Array[]> {
  const context = await model.createContext({
    contextSize: 64,
    batchSize: 64,
    sequences: 1,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    ...(loras.length ? { lora: { adapters: loras.map((filePath) => ({ filePath, scale: 1 })) } } : {}),
  });
  try {
    const sequence = context.getSequence();
    // Temperature 1 and no truncation: the probabilities are softmax(logits) over the vocabulary.
    const input: ControlledEvaluateInputItem[] = tokens.map((t) => [
      t as Token,
      { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } },
    ]);
    const results = await sequence.controlledEvaluate(input);
    return results.map((r, i) => {
      const probs = r?.next.probabilities;
      if (!probs) throw new Error(`no probabilities at position ${i}`);
      if (probs.size !== nVocab) throw new Error(`position ${i}: ${probs.size} probabilities for a vocabulary of ${nVocab}`);
      const row = new Float64Array(nVocab);
      for (const [tok, p] of probs) row[tok] = Math.log(p);
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/** max over positions and tokens of |a - b|. */
export function maxAbsDiff(a: Float64Array[], b: Float64Array[]): number {
  let m = 0;
  a.forEach((row, i) => {
    const other = b[i]!;
    for (let j = 0; j < row.length; j++) m = Math.max(m, Math.abs(row[j]! - other[j]!));
  });
  return m;
}
