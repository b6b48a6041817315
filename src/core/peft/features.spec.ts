import { describe, expect, it } from 'vitest';
import { readGguf } from '../../../test/helpers/gguf-read';
import { buildSafetensors, type BuildTensor } from '../../../test/helpers/safetensors-build';
import { convert, materialize } from '../convert';
import { bytesSource, MemorySink } from '../io';
import { inspect, type InspectOptions } from '../plan';
import { familiesIn } from './family';

/** Per-feature rules of issue 4 on adapters built in the test: refusals name tensors, warnings say why. */

const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 8,
  intermediate_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  tie_word_embeddings: false,
};
const MIXTRAL = { ...LLAMA, architectures: ['MixtralForCausalLM'], model_type: 'mixtral', num_local_experts: 4 };

const P = 'base_model.model.';
function pair(module: string, r = 2, inDim = 8, outDim = 8): BuildTensor[] {
  return [
    { name: `${P}${module}.lora_A.weight`, dtype: 'F32', shape: [r, inDim] },
    { name: `${P}${module}.lora_B.weight`, dtype: 'F32', shape: [outDim, r] },
  ];
}
const V0 = 'model.layers.0.self_attn.v_proj';

async function plan(config: Record<string, unknown>, tensors: BuildTensor[], base: Record<string, unknown> = LLAMA, options: InspectOptions = {}) {
  const adapter = bytesSource(buildSafetensors(tensors));
  return inspect({ adapterConfig: JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, ...config }), baseConfig: JSON.stringify(base), adapter }, options);
}

describe('refusals name the tensors and say what to do', () => {
  it('DoRA: the magnitude vectors are named; merging is the route', async () => {
    const mag = `${P}${V0}.lora_magnitude_vector`;
    const p = await plan({ use_dora: true }, [...pair(V0), { name: mag, dtype: 'F32', shape: [8] }]);
    const r = p.refusals.find((x) => x.code === 'dora')!;
    expect(r.details.tensors).toEqual([mag]);
    expect(r.message).toContain(mag);
    expect(r.hint).toContain('merge_and_unload');
  });

  it('use_dora without magnitude tensors is still refused, naming the config field', async () => {
    const p = await plan({ use_dora: true }, pair(V0));
    expect(p.refusals.find((x) => x.code === 'dora')?.details.field).toBe('adapter_config.json: use_dora');
  });

  it('lora_bias: the lora_B biases are named', async () => {
    const bias = `${P}${V0}.lora_B.bias`;
    const p = await plan({ lora_bias: true }, [...pair(V0), { name: bias, dtype: 'F32', shape: [8] }]);
    const r = p.refusals.find((x) => x.code === 'lora_bias')!;
    expect(r.details.tensors).toEqual([bias]);
    expect(r.message).toContain(bias);
  });

  it('modules_to_save (a full lm_head) and trainable tokens: named, and merging is the route', async () => {
    const head = `${P}lm_head.weight`;
    const tokens = `${P}model.embed_tokens.token_adapter.trainable_tokens_delta`;
    const p = await plan({ modules_to_save: ['lm_head'], trainable_token_indices: [1, 2] }, [
      ...pair(V0),
      { name: head, dtype: 'F32', shape: [16, 8] },
      { name: tokens, dtype: 'F32', shape: [2, 8] },
    ]);
    const r = p.refusals.find((x) => x.code === 'full_tensor')!;
    expect(r.details.tensors).toEqual(expect.arrayContaining([head, tokens]));
    expect(r.message).toContain(head);
    expect(r.hint).toMatch(/[Mm]erge the adapter/);
  });

  it('vision-tower LoRA is refused by default, naming the tensors', async () => {
    const vis = 'model.vision_tower.encoder.layers.0.self_attn.q_proj';
    const p = await plan({}, [...pair(V0), ...pair(vis)]);
    const r = p.refusals.find((x) => x.code === 'non_text_module')!;
    expect(r.details.tensors).toEqual([`${P}${vis}.lora_A.weight`, `${P}${vis}.lora_B.weight`]);
    expect(r.hint).toContain('textOnly');
  });

  it('textOnly leaves vision and audio modules out with a warning listing them, and converts the rest', async () => {
    const vis = 'model.vision_tower.encoder.layers.0.self_attn.q_proj';
    const audio = 'model.audio_tower.layers.0.fc1';
    const proj = `${P}model.multi_modal_projector.linear.weight`;
    const p = await plan({}, [...pair(V0), ...pair(vis), ...pair(audio), { name: proj, dtype: 'F32', shape: [8, 8] }], LLAMA, { textOnly: true });
    expect(p.refusals).toEqual([]);
    const w = p.warnings.find((x) => x.code === 'non_text_dropped')!;
    expect(w.tensors).toEqual(expect.arrayContaining([`${P}${vis}.lora_A.weight`, `${P}${audio}.lora_B.weight`, proj]));
    expect(w.tensors).toHaveLength(5);
    expect(p.tensors.map((t) => t.name)).toEqual(['blk.0.attn_v.weight.lora_a', 'blk.0.attn_v.weight.lora_b']);
    expect(p.skipped.map((s) => s.tensor)).toEqual(expect.arrayContaining(w.tensors!));
  });

  it('target_parameters (LoRA on fused 3-D expert parameters) is refused by name', async () => {
    const experts = 'model.layers.0.mlp.experts';
    const p = await plan(
      { target_parameters: ['mlp.experts.gate_up_proj', 'mlp.experts.down_proj'] },
      [...pair(experts, 2, 8, 32), ...pair(`${experts}.base_layer`, 2, 16, 8)],
      MIXTRAL,
    );
    const r = p.refusals.find((x) => x.code === 'unsupported_adapter')!;
    expect(r.details.tensors).toHaveLength(4);
    expect(r.details.tensors).toContain(`${P}${experts}.lora_A.weight`);
    expect(r.details.tensors).toContain(`${P}${experts}.base_layer.lora_B.weight`);
    expect(r.message).toContain('mlp.experts.gate_up_proj');
    expect(r.message).toContain('several parameters of model.layers.0.mlp.experts are targeted');
    expect(r.details.field).toBe('adapter_config.json: target_parameters');
  });

  it('target_parameters on an architecture whose fused layout is not known is refused, saying so', async () => {
    const experts = 'model.layers.0.mlp.experts';
    const p = await plan({ target_parameters: ['mlp.experts.gate_up_proj'] }, pair(experts, 2, 8, 32), MIXTRAL);
    const r = p.refusals.find((x) => x.code === 'unsupported_adapter')!;
    expect(r.message).toContain('the layout of model.layers.0.mlp.experts.gate_up_proj');
    expect(r.details.tensors).toEqual([`${P}${experts}.lora_A.weight`, `${P}${experts}.lora_B.weight`]);
  });
});

