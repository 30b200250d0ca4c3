/**
 * Recovery of dead workers' jobs against a real PostgreSQL and pg-boss: a
 * job whose worker stopped heartbeating (or has no row) is failed once and
 * retried by a live runner; a live worker's job, a merely late worker's job,
 * a just-started job and the sweeper's own jobs are left alone; an attempt
 * failed behind a worker that was only frozen stops with JobLostError and
 * leaves the job to its next attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import PgBoss from 'pg-boss';
import { loadConfig } from '../models/config.ts';
import { logger } from '../models/log.ts';
import { createEvents } from '../db/events.ts';
import { claimJob } from '../db/queries/jobs.ts';
import { upsertWorker } from '../db/queries/workers.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { JobCancelledError, JobLostError, type JobKind } from './job.ts';
import { createJobRecovery, recoverJobsOfDeadWorkers } from './recovery.ts';
import { lostReason, startJobRunner, type JobRunner } from './runner.ts';

/** Threshold of these tests, ms (POLICY.WORKER_DEAD_AFTER_MS in production). */
const DEAD_AFTER_MS = 1500;

/** wait: the first attempt runs until released or aborted, a retry finishes at once; wait-always: every attempt waits */
type Mode = 'wait' | 'wait-always' | 'quick';
/** job id → attempts seen by the handler, and abort reasons (error names, and messages in `why`) */
const seen = new Map<string, { attempts: number[]; aborted: string[]; why?: string[] }>();
const note = (id: string) => {
  const s = seen.get(id) ?? { attempts: [], aborted: [] };
  seen.set(id, s);
  return s;
};
/** `${job id}:${attempt}` → resolves a waiting handler */
const release = new Map<string, () => void>();

