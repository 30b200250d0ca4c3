/**
 * A Hugging Face hub client: list a repository's files at a revision and
 * download them into a folder, resumably and verified.
 *
 * Listing asks `GET /api/{models|datasets}/{repo}/revision/{rev}` for the
 * commit sha, then `GET /api/.../tree/{sha}?recursive=true` (paginated by a
 * `Link: <…>; rel="next"` header) for the files; LFS entries carry the sha256
 * of their content. Downloads use `GET /{repo}/resolve/{sha}/{path}` (datasets
 * under `/datasets/`), pinned to the listed commit so every file comes from the
 * same snapshot. Each file streams into `<dest>/<path>.part` while it is
 * hashed; a dropped connection or a 5xx is retried with `Range` from the bytes
 * already on disk, a `.part` left by an earlier call is continued, and only a
 * file whose size and sha256 match is renamed to its real name.
 *
 * Redirects are followed by hand so the token is sent only to the hub's own
 * origin (the hub answers LFS downloads with a 302 to a CDN host, which must
 * not see it). Paths from the hub are untrusted: anything that could escape
 * the destination folder is refused.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Where the hub is and how to authenticate. */
export interface HubOptions {
  /** base URL of the hub; default `process.env.HF_ENDPOINT ?? 'https://huggingface.co'` */
  endpoint?: string;
  /** access token sent as `Authorization: Bearer` to the hub's origin only; default `process.env.HF_TOKEN` */
  token?: string;
}

export type RepoType = 'model' | 'dataset';

/** One file of a repository. */
export interface HubFile {
  /** path inside the repository, `/`-separated, validated by {@link checkRepoPath} */
  path: string;
  /** bytes */
  size: number;
  /** sha256 hex of the content, from the hub's LFS oid where it gives one */
  sha256?: string;
}

/** The files of a repository at one revision. */
export interface RepoListing {
  repo: string;
  type: RepoType;
  /** the revision asked for (branch, tag or commit) */
  revision: string;
  /** commit sha the revision resolved to, when the hub says */
  sha?: string;
  files: HubFile[];
}

/** A snapshot of a download's progress. Bytes counts include files skipped as already present. */
export interface DownloadProgress {
  /** path of the file this event is about */
  file: string;
  /** bytes of `file` on disk so far */
  fileBytes: number;
  /** size of `file`, bytes */
  fileTotal: number;
  /** bytes on disk so far over all selected files */
  bytesDone: number;
  /** total size of all selected files, bytes */
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export type HubErrorCode = 'not_found' | 'unauthorized' | 'checksum' | 'network' | 'bad_response' | 'cancelled';

/** Any failure talking to the hub; `code` says what kind, the message says what to do. */
export class HubError extends Error {
  readonly code: HubErrorCode;
  /** HTTP status, when the hub answered */
  readonly status?: number;
  /** the URL that failed */
  readonly url?: string;

