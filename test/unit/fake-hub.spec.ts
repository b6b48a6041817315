/**
 * Converting adapters straight from a (fake, local) Hugging Face Hub: the same bytes as from the
 * local files, read by HTTP ranges (each byte once), the token sent to the Hub only, and precise
 * errors for gated, missing and malformed references.
 */
import { downloadFile, fileDownloadInfo, modelInfo } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  convert,
  ConversionError,
  inspect,
  MemorySink,
  openHubAdapter,
  parseHubRef,
  resolveBaseConfig,
  type ByteSource,
  type FetchLike,
  type OutTypeOption,
} from '../../src/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_FIXTURE_BASE, BIN_FIXTURE_CONFIG, caseInput, FIXTURES, referenceCases, sha256, type ReferenceCase } from '../helpers/fixtures';
import { referenceBaseRepo, referenceCaseRepo, startFakeHub, type FakeHub } from '../helpers/fake-hub';

const CASES = referenceCases();
const ORG = 'test-org';
const adapterRepo = (c: ReferenceCase) => `${ORG}/${c.name.replace(/_/g, '-')}`;
const baseRepo = (c: ReferenceCase) => `${ORG}/${c.name.replace(/_/g, '-')}-base`;

type Outcome = { bytes: Uint8Array } | { code: string };

async function convertOnce(adapterConfig: string, baseConfig: string, source: ByteSource, c: ReferenceCase): Promise<Outcome> {
  try {
    const plan = await inspect({ adapterConfig, baseConfig, adapter: source }, { outtype: c.outtype as OutTypeOption, name: c.adapterDirName });
    const sink = new MemorySink();
    await convert(plan, source, sink);
    return { bytes: sink.bytes() };
  } catch (e) {
    if (e instanceof ConversionError) return { code: e.code };
    throw e;
  }
}

let hub: FakeHub;
// A torch.save adapter (test/fixtures/bin) with its base, as in src/core/pytorch/checkpoint.spec.ts.
const BIN = new Uint8Array(readFileSync(join(FIXTURES, 'bin', 'adapter_fp32.bin')));
const LLAMA = CASES.find((c) => c.name === 'llama_bf16_f16')!;

beforeAll(async () => {
  hub = await startFakeHub([
    ...CASES.flatMap((c) => [referenceCaseRepo(c.name, adapterRepo(c)), referenceBaseRepo(c.name, baseRepo(c))]),
    referenceCaseRepo('llama_bf16_f16', `${ORG}/gated-adapter`, { gated: true }),
    referenceCaseRepo('llama_bf16_f16', `${ORG}/checkpoints`, { subfolder: 'runs/a/checkpoint-10', refs: ['v1'] }),
    { id: `${ORG}/config-only`, files: { 'adapter_config.json': JSON.stringify({ peft_type: 'LORA', r: 8 }) } },
    { id: `${ORG}/bin-only`, files: { 'adapter_config.json': BIN_FIXTURE_CONFIG, 'adapter_model.bin': BIN } },
  ]);
});
afterAll(async () => {
  await hub.close();
});

