/**
 * `demo.setup`: the first-start demo. On a fresh install a newcomer's
 * `npm start` shows, within a few minutes and with no input, what Loupe is
 * for: an extraction of the demo model over the demo dataset at
 * {@link DEMO_HOOK}, a TopK SAE trained on it and its discovered features
 * (settings in models/demo.ts). Each is an ordinary row made as the API
 * makes it (the same settings resolution and checks, the same query
 * functions, the same jobs), so the Extractions, Training and Features pages
 * show them with live progress and every control works on them.
 *
 * The job makes one artifact, waits for its job to finish, then makes the
 * next. Each artifact is inserted, its job sent and its id recorded in the
 * demo's state (db/queries/demo.ts) in one transaction, so a retry (a worker
 * that died or shut down) goes on from the recorded ones and nothing is made
 * twice. Workers queue the job at start ({@link queueDemoSetup}) under a lock
 * on that state, so several workers starting at once send one job.
 *
 * Once per database: a demo that is done, stopped or failed is not started
 * again, and a demo artifact a user deletes is not made again (recreating
 * what someone removed at every start would fight them). Deleting or
 * cancelling one while the demo is being built stops it there. A new
 * database (or deleting the `demo` row of `settings`) builds it again.
 * `LOUPE_DEMO=0` turns it off.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type PgBoss from 'pg-boss';
import { checkAgainstModel, planWindows, resolveHooks, resolveSettings, rowShape } from '../models/activations/plan.ts';
import { activationsDir } from '../models/activations/run.ts';
import { readManifest } from '../models/activations/store.ts';
import { hookPoints as hookPointsOf } from '../models/architectures/decoder.ts';
import { familyOf } from '../models/architectures/index.ts';
import type { Config } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { DEMO_DISCOVERY, DEMO_EXTRACTION, DEMO_HOOK, DEMO_TRAINING } from '../models/demo.ts';
import type { Logger } from '../models/log.ts';
import { checkAgainstStore, defaultTrainingName, resolveTrainConfig } from '../models/sae/config.ts';
import type { Database } from '../db/client.ts';
import { DEMO_DATASET_ID, getDataset, type DatasetRow } from '../db/queries/datasets.ts';
import { claimDemoSetup, FINAL_DEMO_STATUSES, getDemoState, updateDemoState, type DemoState, type DemoStatus } from '../db/queries/demo.ts';
import { inTransaction, type JobSqlExecutor } from '../db/queries/transaction.ts';
import { DISCOVER_QUEUE, getDiscovery, insertDiscovery, updateDiscovery, type DiscoveryRow } from '../db/queries/discoveries.ts';
import { getExtraction, insertExtraction, setExtractionJob, type ExtractionRow } from '../db/queries/extractions.ts';
import { getJob, isFinished } from '../db/queries/jobs.ts';
import { DEMO_MODEL_ID, getModel, type ModelRow } from '../db/queries/models.ts';
import { listSaes, type SaeRow } from '../db/queries/saes.ts';
import { getTraining, insertTraining, setTrainingJob, TRAIN_QUEUE, type TrainingRow } from '../db/queries/trainings.ts';
import { JobCancelledError, type JobContext, type JobKind } from './job.ts';

export const DEMO_SETUP = 'demo.setup' satisfies keyof typeof JOB_QUEUES;
const EXTRACT = 'activations.extract' satisfies keyof typeof JOB_QUEUES;
const TRAIN = TRAIN_QUEUE satisfies keyof typeof JOB_QUEUES;
const DISCOVER = DISCOVER_QUEUE satisfies keyof typeof JOB_QUEUES;

/** ms between looks at the row a step waits for */
const POLL_MS = 1000;

/** How the demo ends early: `stopped` (a user removed or cancelled part of it) or `failed`. */
class DemoEnd extends Error {
  constructor(
    readonly status: Extract<DemoStatus, 'stopped' | 'failed'>,
    message: string,
  ) {
    super(message);
    this.name = 'DemoEnd';
  }
}

/** What {@link queueDemoSetup} found: off, finished earlier, a job on it already, or a job queued by this call. */
export type DemoSetupQueueState = 'off' | 'finished' | 'running' | 'queued';

/**
 * Queues the demo's job unless it is off, finished, or already has a live
 * job. Run by every worker at start, after the demo dataset is registered.
 */
export async function queueDemoSetup(opts: { database: Database; boss: PgBoss; config: Pick<Config, 'demo'>; log: Logger }): Promise<DemoSetupQueueState> {
  const { database, boss, config, log } = opts;
  if (!config.demo) return 'off';
  const state = await getDemoState(database.db);
  if (state && FINAL_DEMO_STATUSES.includes(state.status)) return 'finished';
  if (state?.jobId) {
    const job = await getJob(database.db, state.jobId);
    if (job && !isFinished(job.state)) return 'running';
  }
  const id = randomUUID();
  const jobId = await claimDemoSetup(database, state?.jobId ?? null, (executor) => boss.send(DEMO_SETUP, {}, { ...JOB_QUEUES[DEMO_SETUP], id, db: executor }));
  if (!jobId) return 'running';
  log.info('demo setup queued', { job: jobId });
  return 'queued';
}