describe('target_parameters on DBRX experts (a known layout): each expert gets its exact slice', () => {
  const DBRX = {
    architectures: ['DbrxForCausalLM'],
    d_model: 8,
    n_heads: 2,
    n_layers: 1,
    attn_config: { kv_n_heads: 1 },
    ffn_config: { moe_num_experts: 3, ffn_hidden_size: 4 },
  };
  const MLP = 'transformer.blocks.0.ffn.experts.mlp';
  const r = 2;
  const A = Array.from({ length: r * 8 }, (_, i) => Math.fround(Math.sin(i + 1) / 2));
  const B = Array.from({ length: 12 * r }, (_, i) => Math.fround(Math.cos(3 * i + 1) / 2));
  const tensors: BuildTensor[] = [
    { name: `${P}${MLP}.lora_A.weight`, dtype: 'F32', shape: [r, 8], data: A },
    { name: `${P}${MLP}.lora_B.weight`, dtype: 'F32', shape: [12, r], data: B },
  ];
  /** PEFT's ΔW of the (E·ffn, d_model) parameter: B @ A · alpha / sqrt(r) (rsLoRA). */
  const peftDelta = (o: number, i: number) => (B[o * r]! * A[i]! + B[o * r + 1]! * A[8 + i]!) * (4 / Math.sqrt(r));

  for (const [param, gguf] of [
    ['w1', 'ffn_gate_exps'],
    ['v1', 'ffn_up_exps'],
    ['w2', 'ffn_down_exps'],
  ] as const) {
    it(`${param} -> blk.0.${gguf}: llama.cpp's per-expert b·a·(alpha/r) equals PEFT's update`, async () => {
      const p = await plan({ r, lora_alpha: 4, use_rslora: true, target_parameters: [`ffn.experts.mlp.${param}`] }, tensors, DBRX);
      expect(p.refusals).toEqual([]);
      const ta = p.tensors.find((t) => t.name === `blk.0.${gguf}.weight.lora_a`)!;
      const tb = p.tensors.find((t) => t.name === `blk.0.${gguf}.weight.lora_b`)!;
      const src = bytesSource(buildSafetensors(tensors));
      const as = await materialize(p, ta, src);
      const bs = await materialize(p, tb, src);
      expect(as).toHaveLength(3);
      const runtime = 4 / r; // what llama.cpp computes from adapter.lora.alpha and the rank
      for (let e = 0; e < 3; e++) {
        const a = new Float32Array(as[e]!.bits.buffer);
        const b = new Float32Array(bs[e]!.bits.buffer);
        const [outDim, inDim] = [bs[e]!.shape[0]!, as[e]!.shape[1]!];
        expect(as[e]!.shape[0]).toBe(r);
        for (let o = 0; o < outDim; o++) {
          for (let i = 0; i < inDim; i++) {
            const got = (b[o * r]! * a[i]! + b[o * r + 1]! * a[inDim + i]!) * runtime;
            // w1/v1: llama.cpp's expert matrix is (ffn, d_model) = ΔW rows of e; w2: its transpose.
            const want = param === 'w2' ? peftDelta(e * 4 + i, o) : peftDelta(e * 4 + o, i);
            expect(got).toBeCloseTo(want, 5);
          }
        }
      }
      expect(ta.ne).toEqual(param === 'w2' ? [4, r, 3] : [8, r, 3]);
      expect(tb.ne).toEqual(param === 'w2' ? [r, 8, 3] : [r, 4, 3]);
    });
  }
});