describe('conversion from the Hub', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: same outcome and bytes as from the local files, adapter read once by ranges', async (_name, c) => {
    const local = caseInput(c);
    const expected = await convertOnce(local.adapterConfig, local.baseConfig, bytesSource(local.adapter), c);

    hub.reset();
    const opened = await openHubAdapter(parseHubRef(`hf:${adapterRepo(c)}`), { endpoint: hub.url });
    const base = await resolveBaseConfig(baseRepo(c), { endpoint: hub.url, prefer: 'hub' });
    expect(base.origin).toBe('hub');
    expect(opened.adapterConfig).toBe(local.adapterConfig);
    expect(opened.adapter.byteLength).toBe(local.adapter.byteLength);
    const got = await convertOnce(opened.adapterConfig, base.text, opened.adapter, c);

    if ('bytes' in expected) {
      expect('bytes' in got ? sha256(got.bytes) : got).toBe(sha256(expected.bytes));
    } else {
      expect(got).toEqual(expected);
    }
    // The adapter file crossed the wire exactly once, whatever was converted.
    expect(hub.bytesServed.get(`${adapterRepo(c)}/adapter_model.safetensors`)).toBe(local.adapter.byteLength);
  });

  it('reads by ranges with small blocks: every byte at most once, one request per run of blocks', async () => {
    const local = caseInput(LLAMA);
    hub.reset();
    const blockSize = 1024;
    const opened = await openHubAdapter(parseHubRef(adapterRepo(LLAMA)), { endpoint: hub.url, blockSize, maxCacheBytes: 1 << 30 });
    const out = await convertOnce(opened.adapterConfig, local.baseConfig, opened.adapter, LLAMA);
    const expected = await convertOnce(local.adapterConfig, local.baseConfig, bytesSource(local.adapter), LLAMA);
    expect('bytes' in out && sha256(out.bytes)).toBe('bytes' in expected && sha256(expected.bytes));

    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(1);
    expect(cdn.every((r) => r.status === 206 && /^bytes=\d+-\d+$/.test(r.range ?? ''))).toBe(true);
    // No byte fetched twice: the ranges asked for are disjoint.
    const ranges = cdn.map((r) => r.range!.slice(6).split('-').map(Number) as [number, number]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
    const served = hub.bytesServed.get(`${adapterRepo(LLAMA)}/adapter_model.safetensors`)!;
    expect(served).toBeLessThanOrEqual(local.adapter.byteLength);
    expect(served).toBe(opened.adapter.stats.bytesFetched);
    expect(cdn.length).toBeLessThanOrEqual(Math.ceil(local.adapter.byteLength / blockSize));
    expect(opened.adapter.stats.requests).toBe(cdn.length);
  });

  it('an adapter saved as adapter_model.bin is read by ranges too, same bytes as locally', async () => {
    hub.reset();
    const opened = await openHubAdapter(parseHubRef(`${ORG}/bin-only`), { endpoint: hub.url, blockSize: 256 });
    expect(opened.adapterFile).toBe('adapter_model.bin');
    const c = { ...LLAMA, outtype: 'f32', adapterDirName: 'bin' };
    const got = await convertOnce(opened.adapterConfig, BIN_FIXTURE_BASE, opened.adapter, c);
    const expected = await convertOnce(BIN_FIXTURE_CONFIG, BIN_FIXTURE_BASE, bytesSource(BIN), c);
    expect('bytes' in got && sha256(got.bytes)).toBe('bytes' in expected && sha256(expected.bytes));
    expect(hub.bytesServed.get(`${ORG}/bin-only/adapter_model.bin`)).toBeLessThanOrEqual(BIN.byteLength);
    expect(hub.requests.some((r) => r.path.endsWith('/adapter_model.safetensors') && r.status === 404)).toBe(true);
  });

  it('pins reads to the commit the revision resolved to, and supports subfolders', async () => {
    hub.reset();
    const ref = parseHubRef(`https://huggingface.co/${ORG}/checkpoints/tree/v1/runs/a/checkpoint-10`, { endpoint: hub.url });
    expect(ref).toMatchObject({ repo: `${ORG}/checkpoints`, subfolder: 'runs/a/checkpoint-10', revision: 'v1' });
    const opened = await openHubAdapter(ref, { endpoint: hub.url });
    const sha = hub.shaOf(`${ORG}/checkpoints`);
    expect(opened.commit).toBe(sha);
    expect(opened.pinned).toEqual({ ...ref, revision: sha, revisionGiven: true });
    const fileRequests = hub.requests.filter((r) => r.server === 'hub' && r.path.includes('/resolve/'));
    expect(fileRequests.map((r) => r.path)).toEqual([
      `/${ORG}/checkpoints/resolve/${sha}/runs/a/checkpoint-10/adapter_config.json`,
      `/${ORG}/checkpoints/resolve/${sha}/runs/a/checkpoint-10/adapter_model.safetensors`,
    ]);
    // Model info, through @huggingface/hub's modelInfo (which adds its expand=… fields), first.
    expect(hub.requests[0]!.path.split('?')[0]).toBe(`/api/models/${ORG}/checkpoints/revision/v1`);
  });
});