/** Polls `look` every second until it gives a value (the job's signal aborts the wait). */
async function until<T>(signal: AbortSignal, look: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    signal.throwIfAborted();
    const v = await look();
    if (v !== undefined) return v;
    await sleep(POLL_MS, undefined, { signal });
  }
}

/** An artifact's end: completed gives it back; cancelled (by a user) stops the demo; failed fails it; gone (deleted) stops it. */
function settled<R extends { status: string; error: string | null }>(what: string, row: R | undefined): R | undefined {
  if (!row) throw new DemoEnd('stopped', `the demo ${what} was deleted`);
  if (row.status === 'completed') return row;
  if (row.status === 'cancelled') throw new DemoEnd('stopped', `the demo ${what} was cancelled`);
  if (row.status === 'failed') throw new DemoEnd('failed', `the demo ${what} failed: ${row.error ?? 'no reason given'}`);
  return undefined;
}

async function handler(job: PgBoss.JobWithMetadata<object>, ctx: JobContext): Promise<{ status: DemoStatus }> {
  const { database, events, config, log, signal } = ctx;
  const { db } = database;
  let state = await getDemoState(db);
  if (state && FINAL_DEMO_STATUSES.includes(state.status)) return { status: state.status };
  if (!config.demo) {
    // queued by a worker with the demo on, taken by one with it off: left for a later start
    await updateDemoState(db, { status: 'queued', jobId: null, step: null });
    log.info('demo setup skipped: LOUPE_DEMO=0 here');
    return { status: 'queued' };
  }
  const record = async (patch: Partial<DemoState>) => {
    state = await updateDemoState(db, patch);
    ctx.progress(state);
    return state;
  };
  await record({ status: 'running', jobId: job.id, error: null, step: 'waiting for the demo dataset to be tokenized' });

  try {
    const model = await getModel(db, DEMO_MODEL_ID);
    if (model?.status !== 'completed' || !model.config) throw new DemoEnd('failed', 'the demo model is not registered (see the worker log)');
    const dataset = await until(signal, async () => settled('dataset', await getDataset(db, DEMO_DATASET_ID)));

    // 1. the extraction
    let extraction = state!.extractionId ? await getExtraction(db, state!.extractionId) : undefined;
    if (state!.extractionId && !extraction) throw new DemoEnd('stopped', 'the demo extraction was deleted');
    if (!extraction) {
      extraction = await createExtraction(ctx, model, dataset);
      log.info('demo extraction queued', { id: extraction.id, job: extraction.jobId });
    }
    await record({ step: `extracting ${DEMO_HOOK} (extraction ${extraction.id})` });
    const extracted = await until(signal, async () => settled('extraction', await getExtraction(db, extraction!.id)));

    // 2. the training, and its SAE
    let training = state!.trainingId ? await getTraining(db, state!.trainingId) : undefined;
    if (state!.trainingId && !training) throw new DemoEnd('stopped', 'the demo training was deleted');
    if (!training) {
      training = await createTraining(ctx, extracted);
      log.info('demo training queued', { id: training.id, job: training.jobId });
    }
    await record({ step: `training the SAE (training ${training.id})` });
    await until(signal, async () => settled('training', await getTraining(db, training!.id)));
    let sae: SaeRow | undefined;
    if (state!.saeId) {
      sae = (await listSaes(db, { trainingId: training.id })).find((s) => s.id === state!.saeId);
      if (!sae) throw new DemoEnd('stopped', 'the demo SAE was deleted');
    } else {
      sae = (await listSaes(db, { trainingId: training.id })).find((s) => s.hookPoint === DEMO_HOOK);
      if (!sae) throw new DemoEnd('stopped', `the demo training completed without an SAE at ${DEMO_HOOK} (deleted?)`);
      await record({ saeId: sae.id });
    }

    // 3. the discovery of its features
    let discovery = state!.discoveryId ? await getDiscovery(db, state!.discoveryId) : undefined;
    if (state!.discoveryId && !discovery) throw new DemoEnd('stopped', 'the demo discovery was deleted');
    if (!discovery) {
      discovery = await createDiscovery(ctx, sae, extracted);
      await events.publish(`discovery/${discovery.id}`, discovery);
      log.info('demo discovery queued', { id: discovery.id, job: discovery.jobId });
    }
    await record({ step: `discovering the features of SAE ${sae.id} (discovery ${discovery.id})` });
    await until(signal, async () => settled('discovery', await getDiscovery(db, discovery!.id)));

    await record({ status: 'done', step: null });
    log.info('demo ready', { extraction: extracted.id, training: training.id, sae: sae.id, discovery: discovery.id });
    return { status: 'done' };
  } catch (err) {
    if (err instanceof DemoEnd) {
      await record({ status: err.status, error: err.message, step: null });
      (err.status === 'failed' ? log.warn : log.info)(`demo setup ${err.status}`, { reason: err.message });
      return { status: err.status };
    }
    if (signal.aborted && signal.reason instanceof JobCancelledError) {
      await record({ status: 'stopped', error: 'the demo.setup job was cancelled', step: null }).catch(() => undefined);
    } else if (!ctx.willRetry(err) && !signal.aborted) {
      await record({ status: 'failed', error: err instanceof Error ? err.message : String(err), step: null }).catch(() => undefined);
    }
    throw err;
  }
}

