/** Llama, Mistral (explicit head_dim) and Mixtral bases in HF layout, and their GGUF form. */
import { f32, need, permuteRope, str, u32, type ArchSpec } from '../harness/arch';
import type { GgufTensor } from '../harness/gguf-model';
import type { LoraTarget } from '../harness/peft';
import { randn, stack, type Rng, type Tensor } from '../harness/tensor';

export interface LlamaShape {
  hfArch?: string;
  modelType?: string;
  vocab?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Explicit head_dim (Mistral-style), else hidden / heads. */
  headDim?: number;
  ffn?: number;
  tied?: boolean;
  /** Mixtral: number of experts (and experts used per token). */
  experts?: number;
  expertsUsed?: number;
}

export function llamaSpec(shape: LlamaShape = {}): ArchSpec {
  const V = shape.vocab ?? 300;
  const H = shape.hidden ?? 64;
  const L = shape.layers ?? 2;
  const nH = shape.heads ?? 4;
  const nKv = shape.kvHeads ?? 2;
  const hd = shape.headDim ?? H / nH;
  const F = shape.ffn ?? 128;
  const tied = shape.tied ?? false;
  const E = shape.experts ?? 0;
  const moe = E > 0;
  const hfArch = shape.hfArch ?? (moe ? 'MixtralForCausalLM' : 'LlamaForCausalLM');

  const config: Record<string, unknown> = {
    architectures: [hfArch],
    model_type: shape.modelType ?? (moe ? 'mixtral' : 'llama'),
    vocab_size: V,
    hidden_size: H,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: nH,
    num_key_value_heads: nKv,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: tied,
    hidden_act: 'silu',
  };
  if (shape.headDim !== undefined) config.head_dim = hd;
  if (moe) {
    config.num_local_experts = E;
    config.num_experts_per_tok = shape.expertsUsed ?? 2;
  }

  const attn = (i: number) => `model.layers.${i}.self_attn`;
  const mlpNames = (i: number): [string, string, string][] =>
    moe
      ? Array.from({ length: E }, (_, x) => {
          const p = `model.layers.${i}.block_sparse_moe.experts.${x}`;
          return [`${p}.w1`, `${p}.w3`, `${p}.w2`];
        })
      : [[`model.layers.${i}.mlp.gate_proj`, `model.layers.${i}.mlp.up_proj`, `model.layers.${i}.mlp.down_proj`]];

  const targets: LoraTarget[] = [];
  for (let i = 0; i < L; i++) {
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) targets.push({ module: `${attn(i)}.${m}`, kind: 'linear' });
    if (moe) targets.push({ module: `model.layers.${i}.block_sparse_moe.gate`, kind: 'linear' });
    for (const names of mlpNames(i)) for (const m of names) targets.push({ module: m, kind: 'linear' });
  }

  function weights(rng: Rng): Map<string, Tensor> {
    const w = new Map<string, Tensor>();
    w.set('model.embed_tokens.weight', randn(rng, [V, H], 1));
    for (let i = 0; i < L; i++) {
      w.set(`model.layers.${i}.input_layernorm.weight`, randn(rng, [H], 0.1, 1));
      w.set(`${attn(i)}.q_proj.weight`, randn(rng, [nH * hd, H], 1 / Math.sqrt(H)));
      w.set(`${attn(i)}.k_proj.weight`, randn(rng, [nKv * hd, H], 1 / Math.sqrt(H)));
      w.set(`${attn(i)}.v_proj.weight`, randn(rng, [nKv * hd, H], 1 / Math.sqrt(H)));
      w.set(`${attn(i)}.o_proj.weight`, randn(rng, [H, nH * hd], 1 / Math.sqrt(nH * hd)));
      w.set(`model.layers.${i}.post_attention_layernorm.weight`, randn(rng, [H], 0.1, 1));
      if (moe) w.set(`model.layers.${i}.block_sparse_moe.gate.weight`, randn(rng, [E, H], 1 / Math.sqrt(H)));
      for (const [gate, up, down] of mlpNames(i)) {
        w.set(`${gate}.weight`, randn(rng, [F, H], 1 / Math.sqrt(H)));
        w.set(`${up}.weight`, randn(rng, [F, H], 1 / Math.sqrt(H)));
        w.set(`${down}.weight`, randn(rng, [H, F], 1 / Math.sqrt(F)));
      }
    }
    w.set('model.norm.weight', randn(rng, [H], 0.1, 1));
    if (!tied) w.set('lm_head.weight', randn(rng, [V, H], 2 / Math.sqrt(H)));
    return w;
  }

  function toGguf(w: Map<string, Tensor>) {
    const kvs = [
      str('general.architecture', 'llama'),
      u32('llama.vocab_size', V),
      u32('llama.context_length', 64),
      u32('llama.embedding_length', H),
      u32('llama.block_count', L),
      u32('llama.feed_forward_length', F),
      u32('llama.attention.head_count', nH),
      u32('llama.attention.head_count_kv', nKv),
      u32('llama.attention.key_length', hd),
      u32('llama.attention.value_length', hd),
      u32('llama.rope.dimension_count', hd),
      f32('llama.rope.freq_base', 10000),
      f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    ];
    if (moe) kvs.push(u32('llama.expert_count', E), u32('llama.expert_used_count', shape.expertsUsed ?? 2));
    const t: GgufTensor[] = [{ name: 'token_embd.weight', tensor: need(w, 'model.embed_tokens.weight') }];
    for (let i = 0; i < L; i++) {
      const b = `blk.${i}`;
      t.push({ name: `${b}.attn_norm.weight`, tensor: need(w, `model.layers.${i}.input_layernorm.weight`) });
      t.push({ name: `${b}.attn_q.weight`, tensor: permuteRope(need(w, `${attn(i)}.q_proj.weight`), nH) });
      t.push({ name: `${b}.attn_k.weight`, tensor: permuteRope(need(w, `${attn(i)}.k_proj.weight`), nKv) });
      t.push({ name: `${b}.attn_v.weight`, tensor: need(w, `${attn(i)}.v_proj.weight`) });
      t.push({ name: `${b}.attn_output.weight`, tensor: need(w, `${attn(i)}.o_proj.weight`) });
      t.push({ name: `${b}.ffn_norm.weight`, tensor: need(w, `model.layers.${i}.post_attention_layernorm.weight`) });
      const [gate, up, down] = mlpNames(i)[0]!;
      if (moe) {
        const all = mlpNames(i);
        t.push({ name: `${b}.ffn_gate_inp.weight`, tensor: need(w, `model.layers.${i}.block_sparse_moe.gate.weight`) });
        t.push({ name: `${b}.ffn_gate_exps.weight`, tensor: stack(all.map((n) => need(w, `${n[0]}.weight`))) });
        t.push({ name: `${b}.ffn_up_exps.weight`, tensor: stack(all.map((n) => need(w, `${n[1]}.weight`))) });
        t.push({ name: `${b}.ffn_down_exps.weight`, tensor: stack(all.map((n) => need(w, `${n[2]}.weight`))) });
      } else {
        t.push({ name: `${b}.ffn_gate.weight`, tensor: need(w, `${gate}.weight`) });
        t.push({ name: `${b}.ffn_up.weight`, tensor: need(w, `${up}.weight`) });
        t.push({ name: `${b}.ffn_down.weight`, tensor: need(w, `${down}.weight`) });
      }
    }
    t.push({ name: 'output_norm.weight', tensor: need(w, 'model.norm.weight') });
    if (!tied) t.push({ name: 'output.weight', tensor: need(w, 'lm_head.weight') });
    return { kvs, tensors: t };
  }

  return { id: moe ? 'mixtral' : 'llama', config, weights, toGguf, targets };
}
