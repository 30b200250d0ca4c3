/**
 * The jobs API over a real PostgreSQL and pg-boss, with an in-process job
 * runner (workers/runner.ts) so that a cancel reaches a running handler.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, jobListSchema, jobSchema } from '../../models/contracts/api.ts';
import { loadConfig } from '../../models/config.ts';
import { logger } from '../../models/log.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { waitFor } from '../../scripts/testing/processes.ts';
import type { JobKind } from '../../workers/job.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';

/** Aborts seen by the `test.wait` handler: job id → [ms from cancel request to abort, reason]. */
const aborted = new Map<string, { at: number; reason: string }>();
const started = new Set<string>();

const waitKind: JobKind<{ label: string }> = {
  name: 'test.wait',
  queue: { retryLimit: 0 },
  concurrency: 2,
  async handler(job, ctx) {
    started.add(job.id);
    ctx.progress({ step: 1, label: job.data.label });
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => {
        aborted.set(job.id, { at: Date.now(), reason: (ctx.signal.reason as Error).name });
        resolve();
      });
    });
    ctx.signal.throwIfAborted();
  },
};

describe('jobs API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-jobs-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_jobs');
    t = await createTestApp(db, dataDir);
    await t.boss.createQueue('test.idle', { name: 'test.idle' });
    runner = await startJobRunner({
      boss: t.boss,
      database: db,
      events: t.deps.events,
      config: loadConfig({ DATA_DIR: dataDir }),
      kinds: [waitKind],
      log: logger('test-runner'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
      // long, so that the test below proves the NOTIFY path, not the fallback
      stateCheckMs: 60_000,
    });
  });
  afterAll(async () => {
    await runner.stop();
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const list = async (query = '') => {
    const res = await t.request(`/api/jobs${query}`);
    expect(res.status).toBe(200);
    return jobListSchema.parse(await res.json());
  };

  it('lists jobs newest first, filtered by kind and state, with paging', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await t.boss.send('test.idle', { n: i }))!);
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = await list('?kind=test.idle');
    expect(all.total).toBe(3);
    expect(all.jobs.map((j) => j.id)).toEqual([...ids].reverse());
    expect(all.jobs[0]).toMatchObject({ kind: 'test.idle', state: 'created', data: { n: 2 }, output: null, progress: null, startedAt: null, retryCount: 0 });

    const page = await list('?kind=test.idle&limit=1&offset=1');
    expect(page).toMatchObject({ total: 3, jobs: [{ id: ids[1] }] });
    expect((await list('?kind=test.idle&state=active')).total).toBe(0);
    expect((await list('?state=created')).jobs.every((j) => j.state === 'created')).toBe(true);
    expect((await list('?kind=nothing.here')).jobs).toEqual([]);
  });

  it('answers one job, 404 for an unknown id, 400 naming a bad id or filter', async () => {
    const id = (await t.boss.send('test.idle', { one: true }))!;
    const res = await t.request(`/api/jobs/${id}`);
    expect(res.status).toBe(200);
    expect(jobSchema.parse(await res.json())).toMatchObject({ id, kind: 'test.idle', state: 'created', data: { one: true } });

    const missing = await t.request('/api/jobs/3f9c2a4e-1b7d-4c8e-9a6f-0d2e4b6c8a10');
    expect(missing.status).toBe(404);
    expect(errorBodySchema.parse(await missing.json()).error.code).toBe('not_found');

    const bad = await t.request('/api/jobs/not-a-uuid');
    expect(bad.status).toBe(400);
    expect((errorBodySchema.parse(await bad.json()).error.details as { field: string }[])[0]!.field).toBe('id');

    const badQuery = await t.request('/api/jobs?state=sleeping&limit=0');
    expect(badQuery.status).toBe(400);
    const fields = (errorBodySchema.parse(await badQuery.json()).error.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['limit', 'state']);
  });

  it('cancels a queued job, then answers 409 for it; 404 for an unknown one', async () => {
    const id = (await t.boss.send('test.idle', {}))!;
    const res = await t.request(`/api/jobs/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(jobSchema.parse(await res.json())).toMatchObject({ id, state: 'cancelled' });
    expect((await t.boss.getJobById('test.idle', id))?.state).toBe('cancelled');

    const again = await t.request(`/api/jobs/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(errorBodySchema.parse(await again.json()).error.message).toMatch(/already finished \(cancelled\)/);

    const unknown = await t.request('/api/jobs/3f9c2a4e-1b7d-4c8e-9a6f-0d2e4b6c8a10/cancel', { method: 'POST' });
    expect(unknown.status).toBe(404);
  });

  it('aborts a running handler within a second of the cancel, and shows its progress', async () => {
    const id = (await t.boss.send('test.wait', { label: 'first' }))!;
    await waitFor('the job to start', () => (started.has(id) ? true : undefined), 10_000, 20);
    const running = await waitFor(
      'the job progress',
      async () => {
        const j = jobSchema.parse(await (await t.request(`/api/jobs/${id}`)).json());
        return j.progress ? j : undefined;
      },
      5000,
      50,
    );
    expect(running).toMatchObject({ state: 'active', progress: { step: 1, label: 'first' } });
    expect(running.startedAt).toBeGreaterThanOrEqual(running.createdAt);
    expect(runner.running()).toContain(id);

    const t0 = Date.now();
    const res = await t.request(`/api/jobs/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(jobSchema.parse(await res.json()).state).toBe('cancelled');
    const abort = await waitFor('the abort', () => aborted.get(id), 3000, 10);
    expect(abort.reason).toBe('JobCancelledError');
    expect(abort.at - t0).toBeLessThan(1000);
    await waitFor('the runner to let go of the job', () => (runner.running().includes(id) ? undefined : true), 3000, 20);
    // The handler's return after the abort leaves the job cancelled, not completed.
    const after = jobSchema.parse(await (await t.request(`/api/jobs/${id}`)).json());
    expect(after.state).toBe('cancelled');
    expect(after.completedAt).not.toBeNull();
    expect((await t.request(`/api/jobs/${id}/cancel`, { method: 'POST' })).status).toBe(409);
  });
});
