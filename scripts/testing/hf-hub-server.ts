/**
 * A local HTTP server that speaks the Hugging Face hub's HTTP API over
 * folders, for tests (node and browser) of model and dataset downloads:
 *
 * - `GET /api/{models|datasets}/{repo}[/revision/{rev}]` — `{id, sha, private, siblings: [{rfilename}]}`
 * - `GET /api/{models|datasets}/{repo}/tree/{rev}[/{path}][?recursive=true]` — entries
 *   `{type, oid, size, path, lfs?: {oid, size, pointerSize}}`, paginated with
 *   `Link: <…&cursor=N>; rel="next"` past `pageSize` entries
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}` and `/datasets/{repo}/resolve/…` —
 *   the bytes, with `Range` (206, or 416 for a bad range), `ETag`,
 *   `X-Repo-Commit`; LFS files optionally answered with a 302 to `/cdn/…`.
 *
 * Errors look like the hub's: a JSON `{error}` body with `X-Error-Code`
 * (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`). A revision is any name
 * in `revisions` or the commit sha the server made up for it. Faults (a cut
 * connection, a flipped byte) and a bandwidth limit make failure paths and
 * progress testable. Every request is recorded in `requests`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { RepoType } from '../../models/hub.ts';

/** One repository served from a folder. */
export interface HubServerRepo {
  /** `name` or `owner/name` */
  repo: string;
  type?: RepoType;
  /** folder whose files (recursively) are the repository's files */
  dir: string;
  /** revision names served, default ['main'] */
  revisions?: string[];
  /** requires `Authorization: Bearer <token>` (the server's `token`) */
  private?: boolean;
  /** raw entries appended to every recursive tree listing of the root, to test a client against a hostile hub */
  extraTreeEntries?: unknown[];
}

export interface HubServerOptions {
  repos: HubServerRepo[];
  /** the token private repos accept */
  token?: string;
  /** per-file faults, keyed by the file's path in its repository */
  faults?: {
    /** path → cut the connection once after sending N bytes of that file (only the first request of it) */
    dropAfterBytes?: Record<string, number>;
    /** paths whose bytes are served altered (the byte at size/2 flipped) while the listing keeps the true sha256 */
    corrupt?: string[];
    /** path → answer the first N requests for its bytes with 503 */
    unavailable?: Record<string, number>;
    /** paths served whole (200) even when a Range is asked, as some proxies do */
    ignoreRange?: string[];
  };
  /** throttle: bytes per second per response, to make progress observable */
  bytesPerSecond?: number;
  /** answer resolve of LFS files with a 302 to /cdn/… on this server */
  redirectLfs?: boolean;
  /** with `redirectLfs`: serve /cdn/ from a second port, a different origin, as the real CDN is (a client must not send it the token) */
  separateCdnOrigin?: boolean;
  /** tree entries per page before a `Link: rel="next"`, default 1000 */
  pageSize?: number;
}

/** One request the server received. */
export interface HubServerRequest {
  method: string;
  /** path and query as sent */
  url: string;
  range?: string;
  auth?: string;
  /** the Host header */
  host?: string;
}

export interface HubServer {
  /** base URL, e.g. `http://127.0.0.1:43123` (use as `endpoint`) */
  url: string;
  /** base URL of the CDN (same as `url` unless `separateCdnOrigin`) */
  cdnUrl: string;
  close(): Promise<void>;
  requests: HubServerRequest[];
}

/** Files bigger than this (or with a weights extension) are LFS entries, bytes. */
const LFS_MIN_BYTES = 1024;
const LFS_EXTENSIONS = ['.safetensors', '.bin', '.onnx'];

interface ServedFile {
  path: string;
  abs: string;
  size: number;
  sha256: string;
  /** git blob sha1 of the content, or of the LFS pointer for LFS files */
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

interface ServedRepo {
  index: number;
  spec: HubServerRepo;
  type: RepoType;
  files: Map<string, ServedFile>;
  dirs: Set<string>;
  /** revision name → commit sha */
  shas: Map<string, string>;
}

function gitBlobOid(content: Buffer | string): string {
  const buf = Buffer.from(content);
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

async function hashFile(abs: string): Promise<{ sha256: string; blob: string; size: number }> {
  const { size } = await fs.stat(abs);
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(abs)) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
  }
  return { sha256: sha256.digest('hex'), blob: sha1.digest('hex'), size };
}

