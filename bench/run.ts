/**
 * Conversion throughput and memory, per output type, on a synthetic Llama-7B-shaped adapter
 * (r = 64 on q/k/v/o/gate/up/down, 32 layers: ~320 MB in BF16) whose bytes are generated, not
 * stored, and an output that is only counted: this measures the core, not the disk.
 *
 * Each output type runs in its own child process so that its peak RSS is its own. CPU time is
 * reported beside wall time because wall time on a shared machine measures the neighbours too.
 *
 *   npm run bench [-- --layers 32 --dtype BF16|F16|F32 --repeat 1 --outtypes f32,f16,bf16,q8_0]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { convert, CountingSink, inspect, type OutType } from '../src/core';
import { generatedSafetensors, type GeneratedTensor } from '../test/helpers/safetensors-build';

interface Result {
  outtype: OutType;
  inputBytes: number;
  outputBytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

const HIDDEN = 4096;
const INTERMEDIATE = 11008;
const RANK = 64;

function adapter(layers: number): GeneratedTensor[] {
  const tensors: GeneratedTensor[] = [];
  const linear = (module: string, inDim: number, outDim: number) =>
    tensors.push(
      { name: `base_model.model.${module}.lora_A.weight`, shape: [RANK, inDim] },
      { name: `base_model.model.${module}.lora_B.weight`, shape: [outDim, RANK] },
    );
  for (let l = 0; l < layers; l++) {
    for (const p of ['q', 'k', 'v', 'o']) linear(`model.layers.${l}.self_attn.${p}_proj`, HIDDEN, HIDDEN);
    linear(`model.layers.${l}.mlp.gate_proj`, HIDDEN, INTERMEDIATE);
    linear(`model.layers.${l}.mlp.up_proj`, HIDDEN, INTERMEDIATE);
    linear(`model.layers.${l}.mlp.down_proj`, INTERMEDIATE, HIDDEN);
  }
  return tensors;
}

async function runOne(outtype: OutType, layers: number, dtype: 'F32' | 'F16' | 'BF16', repeat: number): Promise<Result> {
  const source = generatedSafetensors(adapter(layers), dtype);
  const baseConfig = JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: HIDDEN,
    intermediate_size: INTERMEDIATE,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    num_hidden_layers: layers,
    vocab_size: 32000,
    tie_word_embeddings: false,
  });
  const adapterConfig = JSON.stringify({
    peft_type: 'LORA',
    r: RANK,
    lora_alpha: 128,
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  });
  let best: Omit<Result, 'peakRssBytes'> | undefined;
  for (let i = 0; i < repeat; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const plan = await inspect({ adapterConfig, baseConfig, adapter: source }, { outtype, name: 'bench' });
    const sink = new CountingSink();
    await convert(plan, source, sink);
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const r = { outtype, inputBytes: source.byteLength, outputBytes: sink.length, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    if (!best || r.cpuSeconds < best.cpuSeconds) best = r;
  }
  // maxRSS is in KiB.
  return { ...best!, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

const MB = 1e6;

function printTable(results: Result[], dtype: string): void {
  const ref = results.find((r) => r.outtype === 'f16') ?? results[0]!;
  const rows = [
    ['outtype', 'in MB', 'out MB', 'wall s', 'cpu s', 'in MB/s (wall)', 'in MB/s (cpu)', 'peak RSS MB', `cpu time vs ${ref.outtype}`],
    ...results.map((r) => [
      r.outtype,
      (r.inputBytes / MB).toFixed(0),
      (r.outputBytes / MB).toFixed(0),
      r.wallSeconds.toFixed(2),
      r.cpuSeconds.toFixed(2),
      (r.inputBytes / MB / r.wallSeconds).toFixed(0),
      (r.inputBytes / MB / r.cpuSeconds).toFixed(0),
      (r.peakRssBytes / MB).toFixed(0),
      `${(r.cpuSeconds / ref.cpuSeconds).toFixed(2)}x`,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(`\nlora2gguf convert, synthetic Llama-7B-shaped adapter (${dtype} input, r=${RANK}), output counted not stored\n`);
  rows.forEach((r, i) => {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    layers: { type: 'string', default: '32' },
    dtype: { type: 'string', default: 'BF16' },
    repeat: { type: 'string', default: '1' },
    outtypes: { type: 'string', default: 'f32,f16,bf16,q8_0' },
  },
});
const layers = Number(values.layers);
const dtype = values.dtype as 'F32' | 'F16' | 'BF16';
const repeat = Number(values.repeat);

if (values.child) {
  process.stdout.write(JSON.stringify(await runOne(values.child as OutType, layers, dtype, repeat)));
} else {
  const results: Result[] = [];
  for (const outtype of values.outtypes.split(',')) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--child', outtype, '--layers', String(layers), '--dtype', dtype, '--repeat', String(repeat)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (child.status !== 0) throw new Error(`bench child for ${outtype} failed (${child.status})`);
    const r = JSON.parse(child.stdout) as Result;
    results.push(r);
    console.error(`${outtype}: ${r.wallSeconds.toFixed(2)} s wall, ${r.cpuSeconds.toFixed(2)} s cpu`);
  }
  printTable(results, dtype);
}
