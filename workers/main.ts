/**
 * The worker process: takes jobs from pg-boss and runs them. Start more of
 * them, on more hosts, against the same DATABASE_URL (`npm run worker`).
 *
 * It writes a heartbeat every 10 s (table `workers`, topic `system/workers`)
 * and, when started alone on a host, samples that host's CPU, memory, disks,
 * network and GPUs for the System page.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import { ConfigError, loadConfig, POLICY } from '../models/config.ts';
import { onShutdown } from '../models/lifecycle.ts';
import { logger, setLogLevel } from '../models/log.ts';
import { startSampler } from '../models/system/sampler.ts';
import { snapshotPoints } from '../models/system/types.ts';
import { openDatabase } from '../db/client.ts';
import { createEvents } from '../db/events.ts';
import { runMigrations } from '../db/migrate.ts';
import { removeWorker, upsertWorker, type WorkerInfo } from '../db/queries/workers.ts';
import { recordSystemSnapshot } from '../db/system-recorder.ts';
import { JOB_KINDS } from './index.ts';

const log = logger('worker');

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.logLevel);
  if (!config.databaseUrl) {
    throw new ConfigError('DATABASE_URL', 'a worker needs the PostgreSQL that the server uses, e.g. DATABASE_URL=postgres://user:pass@dbhost:5432/loupe (`npm start` sets it for its own worker)');
  }
  await runMigrations(config.databaseUrl);
  const database = openDatabase(config.databaseUrl, { onError: (err) => log.warn('idle database connection failed', { error: err }) });
  const events = createEvents(database.pool);

  const boss = new PgBoss({ connectionString: config.databaseUrl, application_name: 'loupe-worker' });
  boss.on('error', (err) => log.error('pg-boss error', { error: err }));
  await boss.start();

  const ctx = { database, events, config, log };
  for (const kind of JOB_KINDS) {
    await boss.createQueue(kind.name, { name: kind.name, ...kind.queue });
    const concurrency = kind.concurrency ?? config.workerConcurrency;
    // pg-boss 10: one `work` registration polls and runs one batch of 1 at a time, so N registrations = N concurrent jobs.
    for (let i = 0; i < concurrency; i++) {
      await boss.work(kind.name, { batchSize: 1, pollingIntervalSeconds: 2 }, async ([job]) => {
        if (!job) return;
        const jobLog = logger(`job:${kind.name}`);
        jobLog.debug('started', { id: job.id });
        try {
          return await kind.handler(job, { ...ctx, log: jobLog });
        } catch (err) {
          jobLog.error('failed', { id: job.id, error: err instanceof Error ? err.stack : String(err) });
          throw err;
        }
      });
    }
    if (kind.schedule) await boss.schedule(kind.name, kind.schedule, {}, { tz: 'UTC' });
  }

  const info: WorkerInfo = {
    id: randomUUID(),
    host: hostname(),
    pid: process.pid,
    concurrency: config.workerConcurrency,
    queues: JOB_KINDS.map((k) => k.name),
    startedAt: Date.now(),
    lastSeen: Date.now(),
  };
  const beat = async () => {
    info.lastSeen = Date.now();
    await upsertWorker(database.db, info);
    await events.publish('system/workers', info);
  };
  await beat();
  const heartbeat = setInterval(() => beat().catch((err) => log.warn('heartbeat failed', { error: err })), POLICY.WORKER_HEARTBEAT_MS);

  const sampler =
    (config.sampler ?? true)
      ? startSampler({
          intervalMs: config.systemSampleMs,
          path: config.dataDir,
          nvidiaSmi: config.nvidiaSmi,
          onSample: (s) => recordSystemSnapshot(database.db, events, s, snapshotPoints(s)),
          onWarning: (message) => log.warn(message),
        })
      : undefined;

  log.info('ready', { id: info.id, host: info.host, pid: info.pid, queues: info.queues.join(','), concurrency: config.workerConcurrency, sampler: sampler !== undefined });

  onShutdown(log, async () => {
    clearInterval(heartbeat);
    await sampler?.stop();
    // Running jobs get the grace period to finish; pg-boss retries what is left.
    await boss.stop({ graceful: true, wait: true, timeout: POLICY.SHUTDOWN_GRACE_MS - 2000 }).catch((err) => log.warn('pg-boss stop failed', { error: err }));
    await removeWorker(database.db, info.id).catch(() => undefined);
    await database.close();
  });
}

main().catch((err) => {
  log.error(err instanceof ConfigError ? err.message : 'worker failed to start', err instanceof ConfigError ? undefined : { error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
