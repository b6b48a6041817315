/** Fused and transposed projections: base + converted LoRA = merged model in llama.cpp. */
import { describe, it } from 'vitest';
import { baichuan, bloom, falcon, gpt2, gptBigCode, gptneox, internlm2, mpt, phi3, qwen } from './archs/fused';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  for (const make of [phi3, gpt2, gptneox, () => falcon(2), () => falcon(1), internlm2, qwen, baichuan, bloom, gptBigCode, mpt]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});