  constructor(code: HubErrorCode, message: string, extra: { status?: number; url?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'HubError';
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.url !== undefined) this.url = extra.url;
  }
}

/** Limits and timings of the client. */
export const HUB_POLICY = {
  DEFAULT_ENDPOINT: 'https://huggingface.co',
  DEFAULT_REVISION: 'main',
  DEFAULT_CONCURRENCY: 4,
  /** retries of one file (or one listing request) after a dropped connection, 5xx or 429 */
  MAX_RETRIES: 5,
  /** first retry delay, ms; doubled each time (0.1 + 0.2 + 0.4 + 0.8 + 1.6 s in all) */
  RETRY_BASE_MS: 100,
  /** a transfer that sends nothing for this long is dropped and retried, ms */
  IDLE_TIMEOUT_MS: 60_000,
  MAX_REDIRECTS: 10,
  /** at most one progress event per file per this interval (plus one at each file's end), ms */
  PROGRESS_INTERVAL_MS: 100,
  MAX_REPO_ID_LENGTH: 96,
  MAX_PATH_LENGTH: 1024,
  /** pages of a tree listing followed before giving up (a loop guard) */
  MAX_PAGES: 10_000,
} as const;

const NAME_PART = /^[A-Za-z0-9._-]+$/;

/**
 * Checks a repository id: `name` or `owner/name`, each part made of
 * `[A-Za-z0-9._-]`, neither starting nor ending with `-` or `.`, no `..`, at
 * most 96 characters in all. Returns it unchanged.
 *
 * @throws TypeError naming what is wrong
 * @example validateRepoId('openai-community/gpt2') // 'openai-community/gpt2'
 */
export function validateRepoId(repo: string): string {
  const bad = (why: string): never => {
    throw new TypeError(`invalid repository id ${JSON.stringify(repo)}: ${why} (expected "name" or "owner/name" of letters, digits, ".", "_" and "-")`);
  };
  if (typeof repo !== 'string' || repo.length === 0) bad('empty');
  if (repo.length > HUB_POLICY.MAX_REPO_ID_LENGTH) bad(`longer than ${HUB_POLICY.MAX_REPO_ID_LENGTH} characters`);
  const parts = repo.split('/');
  if (parts.length > 2) bad('more than one "/"');
  for (const part of parts) {
    if (part.length === 0) bad('an empty part');
    if (!NAME_PART.test(part)) bad(`"${part}" has characters other than [A-Za-z0-9._-]`);
    if (part.includes('..')) bad('contains ".."');
    if (/^[-.]|[-.]$/.test(part)) bad(`"${part}" starts or ends with "-" or "."`);
  }
  return repo;
}

/**
 * Checks a file path given by the hub before it is used under a local folder:
 * relative, `/`-separated, no empty, `.` or `..` segments, no backslashes,
 * NUL bytes or drive letters. Returns it unchanged.
 *
 * @throws HubError `bad_response` naming the path
 */
export function checkRepoPath(p: string): string {
  const bad = (why: string): never => {
    throw new HubError('bad_response', `the hub listed an unsafe file path ${JSON.stringify(p)}: ${why}; refusing to write it`);
  };
  if (typeof p !== 'string' || p.length === 0) bad('empty');
  if (p.length > HUB_POLICY.MAX_PATH_LENGTH) bad(`longer than ${HUB_POLICY.MAX_PATH_LENGTH} characters`);
  if (p.includes('\\')) bad('backslash');
  if (p.includes('\0')) bad('NUL byte');
  if (p.startsWith('/')) bad('absolute');
  if (/^[A-Za-z]:/.test(p)) bad('drive letter');
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') bad(`segment "${seg}"`);
  }
  return p;
}

interface Ctx {
  endpoint: string;
  origin: string;
  token: string | undefined;
}

function context(opts: HubOptions): Ctx {
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? HUB_POLICY.DEFAULT_ENDPOINT).replace(/\/+$/, '');
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    throw new TypeError(`invalid hub endpoint ${JSON.stringify(endpoint)} (expected a URL like https://huggingface.co)`);
  }
  // An empty HF_TOKEN means "none", as in huggingface_hub.
  const token = opts.token ?? (process.env.HF_TOKEN || undefined);
  return { endpoint, origin, token: token || undefined };
}

function kindOf(type: RepoType): string {
  return type === 'dataset' ? 'dataset' : 'model';
}

function cancelled(url?: string): HubError {
  return new HubError('cancelled', 'download cancelled', url === undefined ? {} : { url });
}

/** Waits `ms`, or rejects with `cancelled` when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether a failure is worth another try: connection trouble, 5xx, 429. */
function retryable(err: unknown): boolean {
  if (!(err instanceof HubError)) return false;
  if (err.code !== 'network') return false;
  return err.status === undefined || err.status >= 500 || err.status === 429;
}

/** Describes a fetch failure (no HTTP answer) as a HubError. */
function networkError(err: unknown, url: string, signal: AbortSignal | undefined): HubError {
  if (err instanceof HubError) return err;
  if (signal?.aborted) return cancelled(url);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
  return new HubError('network', `cannot reach ${new URL(url).host}: ${detail}`, { url, cause: err });
}

/**
 * One HTTP request with redirects followed by hand: the token goes only to
 * the endpoint's origin, never to the CDN a redirect points at.
 */
