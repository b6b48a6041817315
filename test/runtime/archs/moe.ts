/**
 * Mixture-of-experts bases: Qwen2-MoE (routed experts, a shared expert and its sigmoid gate) and
 * DeepSeek-V2-Lite style (MLA attention, a dense first layer, routed + shared experts). Per-expert
 * HF weights (out, in) are stacked along a new slowest axis into llama.cpp's 3-D `*_exps`.
 */
import type { GgufKv } from '../../../src/core/gguf/writer';
import { bool, f32, permuteRope, u32, type ArchSpec } from '../harness/arch';
import { commonConfig, commonKvs, DIMS, SpecBuilder, type Dims } from '../harness/builder';
import { stack, type Tensor } from '../harness/tensor';

const E = 4;
const FE = 32;

function experts(b: SpecBuilder, p: string, blk: string, H: number, names: [string, string, string] = ['gate_proj', 'up_proj', 'down_proj']): void {
  const [gate, up, down] = names;
  const stacked = (ts: Tensor[]) => stack(ts);
  const each = (w: string) => Array.from({ length: E }, (_, x) => `${p}.experts.${x}.${w}`);
  for (let x = 0; x < E; x++) {
    b.linear(`${p}.experts.${x}.${gate}`, null, FE, H);
    b.linear(`${p}.experts.${x}.${up}`, null, FE, H);
    b.linear(`${p}.experts.${x}.${down}`, null, H, FE);
  }
  b.out(`${blk}.ffn_gate_exps.weight`, each(`${gate}.weight`), stacked);
  b.out(`${blk}.ffn_up_exps.weight`, each(`${up}.weight`), stacked);
  b.out(`${blk}.ffn_down_exps.weight`, each(`${down}.weight`), stacked);
}

export function qwen2moe(): ArchSpec {
  const d: Dims = { ...DIMS };
  const H = d.hidden;
  const FS = 64;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    b.linear(`${p}.self_attn.q_proj`, `${blk}.attn_q`, d.heads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.k_proj`, `${blk}.attn_k`, d.kvHeads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.v_proj`, `${blk}.attn_v`, d.kvHeads * d.headDim, H, { bias: true });
    b.linear(`${p}.self_attn.o_proj`, `${blk}.attn_output`, H, d.heads * d.headDim);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    b.linear(`${p}.mlp.gate`, `${blk}.ffn_gate_inp`, E, H);
    experts(b, `${p}.mlp`, blk, H);
    b.linear(`${p}.mlp.shared_expert.gate_proj`, `${blk}.ffn_gate_shexp`, FS, H);
    b.linear(`${p}.mlp.shared_expert.up_proj`, `${blk}.ffn_up_shexp`, FS, H);
    b.linear(`${p}.mlp.shared_expert.down_proj`, `${blk}.ffn_down_shexp`, H, FS);
    b.linear(`${p}.mlp.shared_expert_gate`, `${blk}.ffn_gate_inp_shexp`, 1, H);
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig('Qwen2MoeForCausalLM', 'qwen2_moe', d, {
    tie_word_embeddings: false,
    num_experts: E,
    num_experts_per_tok: 2,
    moe_intermediate_size: FE,
    shared_expert_intermediate_size: FS,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
  });
  const kvs = [
    ...commonKvs('qwen2moe', d),
    u32('qwen2moe.expert_count', E),
    u32('qwen2moe.expert_used_count', 2),
    u32('qwen2moe.expert_feed_forward_length', FE),
    u32('qwen2moe.expert_shared_feed_forward_length', FS),
  ];
  return b.build('qwen2moe', config, kvs);
}

/** DeepSeek-V2-like sizes (MLA with a q LoRA rank: llama.cpp treats only 26/27-layer models as Lite). */
export const DS = { heads: 4, nope: 16, rope: 8, v: 16, kvLora: 32, qLora: 32, shared: 1 } as const;

