import { optionalInt, requireInt, type BaseConfig } from '../../peft/config';
import { ropePermute } from '../../tensor/ops';
import type { ArchFamily } from '../types';
import { llamaAttentionAndMlp, llamaNorms } from './llama';

/**
 * Baichuan / Baichuan2: `self_attn.W_pack` is q, k, v stacked in equal thirds
 * (Linear(hidden, 3 * hidden)); llama.cpp's converter splits it into attn_q / attn_k / attn_v and
 * gives q and k the rotary permutation. lora_A is copied to the three parts, lora_B's rows are
 * sliced into thirds and the q and k thirds permuted. Everything else has Llama-HF names, without
 * a q/k permutation of its own (there are no separate q_proj/k_proj).
 *
 * The converter's `_reverse_hf_permute(w, n_head, n_kv_head)` divides n_head by n_kv_head when
 * they differ (a quirk; Baichuan has no GQA, so both are num_attention_heads). The same head
 * count is used here so the LoRA always follows the base weights exactly.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py BaichuanModel (registered for
 * BaichuanForCausalLM and BaiChuanForCausalLM; `_reverse_hf_permute_part`, `r = shape[0] // 3`);
 * gguf-py tensor_mapping.py (llama-hf names); constants.py (`baichuan`); Baichuan's
 * configuration_baichuan.py (tie_word_embeddings default False).
 */

function permuteHeads(cfg: BaseConfig) {
  const why = 'to split W_pack and permute its q and k parts';
  const nHead = requireInt(cfg, ['num_attention_heads'], why);
  const nKv = optionalInt(cfg, ['num_key_value_heads']) ?? nHead;
  return { nHead, nHeadForK: nKv !== nHead ? Math.floor(nHead / nKv) : nHead, hidden: requireInt(cfg, ['hidden_size'], why) };
}

export const baichuan: ArchFamily = {
  id: 'baichuan',
  hfArchitectures: ['BaichuanForCausalLM', 'BaiChuanForCausalLM'],
  ggufArch: 'baichuan',
  tiedDefault: false,
  modules: [
    ...llamaAttentionAndMlp.filter((r) => !/self_attn\.[qkv]_proj$/.test(String(r.hf))),
    {
      hf: 'model.layers.{bid}.self_attn.W_pack',
      gguf: 'blk.{bid}.attn_qkv',
      // An identity regroup that only checks B has exactly 3 * hidden_size rows (the slices
      // below would otherwise silently ignore extra rows).
      bOps: (cfg) => [{ op: 'rowBlocks', blockRows: permuteHeads(cfg).hidden, order: [0, 1, 2] }],
      split: (cfg) => {
        const { nHead, nHeadForK, hidden } = permuteHeads(cfg);
        return [
          { gguf: 'blk.{bid}.attn_q', rowStart: 0, rowCount: hidden, bOps: [ropePermute(nHead)] },
          { gguf: 'blk.{bid}.attn_k', rowStart: hidden, rowCount: hidden, bOps: [ropePermute(nHeadForK)] },
          { gguf: 'blk.{bid}.attn_v', rowStart: 2 * hidden, rowCount: hidden },
        ];
      },
    },
  ],
  norms: llamaNorms,
};
