/**
 * Fixture trainings of the comparison tests (`GET /api/trainings/compare`,
 * `loupe compare`): rows and metric histories written straight to the
 * database (no activations, no job), with the series each run recorded kept
 * for the expectations.
 *
 *   a  topk k=32 on two hooks, completed with an SAE each: 1200 training
 *      points a hook, an evaluation every 1000 steps with CE-loss recovered,
 *      the last one of the second hook without it (a density-only evaluation)
 *   b  topk k=64 on the first hook, running: 300 training points, no evaluation
 *   c  relu on the first hook, over another dataset, queued: no points
 */
import { logger } from '../../models/log.ts';
import type { EvalValues, TrainConfigInput, TrainingProgress, TrainMetricValues } from '../../models/contracts/trainings.ts';
import { resolveTrainConfig } from '../../models/sae/config.ts';
import type { Db } from '../../db/client.ts';
import { insertDataset, type DatasetRow } from '../../db/queries/datasets.ts';
import { insertExtraction } from '../../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { listSaes } from '../../db/queries/saes.ts';
import { completeTraining, getTraining, insertTraining, updateTraining, upsertMetrics, type MetricRecord, type TrainingRow } from '../../db/queries/trainings.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { SMALL_EXTRACTION } from './training.ts';

export const COMPARE_HOOKS = ['blocks.1.hook_resid_post', 'blocks.2.mlp.hook_post'] as const;

/** What one run (training, hook) recorded, by step. */
export interface RecordedRun {
  steps: number[];
  tokens: number[];
  train: TrainMetricValues[];
  evals: { step: number; tokens: number; eval: EvalValues }[];
}

export interface CompareFixture {
  a: TrainingRow;
  b: TrainingRow;
  c: TrainingRow;
  /** by run key `${trainingId}:${hook}` */
  recorded: Map<string, RecordedRun>;
  /** SAE ids of training a, by hook */
  saeIds: Map<string, string>;
}

/** Training metrics at `step` of a run: smooth trends with a deterministic wobble (and a spike every 970 steps, for the min and max of buckets). */
function trainValues(step: number, seed: number, k: number): TrainMetricValues {
  const wobble = Math.sin(step * 0.37 + seed) * 0.01 + (step % 970 === 0 ? 0.2 : 0);
  const ev = 1 - 0.5 / Math.sqrt(1 + step / 50) - seed * 0.01 + wobble;
  return {
    loss: 2 / Math.sqrt(1 + step / 10) + seed * 0.1 + wobble,
    mse: 1.5 / Math.sqrt(1 + step / 10) + seed * 0.1 + wobble,
    l1: 0,
    l0: k - seed + wobble * 10,
    explainedVariance: ev,
    deadFraction: Math.max(0, 0.3 - step / 10_000) + seed * 0.01,
    denseFraction: 0.001 * seed,
    lr: 4e-4,
    l1Coefficient: 0,
    tokensPerSecond: 50_000 + seed * 1000,
  };
}

function evalValues(step: number, seed: number, measured: boolean): EvalValues {
  const clean = 3;
  const zero = 6;
  const spliced = 3 + 2 / Math.sqrt(1 + step / 100) + seed * 0.05;
  return {
    density: { edges: [-6, -3, 0], counts: [10, 20], dead: 2, tokens: 4096 },
    ceLossClean: measured ? clean : null,
    ceLossSpliced: measured ? spliced : null,
    ceLossZero: measured ? zero : null,
    ceLossRecovered: measured ? (zero - spliced) / (zero - clean) : null,
  };
}

async function record(db: Db, training: TrainingRow, hook: string, seed: number, opts: { points: number; every: number; batch: number; evalEvery?: number; lastEvalMeasured?: boolean }, recorded: Map<string, RecordedRun>) {
  const run: RecordedRun = { steps: [], tokens: [], train: [], evals: [] };
  const points: MetricRecord[] = [];
  const k = training.config.k;
  for (let i = 1; i <= opts.points; i++) {
    const step = i * opts.every;
    const tokens = step * opts.batch;
    const train = trainValues(step, seed, k);
    run.steps.push(step);
    run.tokens.push(tokens);
    run.train.push(train);
    const point: MetricRecord = { hook, step, tokens, train };
    if (opts.evalEvery && step % opts.evalEvery === 0) {
      const ev = evalValues(step, seed, i < opts.points || opts.lastEvalMeasured !== false);
      run.evals.push({ step, tokens, eval: ev });
      point.eval = ev;
    }
    points.push(point);
  }
  for (let i = 0; i < points.length; i += 1000) await upsertMetrics(db, training.id, points.slice(i, i + 1000));
  recorded.set(`${training.id}:${hook}`, run);
}

