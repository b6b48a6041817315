/**
 * Bundled base-model configs: only the config.json fields conversion reads (architecture, head
 * counts, head_dim, sizes, tie_word_embeddings, expert counts), for the bases people fine-tune
 * most, so an adapter naming one of them converts offline.
 *
 * Every value below was checked against a stored copy of the model's config.json (or a file
 * that reproduces it) before it was written here; `confirmedFrom` names that copy. Nothing is
 * derived or remembered: a wrong num_key_value_heads or tie_word_embeddings would silently make
 * a wrong file. Where a field was not confirmed it is left out, so the architecture's own
 * default (transformers' default) applies, exactly as when the key is absent from config.json;
 * an entry whose needed fields could not be confirmed is not here at all (see docs/hub.md, "The base-config catalogue").
 *
 * How to regenerate / extend: take the `source` URL's config.json, copy the fields listed in
 * FIELDS_READ (docs/hub.md, "The base-config catalogue"), add the entry with where you confirmed it, and run
 * `npx vitest run --project unit src/core/catalogue` (it plans a synthetic adapter per entry).
 */

export interface CatalogueEntry {
  /** Canonical Hub id (owner/name). */
  id: string;
  /** Other Hub ids of the same weights (renamed repos). Re-uploads (unsloth/…) are matched by rule. */
  aliases?: readonly string[];
  /** The config.json subset, as it appears in the original (nested text_config kept nested). */
  config: Readonly<Record<string, unknown>>;
  /** Where the values come from: the Hub's config.json. */
  source: string;
  /** The stored copy the values were confirmed against. */
  confirmedFrom: string;
}

const hub = (id: string) => `https://huggingface.co/${id}/blob/main/config.json`;

// Stored copies the values were confirmed against (public GitHub files, via the code index).
const SRC = {
  thunderLlama32_1b: 'kevinstephano/thunder_model_blocks hf_llama/llama_config.py (config.json of meta-llama/Llama-3.2-1B-Instruct, _commit_hash 4e20de36)',
  llmProf: 'citsjtu2020/LLM-Prof sglang/Model_Config.md (verbatim config.json copies)',
  oumi31: 'vulkomilev/oumi configs/recipes/llama3_1/README.md (model info table: sizes, heads, KV heads, weight tying)',
  oumi33: 'vulkomilev/oumi configs/recipes/llama3_3/README.md (model info table: sizes, heads, KV heads, weight tying)',
  mistralV01: 'sumitdotml/transformers mistral-7b-v0.1/README.md (dim, n_layers, head_dim, hidden_dim, n_heads, n_kv_heads, vocab_size)',
  mistralV02: 'edadaltocg/mistral-src-finetune finetune/config.py ("Mistral-7B-v0.2-Instruct" params)',
  mistralInstV01: 'code index file 55773634582 (dims copied from https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.1/blob/main/config.json)',
  mixtral:
    'keras-team/keras-hub keras_hub/src/models/mixtral/README.md (module shapes: vocab 32000, hidden 4096, k_proj 1024, 8 experts of 14336, 32 layers, separate lm_head) and a MixtralConfig dump of mistralai/Mixtral-8x7B-Instruct-v0.1 in the code index (heads 32, KV heads 8, experts 8)',
  maxtext: 'AI-Hypercomputer/maxtext MaxText/utils/ckpt_conversion/utils/hf_model_configs.py (HF configs; omitted keys take transformers defaults)',
  gemma2_9b: 'a verbatim google/gemma-2-9b config.json string (gemma2_cfg_str) in the code index',
  gemma2_2b_vocab: 'code index: model_params "gemma-2-2b" (vocab_size 256000)',
  gemma3_1b: 'Liwink/gemma-jax models/README.md (verbatim config.json of gemma-3-1b-it)',
  qwen25_05b:
    'code index file 11122973016 ("# Qwen/Qwen2.5-0.5B ## model config", verbatim) and Abandon-ht/LLM-tutorial docs/source/model_pages/qwen2.5-0.5b-instruct.rst (24 layers, 14 Q / 2 KV heads, tied embeddings)',
  qwen25_72b: 'code index file 62544871882 (verbatim config.json of Qwen2.5-72B-Instruct) and file 3787775639',
  qwen3_06b: 'code index file 11353576428 ("# Qwen/Qwen3-0.6B ## model config", verbatim) and AI-Hypercomputer/maxtext hf_model_configs.py',
  phi3mini:
    'code index: a model-config table citing https://huggingface.co/microsoft/Phi-3-mini-128k-instruct/blob/main/config.json (hidden 3072, 32 heads, intermediate 8192, 32 layers, vocab 32064), transformers Phi3Config defaults (documented as Phi-3-mini-4k-instruct: tie_word_embeddings false), and code index files 57416361540 and 56144638994 (phi-3-mini: 32 heads, 32 KV heads, hidden 3072, vocab 32064)',
  qwen25_15b:
    'ZHUI/paddlenlp_model_readme Qwen/Qwen2.5-1.5B/index.md (model card: 28 layers, 12 Q / 2 KV heads, tied word embeddings) and code index file 4180660505 ("Configuration for Qwen2.5-1.5B architecture": hidden 1536, intermediate 8960, vocab 151936)',
  mistralV03:
    'code index file 56761758236 (configs_local "Mistral-7B-v0.3": hidden 4096, 32 layers, 32 heads, 8 KV heads, vocab 32768, intermediate 14336, tie_word_embeddings false) and a "Mistral-7B-v0.3" layer-shape table in the code index (k_proj 1024 x 4096)',
  qwen3_17b:
    'code index file 71463455676 ("Qwen/Qwen3-1.7B (config.json, fields the planner reads)"), file 57539359287 (a verbatim Qwen3-1.7B config dict) and file 54257006098 (qwen3_1_7b_config: tie_word_embeddings true)',
  phi4mini: 'code index file 67449186883 ("microsoft/Phi-4-mini-instruct config.json (verified against the HF repo)") and file 60280004817 (same values)',
} as const;

