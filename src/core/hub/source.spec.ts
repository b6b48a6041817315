/**
 * The range source against a scripted in-memory server: block coalescing, the bounded cache,
 * deduplication of concurrent reads, and every way a server can answer a range request.
 */
import { describe, expect, it } from 'vitest';
import { ConversionError } from '../errors';
import { adapterFolders } from './api';
import { hubGet, resolveLocation, type FetchInit, type FetchLike, type ResponseLike } from './http';
import { openRangeSource } from './source';

const FILE = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31 + 7) & 0xff);
const URL_ = 'https://hub.test/o/r/resolve/main/adapter_model.safetensors';
const CTX = { what: 'adapter_model.safetensors of o/r', repo: 'o/r', file: 'adapter_model.safetensors', revision: 'main', hadToken: false };

function response(status: number, body: Uint8Array | string, headers: Record<string, string> = {}, url = URL_): ResponseLike {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    status,
    ok: status >= 200 && status < 300,
    url,
    headers: { get: (n: string) => h.get(n.toLowerCase()) ?? null },
    arrayBuffer: async () => bytes.slice().buffer,
    text: async () => new TextDecoder().decode(bytes),
    body: { cancel: async () => undefined },
  };
}

/** A well-behaved range server over FILE, logging the ranges asked for. */
function rangeServer(file = FILE, behaviour: { ignoreRange?: boolean; lie?: boolean } = {}) {
  const log: string[] = [];
  const fetchFn: FetchLike = async (url, init?: FetchInit) => {
    const range = init?.headers?.['Range'] ?? null;
    log.push(range ?? 'none');
    if (!range || behaviour.ignoreRange) return response(200, file, { 'Content-Length': String(file.byteLength) });
    const m = /^bytes=(\d+)-(\d+)$/.exec(range)!;
    const start = Number(m[1]);
    if (start >= file.byteLength) return response(416, '', { 'Content-Range': `bytes */${file.byteLength}` });
    const end = Math.min(Number(m[2]), file.byteLength - 1);
    const shownEnd = behaviour.lie ? end + 1 : end;
    return response(206, file.subarray(start, end + 1), { 'Content-Range': `bytes ${start}-${shownEnd}/${file.byteLength}` });
  };
  return { fetchFn, log };
}

describe('openRangeSource', () => {
  it('learns the size from the first block and serves any read exactly', async () => {
    const { fetchFn, log } = rangeServer();
    const src = await openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000 }, CTX);
    expect(src.byteLength).toBe(FILE.byteLength);
    expect(log).toEqual(['bytes=0-999']);
    for (const [at, n] of [
      [0, 8],
      [990, 20],
      [1234, 4321],
      [9999, 1],
      [0, 10_000],
      [5000, 0],
    ] as const) {
      expect(await src.read(at, n)).toEqual(FILE.subarray(at, at + n));
    }
  });

  it('coalesces the missing blocks of a read into one request and never fetches a cached block again', async () => {
    const { fetchFn, log } = rangeServer();
    const src = await openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000 }, CTX);
    await src.read(2500, 10); // block 2
    await src.read(500, 4000); // blocks 0..4: 0 and 2 cached -> runs [1] and [3,4]
    expect(log).toEqual(['bytes=0-999', 'bytes=2000-2999', 'bytes=1000-1999', 'bytes=3000-4999']);
    await src.read(0, 5000);
    expect(log).toHaveLength(4);
    expect(src.stats).toEqual({ requests: 4, bytesFetched: 5000 });
  });

  it('shares one request between concurrent reads of the same blocks', async () => {
    const { fetchFn, log } = rangeServer();
    const src = await openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000 }, CTX);
    const [a, b] = await Promise.all([src.read(3000, 1500), src.read(3500, 100)]);
    expect(a).toEqual(FILE.subarray(3000, 4500));
    expect(b).toEqual(FILE.subarray(3500, 3600));
    expect(log).toEqual(['bytes=0-999', 'bytes=3000-4999']);
  });

  it('keeps the cache bounded, dropping least recently used blocks', async () => {
    const { fetchFn, log } = rangeServer();
    const src = await openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000, maxCacheBytes: 2000 }, CTX);
    await src.read(1000, 1); // cache: 0, 1
    await src.read(0, 1); // touch 0
    await src.read(2000, 1); // cache: 0, 2 (1 dropped)
    await src.read(0, 1); // still cached
    await src.read(1000, 1); // fetched again
    expect(log).toEqual(['bytes=0-999', 'bytes=1000-1999', 'bytes=2000-2999', 'bytes=1000-1999']);
  });

  it('a failed block fetch is not cached: the next read tries again', async () => {
    const { fetchFn: good } = rangeServer();
    let fail = false;
    const flaky: FetchLike = (url, init) => (fail ? Promise.reject(new TypeError('network down')) : good(url, init));
    const src = await openRangeSource(URL_, { fetch: flaky, blockSize: 1000 }, CTX);
    fail = true;
    await expect(src.read(4000, 10)).rejects.toMatchObject({ code: 'io' });
    fail = false;
    expect(await src.read(4000, 10)).toEqual(FILE.subarray(4000, 4010));
  });

  it('rejects reads outside the file', async () => {
    const { fetchFn } = rangeServer();
    const src = await openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000 }, CTX);
    await expect(src.read(9990, 11)).rejects.toThrow(RangeError);
    await expect(src.read(-1, 1)).rejects.toThrow(RangeError);
  });

  it('a server that ignores Range: accepted whole only while small', async () => {
    const small = rangeServer(FILE, { ignoreRange: true });
    const src = await openRangeSource(URL_, { fetch: small.fetchFn, blockSize: 1000 }, CTX);
    expect(await src.read(1234, 10)).toEqual(FILE.subarray(1234, 1244));
    expect(small.log).toEqual(['bytes=0-999']);
    const err = await openRangeSource(URL_, { fetch: small.fetchFn, blockSize: 1000, maxCacheBytes: 5000 }, CTX).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).message).toMatch(/does not support range requests/);
  });

  it('an empty file (416 with bytes */0) is an empty source', async () => {
    const { fetchFn } = rangeServer(new Uint8Array(0));
    const src = await openRangeSource(URL_, { fetch: fetchFn }, CTX);
    expect(src.byteLength).toBe(0);
    expect(await src.read(0, 0)).toEqual(new Uint8Array(0));
  });

  it('refuses a Content-Range that does not match the request', async () => {
    const { fetchFn } = rangeServer(FILE, { lie: true });
    await expect(openRangeSource(URL_, { fetch: fetchFn, blockSize: 1000 }, CTX)).rejects.toMatchObject({ code: 'io', message: /Content-Range/ });
    // A later block whose Content-Range disagrees is refused too.
    let lie = false;
    const honest = rangeServer();
    const liar = rangeServer(FILE, { lie: true });
    const sometimes: FetchLike = (url, init) => (lie ? liar.fetchFn(url, init) : honest.fetchFn(url, init));
    const src = await openRangeSource(URL_, { fetch: sometimes, blockSize: 1000 }, CTX);
    lie = true;
    await expect(src.read(5000, 10)).rejects.toMatchObject({ code: 'io', message: /answered bytes/ });
  });

  it.each([
    [401, 'GatedRepo', 'auth_required', /gated/],
    [403, '', 'auth_required', /gated/],
    [404, 'EntryNotFound', 'not_found', /does not exist/],
    [404, 'RevisionNotFound', 'not_found', /revision "main"/],
    [500, '', 'io', /HTTP 500/],
  ])('HTTP %i %s -> %s', async (status, hubCode, code, message) => {
    const fetchFn: FetchLike = async () => response(status, '{}', hubCode ? { 'X-Error-Code': hubCode } : {});
    const err = (await openRangeSource(URL_, { fetch: fetchFn }, CTX).catch((e: unknown) => e)) as ConversionError;
    expect(err).toBeInstanceOf(ConversionError);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ status, repo: 'o/r' });
  });
});