describe('MoE: partial expert coverage', () => {
  it('lists the missing experts and names the tensors present', async () => {
    const w1 = (x: number) => `model.layers.0.block_sparse_moe.experts.${x}.w1`;
    const p = await plan({}, [...pair(w1(0)), ...pair(w1(1)), ...pair(w1(3))], MIXTRAL);
    const r = p.refusals.find((x) => x.code === 'partial_experts')!;
    expect(r.details['missingExperts']).toEqual([2]);
    expect(r.message).toContain('missing expert 2');
    expect(r.message).toContain('3 of the 4 experts');
    expect(r.details.tensors).toContain(`${P}${w1(3)}.lora_B.weight`);
  });

  it('all experts present: stacked into one 3-D pair', async () => {
    const w1 = (x: number) => `model.layers.0.block_sparse_moe.experts.${x}.w1`;
    const p = await plan(
      {},
      [0, 1, 2, 3].flatMap((x) => pair(w1(x))),
      MIXTRAL,
    );
    expect(p.refusals).toEqual([]);
    expect(p.tensors.find((t) => t.name === 'blk.0.ffn_gate_exps.weight.lora_a')?.ne).toEqual([8, 2, 4]);
  });
});

describe('aLoRA', () => {
  it('alora_invocation_tokens become adapter.alora.invocation_tokens, a UINT32 array', async () => {
    const tokens = [128006, 78191, 128007, 4294967295];
    const tensors = pair(V0);
    const p = await plan({ alora_invocation_tokens: tokens }, tensors);
    expect(p.kvs.find((k) => k.key === 'adapter.alora.invocation_tokens')).toMatchObject({ type: 'ARRAY', itemType: 'UINT32', value: tokens });
    const sink = new MemorySink();
    await convert(p, bytesSource(buildSafetensors(tensors)), sink);
    const gguf = await readGguf(sink.bytes());
    expect(gguf.metadata['adapter.alora.invocation_tokens']).toEqual(tokens);
  });

  it('only invocation_string: refused, saying the token ids are needed and how to get them', async () => {
    const p = await plan({ invocation_string: '<|start_of_role|>assistant<|end_of_role|>' }, pair(V0));
    const r = p.refusals.find((x) => x.code === 'unsupported_adapter')!;
    expect(r.message).toContain('<|start_of_role|>assistant<|end_of_role|>');
    expect(r.message).toContain('alora_invocation_tokens');
    expect(r.hint).toContain('add_special_tokens=False');
    expect(r.hint).toContain('llama-tokenize');
    expect(r.details.field).toBe('adapter_config.json: alora_invocation_tokens');
  });

  it('rejects token ids that are not UINT32', async () => {
    await expect(plan({ alora_invocation_tokens: [1, -2] }, pair(V0))).rejects.toMatchObject({ code: 'invalid_config' });
  });
});

describe('warnings (not refusals)', () => {
  for (const init of ['pissa', 'pissa_niter_16', 'olora', 'corda', 'loftq']) {
    it(`init_lora_weights "${init}" warns that the adapter assumes a modified base`, async () => {
      const p = await plan({ init_lora_weights: init }, pair(V0));
      expect(p.refusals).toEqual([]);
      const w = p.warnings.find((x) => x.code === 'modified_base')!;
      expect(w.message).toContain(init);
      expect(w.hint).toContain('path_initial_model_for_weight_conversion');
    });
  }
  for (const init of [true, false, 'gaussian', 'eva']) {
    it(`init_lora_weights ${JSON.stringify(init)} does not warn`, async () => {
      const p = await plan({ init_lora_weights: init }, pair(V0));
      expect(p.warnings.filter((x) => x.code === 'modified_base')).toEqual([]);
    });
  }

  it('warns when base_model_name_or_path is another family than the base config', async () => {
    const p = await plan({ base_model_name_or_path: 'Qwen/Qwen2.5-7B' }, pair(V0));
    expect(p.refusals).toEqual([]);
    const w = p.warnings.find((x) => x.code === 'base_mismatch')!;
    expect(w.message).toContain('Qwen/Qwen2.5-7B');
    expect(w.message).toContain('LlamaForCausalLM');
  });

  it.each(['meta-llama/Llama-3.2-1B', 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B', '/home/me/models/base', 'HuggingFaceTB/SmolLM2-135M', '01-ai/Yi-6B'])(
    'does not warn for %s on a Llama config',
    async (name) => {
      const p = await plan({ base_model_name_or_path: name }, pair(V0));
      expect(p.warnings.filter((x) => x.code === 'base_mismatch')).toEqual([]);
    },
  );

  it('knows families by their usual names', () => {
    expect(familiesIn('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B')).toEqual(new Set(['deepseek', 'qwen']));
    expect(familiesIn('allenai/OLMoE-1B-7B-0924')).toEqual(new Set(['olmoe']));
    expect(familiesIn('EleutherAI/pythia-160m')).toEqual(new Set(['gptneox']));
    expect(familiesIn('gpt_neox')).toEqual(new Set(['gptneox']));
  });
});
