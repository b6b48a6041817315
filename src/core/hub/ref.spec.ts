import { describe, expect, it } from 'vitest';
import { ConversionError } from '../errors';
import { formatHubRef, isValidRepoId, looksLikeHubReference, parseHubRef, type HubRef } from './ref';

const ref = (repo: string, subfolder = '', revision = 'main', revisionGiven = false): HubRef => ({ repo, subfolder, revision, revisionGiven });

describe('parseHubRef', () => {
  it.each<[string, HubRef]>([
    ['owner/repo', ref('owner/repo')],
    ['  owner/repo  ', ref('owner/repo')],
    ['hf:owner/repo', ref('owner/repo')],
    ['hf://owner/repo', ref('owner/repo')],
    ['HF:Owner/Repo.v2_x-y', ref('Owner/Repo.v2_x-y')],
    ['owner/repo/', ref('owner/repo')],
    ['owner/repo/checkpoint-500', ref('owner/repo', 'checkpoint-500')],
    ['owner/repo/runs/a/checkpoint-500@v1.0', ref('owner/repo', 'runs/a/checkpoint-500', 'v1.0', true)],
    ['hf:owner/repo@0123456789abcdef0123456789abcdef01234567', ref('owner/repo', '', '0123456789abcdef0123456789abcdef01234567', true)],
    ['owner/repo@refs/pr/3', ref('owner/repo', '', 'refs/pr/3', true)],
    ['https://huggingface.co/owner/repo', ref('owner/repo')],
    ['https://huggingface.co/owner/repo/', ref('owner/repo')],
    ['https://hf.co/owner/repo?library=peft#x', ref('owner/repo')],
    ['https://huggingface.co/owner/repo/tree/main', ref('owner/repo', '', 'main', true)],
    ['https://huggingface.co/owner/repo/tree/dev/checkpoints/step-10', ref('owner/repo', 'checkpoints/step-10', 'dev', true)],
    ['https://huggingface.co/owner/repo/tree/refs%2Fpr%2F7/a', ref('owner/repo', 'a', 'refs/pr/7', true)],
    ['https://huggingface.co/owner/repo/blob/main/adapter_config.json', ref('owner/repo', '', 'main', true)],
    ['https://huggingface.co/owner/repo/blob/abc123/sub/adapter_model.safetensors', ref('owner/repo', 'sub', 'abc123', true)],
    ['https://huggingface.co/owner/repo/resolve/main/sub/dir/adapter_config.json?download=true', ref('owner/repo', 'sub/dir', 'main', true)],
    ['HTTPS://HuggingFace.co/owner/repo', ref('owner/repo')],
  ])('%s', (input, expected) => {
    expect(parseHubRef(input)).toEqual(expected);
  });

  it('accepts URLs on the configured endpoint, and only huggingface.co otherwise', () => {
    expect(parseHubRef('http://127.0.0.1:9000/o/r/tree/main/x', { endpoint: 'http://127.0.0.1:9000' })).toEqual(ref('o/r', 'x', 'main', true));
    expect(() => parseHubRef('http://127.0.0.1:9000/o/r')).toThrow(ConversionError);
    expect(() => parseHubRef('https://evil.example/o/r', { endpoint: 'https://huggingface.co' })).toThrow(/only huggingface.co/);
    expect(() => parseHubRef('https://user@huggingface.co/o/r')).toThrow(ConversionError);
    expect(() => parseHubRef('javascript://huggingface.co/o/r')).toThrow(ConversionError);
  });

  it.each([
    ['', /empty/],
    ['gpt2', /owner\/name/],
    ['hf:', /owner\/name/],
    ['owner/', /owner\/name|empty/],
    ['/repo', /empty/],
    ['own er/repo', /may only contain/],
    ['owner/re po', /may only contain/],
    ['owner/-repo', /start or end/],
    ['owner/repo.', /start or end/],
    ['owner/re--po', /"--"/],
    ['owner/re..po', /"\.\."/],
    [`owner/${'a'.repeat(97)}`, /longer than 96/],
    ['owner/repo@', /revision.*empty/],
    ['owner/repo@a b', /character/],
    ['owner/repo@../x', /not a valid/],
    ['owner/repo@main/', /not a valid/],
    ['owner/repo/../x', /"\.\." segment/],
    ['owner/repo/a//b', /empty/],
    ['https://huggingface.co/datasets/o/r', /dataset/],
    ['https://huggingface.co/spaces/o/r', /space/],
    ['https://huggingface.co/o/r/commits/main', /not supported/],
    ['https://huggingface.co/o/r/tree', /no revision/],
    ['https://huggingface.co/o/r/blob/main', /names no file/],
    ['https://huggingface.co/o', /does not name a repository/],
    ['https://huggingface.co/o/r/tree/%E0%A4%A/x', /URL encoding/],
  ])('refuses %j with a clear wrong_input', (input, why) => {
    let caught: unknown;
    try {
      parseHubRef(input);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConversionError);
    expect((caught as ConversionError).code).toBe('wrong_input');
    expect((caught as ConversionError).message).toMatch(why);
    expect((caught as ConversionError).hint).toMatch(/owner\/repo/);
  });

  it('round-trips through formatHubRef', () => {
    for (const text of ['o/r', 'o/r/sub/dir', 'o/r@dev', 'o/r/sub@refs/pr/1', 'o/r@main']) {
      const parsed = parseHubRef(text);
      expect(formatHubRef(parsed)).toBe(text);
      expect(parseHubRef(formatHubRef(parsed))).toEqual(parsed);
    }
  });

  it('validates repo ids like the Hub', () => {
    expect(isValidRepoId('meta-llama/Llama-3.2-1B')).toBe(true);
    expect(isValidRepoId('Qwen/Qwen2.5-0.5B-Instruct')).toBe(true);
    expect(isValidRepoId('a/b/c')).toBe(false);
    expect(isValidRepoId('a/b@c')).toBe(false);
    expect(isValidRepoId('a/ü')).toBe(false);
  });

  it('tells Hub references from local paths on a command line', () => {
    for (const yes of ['hf:o/r', 'HF:o/r/sub@v1', 'hf://o/r', 'https://huggingface.co/o/r', 'https://hf.co/o/r/tree/main/x'])
      expect(looksLikeHubReference(yes)).toBe(true);
    for (const no of ['o/r', './o/r', '/abs/o/r', 'C:\\o\\r', 'https://example.com/o/r', 'adapter']) expect(looksLikeHubReference(no)).toBe(false);
  });
});