async function request(ctx: Ctx, url: string, init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<Response> {
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...init.headers };
    if (ctx.token && new URL(url).origin === ctx.origin) headers.authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method: init.method ?? 'GET', headers, redirect: 'manual', signal: init.signal ?? null });
    } catch (err) {
      throw networkError(err, url, init.signal);
    }
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      const location = res.headers.get('location');
      await res.body?.cancel().catch(() => undefined);
      if (!location) throw new HubError('bad_response', `${url} answered ${res.status} without a Location header`, { status: res.status, url });
      if (hop >= HUB_POLICY.MAX_REDIRECTS) throw new HubError('bad_response', `more than ${HUB_POLICY.MAX_REDIRECTS} redirects from ${url}`, { status: res.status, url });
      url = new URL(location, url).href;
      continue;
    }
    return res;
  }
}

/** The hub's own words about an error response: `X-Error-Message` or the JSON `error` field. */
async function hubMessage(res: Response): Promise<string> {
  const header = res.headers.get('x-error-message');
  let text = '';
  try {
    text = (await res.text()).slice(0, 2000);
  } catch {
    // the body is only a detail of the message
  }
  if (header) return header;
  try {
    const json = JSON.parse(text) as { error?: unknown };
    if (typeof json.error === 'string') return json.error;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300);
}

/** Turns a non-2xx answer about `what` into a HubError with a message that says what to do. */
async function statusError(res: Response, url: string, repo: { repo: string; type: RepoType; revision: string }, what: string): Promise<HubError> {
  const said = await hubMessage(res);
  const hubSays = said ? ` (hub: ${said})` : '';
  const code = res.headers.get('x-error-code');
  const where = `${kindOf(repo.type)} repo ${repo.repo} at revision "${repo.revision}"`;
  const status = res.status;
  if (status === 401 || status === 403) {
    const gated = code === 'GatedRepo' ? '; the repo is gated: accept its conditions on the hub with the account of the token' : '';
    return new HubError('unauthorized', `${what}: HF_TOKEN is missing or lacks access to ${kindOf(repo.type)} repo ${repo.repo} (HTTP ${status}; a private repo that does not exist answers the same)${gated}${hubSays}`, { status, url });
  }
  if (status === 404) {
    let message: string;
    if (code === 'RevisionNotFound' || /rev/i.test(said)) message = `revision "${repo.revision}" not found in ${kindOf(repo.type)} repo ${repo.repo}`;
    else if (code === 'EntryNotFound' || /entry/i.test(said)) message = `${what}: not found in ${where}`;
    else message = `${kindOf(repo.type)} repo ${repo.repo} not found (revision "${repo.revision}")`;
    return new HubError('not_found', `${message}${hubSays}`, { status, url });
  }
  if (status >= 500 || status === 429) return new HubError('network', `${what}: the hub answered HTTP ${status}${hubSays}`, { status, url });
  return new HubError('bad_response', `${what}: unexpected HTTP ${status} from the hub${hubSays}`, { status, url });
}

/** Runs `fn` again after retryable failures, with a doubling delay. */
async function withRetries<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || attempt >= HUB_POLICY.MAX_RETRIES) throw err;
      await sleep(HUB_POLICY.RETRY_BASE_MS * 2 ** attempt, signal);
    }
  }
}

async function getJson(ctx: Ctx, url: string, repo: { repo: string; type: RepoType; revision: string }, what: string, signal: AbortSignal | undefined): Promise<{ json: unknown; res: Response }> {
  return withRetries(signal, async () => {
    const res = await request(ctx, url, { headers: { accept: 'application/json' }, signal });
    if (!res.ok) throw await statusError(res, url, repo, what);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw networkError(err, url, signal);
    }
    try {
      return { json: JSON.parse(text) as unknown, res };
    } catch {
      throw new HubError('bad_response', `${what}: the hub's answer is not JSON: ${JSON.stringify(text.slice(0, 200))}`, { status: res.status, url });
    }
  });
}

/** The `rel="next"` target of a Link header, resolved against the request URL. */
function nextLink(link: string | null, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2]!)) return new URL(m[1]!, base).href;
  }
  return undefined;
}