describe('hubGet', () => {
  it('follows redirects by hand, sending the token only on the endpoint origin', async () => {
    const seen: [string, string | undefined][] = [];
    const fetchFn: FetchLike = async (url, init) => {
      seen.push([url, init?.headers?.['Authorization']]);
      expect(init?.redirect).toBe('manual');
      if (url === 'https://hub.test/a') return response(307, '', { Location: '/b' });
      if (url === 'https://hub.test/b') return response(302, '', { Location: 'https://cdn.test/x?sig=1' });
      if (url === 'https://cdn.test/x?sig=1') return response(302, '', { Location: 'https://hub.test/c' });
      return response(200, 'ok');
    };
    const r = await hubGet('https://hub.test/a', { endpoint: 'https://hub.test', token: 'secret', fetch: fetchFn });
    expect(r.finalUrl).toBe('https://hub.test/c');
    expect(seen).toEqual([
      ['https://hub.test/a', 'Bearer secret'],
      ['https://hub.test/b', 'Bearer secret'],
      ['https://cdn.test/x?sig=1', undefined],
      ['https://hub.test/c', 'Bearer secret'],
    ]);
  });

  it('gives up after too many redirects', async () => {
    const fetchFn: FetchLike = async () => response(302, '', { Location: '/loop' });
    await expect(hubGet('https://hub.test/loop', { endpoint: 'https://hub.test', fetch: fetchFn })).rejects.toMatchObject({ code: 'io' });
  });

  it('reports cancellation as aborted', async () => {
    const signal = { aborted: true };
    await expect(hubGet('https://hub.test/a', { fetch: async () => response(200, ''), signal })).rejects.toMatchObject({ code: 'aborted' });
  });

  it('resolves Location headers like a browser', () => {
    expect(resolveLocation('https://h.test/a/b?q', '/x')).toBe('https://h.test/x');
    expect(resolveLocation('https://h.test/a/b?q', 'y')).toBe('https://h.test/a/y');
    expect(resolveLocation('https://h.test/a/b', '//cdn.test/z')).toBe('https://cdn.test/z');
    expect(resolveLocation('https://h.test/a/b', 'http://o.test/')).toBe('http://o.test/');
  });
});

describe('adapterFolders', () => {
  it('finds every folder holding adapter_config.json, in natural order', () => {
    expect(
      adapterFolders([
        'README.md',
        'checkpoint-1000/adapter_config.json',
        'checkpoint-500/adapter_config.json',
        'checkpoint-500/adapter_model.safetensors',
        'x/not_adapter_config.json',
      ]),
    ).toEqual(['checkpoint-500', 'checkpoint-1000']);
    expect(adapterFolders(['adapter_config.json', 'a/adapter_config.json'])).toEqual(['', 'a']);
    expect(adapterFolders([])).toEqual([]);
  });
});
