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
});