/**
 * DeepSeek-V2 style: MLA q_a / q_b and kv_a / kv_b, layer 0 dense, layer 1
 * routed + shared experts. The base GGUF has kv_b split into k_b (transposed per
 * head) and v_b only: this llama.cpp build rejects a base that also has attn_kv_b ("wrong number
 * of tensors").
 */
export function deepseek2(): ArchSpec {
  const d: Dims = { ...DIMS, heads: DS.heads, kvHeads: DS.heads };
  const H = d.hidden;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    const at = `${p}.self_attn`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H);
    b.linear(`${at}.q_a_proj`, `${blk}.attn_q_a`, DS.qLora, H, { lora: false });
    b.norm(`${at}.q_a_layernorm`, `${blk}.attn_q_a_norm`, DS.qLora);
    b.linear(`${at}.q_b_proj`, `${blk}.attn_q_b`, DS.heads * (DS.nope + DS.rope), DS.qLora, { lora: false });
    b.linear(`${at}.kv_a_proj_with_mqa`, `${blk}.attn_kv_a_mqa`, DS.kvLora + DS.rope, H, { lora: false });
    b.norm(`${at}.kv_a_layernorm`, `${blk}.attn_kv_a_norm`, DS.kvLora);
    b.linear(`${at}.kv_b_proj`, null, DS.heads * (DS.nope + DS.v), DS.kvLora, { lora: false });
    const perHead = (t: Tensor, from: number, count: number, transposeEach: boolean): Tensor => {
      const width = DS.nope + DS.v;
      const out: number[] = [];
      for (let h = 0; h < DS.heads; h++) {
        for (let r = 0; r < count; r++) {
          const row = h * width + from + r;
          for (let c = 0; c < DS.kvLora; c++) out.push(t.data[row * DS.kvLora + c]!);
        }
      }
      const data = Float64Array.from(out);
      if (!transposeEach) return { shape: [DS.heads, count, DS.kvLora], data };
      const tr = new Float64Array(data.length);
      for (let h = 0; h < DS.heads; h++)
        for (let r = 0; r < count; r++)
          for (let c = 0; c < DS.kvLora; c++) tr[h * count * DS.kvLora + c * count + r] = data[h * count * DS.kvLora + r * DS.kvLora + c]!;
      return { shape: [DS.heads, DS.kvLora, count], data: tr };
    };
    b.out(`${blk}.attn_k_b.weight`, `${at}.kv_b_proj.weight`, (ts) => perHead(ts[0]!, 0, DS.nope, true));
    b.out(`${blk}.attn_v_b.weight`, `${at}.kv_b_proj.weight`, (ts) => perHead(ts[0]!, DS.nope, DS.v, false));
    b.linear(`${at}.o_proj`, `${blk}.attn_output`, H, DS.heads * DS.v);
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H);
    if (i === 0) {
      b.linear(`${p}.mlp.gate_proj`, `${blk}.ffn_gate`, d.ffn, H);
      b.linear(`${p}.mlp.up_proj`, `${blk}.ffn_up`, d.ffn, H);
      b.linear(`${p}.mlp.down_proj`, `${blk}.ffn_down`, H, d.ffn);
    } else {
      b.linear(`${p}.mlp.gate`, `${blk}.ffn_gate_inp`, E, H);
      experts(b, `${p}.mlp`, blk, H);
      b.linear(`${p}.mlp.shared_experts.gate_proj`, `${blk}.ffn_gate_shexp`, FE * DS.shared, H);
      b.linear(`${p}.mlp.shared_experts.up_proj`, `${blk}.ffn_up_shexp`, FE * DS.shared, H);
      b.linear(`${p}.mlp.shared_experts.down_proj`, `${blk}.ffn_down_shexp`, H, FE * DS.shared);
    }
  }
  b.norm('model.norm', 'output_norm', H);
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H) });
  const config = commonConfig('DeepseekV2ForCausalLM', 'deepseek_v2', d, {
    tie_word_embeddings: false,
    moe_intermediate_size: FE,
    n_shared_experts: DS.shared,
    n_routed_experts: E,
    num_experts_per_tok: 2,
    first_k_dense_replace: 1,
    moe_layer_freq: 1,
    kv_lora_rank: DS.kvLora,
    q_lora_rank: DS.qLora,
    qk_nope_head_dim: DS.nope,
    qk_rope_head_dim: DS.rope,
    v_head_dim: DS.v,
    routed_scaling_factor: 1,
    topk_method: 'greedy',
    n_group: 1,
    topk_group: 1,
    norm_topk_prob: false,
    scoring_func: 'softmax',
  });
  delete config.head_dim;
  const kvs = [
    ...commonKvs('deepseek2', { ...d, kvHeads: 1 }, { headDims: false, ropeDims: DS.rope }),
    u32('deepseek2.leading_dense_block_count', 1),
    u32('deepseek2.attention.q_lora_rank', DS.qLora),
    u32('deepseek2.attention.kv_lora_rank', DS.kvLora),
    u32('deepseek2.attention.key_length', DS.kvLora + DS.rope),
    u32('deepseek2.attention.value_length', DS.kvLora),
    u32('deepseek2.attention.key_length_mla', DS.nope + DS.rope),
    u32('deepseek2.attention.value_length_mla', DS.v),
    u32('deepseek2.expert_feed_forward_length', FE),
    u32('deepseek2.expert_count', E),
    u32('deepseek2.expert_shared_count', DS.shared),
    u32('deepseek2.expert_used_count', 2),
    f32('deepseek2.expert_weights_scale', 1),
    bool('deepseek2.expert_weights_norm', false),
    u32('deepseek2.expert_gating_func', 1),
  ];
  return b.build('deepseek2', config, kvs);
}

