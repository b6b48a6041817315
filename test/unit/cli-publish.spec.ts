/**
 * `lora2gguf publish` against the local fake Hub, which speaks the upload protocol
 * @huggingface/hub uses (create repo, preupload, LFS batch, upload to the CDN origin, NDJSON
 * commit): the exact bytes arrive with a model card naming the base, the token goes only to the
 * Hub, and a cancelled upload leaves no commit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { REFERENCE } from '../helpers/fixtures';

const INPUT = join(REFERENCE, 'llama_bf16_f16', 'input');
const work = mkdtempSync(join(tmpdir(), 'l2g-cli-publish-'));
let hub: FakeHub;
let file: string;

async function cli(args: string[], env: Record<string, string | undefined>, signal?: AbortSignal): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: work, isTTY: false, env, signal });
  return { code, out, err };
}

beforeAll(async () => {
  hub = await startFakeHub([{ id: 'test-org/existing', files: { 'README.md': '# old' } }]);
  file = join(work, 'my-lora-F16-LoRA.gguf');
  const r = await cli([INPUT, '--base', join(INPUT, 'base'), '--outtype', 'f16', '-o', file], {});
  expect(r.code, r.err).toBe(0);
});
afterAll(async () => {
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('lora2gguf publish', () => {
  it('to a new repo: created, the exact bytes and a card naming the base; the token only to the Hub', async () => {
    hub.reset();
    const r = await cli(['publish', file, 'test-org/my-lora-gguf', '--base-model', 'meta-llama/Llama-3.2-1B-Instruct', '--json'], { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token });
    expect(r.code, r.out + r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, repo: 'test-org/my-lora-gguf', file: 'my-lora-F16-LoRA.gguf' });
    expect(Buffer.from(hub.fileOf('test-org/my-lora-gguf', 'my-lora-F16-LoRA.gguf')!).equals(readFileSync(file))).toBe(true);
    const card = new TextDecoder().decode(hub.fileOf('test-org/my-lora-gguf', 'README.md'));
    expect(card).toMatch(/^---\nbase_model: meta-llama\/Llama-3.2-1B-Instruct\nbase_model_relation: adapter\ntags:\n- gguf\n- lora\n/);
    expect(card).toContain('llama-cli -m Llama-3.2-1B-Instruct.gguf --lora my-lora-F16-LoRA.gguf');
    expect(hub.commits.at(-1)).toMatchObject({ repo: 'test-org/my-lora-gguf', files: ['my-lora-F16-LoRA.gguf', 'README.md'] });
    // The upload went to the CDN origin, without the token; every Hub call carried it.
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    expect(cdn.some((q) => q.method === 'PUT')).toBe(true);
    expect(cdn.every((q) => !q.authorization)).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.token === hub.token)).toBe(true);
  });

  it('to an existing repo: a new commit, its other files kept', async () => {
    const r = await cli(['publish', file, 'test-org/existing', '--base-model', 'meta-llama/Llama-3.2-1B-Instruct'], { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Published my-lora-F16-LoRA.gguf to http:\/\/127\.0\.0\.1:\d+\/test-org\/existing/);
    expect(hub.fileOf('test-org/existing', 'my-lora-F16-LoRA.gguf')).toBeDefined();
  });

  it('without HF_TOKEN: refused, naming it; a cancelled upload leaves no commit', async () => {
    const none = await cli(['publish', file, 'test-org/x'], { HF_ENDPOINT: hub.url });
    expect(none.code).toBe(1);
    expect(none.err).toContain('HF_TOKEN');
    const commits = hub.commits.length;
    const controller = new AbortController();
    controller.abort();
    const r = await cli(['publish', file, 'test-org/cancelled'], { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token }, controller.signal);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cancelled before the commit');
    expect(hub.commits.length).toBe(commits);
  });

  it('a file that is not a GGUF adapter is not published', async () => {
    const r = await cli(['publish', join(INPUT, 'adapter_model.safetensors'), 'test-org/x'], { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token });
    expect(r.code).toBe(1);
    expect(r.err).toContain('does not start with "GGUF"');
  });
});
