/**
 * A local stand-in for the Hugging Face Hub, for tests (unit and e2e): two node:http servers on
 * 127.0.0.1 (random ports, so two origins), answering the way the Hub does:
 *
 * - hub   `GET /api/models/<owner>/<repo>[/revision/<rev>]`  model info JSON (id, sha, private, gated, siblings)
 * - hub   `GET /<owner>/<repo>/resolve/<rev>/<path>`         small files (.json, .md) answered directly (Range
 *                                                            supported); large ones (.safetensors, .bin, .gguf)
 *                                                            302 to the CDN with a signed URL, like LFS files
 * - cdn   `GET /lfs/<sha256>?repo=…&path=…&expires=…&sig=…`   the bytes, with Range → 206 + Content-Range
 * - 401 (X-Error-Code: GatedRepo) for a gated repo's files without `Authorization: Bearer <token>`
 * - 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound
 * - CORS headers and OPTIONS preflight on both, so a browser page on another origin can use it.
 *
 * It records every request (server, path, Range, whether Authorization was sent, and which token)
 * and counts body bytes served per file, so tests can prove files were read by ranges, read
 * once, and that the token reached only the hub.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REFERENCE } from './fixtures';

export interface FakeRepoSpec {
  /** owner/name */
  id: string;
  /** path in repo → content */
  files: Record<string, Uint8Array | string>;
  /** Files need `Authorization: Bearer <token>`. Model info stays public, as on the Hub. */
  gated?: boolean;
  /** Extra branches/tags → they all point at the repo's one commit. 'main' (and its alias 'HEAD') always exist. */
  refs?: string[];
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | null;
  /** Whether an Authorization header was sent at all. */
  authorization: boolean;
  /** The bearer token sent, if any (tests compare it; never printed). */
  token: string | null;
  status: number;
}

export interface FakeHub {
  /** Hub origin, e.g. http://127.0.0.1:40123 (use as the endpoint). */
  url: string;
  /** CDN origin (a different port: a different origin). */
  cdnUrl: string;
  /** The token that opens gated repos. */
  token: string;
  requests: RecordedRequest[];
  /** `<repo>/<path>` → body bytes served (hub + cdn). */
  bytesServed: Map<string, number>;
  /** The commit sha of a repo. */
  shaOf(repo: string): string;
  /** Commits made through the upload API (@huggingface/hub's commit protocol), in order. */
  commits: { repo: string; title: string; files: string[] }[];
  /** A repo's file as now committed, or undefined. */
  fileOf(repo: string, path: string): Uint8Array | undefined;
  /** Make LFS uploads wait (to cancel one mid-way) until the returned function is called. */
  holdUploads(): () => void;
  /** How many LFS uploads have arrived (held or not). */
  uploadsStarted(): number;
  /** Clear the request log and byte counts. */
  reset(): void;
  close(): Promise<void>;
}

interface Repo {
  id: string;
  sha: string;
  files: Map<string, Uint8Array>;
  gated: boolean;
  refs: Set<string>;
}

const LFS = /\.(safetensors|bin|gguf|pt|pth)$/;
const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type, Accept, X-Request-Id',
  // PUT and POST: the upload protocol (LFS uploads go to the CDN origin).
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, OPTIONS',
  'Access-Control-Expose-Headers': 'Content-Range, Content-Length, Accept-Ranges, ETag, X-Repo-Commit, X-Error-Code, X-Error-Message, X-Linked-Size, Location',
};

function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

export interface FakeHubOptions {
  /** The token that opens gated repos (default: a random one). */
  token?: string;
  /** Fixed ports (default: random), e.g. for an app build whose Hub endpoint is fixed at build time. */
  port?: number;
  cdnPort?: number;
}

