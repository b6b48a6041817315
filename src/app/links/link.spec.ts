import { describe, expect, it } from 'vitest';
import { decodeLink, encodeLink, isLinkFragment, linkUrl, MAX_FRAGMENT_LENGTH, type LinkState } from './link';

const SHA = '0123456789abcdef0123456789abcdef01234567';

const full: LinkState = {
  adapter: { repo: 'some-user/my.lora_v2', subfolder: 'checkpoints/step-500', revision: SHA, revisionGiven: true },
  base: 'meta-llama/Llama-3.2-1B',
  outtype: 'q8_0',
  name: 'My adapter & more: 100% #1',
  dropUnapplied: true,
  keepNormVectors: true,
  format: 'mlx',
};

describe('encodeLink / decodeLink', () => {
  it('round-trips every field, with the documented parameter names', () => {
    const frag = encodeLink(full);
    expect(frag.startsWith('v=1&')).toBe(true);
    const names = frag.split('&').map((p) => p.slice(0, p.indexOf('=')));
    expect(names).toEqual(['v', 'repo', 'path', 'rev', 'base', 'outtype', 'name', 'drop_unapplied', 'keep_norms', 'format']);
    const back = decodeLink(`#${frag}`);
    expect(back.problems).toEqual([]);
    expect(back.state).toEqual(full);
  });

  it('a link for local files carries the options only', () => {
    const state: LinkState = { adapter: null, base: null, outtype: 'f16', name: 'x', dropUnapplied: false, keepNormVectors: null, format: null };
    const frag = encodeLink(state);
    expect(frag).toBe('v=1&outtype=f16&name=x&drop_unapplied=0');
    expect(decodeLink(frag)).toEqual({ state, problems: [] });
  });

  it('leaves the revision out when it defaulted to main', () => {
    const frag = encodeLink({ ...full, adapter: { repo: 'a/b', subfolder: '', revision: 'main', revisionGiven: false } });
    expect(frag).toContain('repo=a/b');
    expect(frag).not.toContain('rev=');
    expect(frag).not.toContain('path=');
    expect(decodeLink(frag).state!.adapter).toEqual({ repo: 'a/b', subfolder: '', revision: 'main', revisionGiven: false });
  });

  it('escapes "&", "=" and "#" in values so they cannot inject parameters', () => {
    const frag = encodeLink({ ...full, name: 'a&outtype=f16#b' });
    const back = decodeLink(frag);
    expect(back.state!.name).toBe('a&outtype=f16#b');
    expect(back.state!.outtype).toBe('q8_0');
    expect(back.problems).toEqual([]);
  });

  it('has no field for a token, and an encoded state never mentions one', () => {
    const withExtra = { ...full, token: 'hf_secretsecretsecret' } as LinkState;
    expect(encodeLink(withExtra)).not.toContain('hf_secret');
    expect(encodeLink(withExtra)).not.toContain('token');
  });

  it('a link made before keep_norms existed still decodes, with drop_unapplied as it was named', () => {
    const back = decodeLink('#v=1&outtype=f16&drop_unapplied=1');
    expect(back.problems).toEqual([]);
    expect(back.state).toMatchObject({ outtype: 'f16', dropUnapplied: true, keepNormVectors: null });
    expect(decodeLink('#v=1&keep_norms=maybe').problems.map((p) => p.param)).toEqual(['keep_norms']);
  });

  it('records an MLX adapter as format=mlx; a PEFT one writes nothing (links made before format existed read as PEFT)', () => {
    expect(encodeLink({ ...full, adapter: null, format: 'mlx' })).toContain('&format=mlx');
    expect(encodeLink({ ...full, format: 'peft' })).not.toContain('format=');
    expect(decodeLink('#v=1&outtype=f16').state!.format).toBeNull();
    expect(decodeLink('#v=1&format=peft').state!.format).toBe('peft');
  });

  it('linkUrl replaces an existing fragment', () => {
    expect(
      linkUrl('http://127.0.0.1:4173/?x=1#old', { adapter: null, base: null, outtype: 'f32', name: null, dropUnapplied: null, keepNormVectors: null, format: null }),
    ).toBe('http://127.0.0.1:4173/?x=1#v=1&outtype=f32');
  });
});

