import { describe, expect, it } from 'vitest';
import { modelCard } from './card';

describe('modelCard', () => {
  it('front matter names the real base as base_model with the adapter relation and the tags; the body has the usage', () => {
    const card = modelCard({
      repo: 'me/my-lora-gguf',
      fileName: 'my-lora-F16-LoRA.gguf',
      baseModel: 'meta-llama/Llama-3.2-1B-Instruct',
      architecture: 'llama',
      outtype: 'f16',
      source: 'hf:me/my-lora',
      settings: { drop_unapplied: false },
      link: 'https://lora2gguf.app/#v=1&repo=me/my-lora&outtype=f16',
      pairs: 112,
    });
    const [, front] = card.split('---\n');
    expect(front).toBe('base_model: meta-llama/Llama-3.2-1B-Instruct\nbase_model_relation: adapter\ntags:\n- gguf\n- lora\n- llama.cpp\n- lora2gguf\n');
    expect(card).toContain('llama-cli -m Llama-3.2-1B-Instruct.gguf --lora my-lora-F16-LoRA.gguf');
    expect(card).toContain('llama-server -m Llama-3.2-1B-Instruct.gguf --lora my-lora-F16-LoRA.gguf');
    expect(card).toContain('FROM hf.co/meta-llama/Llama-3.2-1B-Instruct\nADAPTER ./my-lora-F16-LoRA.gguf');
    expect(card).toContain('| outtype | f16 |');
    expect(card).toContain('Repeat the conversion: https://lora2gguf.app/#v=1&repo=me/my-lora&outtype=f16');
  });

  it('without a known base: no base_model key (never the adapter named as its own base), and it says so', () => {
    const card = modelCard({ repo: 'me/x', fileName: 'x.gguf', baseModel: null, architecture: null, outtype: null });
    expect(card).not.toContain('base_model');
    expect(card).toContain('not named when it was published');
  });
});
