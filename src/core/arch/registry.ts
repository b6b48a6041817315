import { ConversionError } from '../errors';
import type { BaseConfig } from '../peft/config';
import { baichuan } from './families/baichuan';
import { chatglm } from './families/chatglm';
import { cohere, cohere2 } from './families/cohere';
import { dbrx } from './families/dbrx';
import { deepseek2 } from './families/deepseek';
import { falcon } from './families/falcon';
import { gemma, gemma2, gemma3, gemma3mm } from './families/gemma';
import { gpt2, gptBigCode } from './families/gpt2';
import { bloom, gptneox } from './families/gptneox';
import { internlm2, internlm3 } from './families/internlm';
import { llama, mixtral } from './families/llama';
import { exaone, granite, granitemoe, minicpm, nemotron, orion, stablelm, starcoder2, xverse } from './families/llama-like';
import { mamba } from './families/mamba';
import { mpt } from './families/mpt';
import { olmo, olmo2, olmoe } from './families/olmo';
import { phi2, phi3, phimoe } from './families/phi';
import { qwen, qwen2, qwen2moe, qwen3, qwen3moe } from './families/qwen';
import type { ArchFamily } from './types';

/**
 * Every supported family, in the order of docs/architectures.md (generated from this list).
 * Adding an architecture: write `families/<name>.ts` exporting an ArchFamily, list it here, and
 * run `npx tsx scripts/arch-table.ts --write`.
 */
export const FAMILIES: readonly ArchFamily[] = [
  // Llama and decoders with Llama-like layouts.
  llama,
  mixtral,
  qwen,
  qwen2,
  qwen2moe,
  qwen3,
  qwen3moe,
  gemma,
  gemma2,
  gemma3,
  gemma3mm,
  phi2,
  phi3,
  phimoe,
  olmo,
  olmo2,
  olmoe,
  cohere,
  cohere2,
  granite,
  granitemoe,
  minicpm,
  xverse,
  orion,
  exaone,
  nemotron,
  stablelm,
  starcoder2,
  // Fused projections and special layouts.
  gptneox,
  bloom,
  falcon,
  gpt2,
  gptBigCode,
  mpt,
  internlm2,
  internlm3,
  baichuan,
  chatglm,
  dbrx,
  deepseek2,
  mamba,
];

const byHfArch = new Map<string, ArchFamily>();
for (const f of FAMILIES) {
  for (const a of f.hfArchitectures) {
    if (byHfArch.has(a)) throw new Error(`architecture ${a} registered twice`);
    byHfArch.set(a, f);
  }
}

/** All HF architecture names we convert, sorted. */
export function supportedArchitectures(): string[] {
  return [...byHfArch.keys()].sort();
}

/** The family for a base config, or a refusal naming the architecture. */
export function familyFor(cfg: BaseConfig): ArchFamily {
  const f = byHfArch.get(cfg.architecture);
  if (!f) {
    throw new ConversionError(
      'unsupported_architecture',
      `The base model's architecture "${cfg.architecture}" is not supported.`,
      { field: 'config.json: architectures', architecture: cfg.architecture },
      `Supported architectures: ${supportedArchitectures().join(', ')}. If llama.cpp supports this model, please open an issue.`,
    );
  }
  return f;
}

/** The GGUF `general.architecture` of a family for this base (some families pick it from the config). */
export function ggufArchFor(f: ArchFamily, cfg: BaseConfig): string {
  return typeof f.ggufArch === 'string' ? f.ggufArch : f.ggufArch(cfg);
}
