/**
 * The API application over a test database, with a started pg-boss (the
 * queues of models/contracts/jobs.ts created) and the Node model and dataset
 * storage over a temporary DATA_DIR, for route tests that call `app.request` in-process.
 */
import PgBoss from 'pg-boss';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import { createQueues } from '../../db/queues.ts';
import { checkLocalModelFolder, removeModelDir } from '../../models/model-files.ts';
import { createEvents } from '../../db/events.ts';
import { DATASET_LIMITS } from '../../models/datasets/limits.ts';
import { createApp, type App, type AppDeps } from '../../server/app.ts';
import { createDatasetStorage } from '../../server/dataset-storage.ts';
import { createExtractionStorage } from '../../server/extraction-storage.ts';
import { createSaeStorage } from '../../server/sae-storage.ts';
import { createFeatureStorage } from '../../server/feature-storage.ts';
import { createInspectorStorage } from '../../server/inspector-storage.ts';
import type { TestDatabase } from './db.ts';
import { inspectModel } from '../../models/inspect.ts';
import { loadConfig } from '../../models/config.ts';
import { logger } from '../../models/log.ts';
import { featuresAnalyze } from '../../workers/features-analyze.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';

export interface TestApp {
  app: App;
  deps: AppDeps;
  boss: PgBoss;
  /** GET/POST/DELETE as a loopback browser would */
  request(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts pg-boss on `db` and builds the app; `stop()` stops pg-boss (the caller drops the database). */
export async function createTestApp(db: TestDatabase, dataDir: string, opts: { uploadMaxBytes?: number; analysisWaitMs?: number } = {}): Promise<TestApp> {
  const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 3 });
  boss.on('error', () => undefined);
  await boss.start();
  await createQueues(db.pool, boss, Object.entries(JOB_QUEUES).map(([name, options]) => ({ ...options, name })));
  const deps: AppDeps = {
    db: db.db,
    boss,
    events: createEvents(db.pool),
    storage: { checkLocalFolder: checkLocalModelFolder, removeModel: (id) => removeModelDir(dataDir, id), inspect: inspectModel },
    datasets: createDatasetStorage(dataDir, { maxUploadBytes: opts.uploadMaxBytes ?? DATASET_LIMITS.MAX_UPLOAD_BYTES }),
    extractions: createExtractionStorage(dataDir),
    saes: createSaeStorage(dataDir),
    features: createFeatureStorage(dataDir),
    inspector: createInspectorStorage(dataDir),
    analysisWaitMs: opts.analysisWaitMs,
    version: '0.0.0-test',
    token: undefined,
    hostname: 'test-host',
    dataDir,
    startedAt: Date.now(),
    publicConfig: (u) => ({ version: '0.0.0-test', host: 'test-host', wsUrl: `ws://${u.hostname}:1/ws`, authRequired: false, systemSampleMs: 2000 }),
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    boss,
    request: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('host', '127.0.0.1:8787');
      if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return Promise.resolve(app.request(path, { ...init, headers }));
    },
    stop: () => boss.stop({ graceful: false, wait: true }),
  };
}

/**
 * A worker in this process that runs the app's `features.analyze` jobs (the
 * analyses, encode, inspector bundles) on the CPU, over `dataDir`; stop it
 * before the app.
 */
export function startAnalysisWorker(t: TestApp, db: TestDatabase, dataDir: string): Promise<JobRunner> {
  return startJobRunner({
    boss: t.boss,
    database: db,
    events: createEvents(db.pool),
    config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu' }),
    kinds: [featuresAnalyze],
    log: logger('test-worker'),
    workerId: 'test-worker',
    pollingIntervalSeconds: 0.5,
  });
}