describe('decodeLink: what is not a link', () => {
  it.each(['', '#', '#section-2', '#foo=bar', 'xv=1'])('%j is not a link and reports nothing', (hash) => {
    expect(isLinkFragment(hash)).toBe(false);
    expect(decodeLink(hash)).toEqual({ state: null, problems: [] });
  });

  it('refuses another version as a whole', () => {
    const d = decodeLink('#v=2&repo=a/b&outtype=f16');
    expect(d.state).toBeNull();
    expect(d.problems).toHaveLength(1);
    expect(d.problems[0]!.param).toBe('v');
    expect(d.problems[0]!.message).toContain('version "2"');
  });

  it('refuses an absurdly long fragment whole', () => {
    const d = decodeLink(`#v=1&name=${'a'.repeat(MAX_FRAGMENT_LENGTH)}`);
    expect(d.state).toBeNull();
    expect(d.problems[0]!.message).toContain('characters long');
  });
});

describe('decodeLink: malformed parameters are reported and ignored, the rest applies', () => {
  const only = (hash: string) => {
    const d = decodeLink(hash);
    expect(d.state).not.toBeNull();
    return d;
  };

  it('unknown parameters (including a token) are ignored and named', () => {
    const d = only('#v=1&outtype=f16&token=hf_abc&endpoint=http://evil.example');
    expect(d.state!.outtype).toBe('f16');
    expect(d.problems.map((p) => p.param)).toEqual(['token', 'endpoint']);
    expect(JSON.stringify(d.state)).not.toContain('hf_abc');
    expect(JSON.stringify(d.state)).not.toContain('evil');
  });

  it.each([
    ['repo=not a repo', 'repo'],
    ['repo=onlyname', 'repo'],
    ['repo=a/b/c', 'repo'],
    ['repo=-a/b', 'repo'],
    ['repo=a/b..c', 'repo'],
    [`repo=a/${'x'.repeat(97)}`, 'repo'],
    ['repo=a/b&path=../etc', 'path'],
    ['repo=a/b&path=x//y', 'path'],
    ['repo=a/b&path=x@y', 'path'],
    ['repo=a/b&path=', 'path'],
    ['repo=a/b&rev=', 'rev'],
    ['repo=a/b&rev=a..b', 'rev'],
    ['repo=a/b&rev=x%20y', 'rev'],
    ['repo=a/b&rev=x:y', 'rev'],
  ])('%s drops the adapter reference', (params, param) => {
    const d = only(`#v=1&${params}&outtype=bf16`);
    expect(d.state!.adapter).toBeNull();
    expect(d.state!.outtype).toBe('bf16');
    expect(d.problems.map((p) => p.param)).toEqual([param]);
  });

  it('path or rev without repo are ignored', () => {
    const d = only('#v=1&path=a&rev=main');
    expect(d.state!.adapter).toBeNull();
    expect(d.problems).toHaveLength(1);
  });

  it.each([
    ['outtype=q4_0', 'outtype'],
    ['outtype=F16', 'outtype'],
    ['base=https://huggingface.co/a/b', 'base'],
    ['base=a', 'base'],
    ['name=', 'name'],
    ['name=%01x', 'name'],
    [`name=${'n'.repeat(201)}`, 'name'],
    ['drop_unapplied=yes', 'drop_unapplied'],
    ['format=MLX', 'format'],
    ['format=gguf', 'format'],
    ['name=%E0%A4%A', 'name'],
  ])('%s is reported and the default is used', (params, param) => {
    const d = only(`#v=1&${params}`);
    expect(d.state).toEqual({ adapter: null, base: null, outtype: null, name: null, dropUnapplied: null, keepNormVectors: null, format: null });
    expect(d.problems.map((p) => p.param)).toEqual([param]);
  });

  it('a repeated parameter: the first counts, the repeat is reported', () => {
    const d = only('#v=1&outtype=f16&outtype=q8_0');
    expect(d.state!.outtype).toBe('f16');
    expect(d.problems.map((p) => p.param)).toEqual(['outtype']);
  });

  it('messages never echo control characters', () => {
    const d = only('#v=1&%0Aevil%0D=1');
    expect(d.problems[0]!.message).not.toMatch(/[\n\r]/);
  });
});