describe('tokens and gated repos', () => {
  it('a gated repo without a token: auth_required, asking for a token', async () => {
    const err = await openHubAdapter(parseHubRef(`${ORG}/gated-adapter`), { endpoint: hub.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).code).toBe('auth_required');
    expect((err as ConversionError).message).toMatch(/gated/);
    expect((err as ConversionError).hint).toMatch(/token/);
  });

  it('a wrong token: auth_required, and the token is not in the error', async () => {
    const token = 'hf_wrong_secret_value';
    const err = (await openHubAdapter(parseHubRef(`${ORG}/gated-adapter`), { endpoint: hub.url, token }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('auth_required');
    expect(err.hint).toMatch(/token given|valid/);
    expect(JSON.stringify(err.toJSON())).not.toContain(token);
    expect(err.stack ?? '').not.toContain(token);
  });

  it('with the token: converts, and the token goes to the Hub only, never to the CDN', async () => {
    hub.reset();
    const local = caseInput(LLAMA);
    const opened = await openHubAdapter(parseHubRef(`${ORG}/gated-adapter`), { endpoint: hub.url, token: hub.token, blockSize: 4096 });
    const out = await convertOnce(opened.adapterConfig, local.baseConfig, opened.adapter, LLAMA);
    const expected = await convertOnce(local.adapterConfig, local.baseConfig, bytesSource(local.adapter), LLAMA);
    expect('bytes' in out && sha256(out.bytes)).toBe('bytes' in expected && sha256(expected.bytes));
    const toHub = hub.requests.filter((r) => r.server === 'hub');
    const toCdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(toHub.length).toBeGreaterThanOrEqual(3);
    expect(toHub.every((r) => r.token === hub.token)).toBe(true);
    expect(toCdn.length).toBeGreaterThan(1);
    expect(toCdn.some((r) => r.authorization)).toBe(false);
  });

  it('in a browser-like fetch (opaque manual redirects), follows the redirect and still keeps the token off the CDN', async () => {
    hub.reset();
    // Emulates the Fetch standard in a browser: redirect:'manual' gives an opaque response;
    // redirect:'follow' follows, dropping Authorization when the redirect crosses origins.
    const browserFetch: FetchLike = async (url, init) => {
      const first = await fetch(url, { headers: init?.headers, redirect: 'manual' });
      if (first.status < 300 || first.status >= 400) return first;
      if (init?.redirect === 'manual') {
        return {
          status: 0,
          ok: false,
          url: '',
          type: 'opaqueredirect',
          headers: new Headers(),
          arrayBuffer: async () => new ArrayBuffer(0),
          text: async () => '',
          body: null,
        };
      }
      const location = new URL(first.headers.get('location')!, url).href;
      const headers = { ...init?.headers };
      if (new URL(location).origin !== new URL(url).origin) delete headers['Authorization'];
      const res = await fetch(location, { headers });
      return Object.assign(res, {}) as unknown as Awaited<ReturnType<FetchLike>>;
    };
    const local = caseInput(LLAMA);
    const opened = await openHubAdapter(parseHubRef(`${ORG}/gated-adapter`), { endpoint: hub.url, token: hub.token, fetch: browserFetch, blockSize: 4096 });
    const out = await convertOnce(opened.adapterConfig, local.baseConfig, opened.adapter, LLAMA);
    expect('bytes' in out).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'cdn').some((r) => r.authorization)).toBe(false);
    expect(hub.bytesServed.get(`${ORG}/gated-adapter/adapter_model.safetensors`)).toBe(local.adapter.byteLength);
  });

  it('re-resolves through the Hub once when a signed CDN URL has expired', async () => {
    hub.reset();
    let cdnCalls = 0;
    // Break the signature of every CDN URL after the first request reached it.
    const expiring: FetchLike = (url, init) => {
      if (url.startsWith(hub.cdnUrl) && cdnCalls++ === 1) url = url.replace(/sig=[0-9a-f]+/, 'sig=expired');
      return fetch(url, init as RequestInit) as unknown as ReturnType<FetchLike>;
    };
    const local = caseInput(LLAMA);
    const opened = await openHubAdapter(parseHubRef(adapterRepo(LLAMA)), { endpoint: hub.url, fetch: expiring, blockSize: 4096 });
    const out = await convertOnce(opened.adapterConfig, local.baseConfig, opened.adapter, LLAMA);
    expect('bytes' in out).toBe(true);
    expect(hub.requests.some((r) => r.server === 'cdn' && r.status === 403)).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'hub' && r.path.includes('adapter_model')).length).toBe(2);
  });
});