interface RoutedShape {
  qkNorm?: 'head' | 'full';
  qkvBias?: boolean;
  oBias?: boolean;
  layerNorm?: boolean;
  headBias?: boolean;
  permute?: boolean;
  block: string;
  names: [string, string, string];
  /** The experts as HF's fused 3-D parameters (Granite-MoE): not LoRA-able, router only. */
  fusedExperts?: boolean;
}

/** A decoder whose every layer has routed experts (Qwen3-MoE, OLMoE, PhiMoE, Granite-MoE). */
export function routed(
  id: string,
  hfArch: string,
  modelType: string,
  ggufArch: string,
  s: RoutedShape,
  o: { dims?: Partial<Dims>; config?: Record<string, unknown>; kvs?: GgufKv[] } = {},
): ArchSpec {
  const d: Dims = { ...DIMS, ...o.dims };
  const H = d.hidden;
  const qOut = d.heads * d.headDim;
  const kvOut = d.kvHeads * d.headDim;
  const b = new SpecBuilder();
  b.param('model.embed_tokens.weight', [d.vocab, H], 1).out('token_embd.weight', 'model.embed_tokens.weight');
  const perm = (n: number) => (s.permute ? (t: Tensor) => permuteRope(t, n) : undefined);
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    const blk = `blk.${i}`;
    const at = `${p}.self_attn`;
    b.norm(`${p}.input_layernorm`, `${blk}.attn_norm`, H, { bias: s.layerNorm });
    b.linear(`${at}.q_proj`, `${blk}.attn_q`, qOut, H, { bias: s.qkvBias, make: perm(d.heads) });
    b.linear(`${at}.k_proj`, `${blk}.attn_k`, kvOut, H, { bias: s.qkvBias, make: perm(d.kvHeads) });
    b.linear(`${at}.v_proj`, `${blk}.attn_v`, kvOut, H, { bias: s.qkvBias });
    b.linear(`${at}.o_proj`, `${blk}.attn_output`, H, qOut, { bias: s.oBias });
    if (s.qkNorm) {
      const full = s.qkNorm === 'full';
      b.norm(`${at}.q_norm`, `${blk}.attn_q_norm`, full ? qOut : d.headDim);
      b.norm(`${at}.k_norm`, `${blk}.attn_k_norm`, full ? kvOut : d.headDim);
    }
    b.norm(`${p}.post_attention_layernorm`, `${blk}.ffn_norm`, H, { bias: s.layerNorm });
    const moe = `${p}.${s.block}`;
    if (s.fusedExperts) {
      b.linear(`${moe}.router.layer`, `${blk}.ffn_gate_inp`, E, H);
      b.param(`${moe}.input_linear.weight`, [E, 2 * FE, H], 1 / Math.sqrt(H));
      b.param(`${moe}.output_linear.weight`, [E, H, FE], 1 / Math.sqrt(FE));
      const half = (t: Tensor, first: boolean): Tensor => {
        const out = new Float64Array(E * FE * H);
        for (let x = 0; x < E; x++) out.set(t.data.subarray((x * 2 * FE + (first ? 0 : FE)) * H, (x * 2 * FE + (first ? FE : 2 * FE)) * H), x * FE * H);
        return { shape: [E, FE, H], data: out };
      };
      b.out(`${blk}.ffn_gate_exps.weight`, `${moe}.input_linear.weight`, (ts) => half(ts[0]!, true));
      b.out(`${blk}.ffn_up_exps.weight`, `${moe}.input_linear.weight`, (ts) => half(ts[0]!, false));
      b.out(`${blk}.ffn_down_exps.weight`, `${moe}.output_linear.weight`);
    } else {
      b.linear(`${moe}.gate`, `${blk}.ffn_gate_inp`, E, H);
      experts(b, moe, blk, H, s.names);
    }
  }
  b.norm('model.norm', 'output_norm', H, { bias: s.layerNorm });
  b.linear('lm_head', 'output', d.vocab, H, { lora: false, std: 2 / Math.sqrt(H), bias: s.headBias });
  const config = commonConfig(hfArch, modelType, d, {
    tie_word_embeddings: false,
    num_experts: E,
    num_local_experts: E,
    num_experts_per_tok: 2,
    moe_intermediate_size: FE,
    ...o.config,
  });
  const kvs = [
    // PhiMoE (LayerNorm) still reads the RMS epsilon key: give both.
    ...commonKvs(ggufArch, { ...d, ffn: FE }, { eps: s.layerNorm ? 'both' : 'rms' }),
    u32(`${ggufArch}.expert_count`, E),
    u32(`${ggufArch}.expert_used_count`, 2),
    u32(`${ggufArch}.expert_feed_forward_length`, FE),
    ...(o.kvs ?? []),
  ];
  return b.build(id, config, kvs);
}

