import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { checkRepoPath, downloadFiles, HubError, listRepoFiles, validateRepoId, type DownloadProgress } from './hub.ts';

const DEMO = path.join(import.meta.dirname, '..', 'demo', 'models', 'tiny-gpt2-debian-6l');
const WEIGHTS = 'model.safetensors';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-hub-'));
const servers: HubServer[] = [];
let counter = 0;

beforeAll(() => {
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_ENDPOINT', '');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

async function serve(opts: Parameters<typeof startHubServer>[0]): Promise<HubServer> {
  const s = await startHubServer(opts);
  servers.push(s);
  return s;
}

/** A fresh empty folder. */
function folder(name: string): string {
  const dir = path.join(tmp, `${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Every file under `dir`, relative `/`-separated paths, sorted. */
function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

/** Rejects with a HubError: returns it for assertions. */
async function hubError(p: Promise<unknown>): Promise<HubError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  return err as HubError;
}

const resolves = (s: HubServer, file: string) => s.requests.filter((r) => r.method === 'GET' && r.url.includes('/resolve/') && r.url.endsWith(`/${file}`));

describe('hub: listing', () => {
  it('lists the demo model with sizes, LFS sha256 and the commit', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }] });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    expect(listing).toMatchObject({ repo: 'loupe/tiny-gpt2', type: 'model', revision: 'main' });
    expect(listing.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(listing.files.map((f) => f.path).sort()).toEqual(filesIn(DEMO));
    const weights = listing.files.find((f) => f.path === WEIGHTS)!;
    expect(weights.size).toBe(statSync(path.join(DEMO, WEIGHTS)).size);
    expect(weights.sha256).toBe(sha256(readFileSync(path.join(DEMO, WEIGHTS))));
    // Small files are plain git blobs: no content hash.
    expect(listing.files.find((f) => f.path === 'generation_config.json')!.sha256).toBeUndefined();
    // The tree was asked for the resolved commit, not the branch name.
    expect(hub.requests.some((r) => r.url === `/api/models/loupe/tiny-gpt2/tree/${listing.sha}?recursive=true`)).toBe(true);
  });

  it('follows pagination and lists nested folders', async () => {
    const dir = folder('nested');
    const expected: string[] = [];
    for (const p of ['top.txt', 'a/one.txt', 'a/b/two.txt', 'a/b/c/three.bin', 'd/four.txt', 'd/e/five.txt', 'd/e/six.txt']) {
      mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
      writeFileSync(path.join(dir, p), p);
      expected.push(p);
    }
    const hub = await serve({ repos: [{ repo: 'nested', dir }], pageSize: 3 });
    const listing = await listRepoFiles('nested', { endpoint: hub.url });
    expect(listing.files.map((f) => f.path).sort()).toEqual(expected.sort());
    expect(listing.files.find((f) => f.path === 'a/b/c/three.bin')).toMatchObject({ size: 15, sha256: sha256(Buffer.from('a/b/c/three.bin')) });
    // 7 files + 5 directories in pages of 3: 4 pages.
    const pages = hub.requests.filter((r) => r.url.includes('/tree/'));
    expect(pages).toHaveLength(4);
    expect(pages.slice(1).every((r) => /cursor=\d+/.test(r.url))).toBe(true);
  });

  it('names the repo and the revision when either is missing', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO, revisions: ['main', 'v1'] }] });
    const noRepo = await hubError(listRepoFiles('loupe/nope', { endpoint: hub.url }));
    expect(noRepo).toMatchObject({ code: 'not_found', status: 404 });
    expect(noRepo.message).toMatch(/loupe\/nope/);
    expect(noRepo.message).toMatch(/"main"/);
    const noRev = await hubError(listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url, revision: 'v2' }));
    expect(noRev).toMatchObject({ code: 'not_found', status: 404 });
    expect(noRev.message).toMatch(/revision "v2" not found in model repo loupe\/tiny-gpt2/);
    const v1 = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url, revision: 'v1' });
    expect(v1.files).toHaveLength(filesIn(DEMO).length);
    // A dataset of the same name is another repo.
    expect((await hubError(listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url, type: 'dataset' }))).code).toBe('not_found');
  });

  it('reports a hub that cannot be reached as a network error', async () => {
    const hub = await serve({ repos: [] });
    const url = hub.url;
    await hub.close();
    const err = await hubError(listRepoFiles('gpt2', { endpoint: url }));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/cannot reach 127\.0\.0\.1/);
  }, 20_000);
});

describe('hub: private repos', () => {
  it('answers unauthorized without the token and works with it; the token never goes to the CDN', async () => {
    const hub = await serve({ repos: [{ repo: 'acme/secret', dir: DEMO, private: true }], token: 'hf_sekrit', redirectLfs: true, separateCdnOrigin: true });
    const err = await hubError(listRepoFiles('acme/secret', { endpoint: hub.url }));
    expect(err).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(err.message).toMatch(/HF_TOKEN is missing or lacks access to model repo acme\/secret/);
    expect((await hubError(listRepoFiles('acme/secret', { endpoint: hub.url, token: 'hf_wrong' }))).code).toBe('unauthorized');

    const listing = await listRepoFiles('acme/secret', { endpoint: hub.url, token: 'hf_sekrit' });
    const dest = folder('secret');
    // A listing made with the token, downloaded without: refused.
    expect((await hubError(downloadFiles(listing, dest, { endpoint: hub.url }))).code).toBe('unauthorized');
    await downloadFiles(listing, dest, { endpoint: hub.url, token: 'hf_sekrit' });
    expect(readFileSync(path.join(dest, WEIGHTS)).equals(readFileSync(path.join(DEMO, WEIGHTS)))).toBe(true);
    const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.host === new URL(hub.cdnUrl).host && r.auth === undefined)).toBe(true);
    expect(resolves(hub, WEIGHTS).at(-1)!.auth).toBe('Bearer hf_sekrit');
  });
});

describe('hub: downloads', () => {
  it('downloads a whole repo byte for byte, with progress, and skips it the second time', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }], redirectLfs: true });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('full');
    const events: DownloadProgress[] = [];
    const result = await downloadFiles(listing, dest, { endpoint: hub.url, concurrency: 3, onProgress: (p) => events.push(p) });
    expect(filesIn(dest)).toEqual(filesIn(DEMO));
    for (const f of filesIn(DEMO)) expect(readFileSync(path.join(dest, f)).equals(readFileSync(path.join(DEMO, f))), f).toBe(true);
    const total = listing.files.reduce((a, f) => a + f.size, 0);
    expect(result).toEqual({ files: listing.files, bytes: total, downloadedBytes: total });
    expect(events.at(-1)).toMatchObject({ bytesDone: total, bytesTotal: total, filesDone: listing.files.length, filesTotal: listing.files.length });
    // One final event per file, with the whole file.
    for (const f of listing.files) expect(events.filter((e) => e.file === f.path && e.fileBytes === f.size).length).toBeGreaterThanOrEqual(1);
    expect(events.map((e) => e.filesDone)).toEqual([...events.map((e) => e.filesDone)].sort((a, b) => a - b));
    // LFS files came through the CDN redirect.
    expect(hub.requests.some((r) => r.url === `/cdn/0/${WEIGHTS}`)).toBe(true);

    const before = hub.requests.length;
    const again = await downloadFiles(listing, dest, { endpoint: hub.url });
    expect(again.downloadedBytes).toBe(0);
    expect(hub.requests.length).toBe(before);
  });

  it('resumes with a Range request after a dropped connection', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }], faults: { dropAfterBytes: { [WEIGHTS]: 1_000_000, 'config.json': 100 } } });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('drop');
    await downloadFiles(listing, dest, { endpoint: hub.url });
    for (const f of [WEIGHTS, 'config.json']) {
      expect(readFileSync(path.join(dest, f)).equals(readFileSync(path.join(DEMO, f))), f).toBe(true);
      const reqs = resolves(hub, f);
      expect(reqs.length, f).toBe(2);
      expect(reqs[0]!.range).toBeUndefined();
      expect(reqs[1]!.range, f).toMatch(/^bytes=[1-9]\d*-$/);
    }
    expect(resolves(hub, WEIGHTS)[1]!.range).toBe('bytes=1000000-');
    expect(filesIn(dest).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('retries a 503 and starts over when a resume is answered with the whole file', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }], faults: { unavailable: { 'vocab.json': 2 }, ignoreRange: [WEIGHTS] } });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('retry');
    const source = readFileSync(path.join(DEMO, WEIGHTS));
    writeFileSync(path.join(dest, `${WEIGHTS}.part`), source.subarray(0, 1_000_000));
    const result = await downloadFiles(listing, dest, { endpoint: hub.url, files: (f) => f.path === WEIGHTS || f.path === 'vocab.json' });
    expect(resolves(hub, 'vocab.json')).toHaveLength(3);
    expect(resolves(hub, WEIGHTS).map((r) => r.range)).toEqual(['bytes=1000000-']);
    expect(result.downloadedBytes).toBe(source.length + statSync(path.join(DEMO, 'vocab.json')).size);
    expect(readFileSync(path.join(dest, WEIGHTS)).equals(source)).toBe(true);
    expect(readFileSync(path.join(dest, 'vocab.json')).equals(readFileSync(path.join(DEMO, 'vocab.json')))).toBe(true);
    expect(filesIn(dest)).toEqual([WEIGHTS, 'vocab.json']);
  });

  it('gives up after the retries with the status in the error', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }], faults: { unavailable: { 'config.json': 100 } } });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const err = await hubError(downloadFiles(listing, folder('give-up'), { endpoint: hub.url, files: (f) => f.path === 'config.json' }));
    expect(err).toMatchObject({ code: 'network', status: 503 });
    expect(err.message).toMatch(/downloading config\.json: the hub answered HTTP 503/);
    expect(resolves(hub, 'config.json')).toHaveLength(6);
  });

  it('continues a .part left by an earlier call', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }] });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('part');
    const source = readFileSync(path.join(DEMO, WEIGHTS));
    writeFileSync(path.join(dest, `${WEIGHTS}.part`), source.subarray(0, 3_000_000));
    const result = await downloadFiles(listing, dest, { endpoint: hub.url, files: (f) => f.path === WEIGHTS });
    expect(result.files.map((f) => f.path)).toEqual([WEIGHTS]);
    expect(result.downloadedBytes).toBe(source.length - 3_000_000);
    expect(resolves(hub, WEIGHTS).map((r) => r.range)).toEqual(['bytes=3000000-']);
    expect(readFileSync(path.join(dest, WEIGHTS)).equals(source)).toBe(true);
    expect(filesIn(dest)).toEqual([WEIGHTS]);
  });

  it('a .part with wrong bytes fails the checksum, is deleted, and the next call succeeds', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }] });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('badpart');
    writeFileSync(path.join(dest, `${WEIGHTS}.part`), randomBytes(1000));
    const only = { endpoint: hub.url, files: (f: { path: string }) => f.path === WEIGHTS };
    expect((await hubError(downloadFiles(listing, dest, only))).code).toBe('checksum');
    expect(filesIn(dest)).toEqual([]);
    await downloadFiles(listing, dest, only);
    expect(readFileSync(path.join(dest, WEIGHTS)).equals(readFileSync(path.join(DEMO, WEIGHTS)))).toBe(true);
  });

  it('refuses a corrupted file with a checksum error and leaves nothing under its name', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }], faults: { corrupt: [WEIGHTS] } });
    const listing = await listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url });
    const dest = folder('corrupt');
    const err = await hubError(downloadFiles(listing, dest, { endpoint: hub.url }));
    expect(err.code).toBe('checksum');
    const expected = listing.files.find((f) => f.path === WEIGHTS)!.sha256!;
    expect(err.message).toContain(WEIGHTS);
    expect(err.message).toContain(`expected ${expected}`);
    expect(err.message).toMatch(/got [0-9a-f]{64}/);
    expect(existsSync(path.join(dest, WEIGHTS))).toBe(false);
    expect(existsSync(path.join(dest, `${WEIGHTS}.part`))).toBe(false);
  });

  it('cancels promptly, keeps the .part, and a later call resumes from it', async () => {
    const dir = folder('cancel-src');
    const source = randomBytes(3_000_000);
    writeFileSync(path.join(dir, 'big.bin'), source);
    const slow = await serve({ repos: [{ repo: 'acme/big', dir }], bytesPerSecond: 1_000_000 });
    const listing = await listRepoFiles('acme/big', { endpoint: slow.url });
    const dest = folder('cancel');
    const ctrl = new AbortController();
    let abortedAt = 0;
    const times: number[] = [];
    const err = await hubError(
      downloadFiles(listing, dest, {
        endpoint: slow.url,
        signal: ctrl.signal,
        onProgress: (p) => {
          times.push(performance.now());
          if (p.fileBytes >= 300_000 && !abortedAt) {
            abortedAt = Date.now();
            ctrl.abort();
          }
        },
      }),
    );
    expect(err.code).toBe('cancelled');
    expect(Date.now() - abortedAt).toBeLessThan(500);
    // Throttled to ~10 events a second (the server sends a chunk every 50 ms).
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(90);
    const part = path.join(dest, 'big.bin.part');
    const partBytes = statSync(part).size;
    expect(partBytes).toBeGreaterThanOrEqual(300_000);
    expect(partBytes).toBeLessThan(source.length);
    expect(existsSync(path.join(dest, 'big.bin'))).toBe(false);

    // Same content served at full speed: the same commit, so the listing still holds.
    const fast = await serve({ repos: [{ repo: 'acme/big', dir }] });
    const result = await downloadFiles(listing, dest, { endpoint: fast.url });
    expect(result.downloadedBytes).toBe(source.length - partBytes);
    expect(resolves(fast, 'big.bin').map((r) => r.range)).toEqual([`bytes=${partBytes}-`]);
    expect(readFileSync(path.join(dest, 'big.bin')).equals(source)).toBe(true);
  });

  it('refuses an already-aborted signal without a request', async () => {
    const hub = await serve({ repos: [{ repo: 'loupe/tiny-gpt2', dir: DEMO }] });
    const err = await hubError(listRepoFiles('loupe/tiny-gpt2', { endpoint: hub.url, signal: AbortSignal.abort() }));
    expect(err.code).toBe('cancelled');
    expect(hub.requests).toEqual([]);
  });

  it('downloads datasets from /datasets/ URLs, nested files included', async () => {
    const dir = folder('ds-src');
    mkdirSync(path.join(dir, 'data', 'train'), { recursive: true });
    const shard = randomBytes(5000);
    writeFileSync(path.join(dir, 'data', 'train', '00000.parquet'), shard);
    writeFileSync(path.join(dir, 'README.md'), '# tiny\n');
    const hub = await serve({ repos: [{ repo: 'acme/corpus', type: 'dataset', dir }] });
    const listing = await listRepoFiles('acme/corpus', { endpoint: hub.url, type: 'dataset' });
    const dest = folder('ds');
    await downloadFiles(listing, dest, { endpoint: hub.url });
    expect(filesIn(dest)).toEqual(['README.md', 'data/train/00000.parquet']);
    expect(readFileSync(path.join(dest, 'data', 'train', '00000.parquet')).equals(shard)).toBe(true);
    expect(hub.requests.filter((r) => r.url.startsWith('/datasets/acme/corpus/resolve/'))).toHaveLength(2);
  });
});

describe('hub: hostile input', () => {
  it('refuses a listing with a path that escapes the destination', async () => {
    const dir = folder('evil-src');
    writeFileSync(path.join(dir, 'ok.txt'), 'ok');
    for (const evil of ['../evil.txt', '/etc/evil', 'a\\..\\evil.txt', 'a/../../evil.txt']) {
      const hub = await serve({ repos: [{ repo: 'evil/repo', dir, extraTreeEntries: [{ type: 'file', oid: '0'.repeat(40), size: 4, path: evil }] }] });
      const err = await hubError(listRepoFiles('evil/repo', { endpoint: hub.url }));
      expect(err.code).toBe('bad_response');
      expect(err.message).toContain(JSON.stringify(evil));
    }
    // A listing made by hand is checked too, before anything is written.
    const parent = folder('evil');
    const dest = path.join(parent, 'dest');
    const hub = await serve({ repos: [{ repo: 'evil/repo', dir }] });
    const listing = { repo: 'evil/repo', type: 'model' as const, revision: 'main', files: [{ path: 'ok.txt', size: 2 }, { path: '../evil.txt', size: 2 }] };
    expect((await hubError(downloadFiles(listing, dest, { endpoint: hub.url }))).code).toBe('bad_response');
    expect(filesIn(parent)).toEqual([]);
    expect(hub.requests).toEqual([]);
  });

  it('checks file paths', () => {
    for (const ok of ['config.json', 'a/b/c.bin', 'dots..in.name', '.gitattributes']) expect(checkRepoPath(ok)).toBe(ok);
    for (const bad of ['', '..', '../x', 'a/../b', 'a/./b', './a', 'a//b', 'a/', '/abs', 'a\\b', 'C:/x', 'a\0b']) {
      expect(() => checkRepoPath(bad), JSON.stringify(bad)).toThrow(HubError);
    }
  });

  it('checks repository ids before any request', async () => {
    for (const ok of ['gpt2', 'openai-community/gpt2', 'a.b_c-d/E9', 'x'.repeat(96)]) expect(validateRepoId(ok)).toBe(ok);
    for (const bad of ['', 'a/b/c', '../x', 'a..b', 'x/..', '-a', 'a-', '.a', 'a.', 'x'.repeat(97), 'a b', 'owner/na$me', '/gpt2', 'gpt2/', 'a/./b']) {
      expect(() => validateRepoId(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
    expect(() => validateRepoId('a/b/c')).toThrow(/invalid repository id "a\/b\/c": more than one "\/"/);
    const hub = await serve({ repos: [] });
    await expect(listRepoFiles('../etc', { endpoint: hub.url })).rejects.toThrow(TypeError);
    expect(hub.requests).toEqual([]);
  });
});
