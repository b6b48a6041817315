import type { ArchFamily } from '../types';
import { cohere, cohere2 } from './cohere';
import { gemma, gemma2, gemma3, gemma3mm } from './gemma';
import { exaone, granite, granitemoe, minicpm, nemotron, orion, stablelm, starcoder2, xverse } from './llama-like';
import { olmo, olmo2, olmoe } from './olmo';
import { phi2, phi3, phimoe } from './phi';
import { qwen, qwen2, qwen2moe, qwen3, qwen3moe } from './qwen';

/** Decoder families with Llama-like layouts (registered in ../registry.ts). */
export const groupA: ArchFamily[] = [
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
];
