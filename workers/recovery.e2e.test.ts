/**
 * A worker killed mid-download (SIGKILL: no handler, no shutdown, its job
 * left `active` in pg-boss) through real processes: a second worker takes the
 * first for dead after 3 missed heartbeats, fails the job through pg-boss, and
 * the retry continues the `.part` files with HTTP Range to byte-identical
 * files. The workers run with a 500 ms heartbeat (test hook
 * `LOUPE_TEST_HEARTBEAT_MS`, so the threshold is 1.5 s) against a fake hub
 * throttled to 2 MB/s, and pg-boss + a test database stand in for the server.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelProgress } from '../models/contracts/topics.ts';
import { DEMO_MODEL_DIR, isModelFile } from '../models/model-files.ts';
import { getModel, insertModel, setModelJob } from '../db/queries/models.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { startQueue, Workers, type TestQueue } from '../scripts/testing/worker.ts';

const BYTES_PER_SECOND = 2 * 1024 * 1024;
const REPO = 'loupe-test/tiny-gpt2';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('a worker that dies mid-job', () => {
  let db: TestDatabase;
  let hub: HubServer;
  let queue: TestQueue;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-recovery-'));
  const dataDir = path.join(tmp, 'data');
  const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', HF_ENDPOINT: hub.url, LOUPE_TEST_HEARTBEAT_MS: '500' }));
  const demoFiles = readdirSync(DEMO_MODEL_DIR).filter(isModelFile).sort();
  const weights = path.join(DEMO_MODEL_DIR, 'model.safetensors');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_recovery_e2e');
    hub = await startHubServer({ repos: [{ repo: REPO, dir: DEMO_MODEL_DIR }], bytesPerSecond: BYTES_PER_SECOND });
    queue = await startQueue(db.url, 'model.download');
  });
  afterAll(async () => {
    // The first one was killed; the others exit cleanly.
    await workers.stop();
    await queue?.stop();
    await hub?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is taken for dead by another worker, and the download resumes where it stopped and completes byte for byte', async () => {
    const first = await workers.start();
    const row = await insertModel(db.db, { name: 'tiny', source: { kind: 'hub', repo: REPO, revision: 'main' }, dtype: 'fp32', path: null });
    // The queue's retry policy, with a 1 s delay instead of 10–20 s to keep the test short.
    const jobId = await queue.send({ modelId: row.id });
    await setModelJob(db.db, row.id, jobId);

    // Kill the worker between 20 % and 80 % of the bytes.
    const before = await waitFor(
      'the download to pass 30 %',
      async () => {
        const p = (await getModel(db.db, row.id))?.progress as ModelProgress | null;
        return p && p.bytesTotal > 0 && p.bytesDone / p.bytesTotal >= 0.3 ? p : undefined;
      },
      30_000,
      25,
    );
    expect(await workers.kill(first)).toBe('SIGKILL');
    expect(before.bytesDone / before.bytesTotal).toBeLessThan(0.8);
    const requestsBefore = hub.requests.length;

    // What the dead worker left: a partial weights file, the model still running and the job still active.
    const dir = path.join(dataDir, 'models', row.id);
    const part = path.join(dir, 'model.safetensors.part');
    const partBytes = statSync(part).size;
    expect(partBytes).toBeGreaterThan(0.2 * statSync(weights).size);
    expect(partBytes).toBeLessThan(statSync(weights).size);
    expect((await getModel(db.db, row.id))?.status).toBe('running');
    expect(await queue.state(jobId)).toBe('active');

    // A second worker: it recovers the job, and pg-boss hands it out again.
    const second = await workers.start();
    const statuses = new Set<string>();
    const done = await queue.completed(jobId, 30_000, async () => {
      statuses.add((await getModel(db.db, row.id))!.status);
    });
    expect(done.retryCount).toBe(1);
    const output = done.output as { architecture: string; files: string[] };
    expect(output.architecture).toBe('gpt2');
    expect([...output.files].sort()).toEqual(demoFiles);
    // The row went from running straight back to running, then completed: never failed, cancelled or queued.
    expect([...statuses].every((s) => s === 'running' || s === 'completed')).toBe(true);
    const model = (await getModel(db.db, row.id))!;
    expect(model).toMatchObject({ status: 'completed', architecture: 'gpt2', error: null });
    expect((model.progress as ModelProgress).bytesDone).toBe((model.progress as ModelProgress).bytesTotal);

    // Every file equals the source, byte for byte, and no partial file is left.
    expect(readdirSync(dir).sort()).toEqual(demoFiles);
    for (const f of demoFiles) expect(sha256(path.join(dir, f)), f).toBe(sha256(path.join(DEMO_MODEL_DIR, f)));
    expect(existsSync(part)).toBe(false);

    // The retry continued the partial file from its last byte on disk: the work before the crash was kept.
    const after = hub.requests.slice(requestsBefore).filter((r) => r.method === 'GET' && r.url.endsWith('/model.safetensors'));
    expect(after.map((r) => r.range)).toEqual([`bytes=${partBytes}-`]);

    // The second worker said what it did.
    expect(second.output()).toMatch(new RegExp(`recovered the job of a dead worker id=${jobId} kind=model.download attempt=1 deadWorker=${first.id}`));
  });
});
