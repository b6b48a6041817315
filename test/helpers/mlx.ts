/**
 * Turn a PEFT LoRA adapter into the adapter mlx-lm would have written for the same update (facts
 * from mlx-lm's tuner/lora.py): names without PEFT's prefix ending in `.lora_a` / `.lora_b`; linear
 * and embedding factors transposed (lora_a is (in, r), lora_b is (r, out)); per-expert factors of a
 * mixture of experts stacked into `switch_mlp.{gate,up,down}_proj` ((E, r, in) and (E, out, r));
 * `lora_parameters.scale` = alpha / r; safetensors metadata {"format": "mlx"}; an adapter_config.json
 * holding mlx_lm.lora's training arguments. PEFT adapters mlx-lm cannot express (per-module
 * rank or alpha patterns, rsLoRA, DoRA, missing experts, …) throw `Unrepresentable`.
 */

export class Unrepresentable extends Error {}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const EXPERT = /^(.*)\.experts\.(\d+)\.(w1|w2|w3|gate_proj|up_proj|down_proj)$/;
const SWITCH_NAME: Record<string, string> = { w1: 'gate_proj', w3: 'up_proj', w2: 'down_proj', gate_proj: 'gate_proj', up_proj: 'up_proj', down_proj: 'down_proj' };

export interface MlxOptions {
  /** mlx-lm's num_layers (default: every layer of the base). */
  numLayers?: number;
  fineTuneType?: 'lora' | 'dora' | 'full';
  /** Write lora_parameters.keys (the default leaves it out: mlx-lm's "every linear layer"). */
  keys?: string[];
  /** The config's `model` (default: the PEFT adapter's base_model_name_or_path). */
  model?: string;
}

export interface MlxAdapter {
  config: string;
  weights: Uint8Array;
  /** Tensor names in the MLX file, in order. */
  names: string[];
}

export function readSafetensors(bytes: Uint8Array): { header: Record<string, HeaderEntry>; data: (name: string) => Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, HeaderEntry>;
  delete (header as Record<string, unknown>)['__metadata__'];
  return { header, data: (name) => bytes.subarray(8 + n + header[name]!.data_offsets[0], 8 + n + header[name]!.data_offsets[1]) };
}

export function writeSafetensors(tensors: { name: string; dtype: string; shape: number[]; data: Uint8Array }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while (json.length % 8) json += ' ';
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let p = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}

/** Transpose a row-major (rows, cols) matrix of `size`-byte elements. */
export function transposeBytes(data: Uint8Array, rows: number, cols: number, size: number): Uint8Array {
  const out = new Uint8Array(data.byteLength);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out.set(data.subarray((r * cols + c) * size, (r * cols + c + 1) * size), (c * rows + r) * size);
  }
  return out;
}

export function peftToMlx(adapterConfig: string, peftWeights: Uint8Array, baseConfig: string, options: MlxOptions = {}): MlxAdapter {
  const peft = JSON.parse(adapterConfig) as Record<string, unknown>;
  const base = JSON.parse(baseConfig) as Record<string, unknown>;
  const r = (peft['r'] as number | undefined) ?? 8;
  const alpha = (peft['lora_alpha'] as number | undefined) ?? 8;
  if (peft['use_rslora'] === true) throw new Unrepresentable('rsLoRA');
  if (peft['use_dora'] === true) throw new Unrepresentable('DoRA');
  for (const f of ['rank_pattern', 'alpha_pattern']) {
    if (peft[f] && Object.keys(peft[f] as object).length > 0) throw new Unrepresentable(f);
  }
  const { header, data } = readSafetensors(peftWeights);
  const out: { name: string; dtype: string; shape: number[]; data: Uint8Array }[] = [];
  const experts = new Map<string, { dtype: string; shapes: number[][]; parts: Map<number, Uint8Array> }>();
  for (const [name, t] of Object.entries(header)) {
    const size = ELEMENT_BYTES[t.dtype];
    if (size === undefined) throw new Unrepresentable(`dtype ${t.dtype}`);
    const stripped = name.replace(/^base_model\.model\./, '');
    const m = /^(.+)\.(lora_A\.weight|lora_B\.weight|lora_embedding_A|lora_embedding_B)$/.exec(stripped);
    if (!m) throw new Unrepresentable(`tensor ${name}`);
    const [, module, kind] = m as unknown as [string, string, string];
    const side = kind.includes('A') ? 'lora_a' : 'lora_b';
    const ex = EXPERT.exec(module);
    if (ex && !kind.startsWith('lora_embedding')) {
      const key = `${ex[1]}.switch_mlp.${SWITCH_NAME[ex[3]!]}.${side}`;
      let g = experts.get(key);
      if (!g) experts.set(key, (g = { dtype: t.dtype, shapes: [], parts: new Map() }));
      g.shapes.push(t.shape);
      g.parts.set(Number(ex[2]), data(name));
      continue;
    }
    if (t.shape.length !== 2) throw new Unrepresentable(`shape of ${name}`);
    const [rows, cols] = t.shape as [number, number];
    out.push({ name: `${module}.${side}`, dtype: t.dtype, shape: [cols, rows], data: transposeBytes(data(name), rows, cols, size) });
  }
  const count = (base['num_local_experts'] ?? base['num_experts'] ?? base['n_routed_experts']) as number | undefined;
  for (const [name, g] of experts) {
    if (count === undefined || g.parts.size !== count) throw new Unrepresentable(`${name}: ${g.parts.size} of ${count} experts`);
    const [rows, cols] = g.shapes[0] as [number, number];
    const stacked = new Uint8Array(count * rows * cols * ELEMENT_BYTES[g.dtype]!);
    for (let e = 0; e < count; e++) stacked.set(g.parts.get(e)!, e * rows * cols * ELEMENT_BYTES[g.dtype]!);
    out.push({ name, dtype: g.dtype, shape: [count, rows, cols], data: stacked });
  }
  out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const layers = (base['num_hidden_layers'] ?? (base['text_config'] as Record<string, unknown> | undefined)?.['num_hidden_layers']) as number | undefined;
  // mlx_lm.lora saves vars(args): the training arguments, lora_parameters among them.
  const config = {
    model: options.model ?? peft['base_model_name_or_path'] ?? 'some/base',
    train: true,
    fine_tune_type: options.fineTuneType ?? 'lora',
    optimizer: 'adam',
    data: 'data',
    seed: 0,
    num_layers: options.numLayers ?? layers ?? 16,
    batch_size: 4,
    iters: 1000,
    learning_rate: 1e-5,
    steps_per_report: 10,
    steps_per_eval: 200,
    resume_adapter_file: null,
    adapter_path: 'adapters',
    save_every: 100,
    max_seq_length: 2048,
    grad_checkpoint: false,
    lora_parameters: { rank: r, dropout: 0.0, scale: alpha / r, ...(options.keys ? { keys: options.keys } : {}) },
  };
  return { config: JSON.stringify(config, null, 4), weights: writeSafetensors(out, { format: 'mlx' }), names: out.map((t) => t.name) };
}