export async function startFakeHub(repos: FakeRepoSpec[], options: FakeHubOptions = {}): Promise<FakeHub> {
  const token = options.token ?? `hf_fake_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(16);
  const table = new Map<string, Repo>();
  for (const spec of repos) {
    const files = new Map<string, Uint8Array>();
    for (const [p, c] of Object.entries(spec.files)) files.set(p, typeof c === 'string' ? new TextEncoder().encode(c) : c);
    const h = createHash('sha1');
    for (const [p, c] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(p).update(c);
    table.set(spec.id.toLowerCase(), {
      id: spec.id,
      sha: h.digest('hex'),
      files,
      gated: spec.gated === true,
      refs: new Set(['main', 'HEAD', ...(spec.refs ?? [])]),
    });
  }
  // Hashes computed once per file (hashing a large file on every range request would dominate timings).
  const hashes = new WeakMap<Uint8Array, string>();
  const hashOf = (bytes: Uint8Array) => {
    let h = hashes.get(bytes);
    if (!h) hashes.set(bytes, (h = createHash('sha256').update(bytes).digest('hex')));
    return h;
  };
  const requests: RecordedRequest[] = [];
  const bytesServed = new Map<string, number>();
  const commits: { repo: string; title: string; files: string[] }[] = [];
  /** LFS objects uploaded (to the CDN origin), by sha256, waiting for a commit to name them. */
  const lfsObjects = new Map<string, Uint8Array>();
  let uploadGate: Promise<void> | null = null;
  let uploadsStarted = 0;
  const readBody = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });
  const rehash = (repo: Repo) => {
    const h = createHash('sha1');
    for (const [p, c] of [...repo.files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(p).update(c);
    repo.sha = h.digest('hex');
  };

  /**
   * The upload side of the Hub API, as @huggingface/hub's createRepo and commit speak it: create a
   * repo, preupload (which files go to LFS), the LFS batch (upload URLs on the CDN origin, where no
   * token may go), and the NDJSON commit. Every call needs the token.
   */
  const upload = async (req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<boolean> => {
    if (req.method !== 'POST') return false;
    const json = (status: number, body: unknown) => send('hub', req, res, status, { 'Content-Type': 'application/json' }, JSON.stringify(body));
    if (segs.join('/') === 'api/repos/create') {
      if (!authorized(req)) return (error('hub', req, res, 401, 'Unauthorized', 'Invalid credentials'), true);
      const body = JSON.parse((await readBody(req)).toString()) as { name: string; organization: string };
      const id = `${body.organization}/${body.name}`;
      if (table.has(id.toLowerCase())) return (error('hub', req, res, 409, 'RepoExists', 'You already created this model repo'), true);
      table.set(id.toLowerCase(), { id, sha: '', files: new Map(), gated: false, refs: new Set(['main', 'HEAD']) });
      rehash(table.get(id.toLowerCase())!);
      return (json(200, { url: `http://hub/${id}`, name: id }), true);
    }
    const isPre = segs[0] === 'api' && segs[1] === 'models' && segs[4] === 'preupload';
    const isCommit = segs[0] === 'api' && segs[1] === 'models' && segs[4] === 'commit';
    const isBatch = segs.length === 6 && segs[1]!.endsWith('.git') && segs.slice(2).join('/') === 'info/lfs/objects/batch';
    if (!isPre && !isCommit && !isBatch) return false;
    const repoId = isBatch ? `${segs[0]}/${segs[1]!.slice(0, -4)}` : `${segs[2]}/${segs[3]}`;
    const repo = table.get(repoId.toLowerCase());
    if (!authorized(req)) return (error('hub', req, res, 401, 'Unauthorized', 'Invalid credentials'), true);
    if (!repo) return (error('hub', req, res, 404, 'RepoNotFound', 'Repository not found'), true);
    const body = await readBody(req);
    if (isPre) {
      const files = (JSON.parse(body.toString()) as { files: { path: string }[] }).files;
      return (json(200, { files: files.map((f) => ({ path: f.path, uploadMode: LFS.test(f.path) ? 'lfs' : 'regular' })) }), true);
    }
    if (isBatch) {
      const objects = (JSON.parse(body.toString()) as { objects: { oid: string; size: number }[] }).objects;
      return (json(200, { transfer: 'basic', objects: objects.map((o) => ({ ...o, actions: { upload: { href: `${cdnOrigin}/upload/${o.oid}` } } })) }), true);
    }
    const lines = body
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    const next = new Map(repo.files);
    for (const { key, value } of lines.slice(1)) {
      if (key === 'lfsFile') {
        const bytes = lfsObjects.get(value['oid'] as string);
        if (!bytes) return (error('hub', req, res, 400, 'BadRequest', `LFS object ${value['oid']} was not uploaded`), true);
        next.set(value['path'] as string, bytes);
      } else if (key === 'file') {
        next.set(value['path'] as string, new Uint8Array(Buffer.from(value['content'] as string, 'base64')));
      } else if (key === 'deletedFile') {
        next.delete(value['path'] as string);
      }
    }
    repo.files = next;
    rehash(repo);
    commits.push({ repo: repo.id, title: String(lines[0]?.value['summary'] ?? ''), files: lines.slice(1).map((l) => l.value['path'] as string) });
    return (json(200, { commitOid: repo.sha, commitUrl: `http://hub/${repo.id}/commit/${repo.sha}` }), true);
  };

  const record = (server: 'hub' | 'cdn', req: IncomingMessage, status: number) => {
    const auth = req.headers.authorization ?? null;
    requests.push({
      server,
      method: req.method ?? 'GET',
      path: req.url ?? '',
      range: (req.headers.range as string | undefined) ?? null,
      authorization: auth !== null,
      token: auth?.startsWith('Bearer ') ? auth.slice(7) : null,
      status,
    });
  };

  const send = (
    server: 'hub' | 'cdn',
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body?: Uint8Array | string,
  ) => {
    record(server, req, status);
    res.writeHead(status, { ...CORS_HEADERS, ...headers });
    if (req.method === 'HEAD' || body === undefined) res.end();
    else res.end(body);
  };

  const error = (server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string) =>
    send(
      server,
      req,
      res,
      status,
      { 'Content-Type': 'application/json', 'X-Error-Code': code, 'X-Error-Message': message },
      JSON.stringify({ error: message }),
    );

  /** Serve bytes, honouring Range, counting what is sent. */
  const serveBytes = (server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse, key: string, bytes: Uint8Array, extra: Record<string, string>) => {
    const rangeHeader = req.headers.range;
    const base = {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      ETag: `"${hashOf(bytes)}"`,
      ...extra,
    };
    let body = bytes;
    let status = 200;
    const headers: Record<string, string> = { ...base };
    if (rangeHeader) {
      const r = parseRange(rangeHeader, bytes.byteLength);
      if (r === 'invalid' || r === undefined) {
        return send(server, req, res, 416, { ...base, 'Content-Range': `bytes */${bytes.byteLength}` });
      }
      body = bytes.subarray(r.start, r.end + 1);
      status = 206;
      headers['Content-Range'] = `bytes ${r.start}-${r.end}/${bytes.byteLength}`;
    }
    headers['Content-Length'] = String(body.byteLength);
    if (req.method !== 'HEAD') bytesServed.set(key, (bytesServed.get(key) ?? 0) + body.byteLength);
    send(server, req, res, status, headers, body);
  };

  const authorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${token}`;

  const sign = (hash: string, repo: string, path: string, expires: number) =>
    createHmac('sha256', secret).update(`${hash}:${repo}:${path}:${expires}`).digest('hex');

  let cdnOrigin = '';
  const hubServer = createServer(async (req, res) => {
    if (req.method === 'OPTIONS') return send('hub', req, res, 204, {});
    const url = new URL(req.url ?? '/', 'http://x');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (await upload(req, res, segs)) return;
    // /api/models/<owner>/<repo>[/revision/<rev>]
    if (segs[0] === 'api' && segs[1] === 'models' && segs.length >= 4) {
      const repo = table.get(`${segs[2]}/${segs[3]}`.toLowerCase());
      if (!repo) return error('hub', req, res, 401, 'RepoNotFound', 'Repository not found');
      let rev = 'main';
      if (segs[4] === 'revision') rev = segs.slice(5).join('/');
      else if (segs.length > 4) return error('hub', req, res, 404, 'EntryNotFound', 'Unknown API path');
      if (!repo.refs.has(rev) && rev !== repo.sha) return error('hub', req, res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const info = {
        id: repo.id,
        modelId: repo.id,
        sha: repo.sha,
        private: false,
        gated: repo.gated ? 'auto' : false,
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      };
      return send('hub', req, res, 200, { 'Content-Type': 'application/json' }, JSON.stringify(info));
    }
    // /<owner>/<repo>/resolve/<rev>/<path...>
    if (segs.length >= 5 && segs[2] === 'resolve') {
      const repo = table.get(`${segs[0]}/${segs[1]}`.toLowerCase());
      if (!repo) return error('hub', req, res, 401, 'RepoNotFound', 'Repository not found');
      if (repo.gated && !authorized(req)) {
        return error(
          'hub',
          req,
          res,
          401,
          'GatedRepo',
          `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it.`,
        );
      }
      const rev = segs[3]!;
      if (!repo.refs.has(rev) && rev !== repo.sha) return error('hub', req, res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const path = segs.slice(4).join('/');
      const bytes = repo.files.get(path);
      if (!bytes) return error('hub', req, res, 404, 'EntryNotFound', `${path} does not exist`);
      const common = { 'X-Repo-Commit': repo.sha };
      if (LFS.test(path)) {
        const hash = hashOf(bytes);
        const expires = Date.now() + 3600_000;
        const location = `${cdnOrigin}/lfs/${hash}?repo=${encodeURIComponent(repo.id)}&path=${encodeURIComponent(path)}&expires=${expires}&sig=${sign(hash, repo.id, path, expires)}`;
        return send('hub', req, res, 302, { ...common, Location: location, 'X-Linked-Size': String(bytes.byteLength) });
      }
      return serveBytes('hub', req, res, `${repo.id}/${path}`, bytes, common);
    }
    return error('hub', req, res, 404, 'EntryNotFound', 'Not found');
  });

  const cdnServer = createServer(async (req, res) => {
    if (req.method === 'OPTIONS') return send('cdn', req, res, 204, {});
    const url = new URL(req.url ?? '/', 'http://x');
    const put = /^\/upload\/([0-9a-f]{64})$/.exec(url.pathname);
    if (req.method === 'PUT' && put) {
      uploadsStarted++;
      const bytes = new Uint8Array(await readBody(req));
      if (uploadGate) await uploadGate;
      if (createHash('sha256').update(bytes).digest('hex') !== put[1]) return error('cdn', req, res, 400, 'BadDigest', 'The content does not match its sha256');
      lfsObjects.set(put[1]!, bytes);
      return send('cdn', req, res, 200, { ETag: `"${put[1]}"` });
    }
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(url.pathname);
    const repoId = url.searchParams.get('repo') ?? '';
    const path = url.searchParams.get('path') ?? '';
    const bytes = table.get(repoId.toLowerCase())?.files.get(path);
    const expires = Number(url.searchParams.get('expires'));
    if (!m || !bytes || hashOf(bytes) !== m[1]) return error('cdn', req, res, 404, 'EntryNotFound', 'No such object');
    if (url.searchParams.get('sig') !== sign(m[1]!, repoId, path, expires) || !(expires > Date.now())) {
      return error('cdn', req, res, 403, 'AccessDenied', 'Signature invalid or expired');
    }
    return serveBytes('cdn', req, res, `${repoId}/${path}`, bytes, {});
  });

  const listen = (s: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
    });
  const hubPort = await listen(hubServer, options.port ?? 0);
  const cdnPort = await listen(cdnServer, options.cdnPort ?? 0);
  cdnOrigin = `http://127.0.0.1:${cdnPort}`;

  return {
    url: `http://127.0.0.1:${hubPort}`,
    cdnUrl: cdnOrigin,
    token,
    requests,
    bytesServed,
    shaOf(repo) {
      const r = table.get(repo.toLowerCase());
      if (!r) throw new Error(`no repo ${repo}`);
      return r.sha;
    },
    commits,
    holdUploads() {
      let release!: () => void;
      uploadGate = new Promise<void>((r) => (release = r));
      return () => {
        uploadGate = null;
        release();
      };
    },
    uploadsStarted: () => uploadsStarted,
    fileOf(repo, path) {
      return table.get(repo.toLowerCase())?.files.get(path);
    },
    reset() {
      requests.length = 0;
      bytesServed.clear();
    },
    close() {
      const close = (s: Server) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        });
      return Promise.all([close(hubServer), close(cdnServer)]).then(() => undefined);
    },
  };
}

/**
 * A fake repo holding a reference case's adapter (adapter_config.json, adapter_model.safetensors,
 * README.md if any), optionally in a subfolder; and its base config as a separate repo.
 */
export function referenceCaseRepo(caseName: string, id: string, options: { subfolder?: string; gated?: boolean; refs?: string[] } = {}): FakeRepoSpec {
  const input = join(REFERENCE, caseName, 'input');
  const prefix = options.subfolder ? `${options.subfolder}/` : '';
  const files: Record<string, Uint8Array | string> = {
    [`${prefix}adapter_config.json`]: new Uint8Array(readFileSync(join(input, 'adapter_config.json'))),
    [`${prefix}adapter_model.safetensors`]: new Uint8Array(readFileSync(join(input, 'adapter_model.safetensors'))),
  };
  return { id, files, gated: options.gated, refs: options.refs };
}

export function referenceBaseRepo(caseName: string, id: string, options: { gated?: boolean } = {}): FakeRepoSpec {
  return { id, files: { 'config.json': new Uint8Array(readFileSync(join(REFERENCE, caseName, 'input', 'base', 'config.json'))) }, gated: options.gated };
}