const LLAMA = { architectures: ['LlamaForCausalLM'], model_type: 'llama' };
const llama32_1b = {
  ...LLAMA,
  hidden_size: 2048,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  num_hidden_layers: 16,
  intermediate_size: 8192,
  vocab_size: 128256,
  tie_word_embeddings: true,
};
const llama32_3b = {
  ...LLAMA,
  hidden_size: 3072,
  num_attention_heads: 24,
  num_key_value_heads: 8,
  head_dim: 128,
  num_hidden_layers: 28,
  intermediate_size: 8192,
  vocab_size: 128256,
  tie_word_embeddings: true,
};
const llama31_8b = {
  ...LLAMA,
  hidden_size: 4096,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  intermediate_size: 14336,
  vocab_size: 128256,
  tie_word_embeddings: false,
};
const llama_70b = {
  ...LLAMA,
  hidden_size: 8192,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  num_hidden_layers: 80,
  intermediate_size: 28672,
  vocab_size: 128256,
  tie_word_embeddings: false,
};

const mistral7b = {
  architectures: ['MistralForCausalLM'],
  model_type: 'mistral',
  hidden_size: 4096,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  intermediate_size: 14336,
  vocab_size: 32000,
};
const mixtral8x7b = {
  architectures: ['MixtralForCausalLM'],
  model_type: 'mixtral',
  hidden_size: 4096,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  intermediate_size: 14336,
  vocab_size: 32000,
  num_local_experts: 8,
  num_experts_per_tok: 2,
};