function parseEntry(raw: unknown, url: string): HubFile | undefined {
  const bad = (why: string): never => {
    throw new HubError('bad_response', `unexpected tree entry from the hub (${why}): ${JSON.stringify(raw).slice(0, 200)}`, { url });
  };
  if (typeof raw !== 'object' || raw === null) return bad('not an object');
  const e = raw as { type?: unknown; path?: unknown; size?: unknown; lfs?: unknown };
  if (e.type !== 'file') return undefined; // directories (and anything new) carry no bytes
  if (typeof e.path !== 'string') return bad('path is not a string');
  checkRepoPath(e.path);
  if (!Number.isSafeInteger(e.size) || (e.size as number) < 0) return bad('size is not a non-negative integer');
  const file: HubFile = { path: e.path, size: e.size as number };
  if (e.lfs !== undefined && e.lfs !== null) {
    const lfs = e.lfs as { oid?: unknown; size?: unknown };
    if (typeof lfs.oid !== 'string' || !/^[0-9a-f]{64}$/.test(lfs.oid)) return bad('lfs.oid is not a sha256');
    if (lfs.size !== undefined && lfs.size !== e.size) return bad('lfs.size differs from size');
    file.sha256 = lfs.oid;
  }
  return file;
}

/**
 * Lists the files of a repository at a revision (default `main`), with their
 * sizes and, for LFS files, sha256. Also resolves the revision to its commit
 * sha, and lists that commit, so later downloads get the same snapshot.
 *
 * @throws HubError `not_found` (repo or revision), `unauthorized` (private or gated without a token that can read it), `network`, `bad_response`, `cancelled`; TypeError for a bad repo id
 * @example const listing = await listRepoFiles('openai-community/gpt2', { revision: 'main' });
 */
export async function listRepoFiles(repo: string, opts: HubOptions & { type?: RepoType; revision?: string; signal?: AbortSignal } = {}): Promise<RepoListing> {
  validateRepoId(repo);
  const ctx = context(opts);
  const type = opts.type ?? 'model';
  const revision = opts.revision ?? HUB_POLICY.DEFAULT_REVISION;
  if (typeof revision !== 'string' || revision.length === 0) throw new TypeError('revision must be a non-empty string');
  const where = { repo, type, revision };
  const api = `${ctx.endpoint}/api/${type}s/${repo}`;
  const signal = opts.signal;
  if (signal?.aborted) throw cancelled();

  const revUrl = `${api}/revision/${encodeURIComponent(revision)}`;
  const { json: info } = await getJson(ctx, revUrl, where, `resolving revision "${revision}" of ${kindOf(type)} repo ${repo}`, signal);
  const shaRaw = (info as { sha?: unknown } | null)?.sha;
  const sha = typeof shaRaw === 'string' && /^[0-9a-f]{40}$/.test(shaRaw) ? shaRaw : undefined;

  const files: HubFile[] = [];
  const seen = new Set<string>();
  let url: string | undefined = `${api}/tree/${encodeURIComponent(sha ?? revision)}?recursive=true`;
  for (let page = 0; url !== undefined; page++) {
    if (page >= HUB_POLICY.MAX_PAGES) throw new HubError('bad_response', `the tree listing of ${repo} has more than ${HUB_POLICY.MAX_PAGES} pages`, { url });
    const pageUrl: string = url;
    const { json, res } = await getJson(ctx, pageUrl, where, `listing files of ${kindOf(type)} repo ${repo}`, signal);
    if (!Array.isArray(json)) throw new HubError('bad_response', `the tree listing of ${repo} is not a JSON array`, { url: pageUrl });
    for (const raw of json) {
      const file = parseEntry(raw, pageUrl);
      if (!file) continue;
      if (seen.has(file.path)) throw new HubError('bad_response', `the tree listing of ${repo} lists "${file.path}" twice`, { url: pageUrl });
      seen.add(file.path);
      files.push(file);
    }
    url = nextLink(res.headers.get('link'), pageUrl);
  }
  return sha === undefined ? { repo, type, revision, files } : { repo, type, revision, sha, files };
}

/** Sha256 hex of a file's first `bytes` bytes, streamed. */
async function hashFile(file: string, bytes: number, signal: AbortSignal | undefined): Promise<Hash> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash;
  const stream = createReadStream(file, { start: 0, end: bytes - 1, ...(signal ? { signal } : {}) });
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer);
  } catch (err) {
    if (signal?.aborted) throw cancelled();
    throw err;
  }
  return hash;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Parses `Content-Range: bytes a-b/total`. */
