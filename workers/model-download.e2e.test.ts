/**
 * `model.download` end to end: a real server process and two real worker
 * processes against one PostgreSQL, a local fake Hugging Face hub serving the
 * demo model (and a few broken repositories), progress observed through the
 * server's WebSocket hub.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createdModelSchema, jobSchema, modelListSchema, modelSchema, type Model } from '../models/contracts/api.ts';
import type { ModelProgress } from '../models/contracts/topics.ts';
import { DEMO_MODEL_DIR, isModelFile } from '../models/model-files.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { startStack, type Stack } from '../scripts/testing/stack.ts';

/** Per response; the demo model's 14 MB weights take about 2 s, the 48 MB repo about 6 s. */
const BYTES_PER_SECOND = 8 * 1024 * 1024;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('model.download through real processes', () => {
  let db: TestDatabase;
  let hub: HubServer;
  let stack: Stack;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-download-'));
  const dataDir = path.join(tmp, 'data');
  const demoFiles = readdirSync(DEMO_MODEL_DIR).filter(isModelFile).sort();
  const demoBytes = demoFiles.reduce((n, f) => n + statSync(path.join(DEMO_MODEL_DIR, f)).size, 0);

  beforeAll(async () => {
    // A BERT: the demo's files with another model_type.
    const bert = path.join(tmp, 'bert');
    mkdirSync(bert);
    for (const f of ['tokenizer.json', 'vocab.json', 'model.safetensors']) copyFileSync(path.join(DEMO_MODEL_DIR, f), path.join(bert, f));
    writeFileSync(path.join(bert, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(path.join(DEMO_MODEL_DIR, 'config.json'), 'utf8')), model_type: 'bert' }));
    // A big one, to cancel while it downloads.
    const big = path.join(tmp, 'big');
    mkdirSync(big);
    copyFileSync(path.join(DEMO_MODEL_DIR, 'config.json'), path.join(big, 'config.json'));
    writeFileSync(path.join(big, 'model.safetensors'), Buffer.alloc(48 << 20, 1));

    db = await createTestDatabase('loupe_download');
    hub = await startHubServer({
      repos: [
        { repo: 'loupe-test/tiny-gpt2', dir: DEMO_MODEL_DIR },
        { repo: 'loupe-test/bert', dir: bert },
        { repo: 'loupe-test/big', dir: big },
      ],
      bytesPerSecond: BYTES_PER_SECOND,
    });
    // Two workers starting together: both register the demo model.
    stack = await startStack({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', HF_ENDPOINT: hub.url }, { workers: 2 });
  });
  afterAll(async () => {
    // Clean exits: the workers' runners and pg-boss stop within the grace period.
    await stack?.stop();
    await hub?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const add = async (body: unknown) => {
    const res = await stack.api('/api/models', { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(202);
    const created = createdModelSchema.parse(await res.json());
    stack.subscribe(`model/${created.model.id}`);
    return created;
  };
  const model = async (id: string) => modelSchema.parse(await (await stack.api(`/api/models/${id}`)).json());
  const until = (id: string, statuses: Model['status'][], timeoutMs = 20_000) =>
    waitFor(`model ${id} to be ${statuses.join(' or ')}`, async () => {
      const m = await model(id);
      return statuses.includes(m.status) ? m : undefined;
    }, timeoutMs, 100);
  const events = (id: string) => stack.events<ModelProgress>(`model/${id}`);
  const job = async (id: string) => jobSchema.parse(await (await stack.api(`/api/jobs/${id}`)).json());

  it('has the demo model registered once, although two workers started', async () => {
    const { models } = modelListSchema.parse(await (await stack.api('/api/models')).json());
    expect(models.filter((m) => m.builtin)).toHaveLength(1);
    expect(models[0]).toMatchObject({ builtin: true, default: true, status: 'completed', architecture: 'gpt2' });
  });

  it('downloads a model from the hub: the model files only, every byte, progress live on model/{id}', async () => {
    const { model: queued, job: queuedJob } = await add({ source: { kind: 'hub', repo: 'loupe-test/tiny-gpt2' }, dtype: 'q8' });
    const done = await until(queued.id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', architecture: 'gpt2', dtype: 'q8', sizeBytes: demoBytes, error: null });
    expect(done.progress).toMatchObject({ status: 'completed', bytesDone: demoBytes, bytesTotal: demoBytes, etaSeconds: 0 });

    const dir = path.join(dataDir, 'models', queued.id);
    expect(readdirSync(dir).sort()).toEqual(demoFiles);
    expect(demoFiles).not.toContain('README.md');
    for (const f of ['model.safetensors', 'tokenizer.json', 'config.json']) expect(sha256(path.join(dir, f))).toBe(sha256(path.join(DEMO_MODEL_DIR, f)));

    // Live events: several while running, bytes never going back, one per status change at the end.
    await waitFor('the completed event', () => events(queued.id).find((e) => e.status === 'completed'), 5000, 50);
    const running = events(queued.id).filter((e) => e.status === 'running');
    expect(running.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < running.length; i++) expect(running[i]!.bytesDone).toBeGreaterThanOrEqual(running[i - 1]!.bytesDone);
    expect(running.some((e) => e.bytesDone > 0 && e.bytesDone < demoBytes && e.bytesPerSecond > 0 && e.etaSeconds !== null)).toBe(true);
    const weights = running.at(-1)!.files.find((f) => f.path === 'model.safetensors');
    expect(weights?.total).toBe(statSync(path.join(DEMO_MODEL_DIR, 'model.safetensors')).size);
    // Never more than a few events a second.
    const span = (running.at(-1)!.ts - running[0]!.ts) / 1000;
    expect(running.length).toBeLessThanOrEqual(Math.ceil(span * 5) + 2);

    const j = await job(queuedJob.id);
    expect(j).toMatchObject({ kind: 'model.download', state: 'completed', retryCount: 0, output: { architecture: 'gpt2', bytes: demoBytes } });
    expect(j.progress).toMatchObject({ bytesTotal: demoBytes });
    // Only the model files were asked for.
    const asked = hub.requests.filter((r) => r.url.startsWith('/loupe-test/tiny-gpt2/resolve/')).map((r) => decodeURIComponent(r.url.split('/').pop()!));
    expect([...new Set(asked)].sort()).toEqual(demoFiles);

    // Delete removes the row and the folder.
    expect((await stack.api(`/api/models/${queued.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    expect((await stack.api(`/api/models/${queued.id}`)).status).toBe(404);
  });

  it('imports a local folder with the same progress', async () => {
    const { model: queued } = await add({ source: { kind: 'local', path: DEMO_MODEL_DIR }, name: 'local demo' });
    const done = await until(queued.id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', name: 'local demo', sizeBytes: demoBytes, progress: { bytesDone: demoBytes } });
    expect(readdirSync(path.join(dataDir, 'models', queued.id)).sort()).toEqual(demoFiles);
  });

  it('fails an unsupported architecture at once, naming its model_type, and keeps no files', async () => {
    const { model: queued, job: queuedJob } = await add({ source: { kind: 'hub', repo: 'loupe-test/bert' } });
    const failed = await until(queued.id, ['failed', 'completed']);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/model_type "bert"/);
    expect(failed.architecture).toBeNull();
    const j = await waitFor('the job to fail', async () => {
      const x = await job(queuedJob.id);
      return x.state === 'failed' ? x : undefined;
    });
    expect(j.retryCount).toBe(0);
    expect(j.output).toMatchObject({ message: expect.stringMatching(/model_type "bert"/) });
    // config.json came first: the weights were never asked for.
    expect(hub.requests.some((r) => r.url.startsWith('/loupe-test/bert/resolve/') && r.url.endsWith('model.safetensors'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'models', queued.id))).toBe(false);
    await waitFor('the failed event', () => events(queued.id).find((e) => e.status === 'failed'), 5000, 50);
  });

  it('fails a repository the hub does not have with a clear error, without retries', async () => {
    const { model: queued, job: queuedJob } = await add({ source: { kind: 'hub', repo: 'loupe-test/nothing-here' } });
    const failed = await until(queued.id, ['failed', 'completed']);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/loupe-test\/nothing-here/);
    expect(failed.error).toMatch(/not found|does not exist/i);
    expect((await waitFor('the job to fail', async () => ((await job(queuedJob.id)).state === 'failed' ? true : undefined))) && (await job(queuedJob.id)).retryCount).toBe(0);
  });

  it('cancels a running download: the handler stops, the model is cancelled and its folder removed', async () => {
    const { model: queued, job: queuedJob } = await add({ source: { kind: 'hub', repo: 'loupe-test/big' } });
    const dir = path.join(dataDir, 'models', queued.id);
    await waitFor('bytes to arrive', () => events(queued.id).find((e) => e.status === 'running' && e.bytesDone > 1 << 20), 15_000, 50);
    expect(existsSync(dir)).toBe(true);
    const res = await stack.api(`/api/jobs/${queuedJob.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(jobSchema.parse(await res.json()).state).toBe('cancelled');
    const t0 = Date.now();
    await waitFor('the folder to go', () => (existsSync(dir) ? undefined : true), 5000, 50);
    const m = await model(queued.id);
    expect(m.status).toBe('cancelled');
    expect(m.progress!.bytesDone).toBeLessThan(48 << 20);
    // The transfer stopped: no bytes requested after the cancel settles.
    const requests = hub.requests.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(hub.requests.length).toBe(requests);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await job(queuedJob.id)).state).toBe('cancelled');
  });
});
