/**
 * SAE families as trainings record their SAEs: each SAE joins the family of
 * its model, hook point and its training's purpose, with the next version;
 * two trainings completing at the same moment get two versions (the
 * family's row is locked while a version is taken), and the first is active.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingProgress } from '../../models/contracts/trainings.ts';
import { resolveTrainConfig } from '../../models/sae/config.ts';
import { logger } from '../../models/log.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { datasets, extractions } from '../schema.ts';
import { DEMO_MODEL_ID } from './models.ts';
import { listSaeFamilies, listSaes } from './saes.ts';
import { completeTraining, getTraining, insertTraining, updateTraining } from './trainings.ts';

const HOOK = 'blocks.1.hook_resid_post';

describe('SAE families', () => {
  let db: TestDatabase;
  let extractionId: string;
  beforeAll(async () => {
    db = await createTestDatabase('loupe_sae_families');
    await registerDemoModel(db.db, logger('test'));
    const [ds] = await db.db.insert(datasets).values({ name: 'd', source: { kind: 'upload', fileName: 'x.txt' }, settings: {}, tokenizerModelId: DEMO_MODEL_ID, status: 'completed' }).returning({ id: datasets.id });
    const [ex] = await db.db.insert(extractions).values({ modelId: DEMO_MODEL_ID, datasetId: ds!.id, hookPoints: [HOOK], settings: {}, status: 'completed' }).returning({ id: extractions.id });
    extractionId = ex!.id;
  });
  afterAll(() => db.drop());

  const trained = async (name: string, purpose?: string) => {
    const t = await insertTraining(db.db, { name, extractionId, hookPoints: [HOOK], config: resolveTrainConfig([], 10_000), purpose });
    await updateTraining(db.db, t.id, { status: 'running' });
    const progress: TrainingProgress = { id: t.id, status: 'completed', phase: 'done', step: 1, totalSteps: 1, tokens: 1, totalTokens: 1, tokensPerSecond: 0, etaSeconds: null, resumedAt: 0, checkpoints: [], stopped: false, error: null, ts: Date.now() };
    return () => completeTraining(db.db, t.id, { progress }, [{ name, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'topk', dIn: 4, dSae: 8, cfg: {}, metrics: null, path: `/saes/${name}` }]);
  };

  it('versions the SAEs of one model, hook and purpose in creation order, also when two complete at once; the first is active', async () => {
    const [a, b] = await Promise.all([trained('a', 'probe'), trained('b', 'probe')]);
    expect(await Promise.all([a(), b()])).toEqual([true, true]);
    const c = await trained('c', 'probe');
    await c();
    await (await trained('plain'))();

    const saes = await listSaes(db.db, { hookPoint: HOOK });
    const byName = Object.fromEntries(saes.map((s) => [s.name, s.family]));
    expect([byName.a!.version, byName.b!.version].sort()).toEqual([1, 2]);
    expect(byName.c).toMatchObject({ version: 3, active: false, purpose: 'probe' });
    expect(byName.plain).toMatchObject({ version: 1, active: true, purpose: 'default' });
    const first = byName.a!.version === 1 ? 'a' : 'b';
    expect(byName[first]!.active).toBe(true);

    const [probe] = await listSaeFamilies(db.db, { hookPoint: HOOK }).then((fs) => fs.filter((f) => f.purpose === 'probe'));
    expect(probe!.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(probe!.activeSaeId).toBe(saes.find((s) => s.name === first)!.id);
    expect((await getTraining(db.db, (await listSaes(db.db, { hookPoint: HOOK })).find((s) => s.name === 'plain')!.trainingId!))!.purpose).toBe('default');
  });
});