async function dataset(db: Db, name: string): Promise<DatasetRow> {
  return insertDataset(db, {
    name,
    source: { kind: 'upload', fileName: `${name}.jsonl`, bytes: 1000 },
    settings: { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: false, addEos: false, maxDocuments: null, maxTokens: null },
    tokenizerModelId: DEMO_MODEL_ID,
    path: null,
  });
}

/** Writes the three trainings of the file's TSDoc (and the demo model's row, when missing). */
export async function insertCompareFixture(db: Db): Promise<CompareFixture> {
  await registerDemoModel(db, logger('test'));
  const [first, second] = [await dataset(db, 'compare slice'), await dataset(db, 'other slice')];
  const extraction = await insertExtraction(db, { modelId: DEMO_MODEL_ID, datasetId: first.id, hookPoints: [...COMPARE_HOOKS], settings: SMALL_EXTRACTION });
  const other = await insertExtraction(db, { modelId: DEMO_MODEL_ID, datasetId: second.id, hookPoints: [COMPARE_HOOKS[0]], settings: SMALL_EXTRACTION });
  const config = (c: TrainConfigInput) => resolveTrainConfig([{ batchSize: 256, totalTokens: 256 * 12_000, ...c }], 1_000_000);
  const recorded = new Map<string, RecordedRun>();

  let a = await insertTraining(db, { name: 'compare a', extractionId: extraction.id, hookPoints: [...COMPARE_HOOKS], config: config({ architecture: 'topk', k: 32 }) });
  await record(db, a, COMPARE_HOOKS[0], 0, { points: 1200, every: 10, batch: 256, evalEvery: 1000 }, recorded);
  await record(db, a, COMPARE_HOOKS[1], 1, { points: 1200, every: 10, batch: 256, evalEvery: 1000, lastEvalMeasured: false }, recorded);
  await updateTraining(db, a.id, { status: 'running', startedAt: new Date() });
  const made = COMPARE_HOOKS.map((hook) => ({
    name: `compare a ${hook}`,
    modelId: DEMO_MODEL_ID,
    hookPoint: hook,
    architecture: 'topk' as const,
    dIn: 256,
    dSae: 2048,
    cfg: {},
    metrics: null,
    path: `/nowhere/${hook}`,
  }));
  const progress: TrainingProgress = { id: a.id, status: 'completed', phase: 'done', step: 12_000, totalSteps: 12_000, tokens: 256 * 12_000, totalTokens: 256 * 12_000, tokensPerSecond: 1, etaSeconds: null, resumedAt: 0, checkpoints: [], stopped: false, error: null, ts: Date.now() };
  if (!(await completeTraining(db, a.id, { progress }, made))) throw new Error('fixture training a did not complete');

  let b = await insertTraining(db, { name: 'compare b', extractionId: extraction.id, hookPoints: [COMPARE_HOOKS[0]], config: config({ architecture: 'topk', k: 64 }) });
  await record(db, b, COMPARE_HOOKS[0], 2, { points: 300, every: 10, batch: 256 }, recorded);
  await updateTraining(db, b.id, { status: 'running', startedAt: new Date() });

  const c = await insertTraining(db, { name: 'compare c', extractionId: other.id, hookPoints: [COMPARE_HOOKS[0]], config: config({ architecture: 'relu', l1Coefficient: 2 }) });

  const saeIds = new Map((await listSaes(db, { trainingId: a.id })).map((s) => [s.hookPoint, s.id]));
  a = (await getTraining(db, a.id))!;
  b = (await getTraining(db, b.id))!;
  return { a, b, c, recorded, saeIds };
}
