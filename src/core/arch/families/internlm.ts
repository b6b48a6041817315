import { requireInt, type BaseConfig } from '../../peft/config';
import { ropePermute } from '../../tensor/ops';
import type { ArchFamily } from '../types';
import { llamaAttentionAndMlp, llamaNorms } from './llama';
import { headDimOf, kvGroupedQkvToBlocks } from './qkv-layout';

/**
 * InternLM2: one fused `attention.wqkv` whose rows come in kv groups,
 * `[n_kv][q_per_kv + 2][head_dim]`. llama.cpp's converter splits it into attn_q / attn_k / attn_v
 * (q heads in group order, then the k heads, then the v heads) and gives q and k the Llama rotary
 * permutation (num_attention_heads for q, num_key_value_heads for k). For the LoRA: lora_A is
 * copied to the three parts; lora_B's rows are first gathered into [q | k | v] (the rule's bOps),
 * then sliced, then q and k permuted.
 * InternLM3 is a Llama-style model converted as `llama` (q/k permuted, same names).
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py InternLM2Model.modify_tensors
 * (`qkv.reshape((num_groups, q_per_kv + 2, head_dim, n_embd))`, `LlamaModel.permute`) and
 * InternLM3Model (model_arch LLAMA, permutes q_proj/k_proj); gguf-py tensor_mapping.py
 * (`model.tok_embeddings`, `output`, `model.layers.{bid}.attention.wo`, `feed_forward.w1/w3/w2`
 * -> ffn_gate/ffn_up/ffn_down, `attention_norm`, `ffn_norm`, `model.norm`); constants.py
 * (`internlm2`); InternLM2/InternLM3 configuration files (tie_word_embeddings default False).
 */

function heads(cfg: BaseConfig) {
  const why = 'to split the fused wqkv into q, k and v';
  const nHead = requireInt(cfg, ['num_attention_heads'], why);
  const nKv = requireInt(cfg, ['num_key_value_heads', 'num_attention_heads'], why);
  const headDim = headDimOf(requireInt(cfg, ['hidden_size'], why), nHead);
  return { nHead, nKv, headDim };
}

export const internlm2: ArchFamily = {
  id: 'internlm2',
  hfArchitectures: ['InternLM2ForCausalLM'],
  ggufArch: 'internlm2',
  tiedDefault: false,
  modules: [
    { hf: 'model.tok_embeddings', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'output', gguf: 'output', isOutputHead: true },
    {
      hf: 'model.layers.{bid}.attention.wqkv',
      gguf: 'blk.{bid}.attn_qkv',
      bOps: (cfg) => {
        const { nHead, nKv, headDim } = heads(cfg);
        return [kvGroupedQkvToBlocks(nHead, nKv, headDim)];
      },
      split: (cfg) => {
        const { nHead, nKv, headDim } = heads(cfg);
        const q = nHead * headDim;
        const kv = nKv * headDim;
        return [
          { gguf: 'blk.{bid}.attn_q', rowStart: 0, rowCount: q, bOps: [ropePermute(nHead)] },
          { gguf: 'blk.{bid}.attn_k', rowStart: q, rowCount: kv, bOps: [ropePermute(nKv)] },
          { gguf: 'blk.{bid}.attn_v', rowStart: q + kv, rowCount: kv },
        ];
      },
    },
    { hf: 'model.layers.{bid}.attention.wo', gguf: 'blk.{bid}.attn_output' },
    { hf: 'model.layers.{bid}.feed_forward.w1', gguf: 'blk.{bid}.ffn_gate' },
    { hf: 'model.layers.{bid}.feed_forward.w3', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'model.layers.{bid}.feed_forward.w2', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: [
    { hf: 'model.layers.{bid}.attention_norm', gguf: 'blk.{bid}.attn_norm' },
    { hf: 'model.layers.{bid}.ffn_norm', gguf: 'blk.{bid}.ffn_norm' },
    { hf: 'model.norm', gguf: 'output_norm' },
  ],
};

export const internlm3: ArchFamily = {
  id: 'internlm3',
  hfArchitectures: ['InternLM3ForCausalLM'],
  ggufArch: 'llama',
  tiedDefault: false,
  modules: llamaAttentionAndMlp,
  norms: llamaNorms,
};
