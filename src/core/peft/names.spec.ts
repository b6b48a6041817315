import { describe, expect, it } from 'vitest';
import { compareNatural } from './names';

describe('compareNatural', () => {
  it('orders numbers by value and agrees with localeCompare(en, numeric) on module names', () => {
    const names = [
      'model.layers.10.self_attn.q_proj',
      'model.layers.2.self_attn.q_proj',
      'model.layers.2.mlp.down_proj',
      'model.layers.1.self_attn.v_proj',
      'model.layers.1.self_attn.k_proj',
      'model.embed_tokens',
      'lm_head',
      'model.layers.100.mlp.experts.7.w1',
      'model.layers.100.mlp.experts.10.w1',
      'Model.layers.3',
      'model.layers.03',
    ];
    const ours = [...names].sort(compareNatural);
    expect(ours.indexOf('model.layers.2.self_attn.q_proj')).toBeLessThan(ours.indexOf('model.layers.10.self_attn.q_proj'));
    expect(ours.indexOf('model.layers.100.mlp.experts.7.w1')).toBeLessThan(ours.indexOf('model.layers.100.mlp.experts.10.w1'));
    expect(ours).toEqual([...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
  });

  it('agrees with the collator on every pair of random names over digits, a few letters and punctuation', () => {
    const collator = new Intl.Collator('en', { numeric: true });
    // A seeded generator: the same names every run.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // Simple characters (the direct path), and others that hand the pair to the collator.
    const alphabet = ['a', 'b', 'z', '.', '_', '0', '1', '2', '9', '0', '1', 'B', '-', ' ', 'é'];
    const names = Array.from({ length: 400 }, () => Array.from({ length: rand(9) }, () => alphabet[rand(alphabet.length)]).join(''));
    names.push('', '0', '00', '01', '1', '10', '9', '_', '.', 'a', 'a.', 'a_', 'a0', 'a00', 'a01', 'A', 'blk.1.x', 'blk.10.x', 'blk.1', 'blk.1_');
    let compared = 0;
    for (const a of names) {
      for (const b of names) {
        expect(Math.sign(compareNatural(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(collator.compare(a, b)));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(160_000);
  });

  it('orders real GGUF and module names as the collator does', () => {
    const names: string[] = [];
    for (let l = 0; l < 40; l++) {
      for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'ffn_gate_exps']) {
        names.push(`blk.${l}.${p}.weight.lora_a`, `blk.${l}.${p}.weight.lora_b`);
      }
      names.push(`base_model.model.model.layers.${l}.self_attn.q_proj`, `model.layers.${l}.mlp.experts.${l % 9}.w1`, `model.layers.${l}.Wqkv`);
    }
    names.push('token_embd.weight.lora_a', 'output.weight.lora_b', 'lm_head', 'model.norm');
    const shuffled = [...names].reverse();
    const collator = new Intl.Collator('en', { numeric: true });
    expect([...shuffled].sort(compareNatural)).toEqual([...shuffled].sort(collator.compare));
  });
});
