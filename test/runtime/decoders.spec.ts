/** Decoder-only families with separate q/k/v: base + converted LoRA = merged model in llama.cpp. */
import { describe, it } from 'vitest';
import {
  cohere,
  cohere2,
  exaone,
  gemma,
  gemma2,
  gemma3,
  granite,
  internlm3,
  minicpm,
  mistral,
  nemotron,
  olmo,
  olmo2,
  orion,
  phi2,
  qwen2,
  qwen3,
  stablelm,
  starcoder2,
  xverse,
} from './archs/decoders';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  for (const make of [
    mistral,
    qwen2,
    qwen3,
    gemma,
    gemma2,
    gemma3,
    starcoder2,
    stablelm,
    phi2,
    olmo2,
    cohere,
    granite,
    exaone,
    internlm3,
    orion,
    xverse,
    minicpm,
    olmo,
    nemotron,
    cohere2,
  ]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});
