/**
 * Realistic benchmark adapters, written on the fly: Llama-3-8B shaped (hidden 4096, 8 KV heads,
 * intermediate 14336, 32 layers), LoRA on all seven projections, PEFT names, values like a
 * trained adapter's (roughly normal, σ ≈ 0.01; no NaN, some below the f16 normal range), in
 * BF16 or F32, with the rank chosen to reach the asked size. Also the adapter_config.json and the
 * base model's config.json (in base/, where the app and `--base` look).
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export type BenchDtype = 'BF16' | 'F32';

const HIDDEN = 4096;
const KV = 1024;
const FFN = 14336;
const LAYERS = 32;
const PROJECTIONS: [string, number, number][] = [
  ['self_attn.q_proj', HIDDEN, HIDDEN],
  ['self_attn.k_proj', HIDDEN, KV],
  ['self_attn.v_proj', HIDDEN, KV],
  ['self_attn.o_proj', HIDDEN, HIDDEN],
  ['mlp.gate_proj', HIDDEN, FFN],
  ['mlp.up_proj', HIDDEN, FFN],
  ['mlp.down_proj', FFN, HIDDEN],
];
/** Elements per unit of rank, over all layers and projections (A: r × in, B: out × r). */
const ELEMENTS_PER_RANK = LAYERS * PROJECTIONS.reduce((a, [, i, o]) => a + i + o, 0);

export interface GeneratedAdapter {
  dir: string;
  baseDir: string;
  file: string;
  bytes: number;
  rank: number;
  tensors: number;
  dtype: BenchDtype;
}

/** The rank that makes the weights about `targetBytes` (at least 1). */
export function rankFor(targetBytes: number, dtype: BenchDtype): number {
  return Math.max(1, Math.round(targetBytes / (ELEMENTS_PER_RANK * (dtype === 'F32' ? 4 : 2))));
}

/** 16 MiB of values, reused (at shifting offsets) for every tensor: writing stays disk-bound. */
function valueBlock(dtype: BenchDtype): Uint8Array {
  const n = (16 << 20) / 4;
  const f = new Float32Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    let g = 0;
    for (let k = 0; k < 4; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      g += (x >>> 0) / 2 ** 32 - 0.5;
    }
    f[i] = g * 0.017;
  }
  if (dtype === 'F32') return new Uint8Array(f.buffer);
  const bits = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = bits[i]! >>> 16;
  return new Uint8Array(out.buffer);
}

export function generateAdapter(parent: string, name: string, targetBytes: number, dtype: BenchDtype): GeneratedAdapter {
  const rank = rankFor(targetBytes, dtype);
  const size = dtype === 'F32' ? 4 : 2;
  const dir = join(parent, name);
  const baseDir = join(dir, 'base');
  mkdirSync(baseDir, { recursive: true });
  const entries: [string, number[]][] = [];
  for (let l = 0; l < LAYERS; l++) {
    for (const [m, inDim, outDim] of PROJECTIONS) {
      const prefix = `base_model.model.model.layers.${l}.${m}`;
      entries.push([`${prefix}.lora_A.weight`, [rank, inDim]], [`${prefix}.lora_B.weight`, [outDim, rank]]);
    }
  }
  // PEFT (safetensors) stores tensors sorted by name.
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const [n, shape] of entries) {
    const bytes = shape[0]! * shape[1]! * size;
    header[n] = { dtype, shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const head = Buffer.alloc(8 + json.length);
  head.writeBigUInt64LE(BigInt(json.length), 0);
  head.write(json, 8, 'utf8');
  const file = join(dir, 'adapter_model.safetensors');
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head);
    const block = valueBlock(dtype);
    let left = at;
    let shift = 0;
    while (left > 0) {
      const n = Math.min(left, block.byteLength - shift);
      writeSync(fd, block, shift, n);
      left -= n;
      shift = (shift + 4096 * 7 + n) % (block.byteLength / 2);
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(
    join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      r: rank,
      lora_alpha: 2 * rank,
      target_modules: PROJECTIONS.map(([m]) => m.split('.')[1]),
      base_model_name_or_path: 'meta-llama/Meta-Llama-3-8B',
      task_type: 'CAUSAL_LM',
    }),
  );
  writeFileSync(
    join(baseDir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: HIDDEN,
      intermediate_size: FFN,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      num_hidden_layers: LAYERS,
      vocab_size: 128256,
      rope_theta: 500000,
      tie_word_embeddings: false,
    }),
  );
  return { dir, baseDir, file, bytes: head.byteLength + at, rank, tensors: entries.length, dtype };
}