describe('missing things', () => {
  it('a missing adapter file: not_found naming the file', async () => {
    const err = (await openHubAdapter(parseHubRef(`${ORG}/config-only`), { endpoint: hub.url }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('not_found');
    expect(err.message).toMatch(/neither adapter_model\.safetensors nor adapter_model\.bin/);
  });

  it('a missing folder: not_found for adapter_config.json, pointing at the adapter the repo does have', async () => {
    const err = (await openHubAdapter(parseHubRef(`${adapterRepo(LLAMA)}/no/such/dir`), { endpoint: hub.url }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('not_found');
    expect(err.message).toContain(`${adapterRepo(LLAMA)}/no/such/dir has no adapter_config.json; the repository has adapters in: ${adapterRepo(LLAMA)}.`);
    expect(err.details['file']).toBe('no/such/dir/adapter_config.json');
  });

  it('a repo of checkpoints without a root adapter: not_found listing the adapter folders', async () => {
    const err = (await openHubAdapter(parseHubRef(`${ORG}/checkpoints@v1`), { endpoint: hub.url }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('not_found');
    expect(err.message).toContain(`adapters in: ${ORG}/checkpoints/runs/a/checkpoint-10`);
    expect(err.details['adapterFolders']).toEqual(['runs/a/checkpoint-10']);
    expect(err.hint).toContain(`${ORG}/checkpoints/runs/a/checkpoint-10@v1`);
  });

  it('a missing revision: not_found naming the revision', async () => {
    const err = (await openHubAdapter(parseHubRef(`${adapterRepo(LLAMA)}@nope`), { endpoint: hub.url }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('not_found');
    expect(err.message).toMatch(/revision "nope"/);
  });

  it('a missing (or private) repo: the Hub answers 401, we say so', async () => {
    const err = (await openHubAdapter(parseHubRef(`${ORG}/does-not-exist`), { endpoint: hub.url }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('auth_required');
    expect(err.message).toMatch(/not found, or it is private/);
  });

  it('an unreachable Hub: io', async () => {
    const err = (await openHubAdapter(parseHubRef(adapterRepo(LLAMA)), { endpoint: 'http://127.0.0.1:9' }).catch((e: unknown) => e)) as ConversionError;
    expect(err.code).toBe('io');
    expect(err.message).toMatch(/Could not reach/);
  });
});

describe('base config resolution', () => {
  it('uses the catalogue first (no request), the Hub otherwise', async () => {
    hub.reset();
    const fromCatalogue = await resolveBaseConfig('unsloth/Llama-3.2-1B-Instruct-bnb-4bit', { endpoint: hub.url });
    expect(fromCatalogue).toMatchObject({ origin: 'catalogue', source: 'meta-llama/Llama-3.2-1B-Instruct' });
    expect(hub.requests).toHaveLength(0);
    const fromHub = await resolveBaseConfig(baseRepo(LLAMA), { endpoint: hub.url });
    expect(fromHub.origin).toBe('hub');
    expect(fromHub.text).toBe(caseInput(LLAMA).baseConfig);
  });

  it('refuses a base that is neither in the catalogue nor a Hub id', async () => {
    await expect(resolveBaseConfig('/home/me/models/llama', { endpoint: hub.url })).rejects.toMatchObject({ code: 'wrong_input' });
    await expect(resolveBaseConfig(`${ORG}/unknown-base`, { endpoint: hub.url, prefer: 'catalogue' })).rejects.toMatchObject({
      code: 'missing_config_field',
    });
  });
});

describe('the fake Hub answers like the Hub', () => {
  it('model info, redirects to a signed CDN URL, ranges, CORS', async () => {
    const repo = adapterRepo(LLAMA);
    const info = (await (await fetch(`${hub.url}/api/models/${repo}`)).json()) as { id: string; sha: string; siblings: { rfilename: string }[] };
    expect(info).toMatchObject({ id: repo, sha: hub.shaOf(repo) });
    expect(info.siblings.map((s) => s.rfilename).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);

    const redirect = await fetch(`${hub.url}/${repo}/resolve/main/adapter_model.safetensors`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('x-repo-commit')).toBe(hub.shaOf(repo));
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${hub.cdnUrl}/lfs/`)).toBe(true);

    const size = caseInput(LLAMA).adapter.byteLength;
    const tail = await fetch(location, { headers: { Range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(caseInput(LLAMA).adapter.subarray(size - 10));
    const beyond = await fetch(location, { headers: { Range: `bytes=${size}-${size + 5}` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    const tampered = await fetch(location.replace(/sig=[0-9a-f]+/, 'sig=0'));
    expect(tampered.status).toBe(403);

    const preflight = await fetch(`${hub.url}/${repo}/resolve/main/adapter_config.json`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(preflight.headers.get('access-control-expose-headers')).toMatch(/Content-Range/);
  });
});

describe('the official client agrees the fake Hub is a Hub', () => {
  it('@huggingface/hub reads model info, file info, ranges, and is refused on a gated repo', async () => {
    const repo = adapterRepo(LLAMA);
    const local = caseInput(LLAMA).adapter;
    const info = await modelInfo({ name: repo, hubUrl: hub.url, additionalFields: ['sha'] });
    expect(info.name).toBe(repo);
    expect((info as unknown as { sha: string }).sha).toBe(hub.shaOf(repo));
    const file = await fileDownloadInfo({ repo, path: 'adapter_model.safetensors', hubUrl: hub.url });
    expect(file?.size).toBe(local.byteLength);
    const blob = await downloadFile({ repo, path: 'adapter_model.safetensors', hubUrl: hub.url });
    expect(new Uint8Array(await blob!.slice(100, 200).arrayBuffer())).toEqual(local.subarray(100, 200));
    await expect(downloadFile({ repo: `${ORG}/gated-adapter`, path: 'adapter_config.json', hubUrl: hub.url })).rejects.toThrow(/restricted/);
    const withToken = await downloadFile({ repo: `${ORG}/gated-adapter`, path: 'adapter_config.json', hubUrl: hub.url, accessToken: hub.token });
    expect(await withToken!.text()).toBe(caseInput(LLAMA).adapterConfig);
  });
});
