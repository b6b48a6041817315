import { ConversionError } from '../../errors';
import type { BaseConfig } from '../../peft/config';
import type { ArchFamily, NormRule } from '../types';

/**
 * GPT-2 and GPTBigCode (StarCoder 1, SantaCoder): `c_attn` is already `[q | k | v]` in llama.cpp's
 * order, so no row moves at all.
 *
 * GPT-2's modules are Conv1D, whose weight is stored (in, out); llama.cpp's converter transposes
 * those base weights. PEFT's LoRA for Conv1D is nevertheless an ordinary pair of nn.Linear layers:
 * lora_A.weight is (r, in) and lora_B.weight is (out, r), already the orientation of a Linear
 * weight (fan_in_fan_out only affects how PEFT merges into the Conv1D weight). So the pair is
 * written as it is. (convert_lora_to_gguf.py applies the base transpose to the pair, swapping and
 * transposing A and B; llama.cpp then rejects the result for c_attn / c_fc.)
 * GPTBigCode's c_attn / c_proj / c_fc are nn.Linear, so nothing to discuss there.
 *
 * Sources (facts only): llama.cpp convert_hf_to_gguf.py GPT2Model (transposes `.c_attn.weight`,
 * `.c_proj.weight`, `.c_fc.weight`) and StarCoderModel (GPTBigCodeForCausalLM; writes
 * head_count_kv = 1, i.e. assumes multi-query); gguf-py tensor_mapping.py (`transformer.h.{bid}.attn.c_attn`
 * -> attn_qkv, `attn.c_proj` -> attn_output, `mlp.c_fc` -> ffn_up, `mlp.c_proj` -> ffn_down,
 * `ln_1`/`ln_2`/`ln_f`, `transformer.wte` -> token_embd); constants.py (`gpt2`, `starcoder`);
 * PEFT tuners/lora/layer.py (Conv1D handled like Linear, lora_A/lora_B are nn.Linear);
 * transformers configuration_gpt2.py / configuration_gpt_bigcode.py (tie_word_embeddings
 * default True; multi_query default True).
 */

/** GPT2LMHeadModel nests under `transformer.`; a bare GPT2Model does not. */
const paths = (p: string) => [`transformer.${p}`, p];

const gpt2Norms: NormRule[] = [
  { hf: paths('h.{bid}.ln_1'), gguf: 'blk.{bid}.attn_norm' },
  { hf: paths('h.{bid}.ln_2'), gguf: 'blk.{bid}.ffn_norm' },
  { hf: paths('ln_f'), gguf: 'output_norm' },
];

export const gpt2: ArchFamily = {
  id: 'gpt2',
  hfArchitectures: ['GPT2LMHeadModel'],
  ggufArch: 'gpt2',
  tiedDefault: true,
  modules: [
    { hf: paths('wte'), gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: paths('h.{bid}.attn.c_attn'), gguf: 'blk.{bid}.attn_qkv' },
    { hf: paths('h.{bid}.attn.c_proj'), gguf: 'blk.{bid}.attn_output' },
    { hf: paths('h.{bid}.mlp.c_fc'), gguf: 'blk.{bid}.ffn_up' },
    { hf: paths('h.{bid}.mlp.c_proj'), gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: gpt2Norms,
};

export const gptBigCode: ArchFamily = {
  id: 'gptbigcode',
  hfArchitectures: ['GPTBigCodeForCausalLM'],
  ggufArch: 'starcoder',
  tiedDefault: true,
  modules: [
    { hf: 'transformer.wte', gguf: 'token_embd', isTokenEmbedding: true },
    { hf: 'lm_head', gguf: 'output', isOutputHead: true },
    { hf: 'transformer.h.{bid}.attn.c_attn', gguf: 'blk.{bid}.attn_qkv' },
    { hf: 'transformer.h.{bid}.attn.c_proj', gguf: 'blk.{bid}.attn_output' },
    { hf: 'transformer.h.{bid}.mlp.c_fc', gguf: 'blk.{bid}.ffn_up' },
    { hf: 'transformer.h.{bid}.mlp.c_proj', gguf: 'blk.{bid}.ffn_down' },
  ],
  norms: gpt2Norms,
  validate(cfg: BaseConfig) {
    // Without multi-query, c_attn's rows are interleaved per head; llama.cpp's starcoder model
    // has a single kv head, so such a base does not convert and its LoRA has nothing to load into.
    if (cfg.hparams['multi_query'] === false) {
      throw new ConversionError(
        'unsupported_architecture',
        'This GPTBigCode base has multi_query: false; llama.cpp runs GPTBigCode (starcoder) models with one shared key/value head only.',
        { field: 'config.json: multi_query', architecture: cfg.architecture },
        'Only multi-query GPTBigCode models (StarCoder, SantaCoder) are supported by llama.cpp.',
      );
    }
  },
};
