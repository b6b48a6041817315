import { ConversionError } from '../errors';
import type { ByteSource } from '../io';
import { failureFor, hubGet, redactUrl, type FailureContext, type HubClientOptions, type ResponseLike } from './http';

/**
 * A ByteSource over HTTP range requests. Reads are served from fixed-size blocks: a miss fetches
 * every missing block of the read in one request (coalescing), and a block holds the bytes
 * around the read too (read-ahead), so the converter's tensor-by-tensor reads of a file laid out
 * tensor after tensor cost about one request per block, and every byte is fetched once while it
 * stays in the bounded cache. Nothing holds the whole file.
 */
export interface HttpRangeSource extends ByteSource {
  /** The URL the source was opened with (the Hub's resolve URL); never a signed CDN URL. */
  readonly url: string;
  /** Requests made and body bytes received so far (tests and progress displays). */
  readonly stats: { requests: number; bytesFetched: number };
}

export interface RangeSourceOptions extends HubClientOptions {
  /** Block size in bytes: the smallest request, and the read-ahead. Default 2 MiB. */
  blockSize?: number;
  /** Cache bound in bytes (least recently used blocks are dropped). Default 64 MiB. */
  maxCacheBytes?: number;
}

export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
export const DEFAULT_MAX_CACHE_BYTES = 64 * 1024 * 1024;

/** `bytes a-b/total`: the answer to a range request. */
function parseContentRange(value: string | null): { start: number; end: number; total: number } | { total: number } | undefined {
  if (!value) return undefined;
  let m = /^bytes (\d+)-(\d+)\/(\d+)$/i.exec(value.trim());
  if (m) return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
  m = /^bytes \*\/(\d+)$/i.exec(value.trim());
  if (m) return { total: Number(m[1]) };
  return undefined;
}

async function bodyBytes(res: ResponseLike): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Open `url` (a Hub resolve URL) as a ByteSource. The first request fetches the first block and
 * learns the file size from Content-Range; later reads go straight to where the Hub redirected
 * (its CDN), without the token, and re-resolve once if a signed URL has expired.
 */
