/**
 * Helpers of the SAE training tests: a completed extraction (the demo model
 * over a tokenized slice, run in-process into DATA_DIR/activations/<id>, its
 * row marked completed as a finished `activations.extract` leaves it), and
 * the metric history of a training read back from the database.
 */
import { statsSummary } from '../../models/activations/plan.ts';
import { activationsDir, runExtraction } from '../../models/activations/run.ts';
import type { ExtractionSettings } from '../../models/contracts/extractions.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import type { Db } from '../../db/client.ts';
import type { DatasetRow } from '../../db/queries/datasets.ts';
import { getExtraction, insertExtraction, updateExtraction, type ExtractionRow } from '../../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { listMetrics } from '../../db/queries/trainings.ts';
import type { MetricPoint } from '../../models/contracts/trainings.ts';
import { insertCompletedDataset, tokenizeDemo } from './tokenized.ts';

/** Small extraction settings: 64-token windows, 16 a shard. */
export const SMALL_EXTRACTION: ExtractionSettings = { dtype: 'fp32', storage: 'f32', contextLength: 64, batchSize: 8, tokenBudget: 64 * 64, stride: null, keepBos: false, prependBos: null, windowsPerShard: 16 };

/** Extracts `hooks` of the demo model over `dataset` into `dataDir` and records the extraction as completed. */
export async function completedExtraction(db: Db, dataDir: string, dataset: DatasetRow, hooks: string[], settings: ExtractionSettings = SMALL_EXTRACTION): Promise<ExtractionRow> {
  const row = await insertExtraction(db, { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: hooks, settings });
  const out = activationsDir(dataDir, row.id);
  const r = await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset.path!, outDir: out, hookPoints: hooks, settings, device: 'cpu' });
  const stats = Object.fromEntries(Object.entries(r.stats).map(([h, s]) => [h, statsSummary(s)]));
  await updateExtraction(db, row.id, { status: 'completed', path: out, stats });
  return (await getExtraction(db, row.id))!;
}

/**
 * The small extraction most SAE and feature tests train on: the first 8,000
 * tokens of the demo dataset (tokenized into `sliceDir` and recorded), 96
 * windows of 64 tokens extracted at `hooks` and recorded as completed.
 */
export async function demoExtraction(db: Db, dataDir: string, sliceDir: string, hooks: string[]): Promise<ExtractionRow> {
  const dataset = await insertCompletedDataset(db, sliceDir, await tokenizeDemo(sliceDir, 8000));
  return completedExtraction(db, dataDir, dataset, hooks, { ...SMALL_EXTRACTION, tokenBudget: 96 * 64 });
}

/** Every stored metric point of a training, by step then hook. */
export async function allMetrics(db: Db, trainingId: string, hook?: string): Promise<MetricPoint[]> {
  return (await listMetrics(db, trainingId, { hook, after: -1, limit: 1_000_000 })).points;
}
