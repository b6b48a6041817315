/**
 * Runs one llama.cpp evaluation in its own process, for anything that may abort (a GGML_ASSERT
 * kills the whole process). Usage: node --import tsx child.ts '<json job>'. Prints one line
 * `RESULT <json>` on success; on a JS error prints `ERROR <json>` and exits 1; llama.cpp's log
 * goes with either.
 */
import { llamaLog, loadModel, nextTokenLogProbs } from './llama-runtime';

interface Job {
  model: string;
  loras: string[];
  tokens: number[];
  nVocab: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  // Mirror llama.cpp's log to stderr as it arrives, so that it survives an abort.
  const push = llamaLog.push.bind(llamaLog);
  llamaLog.push = (...lines) => {
    for (const l of lines) process.stderr.write(l.message);
    return push(...lines);
  };
  try {
    const model = await loadModel(job.model);
    const rows = await nextTokenLogProbs(model, job.tokens, job.nVocab, job.loras);
    await model.dispose();
    process.stdout.write(`RESULT ${JSON.stringify(rows.map((r) => Array.from(r)))}\n`);
    process.exit(0);
  } catch (e) {
    process.stdout.write(`ERROR ${JSON.stringify({ message: (e as Error).message })}\n`);
    process.exit(1);
  }
}

void main();
