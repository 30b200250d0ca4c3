/**
 * The worker process: takes jobs from pg-boss and runs them. Start more of
 * them, on more hosts, against the same DATABASE_URL (`npm run worker`).
 * At start it registers the built-in demo model and demo dataset (idempotent),
 * queuing the dataset's tokenization when DATA_DIR has none yet, and queues
 * the first-start demo (workers/demo-setup.ts) unless it was built already.
 *
 * It writes a heartbeat every 10 s (table `workers`, topic `system/workers`),
 * its row before it takes any job; after each heartbeat it fails the
 * active jobs of workers that stopped beating 30 s ago, so that pg-boss
 * retries them (workers/recovery.ts). When started alone on a host, it
 * samples that host's CPU, memory, disks, network and GPUs for the System page.
 * Its heartbeat also carries its LOUPE_DEVICE and the WebGPU adapters it
 * found (models/system/adapters.ts: probed once at start, in the background
 * and under a timeout), which `GET /api/health` lists.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import { ConfigError, loadConfig, POLICY } from '../models/config.ts';
import { holdEarlySignals, onShutdown } from '../models/lifecycle.ts';
import { logger, setLogLevel } from '../models/log.ts';
import { probeAdapters } from '../models/system/adapters.ts';
import { hostMemoryBytes } from '../models/system/proc.ts';
import { startSampler } from '../models/system/sampler.ts';
import { snapshotPoints } from '../models/system/types.ts';
import { openDatabase } from '../db/client.ts';
import { createEvents } from '../db/events.ts';
import { guardAgainstOutages, isDatabaseUnavailable, outageLogger, retryAtStart } from '../db/outage.ts';
import { runMigrations } from '../db/migrate.ts';
import { removeWorker, upsertWorker, type WorkerInfo } from '../db/queries/workers.ts';
import { recordSystemSnapshot } from '../db/system-recorder.ts';
import { registerDemoDataset } from './demo-dataset.ts';
import { registerDemoModel } from './demo-model.ts';
import { queueDemoSetup } from './demo-setup.ts';
import { JOB_KINDS } from './index.ts';
import { createJobRecovery } from './recovery.ts';
import { startJobRunner } from './runner.ts';

const log = logger('worker');

/**
 * Heartbeat period, ms. `LOUPE_TEST_HEARTBEAT_MS` is a hook for end-to-end
 * tests (not a setting: every worker of a cluster must agree on it), which
 * shortens the heartbeat and the recovery threshold with it to see a crash
 * recovered in seconds. Unset, the POLICY values apply.
 */
function heartbeatMs(): number {
  const raw = Number(process.env.LOUPE_TEST_HEARTBEAT_MS);
  return Number.isInteger(raw) && raw >= 100 ? raw : POLICY.WORKER_HEARTBEAT_MS;
}

