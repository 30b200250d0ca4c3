/**
 * The worker process: takes jobs from pg-boss and runs them. Start more of
 * them, on more hosts, against the same DATABASE_URL (`npm run worker`).
 * At start it registers the built-in demo model (idempotent).
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
import { registerDemoModel } from './demo-model.ts';
import { JOB_KINDS } from './index.ts';
import { startJobRunner } from './runner.ts';

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

  const runner = await startJobRunner({ boss, database, events, config, kinds: JOB_KINDS, log });
  await registerDemoModel(database.db, log);

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
    // Running jobs are aborted and given the grace period to wind down; pg-boss retries them later.
    await runner.stop();
    await boss.stop({ graceful: true, wait: true, timeout: POLICY.SHUTDOWN_GRACE_MS - 2000 }).catch((err) => log.warn('pg-boss stop failed', { error: err }));
    await removeWorker(database.db, info.id).catch(() => undefined);
    await database.close();
  });
}

main().catch((err) => {
  log.error(err instanceof ConfigError ? err.message : 'worker failed to start', err instanceof ConfigError ? undefined : { error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