const handler: JobKind<{ mode: Mode }>['handler'] = async (job, ctx) => {
  const s = note(job.id);
  s.attempts.push(job.retryCount);
  if (job.data.mode === 'quick' || (job.data.mode === 'wait' && job.retryCount > 0)) return { attempt: job.retryCount };
  await new Promise<void>((resolve) => {
    release.set(`${job.id}:${job.retryCount}`, resolve);
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (ctx.signal.aborted) {
    s.aborted.push((ctx.signal.reason as Error).name);
    (s.why ??= []).push((ctx.signal.reason as Error).message);
    throw ctx.signal.reason;
  }
  return { attempt: job.retryCount };
};

const queue = { retryLimit: 2, retryDelay: 0 };
// The retry delay of real queues (model.download: 10 s and more): a taken-over attempt ends before the retry is handed out.
const delayed = { retryLimit: 2, retryDelay: 1 };
const liveKinds: JobKind<{ mode: Mode }>[] = [{ name: 'test.recovery', queue, concurrency: 3, handler }];
const frozenKinds: JobKind<{ mode: Mode }>[] = [{ name: 'test.frozen', queue: delayed, concurrency: 1, handler }];
const sharedKinds: JobKind<{ mode: Mode }>[] = [{ name: 'test.shared', queue: delayed, concurrency: 1, handler }];

const beatOf = (id: string) => ({ id, host: 'test-host', pid: 1, concurrency: 1, queues: [], startedAt: Date.now(), lastSeen: Date.now() });

describe('recovery of dead workers\' jobs', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  const runners: JobRunner[] = [];
  let liveBeat: ReturnType<typeof setInterval> | undefined;
  const log = logger('test-recovery');
  const sweep = (self: string) => recoverJobsOfDeadWorkers({ boss, database: db, workerId: self, deadAfterMs: DEAD_AFTER_MS, log });
  const state = async (name: string, id: string) => (await boss.getJobById(name, id))?.state;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_recovery');
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 4 });
    boss.on('error', () => undefined);
    await boss.start();
  });
  afterAll(async () => {
    clearInterval(liveBeat);
    for (const r of runners) await r.stop();
    await boss.stop({ graceful: false, wait: true });
    await db.drop();
  });

  it('names the reason an attempt stops from the job\'s state', () => {
    expect(lostReason('j', 0, { state: 'active', retryCount: 0 })).toBeUndefined();
    expect(lostReason('j', 0, { state: 'active', retryCount: 1 })).toBeInstanceOf(JobLostError);
    expect(lostReason('j', 0, { state: 'retry', retryCount: 0 })).toBeInstanceOf(JobLostError);
    expect(lostReason('j', 0, { state: 'cancelled', retryCount: 0 })).toBeInstanceOf(JobCancelledError);
    expect(lostReason('j', 0, { state: 'failed', retryCount: 0 })).toBeInstanceOf(JobCancelledError);
    expect(lostReason('j', 0, undefined)).toBeInstanceOf(JobCancelledError);
  });

  it('fails the jobs of a dead and of a vanished worker once, after the threshold, and leaves a live worker\'s job running', async () => {
    await boss.createQueue('test.recovery', { name: 'test.recovery', ...queue });
    // Two jobs taken by workers that then die without a word: one beat once, the other never wrote a row.
    const dead = (await boss.send('test.recovery', { mode: 'wait' }))!;
    const ghost = (await boss.send('test.recovery', { mode: 'wait' }))!;
    const t0 = Date.now();
    const taken = await boss.fetch<{ mode: Mode }>('test.recovery', { batchSize: 2, includeMetadata: true });
    expect(taken.map((j) => j.id).sort()).toEqual([dead, ghost].sort());
    await upsertWorker(db.db, beatOf('dead-worker'));
    await claimJob(db.db, dead, 'test.recovery', 'dead-worker', 0);
    await claimJob(db.db, ghost, 'test.recovery', 'ghost-worker', 0);
    // Late by less than the threshold: merely slow, nothing is taken.
    expect(await sweep('sweeper')).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(DEAD_AFTER_MS);

    // A live worker, beating every 100 ms, runs a third job.
    await upsertWorker(db.db, beatOf('live-worker'));
    liveBeat = setInterval(() => void upsertWorker(db.db, beatOf('live-worker')).catch(() => undefined), 100);
    runners.push(
      await startJobRunner({ boss, database: db, events: createEvents(db.pool), config: loadConfig({}), kinds: liveKinds, log, workerId: 'live-worker', pollingIntervalSeconds: 0.5, stateCheckMs: 200 }),
    );
    const live = (await boss.send('test.recovery', { mode: 'wait' }))!;
    await waitFor('the live job to run', () => (runners[0]!.running().includes(live) ? true : undefined), 10_000, 20);
    const liveSince = Date.now();

    await new Promise((r) => setTimeout(r, DEAD_AFTER_MS - (Date.now() - t0) + 200));
    // A worker never judges its own jobs, even with its row stale.
    expect((await sweep('dead-worker')).map((j) => j.id)).toEqual([ghost]);
    // Two sweepers at once: each job is failed once.
    const [a, b] = await Promise.all([sweep('sweeper-a'), sweep('sweeper-b')]);
    const recovered = [...a, ...b];
    expect(recovered.map((j) => j.id)).toEqual([dead]);
    expect(recovered[0]).toMatchObject({ kind: 'test.recovery', attempt: 0, workerId: 'dead-worker', host: 'test-host', pid: 1 });
    expect(recovered[0]!.silentMs).toBeGreaterThanOrEqual(DEAD_AFTER_MS);
    expect(await sweep('sweeper')).toEqual([]);

    // pg-boss's retry rules apply: both come back and the live runner finishes them as their second attempts.
    for (const id of [dead, ghost]) {
      const done = await waitFor(`job ${id} to complete`, async () => {
        const j = await boss.getJobById('test.recovery', id);
        return j?.state === 'completed' ? j : undefined;
      }, 10_000, 50);
      expect(done).toMatchObject({ retryCount: 1, output: { attempt: 1 } });
      expect(seen.get(id)?.attempts).toEqual([1]);
    }

    // The live job, running for longer than the threshold, was never touched: still active, its handler
    // never aborted, and it finishes when released.
    await new Promise((r) => setTimeout(r, Math.max(0, DEAD_AFTER_MS - (Date.now() - liveSince) + 200)));
    expect(await sweep('sweeper')).toEqual([]);
    expect(await state('test.recovery', live)).toBe('active');
    expect(seen.get(live)).toEqual({ attempts: [0], aborted: [] });
    release.get(`${live}:0`)!();
    await waitFor('the live job to complete', async () => ((await state('test.recovery', live)) === 'completed' ? true : undefined), 5000, 50);
    expect((await boss.getJobById('test.recovery', live))?.retryCount).toBe(0);
  });

  it('stops an attempt failed behind a frozen worker with JobLostError and lets the retry run', async () => {
    // A runner whose worker beat once and then stopped beating, as a frozen process would.
    await upsertWorker(db.db, beatOf('frozen-worker'));
    runners.push(
      await startJobRunner({ boss, database: db, events: createEvents(db.pool), config: loadConfig({}), kinds: frozenKinds, log, workerId: 'frozen-worker', pollingIntervalSeconds: 0.5, stateCheckMs: 200 }),
    );
    const id = (await boss.send('test.frozen', { mode: 'wait' }))!;
    await waitFor('the job to run', () => (runners[1]!.running().includes(id) ? true : undefined), 10_000, 20);
    const recovered = await waitFor('the recovery', async () => {
      const jobs = await sweep('live-worker');
      return jobs.length ? jobs : undefined;
    }, 10_000, 100);
    expect(recovered.map((j) => j.id)).toEqual([id]);
    const done = await waitFor('the retry to complete', async () => {
      const j = await boss.getJobById('test.frozen', id);
      return j?.state === 'completed' ? j : undefined;
    }, 10_000, 50);
    // The first attempt stopped as lost (not cancelled, not failed again); the second one finished.
    expect(seen.get(id)).toMatchObject({ attempts: [0, 1], aborted: ['JobLostError'] });
    expect(done).toMatchObject({ retryCount: 1, output: { attempt: 1 } });
  });

  it('keeps a taken-over attempt from ending the job while a later attempt runs it', async () => {
    // A frozen worker that notices late (its state check every 5 s) that its job was failed and handed out again:
    // recovered after 1.5 s, handed out again 1 s later, so the check finds the retry running elsewhere.
    await upsertWorker(db.db, beatOf('frozen-2'));
    const frozen = await startJobRunner({ boss, database: db, events: createEvents(db.pool), config: loadConfig({}), kinds: sharedKinds, log, workerId: 'frozen-2', pollingIntervalSeconds: 0.5, stateCheckMs: 5000 });
    runners.push(frozen);
    const id = (await boss.send('test.shared', { mode: 'wait-always' }))!;
    await waitFor('the job to run', () => (frozen.running().includes(id) ? true : undefined), 10_000, 20);
    // Only now a live worker serves the queue too, so the retry goes to it.
    runners.push(
      await startJobRunner({ boss, database: db, events: createEvents(db.pool), config: loadConfig({}), kinds: sharedKinds, log, workerId: 'live-worker', pollingIntervalSeconds: 0.5, stateCheckMs: 200 }),
    );
    const live = runners.at(-1)!;
    await waitFor('the recovery', async () => ((await sweep('live-worker')).length ? true : undefined), 10_000, 100);
    await waitFor('the retry to run', () => (release.has(`${id}:1`) ? true : undefined), 10_000, 20);
    expect(live.running()).toContain(id);
    await waitFor('the frozen attempt to notice', () => (seen.get(id)?.aborted.length ? true : undefined), 10_000, 20);
    expect(seen.get(id)).toMatchObject({ attempts: [0, 1], aborted: ['JobLostError'], why: ['attempt 2 of the job runs elsewhere'] });

    // The lost attempt holds on while the retry runs: the job stays active, as the retry's.
    await new Promise((r) => setTimeout(r, 700));
    expect(await boss.getJobById('test.shared', id)).toMatchObject({ state: 'active', retryCount: 1 });
    expect(frozen.running()).toContain(id);
    release.get(`${id}:1`)!();
    const done = await waitFor('the retry to complete', async () => {
      const j = await boss.getJobById('test.shared', id);
      return j?.state === 'completed' ? j : undefined;
    }, 10_000, 50);
    // Completed by the retry, with its output, not by the lost attempt.
    expect(done).toMatchObject({ retryCount: 1, output: { attempt: 1 } });
    await waitFor('the lost attempt to end', () => (frozen.running().includes(id) ? undefined : true), 10_000, 50);
  });

  it('sweeps only once its own heartbeats have gone through for the whole threshold, and never after stop', async () => {
    const sweeps: number[] = [];
    let now = 0;
    const recovery = createJobRecovery({ boss, database: db, workerId: 'gate', deadAfterMs: 1000, log }, async () => {
      sweeps.push(now);
      return [];
    });
    const beat = async (ok: boolean, t: number) => {
      now = t;
      await recovery.afterHeartbeat(ok, t);
    };
    await beat(true, 0); // first beat of a fresh worker
    await beat(true, 500);
    await beat(true, 1000); // beating for the whole threshold
    await beat(true, 1500);
    await beat(false, 2000); // a failed beat (database unreachable): wait a whole threshold again
    await beat(true, 2500);
    await beat(true, 3000);
    await beat(true, 3500);
    recovery.stop();
    await beat(true, 4000);
    expect(sweeps).toEqual([1000, 1500, 3500]);
  });
});
