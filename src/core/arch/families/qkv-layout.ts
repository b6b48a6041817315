import { ConversionError } from '../../errors';
import type { MatrixOp } from '../../tensor/ops';

/**
 * Row layouts of fused q/k/v projections, as MatrixOps on the output rows of lora_B. llama.cpp
 * wants one contiguous block per projection (all q heads, then all k heads, then all v heads);
 * some HF models interleave them per head or per kv group, and llama.cpp's converter regroups
 * the base weight's rows, so the LoRA's B must be regrouped the same way (A is untouched).
 */

/**
 * GPT-NeoX, Bloom: rows `[n_head][3][head_dim]` (q, k, v of head 0, then of head 1, ...) to
 * `[3][n_head][head_dim]`. Source: llama.cpp convert_hf_to_gguf.py GPTNeoXModel / BloomModel
 * `reshape((n_head, 3, n_embed // n_head, n_embed))` then `cat(w[:, 0], w[:, 1], w[:, 2])`.
 */
export function perHeadQkvToBlocks(nHead: number): MatrixOp {
  return { op: 'rowAxes', dims: [nHead, 3, -1], perm: [1, 0, 2] };
}

/**
 * Falcon-40B, InternLM2: rows `[n_kv][q_per_kv + 2][head_dim]` (each kv group holds its query
 * heads, then its key head, then its value head) to all query heads (in group order), all key
 * heads, all value heads. Source: convert_hf_to_gguf.py FalconModel (`qkv[:, :-2]`,
 * `qkv[:, [-2]]`, `qkv[:, [-1]]`) and InternLM2Model (`qkv[:, :q_per_kv]`, `qkv[:, -2]`,
 * `qkv[:, -1]`). With one kv group the order is unchanged.
 */
export function kvGroupedQkvToBlocks(nHead: number, nKv: number, headDim: number): MatrixOp {
  if (nHead % nKv !== 0) {
    throw new ConversionError(
      'invalid_config',
      `The base config.json has ${nHead} attention heads and ${nKv} key/value heads; the heads must split evenly into the key/value groups of the fused q/k/v projection.`,
      { file: 'config.json' },
      "Use the base model's original config.json from its Hugging Face repository.",
    );
  }
  const perGroup = nHead / nKv + 2;
  const order: number[] = [];
  for (let g = 0; g < nKv; g++) for (let i = 0; i < perGroup - 2; i++) order.push(g * perGroup + i);
  for (let g = 0; g < nKv; g++) order.push(g * perGroup + perGroup - 2);
  for (let g = 0; g < nKv; g++) order.push(g * perGroup + perGroup - 1);
  return { op: 'rowBlocks', blockRows: headDim, order };
}

/** hidden / heads, refusing a config where it is not a whole number. */
export function headDimOf(hidden: number, nHead: number): number {
  const d = hidden / nHead;
  if (!Number.isInteger(d)) {
    throw new ConversionError(
      'invalid_config',
      `The base config.json's hidden size ${hidden} is not a multiple of its ${nHead} attention heads.`,
      { file: 'config.json' },
      "Use the base model's original config.json from its Hugging Face repository.",
    );
  }
  return d;
}
