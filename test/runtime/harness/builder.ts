/**
 * A small declarative way to describe a tiny base model: HF parameters (name, shape, init),
 * GGUF tensors made from them (by the test's own transforms), and the LoRA targets.
 */
import { f32, str, u32, type ArchSpec } from './arch';
import type { GgufKv } from '../../../src/core/gguf/writer';
import type { LoraTarget, TargetKind } from './peft';
import { randn, type Rng, type Tensor } from './tensor';

interface HfParam {
  name: string;
  shape: number[];
  std: number;
  mean: number;
}

interface GgufOut {
  name: string;
  from: string[];
  make: (ts: Tensor[]) => Tensor;
}

const identity = (ts: Tensor[]) => ts[0]!;

export class SpecBuilder {
  private params: HfParam[] = [];
  private outs: GgufOut[] = [];
  readonly targets: LoraTarget[] = [];

  /** An HF parameter with normal(mean, std) values. */
  param(name: string, shape: number[], std: number, mean = 0): this {
    this.params.push({ name, shape, std, mean });
    return this;
  }

  /** A GGUF tensor computed from HF parameters (identity by default). */
  out(name: string, from: string | string[], make: (ts: Tensor[]) => Tensor = identity): this {
    this.outs.push({ name, from: Array.isArray(from) ? from : [from], make });
    return this;
  }

  target(module: string, kind: TargetKind = 'linear'): this {
    this.targets.push({ module, kind });
    return this;
  }

  /**
   * An nn.Linear `hf` (weight (out, in), optional bias) mapped to GGUF `gguf` (`make` transforms
   * weight and bias alike), and a LoRA target unless `lora: false`.
   */
  linear(
    hf: string,
    gguf: string | null,
    outF: number,
    inF: number,
    o: { bias?: boolean; lora?: boolean; std?: number; make?: (t: Tensor) => Tensor } = {},
  ): this {
    this.param(`${hf}.weight`, [outF, inF], o.std ?? 1 / Math.sqrt(inF));
    if (o.bias) this.param(`${hf}.bias`, [outF], 0.1);
    const make = o.make ? (ts: Tensor[]) => o.make!(ts[0]!) : identity;
    if (gguf) {
      this.out(`${gguf}.weight`, `${hf}.weight`, make);
      if (o.bias) this.out(`${gguf}.bias`, `${hf}.bias`, make);
    }
    if (o.lora !== false) this.target(hf);
    return this;
  }

  /** A norm vector (and bias for LayerNorm); `addOne` for Gemma-style (1 + w) norms. */
  norm(hf: string, gguf: string, size: number, o: { bias?: boolean; addOne?: boolean } = {}): this {
    // Gemma stores w with the model computing (1 + w): keep the effective scale near 1 either way.
    this.param(`${hf}.weight`, [size], 0.1, o.addOne ? 0 : 1);
    this.out(`${gguf}.weight`, `${hf}.weight`, o.addOne ? (ts) => ({ shape: ts[0]!.shape, data: ts[0]!.data.map((v) => v + 1) }) : identity);
    if (o.bias) {
      this.param(`${hf}.bias`, [size], 0.1);
      this.out(`${gguf}.bias`, `${hf}.bias`);
    }
    return this;
  }

  build(id: string, config: Record<string, unknown>, kvs: GgufKv[], extra: Partial<ArchSpec> = {}): ArchSpec {
    const params = this.params.slice();
    const outs = this.outs.slice();
    return {
      id,
      config,
      targets: this.targets.slice(),
      weights(rng: Rng) {
        const w = new Map<string, Tensor>();
        for (const p of params) w.set(p.name, randn(rng, p.shape, p.std, p.mean));
        return w;
      },
      toGguf(w: Map<string, Tensor>) {
        const tensors = outs.map((o) => {
          const inputs = o.from.map((n) => {
            const t = w.get(n);
            if (!t) throw new Error(`missing HF weight ${n}`);
            return t;
          });
          return { name: o.name, tensor: o.make(inputs) };
        });
        return { kvs, tensors };
      },
      ...extra,
    };
  }
}

export interface Dims {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
}

export const DIMS: Dims = { vocab: 300, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, ffn: 128 };

/** The hyper-parameter keys nearly every llama.cpp architecture reads. */
export function commonKvs(arch: string, d: Dims, o: { eps?: 'rms' | 'layernorm' | 'both'; ropeDims?: number; headDims?: boolean } = {}): GgufKv[] {
  const kvs: GgufKv[] = [
    str('general.architecture', arch),
    u32(`${arch}.vocab_size`, d.vocab),
    u32(`${arch}.context_length`, 64),
    u32(`${arch}.embedding_length`, d.hidden),
    u32(`${arch}.block_count`, d.layers),
    u32(`${arch}.feed_forward_length`, d.ffn),
    u32(`${arch}.attention.head_count`, d.heads),
    u32(`${arch}.attention.head_count_kv`, d.kvHeads),
    u32(`${arch}.rope.dimension_count`, o.ropeDims ?? d.headDim),
    f32(`${arch}.rope.freq_base`, 10000),
  ];
  if (o.headDims !== false) kvs.push(u32(`${arch}.attention.key_length`, d.headDim), u32(`${arch}.attention.value_length`, d.headDim));
  const eps = o.eps ?? 'rms';
  if (eps === 'rms' || eps === 'both') kvs.push(f32(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5));
  if (eps === 'layernorm' || eps === 'both') kvs.push(f32(`${arch}.attention.layer_norm_epsilon`, 1e-5));
  return kvs;
}

/** The HF config keys most decoders share. */
export function commonConfig(hfArch: string, modelType: string, d: Dims, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: [hfArch],
    model_type: modelType,
    vocab_size: d.vocab,
    hidden_size: d.hidden,
    intermediate_size: d.ffn,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    head_dim: d.headDim,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    ...extra,
  };
}