async function main(): Promise<void> {
  holdEarlySignals(log);
  const config = loadConfig();
  setLogLevel(config.logLevel);
  if (!config.databaseUrl) {
    throw new ConfigError('DATABASE_URL', 'a worker needs the PostgreSQL that the server uses, e.g. DATABASE_URL=postgres://user:pass@dbhost:5432/loupe (`npm start` sets it for its own worker)');
  }
  // started first and never awaited: the heartbeats carry its answer once it comes (a hung driver holds nothing up)
  const probe = probeAdapters(config.device);
  // PostgreSQL going away (restarted by `npm start`, a network cut) is waited out, not a crash: pg-boss polls again,
  // heartbeats resume, and running jobs keep their writes until it is back (db/outage.ts).
  guardAgainstOutages(log);
  // a database not up yet (restarting, or started after this process) is waited for
  await retryAtStart(() => runMigrations(config.databaseUrl!), log);
  const database = openDatabase(config.databaseUrl, { onError: (err) => log.warn('idle database connection failed', { error: err }) });
  const events = createEvents(database.pool);

  const boss = new PgBoss({ connectionString: config.databaseUrl, application_name: 'loupe-worker' });
  // Every queue's poll fails while the database is away: one line per outage, not one per poll.
  const bossOutage = outageLogger(log, 'pg-boss');
  boss.on('error', (err) => (isDatabaseUnavailable(err) ? bossOutage.failed(err) : log.error('pg-boss error', { error: err })));
  await boss.start();

  const info: WorkerInfo = {
    id: randomUUID(),
    host: hostname(),
    pid: process.pid,
    concurrency: config.workerConcurrency,
    queues: JOB_KINDS.map((k) => k.name),
    // the server sizes jobs against it before queueing them (models/memory.ts)
    memoryBytes: hostMemoryBytes(),
    device: config.device,
    adapters: null,
    startedAt: Date.now(),
    lastSeen: Date.now(),
  };
  void probe.then((found) => {
    info.adapters = found;
    log.info('WebGPU adapters', { device: config.device, adapters: found.adapters.map((a) => `${a.name}${a.fallback ? ' (software)' : ''}`).join(', ') || 'none', ...(found.note ? { note: found.note } : {}) });
  });
  const beat = async () => {
    info.lastSeen = Date.now();
    await upsertWorker(database.db, info);
    await events.publish('system/workers', info);
  };
  // The row exists before any job is taken: a job claimed by a worker without one would look like a dead worker's.
  // (Published, the first heartbeat waits for `ready`: a client that sees it may stop the worker at once.)
  await upsertWorker(database.db, info);

  const periodMs = heartbeatMs();
  const recovery = createJobRecovery({ boss, database, workerId: info.id, deadAfterMs: (POLICY.WORKER_DEAD_AFTER_MS / POLICY.WORKER_HEARTBEAT_MS) * periodMs, log });
  let beating: Promise<void> = Promise.resolve();
  const beatOutage = outageLogger(log, 'heartbeat');
  const heartbeat = setInterval(() => {
    beating = beat()
      .then(
        () => {
          beatOutage.restored();
          bossOutage.restored();
          return true;
        },
        (err) => {
          if (isDatabaseUnavailable(err)) beatOutage.failed(err);
          else log.warn('heartbeat failed', { error: err });
          return false;
        },
      )
      .then((ok) => recovery.afterHeartbeat(ok))
      .then(() => undefined);
  }, periodMs);

  const runner = await startJobRunner({ boss, database, events, config, kinds: JOB_KINDS, log, workerId: info.id });
  await registerDemoModel(database.db, log);
  // After the demo model, whose tokenizer it uses; queues its tokenization when DATA_DIR has none yet.
  const demoDataset = await registerDemoDataset({ database, boss, config, log }).catch((err) => {
    log.warn('demo dataset not registered', { error: err instanceof Error ? err.message : String(err) });
    return 'skipped' as const;
  });
  // The first-start demo: an extraction, an SAE and its features, built once per database unless LOUPE_DEMO=0.
  if (demoDataset !== 'skipped') await queueDemoSetup({ database, boss, config, log }).catch((err) => log.warn('demo setup not queued', { error: err instanceof Error ? err.message : String(err) }));

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

  onShutdown(log, async () => {
    recovery.stop();
    await sampler?.stop();
    // Running jobs are aborted and given the grace period to wind down; pg-boss retries them later.
    // The heartbeat goes on meanwhile, so that no other worker takes this one for dead.
    await runner.stop();
    await boss.stop({ graceful: true, wait: true, timeout: POLICY.SHUTDOWN_GRACE_MS - 2000 }).catch((err) => log.warn('pg-boss stop failed', { error: err }));
    clearInterval(heartbeat);
    await beating;
    await removeWorker(database.db, info.id).catch(() => undefined);
    await database.close();
  });

  await beat();
  log.info('ready', { id: info.id, host: info.host, pid: info.pid, queues: info.queues.join(','), concurrency: config.workerConcurrency, sampler: sampler !== undefined });
}

main().catch((err) => {
  log.error(err instanceof ConfigError ? err.message : 'worker failed to start', err instanceof ConfigError ? undefined : { error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