const GEMMA2 = { architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2' };
const gemma2_2b = {
  ...GEMMA2,
  hidden_size: 2304,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  num_hidden_layers: 26,
  intermediate_size: 9216,
  vocab_size: 256000,
};
const gemma2_9b = {
  ...GEMMA2,
  hidden_size: 3584,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 256,
  num_hidden_layers: 42,
  intermediate_size: 14336,
  vocab_size: 256000,
};
const gemma2_27b = {
  ...GEMMA2,
  hidden_size: 4608,
  num_attention_heads: 32,
  num_key_value_heads: 16,
  head_dim: 128,
  num_hidden_layers: 46,
  intermediate_size: 36864,
  vocab_size: 256000,
};

const gemma3_1b = {
  architectures: ['Gemma3ForCausalLM'],
  model_type: 'gemma3_text',
  hidden_size: 1152,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 256,
  num_hidden_layers: 26,
  intermediate_size: 6912,
  vocab_size: 262144,
};
// 4B/12B/27B are the multimodal Gemma3ForConditionalGeneration: the text model's fields live in
// text_config. vocab_size is left out: the stored copy's value and the Hub file's default differ
// in the sources seen, and conversion does not read it.
const gemma3mm = (text: Record<string, unknown>) => ({
  architectures: ['Gemma3ForConditionalGeneration'],
  model_type: 'gemma3',
  text_config: { model_type: 'gemma3_text', ...text },
});
const gemma3_4b = gemma3mm({
  hidden_size: 2560,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  num_hidden_layers: 34,
  intermediate_size: 10240,
});
const gemma3_12b = gemma3mm({
  hidden_size: 3840,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 256,
  num_hidden_layers: 48,
  intermediate_size: 15360,
});
const gemma3_27b = gemma3mm({
  hidden_size: 5376,
  num_attention_heads: 32,
  num_key_value_heads: 16,
  head_dim: 128,
  num_hidden_layers: 62,
  intermediate_size: 21504,
});

const QWEN2 = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };
const qwen25 = (h: number, heads: number, kv: number, layers: number, inter: number, vocab: number, tie: boolean) => ({
  ...QWEN2,
  hidden_size: h,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  num_hidden_layers: layers,
  intermediate_size: inter,
  vocab_size: vocab,
  tie_word_embeddings: tie,
});
const QWEN3 = { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3' };
const qwen3 = (h: number, heads: number, kv: number, layers: number, inter: number, tie: boolean) => ({
  ...QWEN3,
  hidden_size: h,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  head_dim: 128,
  num_hidden_layers: layers,
  intermediate_size: inter,
  vocab_size: 151936,
  tie_word_embeddings: tie,
});
const qwen3_30b_a3b = {
  architectures: ['Qwen3MoeForCausalLM'],
  model_type: 'qwen3_moe',
  hidden_size: 2048,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  head_dim: 128,
  num_hidden_layers: 48,
  intermediate_size: 6144,
  moe_intermediate_size: 768,
  num_experts: 128,
  num_experts_per_tok: 8,
  decoder_sparse_step: 1,
  mlp_only_layers: [],
  vocab_size: 151936,
  tie_word_embeddings: false,
};

const PHI3 = { architectures: ['Phi3ForCausalLM'], model_type: 'phi3' };
const phi3mini = {
  ...PHI3,
  hidden_size: 3072,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  num_hidden_layers: 32,
  intermediate_size: 8192,
  vocab_size: 32064,
  tie_word_embeddings: false,
};
const phi4mini = {
  ...PHI3,
  hidden_size: 3072,
  num_attention_heads: 24,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  intermediate_size: 8192,
  vocab_size: 200064,
  tie_word_embeddings: true,
};

function entries(ids: string[], config: Record<string, unknown>, confirmedFrom: string, aliases: Record<string, string[]> = {}): CatalogueEntry[] {
  return ids.map((id) => ({ id, config, source: hub(id), confirmedFrom, ...(aliases[id] ? { aliases: aliases[id] } : {}) }));
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  // Llama 3.x
  ...entries(['meta-llama/Llama-3.2-1B', 'meta-llama/Llama-3.2-1B-Instruct'], llama32_1b, SRC.thunderLlama32_1b),
  ...entries(['meta-llama/Llama-3.2-3B', 'meta-llama/Llama-3.2-3B-Instruct'], llama32_3b, SRC.llmProf),
  ...entries(['meta-llama/Llama-3.1-8B', 'meta-llama/Llama-3.1-8B-Instruct'], llama31_8b, `${SRC.llmProf}; ${SRC.oumi31}`, {
    'meta-llama/Llama-3.1-8B': ['meta-llama/Meta-Llama-3.1-8B'],
    'meta-llama/Llama-3.1-8B-Instruct': ['meta-llama/Meta-Llama-3.1-8B-Instruct'],
  }),
  ...entries(['meta-llama/Llama-3.1-70B', 'meta-llama/Llama-3.1-70B-Instruct'], llama_70b, SRC.oumi31, {
    'meta-llama/Llama-3.1-70B': ['meta-llama/Meta-Llama-3.1-70B'],
    'meta-llama/Llama-3.1-70B-Instruct': ['meta-llama/Meta-Llama-3.1-70B-Instruct'],
  }),
  ...entries(['meta-llama/Llama-3.3-70B-Instruct'], llama_70b, SRC.oumi33),
  // Mistral 7B, Mixtral 8x7B
  ...entries(['mistralai/Mistral-7B-v0.1'], mistral7b, SRC.mistralV01),
  ...entries(['mistralai/Mistral-7B-Instruct-v0.1'], mistral7b, SRC.mistralInstV01),
  ...entries(['mistralai/Mistral-7B-Instruct-v0.2'], mistral7b, SRC.mistralV02),
  ...entries(
    ['mistralai/Mistral-7B-v0.3', 'mistralai/Mistral-7B-Instruct-v0.3'],
    { ...mistral7b, vocab_size: 32768, tie_word_embeddings: false },
    SRC.mistralV03,
  ),
  ...entries(['mistralai/Mixtral-8x7B-v0.1', 'mistralai/Mixtral-8x7B-Instruct-v0.1'], mixtral8x7b, SRC.mixtral),
  // Gemma 2
  ...entries(['google/gemma-2-2b', 'google/gemma-2-2b-it'], gemma2_2b, `${SRC.maxtext}; ${SRC.gemma2_2b_vocab}`),
  ...entries(['google/gemma-2-9b', 'google/gemma-2-9b-it'], gemma2_9b, `${SRC.maxtext}; ${SRC.gemma2_9b}`),
  ...entries(['google/gemma-2-27b', 'google/gemma-2-27b-it'], gemma2_27b, SRC.maxtext),
  // Gemma 3
  ...entries(['google/gemma-3-1b-pt', 'google/gemma-3-1b-it'], gemma3_1b, SRC.gemma3_1b),
  ...entries(['google/gemma-3-4b-pt', 'google/gemma-3-4b-it'], gemma3_4b, SRC.maxtext),
  ...entries(['google/gemma-3-12b-pt', 'google/gemma-3-12b-it'], gemma3_12b, SRC.maxtext),
  ...entries(['google/gemma-3-27b-pt', 'google/gemma-3-27b-it'], gemma3_27b, SRC.maxtext),
  // Qwen2.5
  ...entries(['Qwen/Qwen2.5-0.5B', 'Qwen/Qwen2.5-0.5B-Instruct'], qwen25(896, 14, 2, 24, 4864, 151936, true), SRC.qwen25_05b),
  ...entries(['Qwen/Qwen2.5-1.5B', 'Qwen/Qwen2.5-1.5B-Instruct'], qwen25(1536, 12, 2, 28, 8960, 151936, true), SRC.qwen25_15b),
  ...entries(['Qwen/Qwen2.5-3B', 'Qwen/Qwen2.5-3B-Instruct'], qwen25(2048, 16, 2, 36, 11008, 151936, true), SRC.llmProf),
  ...entries(['Qwen/Qwen2.5-7B', 'Qwen/Qwen2.5-7B-Instruct'], qwen25(3584, 28, 4, 28, 18944, 152064, false), SRC.llmProf),
  ...entries(['Qwen/Qwen2.5-14B', 'Qwen/Qwen2.5-14B-Instruct'], qwen25(5120, 40, 8, 48, 13824, 152064, false), SRC.llmProf),
  ...entries(['Qwen/Qwen2.5-32B', 'Qwen/Qwen2.5-32B-Instruct'], qwen25(5120, 40, 8, 64, 27648, 152064, false), SRC.llmProf),
  ...entries(['Qwen/Qwen2.5-72B', 'Qwen/Qwen2.5-72B-Instruct'], qwen25(8192, 64, 8, 80, 29568, 152064, false), SRC.qwen25_72b),
  // Qwen3
  ...entries(['Qwen/Qwen3-0.6B', 'Qwen/Qwen3-0.6B-Base'], qwen3(1024, 16, 8, 28, 3072, true), SRC.qwen3_06b),
  ...entries(['Qwen/Qwen3-1.7B', 'Qwen/Qwen3-1.7B-Base'], qwen3(2048, 16, 8, 28, 6144, true), SRC.qwen3_17b),
  ...entries(['Qwen/Qwen3-4B', 'Qwen/Qwen3-4B-Base'], qwen3(2560, 32, 8, 36, 9728, true), `${SRC.llmProf}; ${SRC.maxtext}`),
  ...entries(['Qwen/Qwen3-8B', 'Qwen/Qwen3-8B-Base'], qwen3(4096, 32, 8, 36, 12288, false), `${SRC.llmProf}; ${SRC.maxtext}`),
  ...entries(['Qwen/Qwen3-14B', 'Qwen/Qwen3-14B-Base'], qwen3(5120, 40, 8, 40, 17408, false), `${SRC.llmProf}; ${SRC.maxtext}`),
  ...entries(['Qwen/Qwen3-32B'], qwen3(5120, 64, 8, 64, 25600, false), `${SRC.llmProf}; ${SRC.maxtext}`),
  ...entries(['Qwen/Qwen3-30B-A3B', 'Qwen/Qwen3-30B-A3B-Base'], qwen3_30b_a3b, SRC.llmProf),
  // Phi
  ...entries(['microsoft/Phi-3-mini-4k-instruct', 'microsoft/Phi-3-mini-128k-instruct'], phi3mini, SRC.phi3mini),
  ...entries(['microsoft/Phi-4-mini-instruct'], phi4mini, SRC.phi4mini),
];