/**
 * Inserts the demo extraction, sends its job and records both in the demo's
 * state, in one transaction, as `POST /api/extractions` resolves and checks
 * its settings.
 */
async function createExtraction(ctx: JobContext, model: ModelRow, dataset: DatasetRow): Promise<ExtractionRow> {
  const spec = familyOf(model.config!).spec(model.config!);
  const hooks = resolveHooks(hookPointsOf(spec), [DEMO_HOOK]);
  const settings = resolveSettings(DEMO_EXTRACTION, { modelDtype: model.dtype, widestRow: Math.max(...hooks.map((h) => rowShape(h).reduce((a, b) => a * b, 1))) });
  checkAgainstModel(settings, spec);
  planWindows(settings, dataset.stats!.tokens, dataset.settings.addBos ?? false);
  return inTransaction(ctx.database, async ({ db, executor }) => {
    const row = await insertExtraction(db, { modelId: model.id, datasetId: dataset.id, hookPoints: [DEMO_HOOK], settings });
    const jobId = await sendJob(ctx.boss, executor, EXTRACT, { extractionId: row.id });
    await updateDemoState(db, { extractionId: row.id });
    return (await setExtractionJob(db, row.id, jobId)) ?? row;
  });
}

/** Inserts the demo training over `extraction`, sends its job and records both, as `POST /api/trainings` resolves and checks its config. */
async function createTraining(ctx: JobContext, extraction: ExtractionRow): Promise<TrainingRow> {
  const dir = extraction.path ?? activationsDir(ctx.config.dataDir, extraction.id);
  const h = (await readManifest(dir))?.hooks[DEMO_HOOK];
  if (!h) throw new DemoEnd('failed', `the demo extraction's activations at ${DEMO_HOOK} are missing from ${dir}`);
  const config = resolveTrainConfig([DEMO_TRAINING], h.rows);
  checkAgainstStore(config, [{ hook: DEMO_HOOK, d: h.d, rows: h.rows, shards: h.shards.length }]);
  return inTransaction(ctx.database, async ({ db, executor }) => {
    const row = await insertTraining(db, { name: `demo: ${defaultTrainingName(config, [DEMO_HOOK])}`, extractionId: extraction.id, hookPoints: [DEMO_HOOK], config });
    const jobId = await sendJob(ctx.boss, executor, TRAIN, { trainingId: row.id });
    await updateDemoState(db, { trainingId: row.id });
    return (await setTrainingJob(db, row.id, jobId)) ?? row;
  });
}

/** Inserts the demo discovery of `sae` over `extraction`, sends its job and records both, as `POST /api/discoveries` does. */
async function createDiscovery(ctx: JobContext, sae: SaeRow, extraction: ExtractionRow): Promise<DiscoveryRow> {
  return inTransaction(ctx.database, async ({ db, executor }) => {
    const row = await insertDiscovery(db, { saeId: sae.id, extractionId: extraction.id, settings: DEMO_DISCOVERY });
    const jobId = await sendJob(ctx.boss, executor, DISCOVER, { discoveryId: row.id });
    await updateDemoState(db, { discoveryId: row.id });
    return (await updateDiscovery(db, row.id, { jobId })) ?? row;
  });
}

/** Sends a job on the transaction's connection (pg-boss's `db` option), with its queue's options. */
async function sendJob(boss: PgBoss, executor: JobSqlExecutor, queue: keyof typeof JOB_QUEUES, data: object): Promise<string> {
  const id = await boss.send(queue, data, { ...JOB_QUEUES[queue], db: executor });
  if (!id) throw new Error(`pg-boss did not create the ${queue} job`);
  return id;
}

export const demoSetup: JobKind<object> = {
  name: DEMO_SETUP,
  queue: JOB_QUEUES[DEMO_SETUP],
  concurrency: 1,
  handler,
};