export const qwen3moe = () =>
  routed(
    'qwen3moe',
    'Qwen3MoeForCausalLM',
    'qwen3_moe',
    'qwen3moe',
    { qkNorm: 'head', block: 'mlp', names: ['gate_proj', 'up_proj', 'down_proj'] },
    { dims: { headDim: 32 } },
  );
export const olmoe = () =>
  routed(
    'olmoe',
    'OlmoeForCausalLM',
    'olmoe',
    'olmoe',
    { qkNorm: 'full', block: 'mlp', names: ['gate_proj', 'up_proj', 'down_proj'] },
    { dims: { kvHeads: 4 } },
  );
export const phimoe = () =>
  routed('phimoe', 'PhiMoEForCausalLM', 'phimoe', 'phimoe', {
    layerNorm: true,
    qkvBias: true,
    oBias: true,
    headBias: true,
    block: 'block_sparse_moe',
    names: ['w1', 'w3', 'w2'],
  });
export const granitemoe = () =>
  routed(
    'granitemoe',
    'GraniteMoeForCausalLM',
    'granitemoe',
    'granitemoe',
    { permute: true, block: 'block_sparse_moe', names: ['', '', ''], fusedExperts: true },
    {
      config: { logits_scaling: 2, residual_multiplier: 0.5, embedding_multiplier: 3, attention_multiplier: 0.25 },
      kvs: [
        f32('granitemoe.logit_scale', 2),
        f32('granitemoe.residual_scale', 0.5),
        f32('granitemoe.embedding_scale', 3),
        f32('granitemoe.attention.scale', 0.25),
      ],
    },
  );
