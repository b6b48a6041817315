import type { BaseConfig } from '../peft/config';
import type { MatrixOp } from '../tensor/ops';

/**
 * One architecture family: how HF module paths of its base model map to GGUF tensor names,
 * and which transforms the base weights get on the way (which the LoRA factors must get too).
 *
 * Paths are written with placeholders: `{bid}` is a layer index, `{xid}` an expert index.
 * Module paths are those of the HF model (after PEFT's `base_model.model.` prefix is removed),
 * without the `.weight` suffix, e.g. `model.layers.{bid}.self_attn.q_proj`.
 */
export interface ArchFamily {
  /** A short id for messages and the README table, e.g. "llama". */
  id: string;
  /** `config.architectures[0]` values this family handles. */
  hfArchitectures: string[];
  /** `general.architecture` written to the GGUF (and checked by llama.cpp against the base). */
  ggufArch: string | ((cfg: BaseConfig) => string);
  /**
   * Whether the output head is tied to the token embeddings: `'always'` when llama.cpp's model
   * has no separate output tensor for this family (Gemma), else transformers' default for
   * `tie_word_embeddings` when config.json lacks the key.
   */
  tiedDefault: boolean | 'always';
  /** LoRA-able linear modules (and lm_head / embeddings). */
  modules: ModuleRule[];
  /** Full 1-D vectors (mergekit-style norms) that may be carried over. */
  norms?: NormRule[];
  /** Checks the config once before mapping (e.g. that head counts are present). */
  validate?: (cfg: BaseConfig) => void;
}

export interface ModuleRule {
  /** HF module path pattern(s). */
  hf: string | string[];
  /** GGUF base name without `.weight`, e.g. `blk.{bid}.attn_q`. Ignored when `split` is given. */
  gguf: string;
  /**
   * Row transforms applied to B (the output side); computed from the config. With `split`, they
   * apply to the whole fused B before it is sliced (e.g. to gather interleaved q/k/v rows into
   * contiguous ranges); they must not contain a `rows` op then.
   */
  bOps?: (cfg: BaseConfig) => MatrixOp[];
  /**
   * A fused module split into several GGUF tensors: A is shared (copied to each), B's rows are
   * sliced per part (after the rule's bOps, if any), then each part's own bOps apply.
   */
  split?: (cfg: BaseConfig) => SplitPart[];
  /** Experts: the `{xid}` modules of one layer are stacked into one 3-D tensor. */
  experts?: (cfg: BaseConfig) => number;
  /** Tensor that llama.cpp loads but never applies: refuse it (unless the user opts in to drop it). */
  notApplied?: string;
  /**
   * LoRA on this module cannot be expressed as a GGUF LoRA at all (e.g. PEFT target_parameters
   * on fused expert tensors): always refused with this reason, never dropped.
   */
  unsupported?: string;
  /**
   * Neither side of this module is the residual stream (e.g. Mamba's x_proj / dt_proj), so the
   * plan's check that a LoRA pair reads or writes hidden_size does not apply.
   */
  innerDims?: boolean;
  /** lm_head: subject to the tied-head check. */
  isOutputHead?: boolean;
  /** Token embedding: LoRA given as lora_embedding_A/B; subject to the tied-head check. */
  isTokenEmbedding?: boolean;
}

export interface SplitPart {
  gguf: string;
  rowStart: number;
  rowCount: number;
  bOps?: MatrixOp[];
}

export interface NormRule {
  hf: string | string[];
  gguf: string;
  /** Gemma-style norms are stored as (1 + w) in GGUF. */
  addOne?: boolean;
}