function parseContentRange(v: string | null): { start: number; end: number; total: number | undefined } | undefined {
  const m = v ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/**
 * Downloads the files of a listing into `dest` (created as needed), a few at
 * a time, each verified by size and, when the listing has it, sha256. Files
 * already in `dest` with the right size and hash are skipped; a `<path>.part`
 * left by an interrupted call is continued. Disk errors (no space, no
 * permission) are thrown as they are.
 *
 * `bytes` in the result is the total size of the selected files;
 * `downloadedBytes` what came over the network in this call.
 *
 * @throws HubError `checksum` (the `.part` is deleted), `cancelled` (the `.part` files stay for a later call), `not_found`, `unauthorized`, `network` (after retries), `bad_response`
 * @example
 * const listing = await listRepoFiles('openai-community/gpt2');
 * await downloadFiles(listing, 'data/models/gpt2', { files: (f) => !f.path.endsWith('.h5'), onProgress: (p) => log(p.bytesDone / p.bytesTotal) });
 */
export async function downloadFiles(
  listing: RepoListing,
  dest: string,
  opts: HubOptions & { files?: (f: HubFile) => boolean; concurrency?: number; signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {},
): Promise<{ files: HubFile[]; bytes: number; downloadedBytes: number }> {
  validateRepoId(listing.repo);
  const ctx = context(opts);
  const userSignal = opts.signal;
  if (userSignal?.aborted) throw cancelled();
  const root = path.resolve(dest);
  const selected = opts.files ? listing.files.filter(opts.files) : [...listing.files];
  const targets = selected.map((f) => {
    checkRepoPath(f.path);
    const final = path.resolve(root, ...f.path.split('/'));
    if (!final.startsWith(root + path.sep)) throw new HubError('bad_response', `file path ${JSON.stringify(f.path)} escapes ${root}`);
    return { file: f, final };
  });
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? HUB_POLICY.DEFAULT_CONCURRENCY));

  const bytesTotal = selected.reduce((a, f) => a + f.size, 0);
  const have = new Map<string, number>();
  let bytesDone = 0;
  let filesDone = 0;
  let downloadedBytes = 0;
  const lastEmit = new Map<string, number>();
  const setHave = (f: HubFile, n: number): void => {
    bytesDone += n - (have.get(f.path) ?? 0);
    have.set(f.path, n);
  };
  const emit = (f: HubFile, force: boolean): void => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - (lastEmit.get(f.path) ?? -Infinity) < HUB_POLICY.PROGRESS_INTERVAL_MS) return;
    lastEmit.set(f.path, now);
    try {
      opts.onProgress({ file: f.path, fileBytes: have.get(f.path) ?? 0, fileTotal: f.size, bytesDone, bytesTotal, filesDone, filesTotal: selected.length });
    } catch {
      // a failing progress callback must not break the download
    }
  };

  // One signal for every transfer: the caller's, or ours when a sibling fails.
  const stop = new AbortController();
  const signal = userSignal ? AbortSignal.any([userSignal, stop.signal]) : stop.signal;
  const resolveBase = `${ctx.endpoint}${listing.type === 'dataset' ? '/datasets' : ''}/${listing.repo}/resolve/${encodeURIComponent(listing.sha ?? listing.revision)}/`;
  const where = { repo: listing.repo, type: listing.type, revision: listing.revision };

  async function one(f: HubFile, final: string): Promise<void> {
    // Already there and right: skip.
    const existing = await sizeOf(final);
    if (existing === f.size && (!f.sha256 || (await hashFile(final, f.size, signal)).digest('hex') === f.sha256)) {
      setHave(f, f.size);
      filesDone++;
      emit(f, true);
      return;
    }
    await fs.mkdir(path.dirname(final), { recursive: true });
    const part = `${final}.part`;
    const url = resolveBase + f.path.split('/').map(encodeURIComponent).join('/');

    // Continue a .part from an earlier call: its bytes are hashed first.
    let partBytes = (await sizeOf(part)) ?? 0;
    if (partBytes > f.size) {
      await fs.truncate(part, 0);
      partBytes = 0;
    }
    let hash = await hashFile(part, partBytes, signal);
    let got = partBytes;
    setHave(f, got);
    emit(f, false);
    const restart = async (): Promise<void> => {
      await fs.truncate(part, 0);
      hash = createHash('sha256');
      got = 0;
      setHave(f, 0);
    };

    /** One request from `got` on; returns when the response ends. */
    const transfer = async (): Promise<void> => {
      const idle = new AbortController();
      const reqSignal = AbortSignal.any([signal, idle.signal]);
      let timer = setTimeout(() => idle.abort(), HUB_POLICY.IDLE_TIMEOUT_MS);
      const touch = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), HUB_POLICY.IDLE_TIMEOUT_MS);
      };
      const failed = (err: unknown): HubError => {
        if (signal.aborted) return cancelled(url);
        if (idle.signal.aborted) return new HubError('network', `no data for ${HUB_POLICY.IDLE_TIMEOUT_MS / 1000} s while downloading ${f.path}`, { url });
        if (err instanceof HubError) return err;
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return new HubError('network', `connection lost while downloading ${f.path}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { url, cause: err });
      };
      let fh: FileHandle | undefined;
      try {
        const headers: Record<string, string> = { 'accept-encoding': 'identity' };
        if (got > 0) headers.range = `bytes=${got}-`;
        let res: Response;
        try {
          res = await request(ctx, url, { headers, signal: reqSignal });
        } catch (err) {
          throw failed(err);
        }
        if (res.status === 416 && got > 0) {
          // The server does not have our bytes (the .part is longer than its file?): start over.
          await res.body?.cancel().catch(() => undefined);
          await restart();
          throw new HubError('network', `the hub refused to resume ${f.path}; starting over`, { status: 416, url });
        }
        if (!res.ok) throw await statusError(res, url, where, `downloading ${f.path}`);
        if (res.status === 206) {
          const range = parseContentRange(res.headers.get('content-range'));
          if (!range || range.start !== got) {
            await res.body?.cancel().catch(() => undefined);
            await restart();
            throw new HubError('network', `the hub resumed ${f.path} at the wrong offset (${res.headers.get('content-range')}, asked ${got}); starting over`, { status: 206, url });
          }
        } else if (got > 0) {
          await restart(); // 200: the whole file again
        }
        if (!res.body) return;
        fh = await fs.open(part, 'a');
        const reader = res.body.getReader();
        try {
          for (;;) {
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              chunk = await reader.read();
            } catch (err) {
              throw failed(err);
            }
            if (chunk.done) break;
            touch();
            const bytes = chunk.value;
            if (got + bytes.length > f.size) {
              throw new HubError('bad_response', `the hub sent more than the ${f.size} bytes listed for ${f.path}`, { status: res.status, url });
            }
            await fh.write(bytes);
            hash.update(bytes);
            got += bytes.length;
            downloadedBytes += bytes.length;
            setHave(f, got);
            emit(f, false);
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
      } finally {
        clearTimeout(timer);
        await fh?.close();
      }
    };

    for (let attempt = 0; got < f.size; attempt++) {
      if (signal.aborted) throw cancelled(url);
      try {
        await transfer();
        if (got < f.size) throw new HubError('network', `the connection closed after ${got} of ${f.size} bytes of ${f.path}`, { url });
      } catch (err) {
        if (signal.aborted) throw cancelled(url);
        if (!retryable(err) || attempt >= HUB_POLICY.MAX_RETRIES) throw err;
        await sleep(HUB_POLICY.RETRY_BASE_MS * 2 ** attempt, signal);
      }
    }
    if (got === 0) await fs.appendFile(part, new Uint8Array(0)); // an empty file gets no request

    const actualSize = (await sizeOf(part)) ?? 0;
    const actual = hash.digest('hex');
    if (actualSize !== f.size || (f.sha256 && actual !== f.sha256)) {
      await fs.rm(part, { force: true });
      setHave(f, 0);
      throw new HubError(
        'checksum',
        actualSize !== f.size
          ? `${f.path}: got ${actualSize} bytes, the listing says ${f.size}; the partial file was deleted`
          : `${f.path}: sha256 mismatch: expected ${f.sha256}, got ${actual}; the partial file was deleted`,
        { url },
      );
    }
    await fs.rename(part, final);
    filesDone++;
    emit(f, true);
  }

  let firstError: unknown;
  const queue = [...targets];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next && firstError === undefined; next = queue.shift()) {
      try {
        await one(next.file, next.final);
      } catch (err) {
        if (firstError === undefined) {
          firstError = userSignal?.aborted ? cancelled() : err;
          stop.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  if (firstError !== undefined) throw firstError;
  return { files: selected, bytes: bytesTotal, downloadedBytes };
}
