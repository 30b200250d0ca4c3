/**
 * `dataset.import` in-process: the real API (app.request), a real job runner
 * on pg-boss and PostgreSQL, and a local fake Hugging Face hub serving
 * dataset repositories. The same job through real processes is in
 * dataset-import.e2e.test.ts.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../models/config.ts';
import { createdDatasetSchema, datasetSampleSchema, datasetSchema, datasetStatsSchema, type Dataset } from '../models/contracts/datasets.ts';
import type { DatasetProgress, ServerMessage } from '../models/contracts/topics.ts';
import { DEMO_DATASET_FILE } from '../models/dataset-files.ts';
import { buildZip, type ZipEntrySpec } from '../models/datasets/fixtures/zip-writer.ts';
import type { ZipRule } from '../models/datasets/errors.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import { createEvents, listenEvents, type EventListener } from '../db/events.ts';
import { DEMO_DATASET_ID } from '../db/queries/datasets.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { datasetImport } from './dataset-import.ts';
import { registerDemoDataset } from './demo-dataset.ts';
import { registerDemoModel } from './demo-model.ts';
import { startJobRunner, type JobRunner } from './runner.ts';

const FIXTURES = path.join(import.meta.dirname, '..', 'models', 'datasets', 'fixtures');
const demoLines = readFileSync(DEMO_DATASET_FILE, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { text: string; source: string });

describe('dataset.import in-process', () => {
  let db: TestDatabase;
  let t: TestApp;
  let hub: HubServer;
  let runner: JobRunner;
  let listener: EventListener;
  let tokenizer: Tokenizer;
  const messages: ServerMessage[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-dataset-import-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    // A dataset repository with a parquet train split, a JSON Lines test split and a README.
    const repo = path.join(tmp, 'repo');
    mkdirSync(path.join(repo, 'data'), { recursive: true });
    copyFileSync(path.join(FIXTURES, 'demo-120-zstd.parquet'), path.join(repo, 'data', 'train-00000-of-00001.parquet'));
    writeFileSync(path.join(repo, 'data', 'test-00000-of-00001.jsonl'), demoLines.slice(200, 203).map((d) => JSON.stringify(d)).join('\n') + '\n');
    writeFileSync(path.join(repo, 'README.md'), '# a dataset\n');
    // A big one (12 MB, 3 s at the hub's 4 MB/s), to cancel while it downloads.
    const big = path.join(tmp, 'big');
    mkdirSync(big);
    writeFileSync(path.join(big, 'train.jsonl'), readFileSync(DEMO_DATASET_FILE, 'utf8').repeat(5));

    db = await createTestDatabase('loupe_dataset_import');
    [hub, tokenizer] = await Promise.all([
      startHubServer({
        repos: [
          { repo: 'loupe-test/mixed', type: 'dataset', dir: repo },
          { repo: 'loupe-test/big', type: 'dataset', dir: big },
        ],
        bytesPerSecond: 4 * 1024 * 1024,
      }),
      loadTokenizer(DEMO_MODEL_DIR),
    ]);
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const config = loadConfig({ DATA_DIR: dataDir, HF_ENDPOINT: hub.url, WORKER_CONCURRENCY: '6', ZIP_MAX_ENTRIES: '50', ZIP_MAX_BYTES: '2000000' });
    // (A variable rather than a literal: the runner's options grow with the worker-recovery work.)
    const opts = { boss: t.boss, database: db, events: createEvents(db.pool), config, kinds: [datasetImport], log: logger('test-runner'), workerId: 'test-worker', pollingIntervalSeconds: 0.5, stateCheckMs: 300 };
    runner = await startJobRunner(opts);
    listener = await listenEvents(db.url, { pool: db.pool, onEvent: (m) => messages.push(m) });
  });
  afterAll(async () => {
    await listener?.close();
    await runner?.stop();
    await t?.stop();
    await hub?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const api = async (p: string, init?: RequestInit) => t.request(p, init);
  const dataset = async (id: string) => datasetSchema.parse(await (await api(`/api/datasets/${id}`)).json());
  const until = (id: string, statuses: Dataset['status'][], timeoutMs = 20_000) =>
    waitFor(`dataset ${id} to be ${statuses.join(' or ')}`, async () => {
      const d = await dataset(id);
      return statuses.includes(d.status) ? d : undefined;
    }, timeoutMs, 50);
  const events = (id: string) => messages.filter((m) => m.topic === `dataset/${id}`).map((m) => m.data as DatasetProgress);
  const importHub = async (source: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const res = await api('/api/datasets', { method: 'POST', body: JSON.stringify({ source: { kind: 'hub', ...source }, ...extra }) });
    expect(res.status).toBe(202);
    return createdDatasetSchema.parse(await res.json());
  };
  const uploadFile = async (fileName: string, body: Buffer | string, query = '') => {
    const res = await api(`/api/datasets/upload?filename=${encodeURIComponent(fileName)}${query}`, { method: 'POST', body: typeof body === 'string' ? body : Uint8Array.from(body), headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status, await res.clone().text()).toBe(202);
    return createdDatasetSchema.parse(await res.json());
  };
  /** Waits until the folder of a completed import holds only the tokenized files: raw/ and files/ go just after the row says completed. */
  const onlyTokens = (id: string) =>
    waitFor(`raw/ and files/ of ${id} to go`, () => {
      const names = readdirSync(path.join(dataDir, 'datasets', id)).sort();
      return names.join() === 'docs.bin,meta.json,stats.json,tokens.bin' ? true : undefined;
    }, 5000, 20);
  /** Tokens of texts with one EOS each (GPT-2's rule), counted by the tokenizer directly. */
  const tokensOf = (texts: string[]) => texts.reduce((n, s) => n + tokenizer.encode(s).length + 1, 0);

  it('tokenizes the demo dataset queued at registration: 1,272 documents, 716,294 tokens, live progress on dataset/{id}', async () => {
    expect(await registerDemoDataset({ database: db, boss: t.boss, config: { dataDir }, log: logger('test') })).toBe('queued');
    const done = await until(DEMO_DATASET_ID, ['completed', 'failed']);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: 'completed', builtin: true, stats: { documents: 1272, tokens: 716_294, truncated: false, skippedRows: 0 }, settings: { addBos: false, addEos: true } });
    expect(done.progress).toMatchObject({ status: 'completed', phase: 'tokenizing', documents: 1272, tokens: 716_294, etaSeconds: 0 });
    const dir = path.join(dataDir, 'datasets', DEMO_DATASET_ID);
    expect(readdirSync(dir).sort()).toEqual(['docs.bin', 'meta.json', 'stats.json', 'tokens.bin']);
    expect(done.sizeBytes).toBeGreaterThan(716_294 * 4);
    // Registered again (a worker restarting): already tokenized, nothing queued.
    expect(await registerDemoDataset({ database: db, boss: t.boss, config: { dataDir }, log: logger('test') })).toBe('ready');

    // Live events: running ones with growing counts, the last one completed.
    await waitFor('the completed event', () => events(DEMO_DATASET_ID).find((e) => e.status === 'completed'), 5000, 20);
    const running = events(DEMO_DATASET_ID).filter((e) => e.status === 'running');
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < running.length; i++) expect(running[i]!.tokens).toBeGreaterThanOrEqual(running[i - 1]!.tokens);
    expect(running.some((e) => e.phase === 'tokenizing' && e.tokens > 0 && e.tokens < 716_294 && e.tokensPerSecond > 0 && e.bytesTotal === readFileSync(DEMO_DATASET_FILE).length)).toBe(true);

    const stats = datasetStatsSchema.parse(await (await api(`/api/datasets/${DEMO_DATASET_ID}/stats`)).json());
    expect(stats).toMatchObject({ documents: 1272, tokens: 716_294, vocabSize: tokenizer.vocabSize, emptyDocuments: 0 });
    expect(stats.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1272);
    expect(stats.topTokens.length).toBe(50);

    // The sample browser: token strings that join back to the text, the EOS last.
    const page = datasetSampleSchema.parse(await (await api(`/api/datasets/${DEMO_DATASET_ID}/samples?offset=1&limit=2`)).json());
    expect(page).toMatchObject({ offset: 1, limit: 2, total: 1272 });
    expect(page.documents.map((d) => d.index)).toEqual([1, 2]);
    const doc = page.documents[0]!;
    expect(doc.ids).toEqual([...tokenizer.encode(demoLines[1]!.text), tokenizer.eosId]);
    expect(doc.strings.slice(0, -1).join('')).toBe(demoLines[1]!.text);
    expect(doc.strings.at(-1)).toBe('<|endoftext|>');
    expect(page.documents[1]!.start).toBe(doc.start + doc.length);
  });

  it('imports the train split of a hub dataset repository (parquet), downloading only its files; another split (JSON Lines) too', async () => {
    const { dataset: queued } = await importHub({ repo: 'loupe-test/mixed' });
    const done = await until(queued.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    expect(done.stats).toMatchObject({ documents: 120, tokens: tokensOf(demoLines.slice(0, 120).map((d) => d.text)) });
    const asked = hub.requests.filter((r) => r.url.startsWith('/datasets/loupe-test/mixed/resolve/')).map((r) => decodeURIComponent(r.url.split('/resolve/')[1]!.split('/').slice(1).join('/')));
    expect([...new Set(asked)]).toEqual(['data/train-00000-of-00001.parquet']);
    await onlyTokens(queued.id);
    const downloading = events(queued.id).filter((e) => e.phase === 'downloading');
    expect(downloading.length).toBeGreaterThan(0);

    const { dataset: test } = await importHub({ repo: 'loupe-test/mixed', split: 'test' }, { maxDocuments: 2, addBos: true });
    const testDone = await until(test.id, ['completed', 'failed']);
    expect(testDone).toMatchObject({ name: 'mixed (test)', status: 'completed', stats: { documents: 2, truncated: true }, settings: { addBos: true, addEos: false } });
  });

  it('fails a hub import at once with a message naming what is wrong: the split, the text column (listing the columns), the repository', async () => {
    const cases = await Promise.all([
      importHub({ repo: 'loupe-test/mixed', split: 'validation' }),
      importHub({ repo: 'loupe-test/mixed', textColumn: 'content' }),
      importHub({ repo: 'loupe-test/mixed', split: 'test', textColumn: 'body' }),
      importHub({ repo: 'loupe-test/mixed', files: ['data/nope.jsonl'] }),
      importHub({ repo: 'loupe-test/missing' }),
    ]);
    const failed = await Promise.all(cases.map((c) => until(c.dataset.id, ['failed', 'completed'])));
    expect(failed.map((d) => d.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    expect(failed[0]!.error).toBe('loupe-test/mixed@main: no split "validation" (splits: train, test)');
    expect(failed[1]!.error).toBe('data/train-00000-of-00001.parquet: no column "content" (columns: source, text)');
    expect(failed[2]!.error).toBe('data/test-00000-of-00001.jsonl: line 1: no "body" field (fields: text, source)');
    expect(failed[3]!.error).toMatch(/has no file "data\/nope.jsonl"/);
    expect(failed[4]!.error).toMatch(/loupe-test\/missing/);
    for (const c of cases) {
      // Failed for good on the first attempt (the row is written just before the handler throws).
      const j = await waitFor('the job to fail', async () => ((await t.boss.getJobById('dataset.import', c.job.id))?.state === 'failed' ? t.boss.getJobById('dataset.import', c.job.id) : undefined), 5000, 20);
      expect(j).toMatchObject({ state: 'failed', retryCount: 0 });
      expect(existsSync(path.join(dataDir, 'datasets', c.dataset.id))).toBe(false);
    }
  });

  it('imports an uploaded zip: its data files extracted and tokenized, the upload and extraction removed', async () => {
    const jsonl = demoLines.slice(0, 30).map((d) => JSON.stringify(d)).join('\n');
    const zip = buildZip([
      { name: 'corpus/' },
      { name: 'corpus/part-1.jsonl', data: jsonl },
      { name: 'corpus/part-2.jsonl', data: demoLines.slice(30, 40).map((d) => JSON.stringify(d)).join('\n'), method: 0 },
      { name: 'README.md', data: '# not data' },
    ]);
    const { dataset: queued } = await uploadFile('corpus.zip', zip);
    expect(queued.source).toEqual({ kind: 'upload', fileName: 'corpus.zip', bytes: zip.length });
    const done = await until(queued.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    expect(done.stats).toMatchObject({ documents: 40, tokens: tokensOf(demoLines.slice(0, 40).map((d) => d.text)) });
    await onlyTokens(queued.id);
    expect(events(queued.id).some((e) => e.phase === 'extracting')).toBe(true);
  });

  it('refuses every kind of bad archive, naming the archive, the entry and the rule; nothing is left', async () => {
    const GOOD = { name: 'data/ok.jsonl', data: '{"text": "fine"}\n' };
    const text = 'lorem ipsum dolor sit amet '.repeat(30_000); // 810 kB each, under the ratio rule's 1 MiB grace
    const zeros = 1536 * 1024; // 1.5 MiB of zeros deflate ~1000×, within the total limit
    const bomb = deflateRawSync(Buffer.alloc(zeros));
    const cases: [ZipRule, string, ZipEntrySpec[] | Buffer][] = [
      ['path_traversal', '../evil.txt', [GOOD, { name: '../evil.txt', data: 'x' }]],
      ['absolute_path', '/etc/cron.d/evil.txt', [{ name: '/etc/cron.d/evil.txt', data: 'x' }]],
      ['bad_name', 'dir\\file.txt', [{ name: 'dir\\file.txt', data: 'x' }]],
      ['symlink', 'link.txt', [GOOD, { name: 'link.txt', data: '/etc/passwd', method: 0, externalAttributes: 0o120777 << 16 }]],
      ['duplicate', 'a.txt', [{ name: 'A.txt', data: 'x' }, { name: 'a.txt', data: 'y' }]],
      ['encrypted', 'secret.txt', [GOOD, { name: 'secret.txt', data: 'x', flags: 0x801 }]],
      ['compression_method', 'b.txt', [{ name: 'b.txt', data: 'x', method: 12 }]],
      ['nested_archive', 'more/inner.zip', [GOOD, { name: 'more/inner.zip', data: buildZip([{ name: 'a.txt', data: 'x' }]) }]],
      // ZIP_MAX_ENTRIES=50 and ZIP_MAX_BYTES=2000000 in this worker's environment
      ['too_many_entries', 'bulk.zip', Array.from({ length: 51 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` }))],
      ['too_large', 't2.txt', [0, 1, 2].map((i) => ({ name: `t${i}.txt`, data: text }))],
      ['compression_ratio', 'zeros.txt', [GOOD, { name: 'zeros.txt', rawCompressed: bomb, declaredSize: zeros }]],
      ['size_mismatch', 'zeros.txt', [GOOD, { name: 'zeros.txt', rawCompressed: bomb, declaredSize: 1024 }]],
      ['malformed', 'junk.zip', Buffer.from('not a zip at all')],
    ];
    const uploads = await Promise.all(cases.map(([rule, , entries]) => uploadFile(`${rule}.zip`, Buffer.isBuffer(entries) ? entries : buildZip(entries))));
    const ended = await Promise.all(uploads.map((u) => until(u.dataset.id, ['failed', 'completed'])));
    for (const [i, [rule, entry]] of cases.entries()) {
      const d = ended[i]!;
      expect(d.status, `${rule}: ${d.error}`).toBe('failed');
      expect(d.error, rule).toMatch(new RegExp(`^${rule}\\.zip: `));
      expect(d.error, rule).toContain(`rule: ${rule}`);
      if (rule !== 'too_many_entries' && rule !== 'malformed') expect(d.error, rule).toContain(JSON.stringify(entry));
      expect(existsSync(path.join(dataDir, 'datasets', d.id)), rule).toBe(false);
    }
    expect(ended[8]!.error).toMatch(/51 entries, more than the limit of 50/);
    // Nothing but the archive: a zip without data files says what it holds.
    const { dataset: empty } = await uploadFile('images.zip', buildZip([{ name: 'logo.png', data: 'png' }]));
    expect((await until(empty.id, ['failed', 'completed'])).error).toBe('images.zip: no dataset files in the archive (.txt, .jsonl, .json, .csv, .tsv, .parquet); it holds logo.png');
  });

  it('names the file and line of a bad row, or skips bad rows when asked', async () => {
    const lines = ['{"text": "one"}', '{"text": "two"}', '{"text": oops}', '{"text": "four"}'].join('\n');
    const { dataset: strict } = await uploadFile('rows.jsonl', lines);
    expect((await until(strict.id, ['failed', 'completed'])).error).toMatch(/^rows\.jsonl: line 3: not valid JSON/);
    const { dataset: lenient } = await uploadFile('rows.jsonl', lines, '&onBadRow=skip');
    expect((await until(lenient.id, ['failed', 'completed'])).stats).toMatchObject({ documents: 3, skippedRows: 1 });
    const { dataset: csv } = await uploadFile('table.csv', 'id,body\n1,hello\n', '&textColumn=text');
    expect((await until(csv.id, ['failed', 'completed'])).error).toBe('table.csv: no column "text" in the header row (columns: id, body)');
  });

  it('cancels a running import: the dataset is cancelled and its folder removed, while downloading and while tokenizing', async () => {
    // While downloading, through the jobs API.
    const { dataset: big, job } = await importHub({ repo: 'loupe-test/big' });
    const bigDir = path.join(dataDir, 'datasets', big.id);
    await waitFor('bytes', async () => ((await dataset(big.id)).progress?.bytesDone ?? 0) > 0 || undefined, 20_000, 50);
    expect((await dataset(big.id)).progress).toMatchObject({ phase: 'downloading', status: 'running', file: 'train.jsonl' });
    expect((await api(`/api/jobs/${job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect((await until(big.id, ['cancelled', 'completed'])).status).toBe('cancelled');
    await waitFor('the folder to go', () => (existsSync(bigDir) ? undefined : true), 5000, 20);

    // While tokenizing: the demo text four times, deleted through the API (which cancels first).
    const { dataset: long } = await uploadFile('long.jsonl', readFileSync(DEMO_DATASET_FILE, 'utf8').repeat(4));
    await waitFor('tokens', async () => ((await dataset(long.id)).progress?.tokens ?? 0) > 0 || undefined, 20_000, 50);
    const dir = path.join(dataDir, 'datasets', long.id);
    expect(existsSync(dir)).toBe(true);
    const cancel = await api(`/api/jobs/${(await dataset(long.id)).jobId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect((await until(long.id, ['cancelled', 'completed'])).status).toBe('cancelled');
    await waitFor('the folder to go', () => (existsSync(dir) ? undefined : true), 5000, 20);
    await waitFor('the cancelled event', () => events(long.id).find((e) => e.status === 'cancelled'), 5000, 20);
  });
});