export async function openRangeSource(url: string, options: RangeSourceOptions, ctx: FailureContext): Promise<HttpRangeSource> {
  const blockSize = Math.max(1, Math.floor(options.blockSize ?? DEFAULT_BLOCK_SIZE));
  const maxCacheBytes = Math.max(blockSize, options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES);
  const stats = { requests: 0, bytesFetched: 0 };

  const first = await hubGet(url, options, { Range: `bytes=0-${blockSize - 1}` });
  stats.requests++;
  const res = first.response;
  let byteLength: number;
  let block0: Uint8Array;
  if (res.status === 206) {
    const cr = parseContentRange(res.headers.get('content-range'));
    if (!cr || !('start' in cr) || cr.start !== 0 || cr.end !== Math.min(blockSize, cr.total) - 1) {
      throw new ConversionError('io', `${ctx.what}: the server answered a range request with a malformed Content-Range.`, { url: redactUrl(url) });
    }
    byteLength = cr.total;
    block0 = await bodyBytes(res);
    if (block0.byteLength !== Math.min(blockSize, byteLength)) {
      throw new ConversionError('io', `${ctx.what}: got ${block0.byteLength} bytes for the first block, expected ${Math.min(blockSize, byteLength)}.`, {
        url: redactUrl(url),
      });
    }
  } else if (res.status === 200) {
    // The server ignored Range: accept the whole body only while it is small enough to cache.
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (!(declared <= maxCacheBytes)) {
      try {
        await res.body?.cancel();
      } catch {
        // Already closed.
      }
      throw new ConversionError(
        'io',
        `${ctx.what}: the server does not support range requests, and the file is too large to read whole.`,
        { url: redactUrl(url) },
        'Download the files and convert them locally.',
      );
    }
    block0 = await bodyBytes(res);
    stats.bytesFetched += block0.byteLength;
    const whole = block0;
    return {
      url,
      stats,
      byteLength: whole.byteLength,
      read(offset, length) {
        if (offset < 0 || length < 0 || offset + length > whole.byteLength) {
          return Promise.reject(new RangeError(`read past the end: ${offset}+${length} > ${whole.byteLength}`));
        }
        return Promise.resolve(whole.subarray(offset, offset + length));
      },
    };
  } else if (res.status === 416) {
    const cr = parseContentRange(res.headers.get('content-range'));
    if (cr && !('start' in cr) && cr.total === 0) {
      byteLength = 0;
      block0 = new Uint8Array(0);
    } else {
      throw await failureFor(res, ctx);
    }
  } else {
    throw await failureFor(res, ctx);
  }
  stats.bytesFetched += block0.byteLength;

  let dataUrl = first.finalUrl;
  const cache = new Map<number, Promise<Uint8Array>>();
  let cachedBytes = 0;
  const blockBytes = (i: number) => Math.min(blockSize, byteLength - i * blockSize);
  if (byteLength > 0) {
    cache.set(0, Promise.resolve(block0));
    cachedBytes += block0.byteLength;
  }

  async function fetchRange(start: number, end: number, retried = false): Promise<Uint8Array> {
    const r = await hubGet(dataUrl, options, { Range: `bytes=${start}-${end - 1}` });
    stats.requests++;
    const res = r.response;
    if (res.status !== 206) {
      // A signed CDN URL may have expired: resolve again through the Hub, once.
      if (!retried && dataUrl !== url && (res.status === 401 || res.status === 403 || res.status === 410)) {
        try {
          await res.body?.cancel();
        } catch {
          // Already closed.
        }
        dataUrl = url;
        return fetchRange(start, end, true);
      }
      if (res.status >= 400) throw await failureFor(res, ctx);
      throw new ConversionError('io', `${ctx.what}: expected a partial answer (206) to a range request, got HTTP ${res.status}.`, { url: redactUrl(url) });
    }
    dataUrl = r.finalUrl;
    const cr = parseContentRange(res.headers.get('content-range'));
    if (!cr || !('start' in cr) || cr.start !== start || cr.end !== end - 1 || cr.total !== byteLength) {
      throw new ConversionError(
        'io',
        `${ctx.what}: the server answered bytes ${res.headers.get('content-range')} for bytes ${start}-${end - 1}/${byteLength}.`,
        {
          url: redactUrl(url),
        },
      );
    }
    const bytes = await bodyBytes(res);
    stats.bytesFetched += bytes.byteLength;
    if (bytes.byteLength !== end - start) {
      throw new ConversionError('io', `${ctx.what}: got ${bytes.byteLength} bytes for a ${end - start}-byte range.`, { url: redactUrl(url) });
    }
    return bytes;
  }

  function evict(keep: Set<number>) {
    for (const key of cache.keys()) {
      if (cachedBytes <= maxCacheBytes) break;
      if (keep.has(key)) continue;
      cache.delete(key);
      cachedBytes -= blockBytes(key);
    }
  }

  return {
    url,
    stats,
    byteLength,
    async read(offset, length) {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > byteLength) {
        throw new RangeError(`read past the end: ${offset}+${length} > ${byteLength}`);
      }
      if (length === 0) return new Uint8Array(0);
      const firstBlock = Math.floor(offset / blockSize);
      const lastBlock = Math.floor((offset + length - 1) / blockSize);
      // Coalesce each run of missing blocks into one request.
      let runStart = -1;
      const flush = (runEnd: number) => {
        if (runStart < 0) return;
        const a = runStart;
        const start = a * blockSize;
        const end = Math.min((runEnd + 1) * blockSize, byteLength);
        const whole = fetchRange(start, end);
        for (let i = a; i <= runEnd; i++) {
          const p = whole.then((buf) => buf.subarray((i - a) * blockSize, (i - a) * blockSize + blockBytes(i)));
          // A failed fetch must not stay cached: the next read tries again.
          p.catch(() => {
            if (cache.get(i) === p) {
              cache.delete(i);
              cachedBytes -= blockBytes(i);
            }
          });
          cache.set(i, p);
          cachedBytes += blockBytes(i);
        }
        runStart = -1;
      };
      for (let i = firstBlock; i <= lastBlock; i++) {
        if (cache.has(i)) {
          flush(i - 1);
          // Touch: most recently used goes last.
          const p = cache.get(i)!;
          cache.delete(i);
          cache.set(i, p);
        } else if (runStart < 0) {
          runStart = i;
        }
      }
      flush(lastBlock);
      const keep = new Set<number>();
      const parts: Promise<Uint8Array>[] = [];
      for (let i = firstBlock; i <= lastBlock; i++) {
        keep.add(i);
        parts.push(cache.get(i)!);
      }
      const blocks = await Promise.all(parts);
      evict(keep);
      const inFirst = offset - firstBlock * blockSize;
      if (blocks.length === 1) return blocks[0]!.subarray(inFirst, inFirst + length);
      const out = new Uint8Array(length);
      let at = 0;
      for (let k = 0; k < blocks.length; k++) {
        const b = blocks[k]!;
        const from = k === 0 ? inFirst : 0;
        const take = Math.min(b.byteLength - from, length - at);
        out.set(b.subarray(from, from + take), at);
        at += take;
      }
      return out;
    },
  };
}
