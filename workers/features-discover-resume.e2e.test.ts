/**
 * `features.discover` workers killed (SIGKILL: no handler runs, the job stays
 * active) through real processes: the next worker takes each for dead
 * (500 ms heartbeats through the test hook `LOUPE_TEST_HEARTBEAT_MS`), fails
 * the job through pg-boss, and the retry resumes from what was staged.
 *
 * - Killed mid-scan (a checkpoint after every shard through the test hook
 *   `LOUPE_TEST_DISCOVERY_CHECKPOINT_MS=0`, a wide SAE so that the scan
 *   lasts): the retry goes on from the last checkpoint, not from row 0, and
 *   the features it stores equal those of a straight run of the same
 *   discovery, every field.
 * - Killed in the labels phase: the retry resumes from the staged scan with
 *   the labels already staged: no scan again, and only the requests in
 *   flight at the kill are asked twice. The features are written once, every
 *   one that fires with its LLM label.
 *
 * pg-boss, a test database and a local OpenAI-compatible server stand in
 * for the server.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverySchema } from '../models/contracts/features.ts';
import type { ServerMessage } from '../models/contracts/topics.ts';
import { LLM_DEFAULTS } from '../models/features/llm.ts';
import { discoveryDir, readCheckpoint, type StagedKey } from '../models/features/staging.ts';
import { logger } from '../models/log.ts';
import { readManifest } from '../models/activations/store.ts';
import { listenEvents, type EventListener } from '../db/events.ts';
import { getDiscovery, insertDiscovery, updateDiscovery, type DiscoveryRow } from '../db/queries/discoveries.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import { listFeatures } from '../db/queries/features.ts';
import type { SaeRow } from '../db/queries/saes.ts';
import { putLlmSettings } from '../db/queries/settings.ts';
import { featureListQuerySchema } from '../models/contracts/features.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { randomSae, trainedSae } from '../scripts/testing/features.ts';
import { startLlmServer, type TestLlmServer } from '../scripts/testing/llm-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { completedExtraction, demoExtraction, SMALL_EXTRACTION } from '../scripts/testing/training.ts';
import { startQueue, Workers, type TestQueue } from '../scripts/testing/worker.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { registerDemoModel } from './demo-model.ts';

const HOOK = 'blocks.3.hook_resid_post';

describe('a discovery whose worker dies', () => {
  let db: TestDatabase;
  let queue: TestQueue;
  let llm: TestLlmServer;
  let listener: EventListener;
  let extraction: ExtractionRow;
  let sae: SaeRow;
  const messages: ServerMessage[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-discover-resume-'));
  const dataDir = path.join(tmp, 'data');
  const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOUPE_TEST_HEARTBEAT_MS: '500', LOUPE_TEST_DISCOVERY_CHECKPOINT_MS: '0' }));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_discover_resume');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), [HOOK]);
    sae = await trainedSae(db.db, dataDir, extraction, HOOK);
    llm = await startLlmServer('sk-resume');
    listener = await listenEvents(db.url, { pool: db.pool, onEvent: (m) => messages.push(m) });
    queue = await startQueue(db.url, 'features.discover');
  }, 240_000);

  afterAll(async () => {
    // the killed ones died of it; the others exit cleanly
    await workers.stop();
    await listener?.close();
    await queue?.stop();
    await llm?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Queues a discovery of `saeId` over `extractionId` as the API does (with the short retry delay of `queue.send`). */
  const send = async (saeId: string, extractionId: string): Promise<{ row: DiscoveryRow; jobId: string }> => {
    const row = await insertDiscovery(db.db, { saeId, extractionId, settings: { topK: 10, left: 16, right: 4 } });
    const jobId = await queue.send({ discoveryId: row.id });
    await updateDiscovery(db.db, row.id, { jobId });
    return { row, jobId };
  };

  it('resumes the labels from the staged scan: no second scan, the labels already given not asked again, features written once', async () => {
    await putLlmSettings(db.db, { url: llm.url, model: 'labeller', apiKey: 'sk-resume' });
    llm.delayMs = 60;
    const first = await workers.start();
    const { row, jobId } = await send(sae.id, extraction.id);

    const labelsFile = path.join(discoveryDir(dataDir, row.id), 'labels.jsonl');
    await waitFor('labels staged', () => (existsSync(labelsFile) && readFileSync(labelsFile, 'utf8').split('\n').filter(Boolean).length >= 20) || undefined, 60_000, 10);
    expect(await workers.kill(first)).toBe('SIGKILL');
    // events published from here on (the dead worker's last ones may still be arriving)
    const killedAt = Date.now();

    // What the dead worker left: the staged scan and labels, the row running, the job active.
    const staged = readFileSync(labelsFile, 'utf8').split('\n').filter(Boolean).length;
    expect(existsSync(path.join(discoveryDir(dataDir, row.id), 'features.json'))).toBe(true);
    expect((await getDiscovery(db.db, row.id))?.status).toBe('running');
    expect(await queue.state(jobId)).toBe('active');
    expect((await listFeatures(db.db, featureListQuerySchema.parse({ sae: sae.id }))).total).toBe(0);
    const askedBefore = llm.requests.length;

    const second = await workers.start();
    const job = await queue.completed(jobId, 90_000);
    expect(job.retryCount).toBeGreaterThanOrEqual(1);
    expect(job.output).toMatchObject({ resumed: 'labels', features: sae.dSae });
    expect(second.output()).toMatch(/resuming from the staged scan/);
    // after the kill: labels and saving only, and the labelled count going on from what was staged
    const after = messages.filter((m) => m.ts > killedAt && m.topic === `discovery/${row.id}`).map((m) => discoverySchema.parse(m.data));
    const phases = new Set(after.map((e) => e.progress?.phase));
    expect(phases.has('scan')).toBe(false);
    expect(phases.has('examples')).toBe(false);
    expect(phases.has('labels')).toBe(true);
    // (the retry's first event is the row as it starts, with the progress the dead worker last wrote)
    const behind = after.filter((e) => e.progress?.phase === 'labels' && e.progress.featuresLabelled < staged);
    expect(behind.length).toBeLessThanOrEqual(1);
    if (behind[0]) expect(behind[0]).toBe(after[0]);

    const done = await getDiscovery(db.db, row.id);
    expect(done).toMatchObject({ status: 'completed', error: null, warning: null });
    const list = (await listFeatures(db.db, featureListQuerySchema.parse({ sae: sae.id, limit: '200', sort: 'index' }))).items;
    expect(list).toHaveLength(sae.dSae);
    const live = list.filter((f) => f.frequency > 0);
    expect(live.every((f) => f.labelSource === 'llm')).toBe(true);
    // every feature asked once, but for the requests in flight at the kill
    expect(llm.requests.length).toBeGreaterThanOrEqual(live.length);
    expect(llm.requests.length).toBeLessThanOrEqual(live.length + LLM_DEFAULTS.concurrency);
    expect(llm.requests.length - askedBefore).toBeLessThanOrEqual(live.length - staged + LLM_DEFAULTS.concurrency);
    expect(existsSync(discoveryDir(dataDir, row.id))).toBe(false);
    await second.stop('SIGTERM');
    await putLlmSettings(db.db, null);
  }, 240_000);

  /** Every stored field of an SAE's features and examples but the discovery that wrote them. */
  const stored = async (saeId: string) => {
    const features = await db.pool.query(
      'SELECT index, frequency, max_activation, mean_activation, histogram, label, label_source, score, heuristic_label, heuristic_score, heuristic_kind, llm_label, peak_tokens, top_tokens FROM features WHERE sae_id = $1 ORDER BY index',
      [saeId],
    );
    const examples = await db.pool.query('SELECT feature_index, rank, max_value, tokens, values, dataset_offset, position FROM feature_examples WHERE sae_id = $1 ORDER BY feature_index, rank', [saeId]);
    return { features: features.rows, examples: examples.rows };
  };

  it('resumes a scan killed midway from its last checkpoint and stores exactly the features of a straight run', async () => {
    // 12 shards of 1,024 rows through an SAE of 4,096 features: a scan of a few seconds, a checkpoint after every shard
    const dir = path.join(tmp, 'slice-scan');
    const dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 15_000), 'scan slice');
    const wide = await completedExtraction(db.db, dataDir, dataset, [HOOK], { ...SMALL_EXTRACTION, tokenBudget: 192 * 64 });
    const shards = (await readManifest(wide.path!))!.hooks[HOOK]!.shards;
    expect(shards.length).toBe(12);
    const sae = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: 256, dSae: 4096, k: 16 });

    const first = await workers.start();
    const { row, jobId } = await send(sae.id, wide.id);
    const staging = discoveryDir(dataDir, row.id);
    const key: StagedKey = { saeId: sae.id, source: { extractionId: wide.id }, settings: row.settings };
    const early = await waitFor('a scan checkpoint after 3 shards', async () => ((await readCheckpoint(staging, key))?.unit ?? 0) >= 3 || undefined, 120_000, 5);
    expect(early).toBe(true);
    expect(await workers.kill(first)).toBe('SIGKILL');
    const killedAt = Date.now();

    // killed mid-scan: its last checkpoint is of the scan, some shards in; nothing stored
    const left = (await readCheckpoint(staging, key))!;
    expect(left.phase).toBe('scan');
    expect(left.unit).toBeGreaterThanOrEqual(3);
    expect(left.unit).toBeLessThan(shards.length);
    const rowsAtCheckpoint = shards.slice(0, left.unit).reduce((a, s) => a + s.rows, 0);
    expect(left.done).toBe(rowsAtCheckpoint);
    expect(existsSync(path.join(staging, 'features.json'))).toBe(false);
    expect((await getDiscovery(db.db, row.id))?.status).toBe('running');

    const second = await workers.start();
    const job = await queue.completed(jobId, 180_000);
    expect(job.retryCount).toBeGreaterThanOrEqual(1);
    expect(job.output).toMatchObject({ resumed: 'scan', resumedAt: { unit: left.unit, units: shards.length, done: rowsAtCheckpoint }, features: 4096, rows: wide.stats![HOOK]!.count });
    expect(second.output()).toMatch(/resuming the scan from its checkpoint/);
    // the retry's scan started at the checkpoint, not at row 0 (its first event is the row as it starts, with the progress the dead worker last wrote)
    const after = messages.filter((m) => m.ts > killedAt && m.topic === `discovery/${row.id}`).map((m) => discoverySchema.parse(m.data));
    const scanning = after.slice(1).filter((e) => e.progress?.phase === 'scan');
    expect(scanning.length).toBeGreaterThan(0);
    expect(Math.min(...scanning.map((e) => e.progress!.rowsDone))).toBeGreaterThanOrEqual(rowsAtCheckpoint);
    expect(after.slice(1).map((e) => e.progress?.phase)).toContain('examples');
    expect(await getDiscovery(db.db, row.id)).toMatchObject({ status: 'completed', error: null, rows: wide.stats![HOOK]!.count });
    expect(existsSync(staging)).toBe(false);
    const resumed = await stored(sae.id);
    expect(resumed.features).toHaveLength(4096);

    // a straight run of the same discovery on the same worker: the same features, every field
    const straight = await send(sae.id, wide.id);
    const plain = await queue.completed(straight.jobId, 180_000);
    expect(plain.output).toMatchObject({ resumed: null, features: 4096 });
    const again = await stored(sae.id);
    expect(again.features).toEqual(resumed.features);
    expect(again.examples).toEqual(resumed.examples);
    expect(resumed.examples.length).toBeGreaterThan(4096);
  }, 420_000);
});
