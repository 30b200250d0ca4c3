/**
 * Helpers of the feature tests: a small SAE trained in-process on a
 * completed extraction and recorded as a finished `sae.train` leaves it (its
 * training row completed, the SAE row linked to it, so a discovery defaults
 * to that extraction), a wide untrained one (slow enough to encode that a
 * test can act mid-scan), and waiting for a discovery to end.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TrainConfigInput } from '../../models/contracts/trainings.ts';
import type { Discovery } from '../../models/contracts/features.ts';
import { resolveTrainConfig, toTrainConfig } from '../../models/sae/config.ts';
import { saveSae } from '../../models/sae/saelens.ts';
import { trainingHookDir } from '../../models/sae/files.ts';
import { trainSae } from '../../models/sae/train.ts';
import type { Db } from '../../db/client.ts';
import { getDiscovery } from '../../db/queries/discoveries.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { insertSae, type SaeRow } from '../../db/queries/saes.ts';
import { insertTraining, updateTraining } from '../../db/queries/trainings.ts';
import { waitFor } from './processes.ts';

/** A small TopK SAE: 128 features, k 8, a few hundred steps of 256 rows. */
export const SMALL_SAE: TrainConfigInput = { architecture: 'topk', k: 8, dSae: 128, lr: 2e-3, batchSize: 256, totalTokens: 120 * 256, metricsEvery: 40, checkpointEvery: 1000, evalEvery: 0, evalWindows: 0 };

/** Trains an SAE on `hook` of a completed extraction into DATA_DIR/saes/<training>/<hook> and records it. */
export async function trainedSae(db: Db, dataDir: string, extraction: ExtractionRow, hook: string, config: TrainConfigInput = SMALL_SAE): Promise<SaeRow> {
  const resolved = resolveTrainConfig([config], 0);
  const training = await insertTraining(db, { name: `test ${hook}`, extractionId: extraction.id, hookPoints: [hook], config: resolved });
  const out = trainingHookDir(dataDir, training.id, hook);
  const r = await trainSae({ activations: extraction.path!, hook, out, config: toTrainConfig(resolved), device: 'cpu' });
  await updateTraining(db, training.id, { status: 'completed', finishedAt: new Date() });
  const cfg = JSON.parse(await fs.readFile(path.join(out, 'cfg.json'), 'utf8')) as Record<string, unknown>;
  return insertSae(db, {
    id: randomUUID(),
    name: `test ${hook}`,
    trainingId: training.id,
    modelId: extraction.modelId,
    hookPoint: hook,
    architecture: 'topk',
    dIn: r.config!.dIn,
    dSae: r.config!.dSae,
    cfg,
    metrics: null,
    path: out,
  });
}

/**
 * A TopK SAE of `dSae` features with seeded random weights (an import, not
 * trained: its features are arbitrary but deterministic), saved under
 * DATA_DIR/saes/imported/<id> and recorded for `modelId`. `architecture`
 * jumprelu gives it thresholds uniform in [0, `threshold`) (default 3),
 * random biases and no k; `prependBos` is its cfg.json's `prepend_bos`
 * (default false).
 */
export async function randomSae(
  db: Db,
  dataDir: string,
  o: { modelId: string; hook: string; dIn: number; dSae: number; k: number; seed?: number; architecture?: 'topk' | 'jumprelu'; threshold?: number; prependBos?: boolean },
): Promise<SaeRow> {
  let state = o.seed ?? 1;
  // mulberry32, then Box-Muller: the same weights on every run
  const uniform = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()) * scale);
  const id = randomUUID();
  const dir = path.join(dataDir, 'saes', 'imported', id);
  const architecture = o.architecture ?? 'topk';
  const jump = architecture === 'jumprelu';
  await saveSae(
    dir,
    { architecture, dIn: o.dIn, dSae: o.dSae, k: jump ? null : o.k, hookName: o.hook, hookLayer: null, modelName: 'test', contextSize: null, prependBos: o.prependBos ?? false, normalizeActivations: 'none', extra: {} },
    {
      W_enc: normal(o.dIn * o.dSae, 1 / Math.sqrt(o.dIn)),
      b_enc: jump ? normal(o.dSae, 0.5) : new Float32Array(o.dSae),
      W_dec: normal(o.dSae * o.dIn, 1 / Math.sqrt(o.dIn)),
      b_dec: jump ? normal(o.dIn, 1) : new Float32Array(o.dIn),
      ...(jump ? { threshold: Float32Array.from({ length: o.dSae }, () => uniform() * (o.threshold ?? 3)) } : {}),
    },
  );
  const cfg = JSON.parse(await fs.readFile(path.join(dir, 'cfg.json'), 'utf8')) as Record<string, unknown>;
  return insertSae(db, { id, name: `random ${architecture} ${o.dSae}`, trainingId: null, modelId: o.modelId, hookPoint: o.hook, architecture, dIn: o.dIn, dSae: o.dSae, cfg, metrics: null, path: dir });
}

/** Waits until discovery `id` has ended (completed, failed or cancelled) and returns it. */
export function discoveryEnded(db: Db, id: string, timeoutMs = 120_000): Promise<Discovery> {
  return waitFor(
    `discovery ${id} to end`,
    async () => {
      const d = await getDiscovery(db, id);
      return d && (d.status === 'completed' || d.status === 'failed' || d.status === 'cancelled') ? d : undefined;
    },
    timeoutMs,
    50,
  );
}
