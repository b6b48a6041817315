/** Decoder-only families with separate q/k/v: base + converted LoRA = merged model in llama.cpp. */
import { describe, it } from 'vitest';
import { cohere, exaone, gemma, gemma2, gemma3, granite, mistral, olmo2, phi2, qwen2, qwen3, stablelm, starcoder2 } from './archs/decoders';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  for (const make of [mistral, qwen2, qwen3, gemma, gemma2, gemma3, starcoder2, stablelm, phi2, olmo2, cohere, granite, exaone]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});
