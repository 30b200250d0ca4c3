/**
 * Registers the demo dataset shipped in the repository (demo/datasets/) as a
 * built-in dataset tokenized with the demo model, and queues its
 * `dataset.import` job when its folder under DATA_DIR holds no complete
 * tokenized dataset (a fresh install: about two seconds of work).
 *
 * Run by every worker at start, after the demo model: one upsert on a fixed
 * id, and an import claimed in one transaction ({@link claimDatasetImport}),
 * so several workers starting at once leave one row and send one job.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type PgBoss from 'pg-boss';
import type { Config } from '../models/config.ts';
import type { DatasetSettings } from '../models/contracts/datasets.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { datasetDir, DEMO_DATASET_FILE, DEMO_DATASET_NAME, folderBytes, isTokenized } from '../models/dataset-files.ts';
import { readMeta } from '../models/datasets/format.ts';
import { readStats } from '../models/datasets/stats.ts';
import type { Logger } from '../models/log.ts';
import type { Database } from '../db/client.ts';
import { claimDatasetImport, DEMO_DATASET_ID, ensureDemoDataset, updateDataset } from '../db/queries/datasets.ts';
import { getJob, isFinished } from '../db/queries/jobs.ts';
import { DEMO_MODEL_ID, getModel } from '../db/queries/models.ts';

const IMPORT = 'dataset.import' satisfies keyof typeof JOB_QUEUES;

/** The demo dataset's settings: JSON Lines field `text`, the demo (GPT-2) tokenizer's rule (no BOS, one EOS per document). */
export const DEMO_DATASET_SETTINGS: DatasetSettings = { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: null, addEos: null, maxDocuments: null, maxTokens: null };

/** What {@link registerDemoDataset} found: tokenized already, an import queued by this call, one already under way, or nothing done. */
export type DemoDatasetState = 'ready' | 'queued' | 'importing' | 'skipped';

export interface DemoDatasetOptions {
  database: Database;
  /** started pg-boss with the `dataset.import` queue created */
  boss: PgBoss;
  config: Pick<Config, 'dataDir'>;
  log: Logger;
  /** the shipped file; default {@link DEMO_DATASET_FILE} */
  file?: string;
}

/**
 * Upserts the demo dataset's row and makes sure it is (or is being)
 * tokenized. A missing demo file or demo model is logged, not fatal.
 */
export async function registerDemoDataset(opts: DemoDatasetOptions): Promise<DemoDatasetState> {
  const { database, boss, log } = opts;
  const { db } = database;
  const file = opts.file ?? DEMO_DATASET_FILE;
  if (!existsSync(file)) {
    log.warn('demo dataset not registered: its file is missing', { file });
    return 'skipped';
  }
  const model = await getModel(db, DEMO_MODEL_ID);
  if (model?.status !== 'completed') {
    log.warn('demo dataset not registered: the demo model is not', { model: DEMO_MODEL_ID });
    return 'skipped';
  }
  const dir = datasetDir(opts.config.dataDir, DEMO_DATASET_ID);
  const row = await ensureDemoDataset(db, { name: DEMO_DATASET_NAME, file, path: dir, tokenizerModelId: DEMO_MODEL_ID, settings: DEMO_DATASET_SETTINGS });

  if (await isTokenized(dir)) {
    if (row.status !== 'completed' && row.status !== 'running') {
      // Tokens from an earlier run under this DATA_DIR, a row that does not know it (a new database): record them.
      const [meta, stats] = await Promise.all([readMeta(dir), readStats(dir)]);
      const { counts } = meta;
      await updateDataset(
        db,
        DEMO_DATASET_ID,
        {
          status: 'completed',
          error: null,
          stats: { ...stats, emptyDocuments: counts.emptyDocuments, skippedRows: counts.skippedRows, bytesRead: counts.bytesRead, truncated: counts.truncated },
          settings: { ...DEMO_DATASET_SETTINGS, addBos: meta.settings.addBos, addEos: meta.settings.addEos },
          sizeBytes: await folderBytes(dir),
        },
        [row.status],
      );
    }
    return 'ready';
  }

  if ((row.status === 'queued' || row.status === 'running') && row.jobId) {
    const job = await getJob(db, row.jobId);
    if (job && !isFinished(job.state)) return 'importing';
  }
  const id = randomUUID();
  const jobId = await claimDatasetImport(database, DEMO_DATASET_ID, row.jobId, (executor) =>
    boss.send(IMPORT, { datasetId: DEMO_DATASET_ID }, { ...JOB_QUEUES[IMPORT], id, db: executor }),
  );
  if (!jobId) return 'importing';
  log.info('demo dataset import queued', { id: DEMO_DATASET_ID, job: jobId });
  return 'queued';
}
