/** Mamba, DBRX, ChatGLM: base + converted LoRA = merged model in llama.cpp. */
import { describe, it } from 'vitest';
import { chatglm, dbrx, mamba } from './archs/others';
import { expectMatchesMerged, runCase } from './harness/case';

describe('base + converted LoRA = merged model', () => {
  for (const make of [mamba, dbrx, chatglm]) {
    const spec = make();
    it(`${spec.id}: every LoRA-able module`, async () => {
      expectMatchesMerged(await runCase({ name: `${spec.id}-all`, spec, adapter: { r: 4, alpha: 8 } }), spec.tolerance);
    });
  }
});
