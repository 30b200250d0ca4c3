/**
 * The job runner against a real PostgreSQL and pg-boss: the fallback state
 * check aborts a job cancelled without a notification, permanent errors are
 * not retried while others are, and a shutdown aborts running jobs so that
 * pg-boss retries them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import PgBoss from 'pg-boss';
import { loadConfig } from '../models/config.ts';
import { logger } from '../models/log.ts';
import { createEvents } from '../db/events.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { PermanentJobError, type JobKind } from './job.ts';
import { startJobRunner, type JobRunner } from './runner.ts';

type Seen = { attempts: number; reason?: string; willRetry?: boolean[] };
const seen = new Map<string, Seen>();
const note = (id: string) => {
  const s = seen.get(id) ?? { attempts: 0, willRetry: [] };
  seen.set(id, s);
  return s;
};

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

const kinds: JobKind<{ mode: 'wait' | 'permanent' | 'flaky' }>[] = [
  {
    name: 'test.runner',
    queue: { retryLimit: 2, retryDelay: 0 },
    concurrency: 2,
    async handler(job, ctx) {
      const s = note(job.id);
      s.attempts++;
      if (job.data.mode === 'permanent') {
        const err = new PermanentJobError('nothing to retry');
        s.willRetry!.push(ctx.willRetry(err));
        throw err;
      }
      if (job.data.mode === 'flaky') {
        const err = new Error(`flaky attempt ${s.attempts}`);
        s.willRetry!.push(ctx.willRetry(err));
        if (s.attempts < 3) throw err;
        return { ok: s.attempts };
      }
      await untilAborted(ctx.signal);
      s.reason = (ctx.signal.reason as Error).name;
      throw ctx.signal.reason;
    },
  },
];

describe('job runner', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let runner: JobRunner;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_runner');
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 3 });
    boss.on('error', () => undefined);
    await boss.start();
    runner = await startJobRunner({
      boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({}),
      kinds,
      log: logger('test-runner'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
      stateCheckMs: 300,
    });
  });
  afterAll(async () => {
    await runner.stop();
    await boss.stop({ graceful: false, wait: true });
    await db.drop();
  });

  it('aborts a job cancelled in pg-boss without a notification, through the periodic state check', async () => {
    const id = (await boss.send('test.runner', { mode: 'wait' }))!;
    await waitFor('the job to run', () => (runner.running().includes(id) ? true : undefined), 10_000, 20);
    await boss.cancel('test.runner', id);
    const s = await waitFor('the abort', () => seen.get(id)?.reason, 2000, 20);
    expect(s).toBe('JobCancelledError');
    await waitFor('the runner to let go', () => (runner.running().includes(id) ? undefined : true), 2000, 20);
    expect((await boss.getJobById('test.runner', id))?.state).toBe('cancelled');
  });

  it('fails a permanent error at once, and retries other errors', async () => {
    const permanent = (await boss.send('test.runner', { mode: 'permanent' }))!;
    const flaky = (await boss.send('test.runner', { mode: 'flaky' }))!;
    const failed = await waitFor('the permanent failure', async () => {
      const j = await boss.getJobById('test.runner', permanent);
      return j?.state === 'failed' ? j : undefined;
    });
    expect(seen.get(permanent)).toMatchObject({ attempts: 1, willRetry: [false] });
    expect((failed.output as { message: string }).message).toBe('nothing to retry');

    const done = await waitFor('the flaky job to succeed', async () => {
      const j = await boss.getJobById('test.runner', flaky);
      return j?.state === 'completed' ? j : undefined;
    });
    expect(done.output).toEqual({ ok: 3 });
    // attempts 1 and 2 would be retried; the third is the last one allowed
    expect(seen.get(flaky)?.willRetry).toEqual([true, true, false]);
  });

  it('aborts running jobs on shutdown so that pg-boss retries them', async () => {
    const id = (await boss.send('test.runner', { mode: 'wait' }))!;
    await waitFor('the job to run', () => (runner.running().includes(id) ? true : undefined), 10_000, 20);
    await runner.stop();
    expect(await waitFor('the abort', () => seen.get(id)?.reason, 2000, 20)).toBe('WorkerShutdownError');
    const j = await waitFor('the retry state', async () => {
      const r = await boss.getJobById('test.runner', id);
      return r?.state === 'retry' ? r : undefined;
    });
    expect(j.retryCount).toBe(0);
  });
});