async function scanRepo(spec: HubServerRepo, index: number): Promise<ServedRepo> {
  const type = spec.type ?? 'model';
  const files = new Map<string, ServedFile>();
  const dirs = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(spec.dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.add(p);
        await walk(p);
      } else if (e.isFile()) {
        const abs = path.join(spec.dir, p);
        const h = await hashFile(abs);
        const isLfs = h.size > LFS_MIN_BYTES || LFS_EXTENSIONS.some((x) => e.name.endsWith(x));
        if (isLfs) {
          const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${h.sha256}\nsize ${h.size}\n`;
          files.set(p, { path: p, abs, size: h.size, sha256: h.sha256, oid: gitBlobOid(pointer), lfs: { oid: h.sha256, size: h.size, pointerSize: Buffer.byteLength(pointer) } });
        } else {
          files.set(p, { path: p, abs, size: h.size, sha256: h.sha256, oid: h.blob });
        }
      }
    }
  };
  await walk('');
  const content = [...files.values()]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((f) => `${f.path}:${f.sha256}`)
    .join('\n');
  const shas = new Map<string, string>();
  for (const rev of spec.revisions ?? ['main']) shas.set(rev, createHash('sha1').update(`${type}/${spec.repo}@${rev}\n${content}`).digest('hex'));
  return { index, spec, type, files, dirs, shas };
}

/** Parses a single `bytes=` range against a size; `undefined` for none, `'bad'` when unsatisfiable or malformed. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'bad' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'bad';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'bad';
  return { start, end };
}

/** Pause between the last byte sent and the cut of a `dropAfterBytes` fault, ms. */
const DROP_PAUSE_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves on 'drain' or 'close', whichever first, leaving no listener behind. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Starts the server on 127.0.0.1 (a free port) after hashing every file of
 * every repository.
 *
 * @example
 * const hub = await startHubServer({ repos: [{ repo: 'demo/tiny', dir: 'demo/models/tiny-gpt2-debian-6l' }] });
 * const listing = await listRepoFiles('demo/tiny', { endpoint: hub.url });
 * await hub.close();
 */
export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const repos = await Promise.all(opts.repos.map((spec, i) => scanRepo(spec, i)));
  const pageSize = opts.pageSize ?? 1000;
  const requests: HubServerRequest[] = [];
  const dropped = new Set<string>();
  const corrupt = new Set(opts.faults?.corrupt ?? []);
  const ignoreRange = new Set(opts.faults?.ignoreRange ?? []);
  /** requests for each file's bytes so far */
  const served = new Map<string, number>();
  let base = '';
  let cdnBase = '';

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const fail = (res: http.ServerResponse, status: number, code: string | undefined, message: string): void =>
    send(res, status, { error: message }, { 'x-error-message': message, ...(code ? { 'x-error-code': code } : {}) });

  /** Finds the repo whose id is a prefix of `segs`; returns it and the remaining segments. */
  const match = (type: RepoType, segs: string[]): { repo: ServedRepo; rest: string[] } | undefined => {
    for (const n of [2, 1]) {
      const id = segs.slice(0, n).join('/');
      const repo = repos.find((r) => r.type === type && r.spec.repo === id);
      if (repo && segs.length >= n) return { repo, rest: segs.slice(n) };
    }
    return undefined;
  };
  const authorized = (req: http.IncomingMessage, repo: ServedRepo): boolean =>
    !repo.spec.private || (opts.token !== undefined && req.headers.authorization === `Bearer ${opts.token}`);
  const commitOf = (repo: ServedRepo, rev: string): string | undefined => repo.shas.get(rev) ?? [...repo.shas.values()].find((s) => s === rev);

  const sendBytes = async (req: http.IncomingMessage, res: http.ServerResponse, file: ServedFile, headers: Record<string, string>): Promise<void> => {
    const failures = opts.faults?.unavailable?.[file.path] ?? 0;
    const seen = served.get(file.path) ?? 0;
    served.set(file.path, seen + 1);
    if (seen < failures) return fail(res, 503, undefined, 'Service temporarily unavailable');
    const range = ignoreRange.has(file.path) ? undefined : parseRange(req.headers.range, file.size);
    if (range === 'bad') {
      res.writeHead(416, { 'content-range': `bytes */${file.size}`, 'content-length': '0', ...headers });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? file.size - 1;
    const length = end - start + 1;
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(Math.max(0, length)),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${file.size}` } : {}),
      ...headers,
    });
    if (req.method === 'HEAD' || length <= 0) {
      res.end();
      return;
    }
    const drop = opts.faults?.dropAfterBytes?.[file.path];
    const dropAfter = drop !== undefined && !dropped.has(file.path) ? drop : undefined;
    if (dropAfter !== undefined) dropped.add(file.path);
    const flip = corrupt.has(file.path) ? Math.floor(file.size / 2) : -1;
    const bps = opts.bytesPerSecond;
    const chunkSize = bps ? Math.max(1, Math.min(65536, Math.floor(bps / 20))) : 65536;
    const fh = await fs.open(file.abs, 'r');
    try {
      let pos = start;
      let sent = 0;
      while (pos <= end) {
        if (res.destroyed) return;
        let n = Math.min(chunkSize, end - pos + 1);
        if (dropAfter !== undefined) n = Math.min(n, dropAfter - sent);
        if (n > 0) {
          const buf = Buffer.alloc(n);
          await fh.read(buf, 0, n, pos);
          if (flip >= pos && flip < pos + n) buf[flip - pos]! ^= 0xff;
          const flushed = new Promise<void>((resolve) => res.write(buf, () => resolve()));
          if (res.writableNeedDrain) await drained(res);
          if (dropAfter !== undefined && sent + n >= dropAfter) await flushed;
          pos += n;
          sent += n;
        }
        if (dropAfter !== undefined && sent >= dropAfter) {
          // Close the socket mid-body: the client sees fewer bytes than Content-Length. The pause
          // first lets the client take the bytes sent (a fetch body stream that errors drops what it
          // had queued), as on a real connection that dies mid-transfer.
          await sleep(DROP_PAUSE_MS);
          res.socket?.destroy();
          return;
        }
        if (bps) await sleep((n / bps) * 1000);
      }
      res.end();
    } finally {
      await fh.close();
    }
  };

  const api = (req: http.IncomingMessage, res: http.ServerResponse, type: RepoType, segs: string[], query: URLSearchParams): void => {
    const m = match(type, segs);
    if (!m) return fail(res, 404, 'RepoNotFound', 'Repository not found');
    const { repo, rest } = m;
    if (!authorized(req, repo)) return fail(res, 401, 'RepoNotFound', 'Invalid username or password.');
    const [kind, rev, ...sub] = rest;
    if (kind === undefined || kind === 'revision') {
      const name = rev ?? repo.spec.revisions?.[0] ?? 'main';
      const sha = commitOf(repo, name);
      if (!sha) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${name}`);
      return send(res, 200, { id: repo.spec.repo, sha, private: Boolean(repo.spec.private), siblings: [...repo.files.keys()].sort().map((rfilename) => ({ rfilename })) });
    }
    if (kind !== 'tree' || rev === undefined) return fail(res, 404, undefined, 'Not found');
    if (!commitOf(repo, rev)) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    const prefix = sub.join('/');
    if (prefix && !repo.dirs.has(prefix)) return fail(res, 404, 'EntryNotFound', `${prefix} does not exist on "${rev}"`);
    const recursive = query.get('recursive') === 'true' || query.get('recursive') === '1';
    const inScope = (p: string): boolean => {
      if (prefix && !p.startsWith(`${prefix}/`)) return false;
      const rel = prefix ? p.slice(prefix.length + 1) : p;
      return recursive || !rel.includes('/');
    };
    const entries: unknown[] = [
      ...[...repo.dirs].filter(inScope).map((p) => ({ type: 'directory', oid: createHash('sha1').update(`tree ${p}`).digest('hex'), size: 0, path: p })),
      ...[...repo.files.values()].filter((f) => inScope(f.path)).map((f) => ({ type: 'file', oid: f.oid, size: f.size, path: f.path, ...(f.lfs ? { lfs: f.lfs } : {}) })),
    ].sort((a, b) => ((a as { path: string }).path < (b as { path: string }).path ? -1 : 1));
    if (recursive && !prefix) entries.push(...(repo.spec.extraTreeEntries ?? []));
    const cursor = Number(query.get('cursor') ?? '0') || 0;
    const page = entries.slice(cursor, cursor + pageSize);
    const headers: Record<string, string> = {};
    if (cursor + pageSize < entries.length) {
      const next = new URL(req.url ?? '/', base);
      next.searchParams.set('cursor', String(cursor + pageSize));
      headers.link = `<${next.href}>; rel="next"`;
    }
    send(res, 200, page, headers);
  };

  const resolve = async (req: http.IncomingMessage, res: http.ServerResponse, type: RepoType, segs: string[]): Promise<void> => {
    let found: { repo: ServedRepo; rest: string[] } | undefined;
    for (const n of [2, 1]) {
      if (segs[n] !== 'resolve') continue;
      const m = match(type, segs.slice(0, n));
      if (m) found = { repo: m.repo, rest: segs.slice(n + 1) };
      if (found) break;
    }
    if (!found) return fail(res, 404, 'RepoNotFound', 'Repository not found');
    const { repo, rest } = found;
    if (!authorized(req, repo)) return fail(res, 401, 'RepoNotFound', 'Invalid username or password.');
    const [rev, ...sub] = rest;
    const sha = rev === undefined ? undefined : commitOf(repo, rev);
    if (!sha) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev ?? ''}`);
    const file = repo.files.get(sub.join('/'));
    if (!file) return fail(res, 404, 'EntryNotFound', 'Entry not found');
    const headers: Record<string, string> = { 'x-repo-commit': sha, etag: `"${file.lfs ? file.sha256 : file.oid}"` };
    if (file.lfs && opts.redirectLfs) {
      const location = `${cdnBase}/cdn/${repo.index}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
      res.writeHead(302, { location, 'x-linked-size': String(file.size), 'x-linked-etag': `"${file.sha256}"`, ...headers });
      res.end();
      return;
    }
    await sendBytes(req, res, file, headers);
  };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', range: req.headers.range, auth: req.headers.authorization, host: req.headers.host });
    const url = new URL(req.url ?? '/', base);
    let segs: string[];
    try {
      segs = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return fail(res, 400, undefined, 'Bad path encoding');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, undefined, 'Method not allowed');
    const [first, second] = segs;
    if (first === 'api' && (second === 'models' || second === 'datasets')) return api(req, res, second === 'models' ? 'model' : 'dataset', segs.slice(2), url.searchParams);
    if (first === 'cdn') {
      const repo = repos[Number(segs[1])];
      const file = repo?.files.get(segs.slice(2).join('/'));
      if (!file) return fail(res, 404, undefined, 'Not found');
      return sendBytes(req, res, file, { etag: `"${file.sha256}"` });
    }
    if (first === 'datasets') return resolve(req, res, 'dataset', segs.slice(1));
    return resolve(req, res, 'model', segs);
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) fail(res, 500, undefined, `test hub server: ${(err as Error).message}`);
      else res.destroy();
    });
  };
  const listen = (srv: http.Server): Promise<string> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`));
    });

  const server = http.createServer(listener);
  base = await listen(server);
  cdnBase = base;
  let cdn: http.Server | undefined;
  if (opts.separateCdnOrigin) {
    cdn = http.createServer(listener);
    cdnBase = await listen(cdn);
  }
  const stop = (srv: http.Server): Promise<void> =>
    new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    });
  return {
    url: base,
    cdnUrl: cdnBase,
    requests,
    async close() {
      await Promise.all([stop(server), ...(cdn ? [stop(cdn)] : [])]);
    },
  };
}
