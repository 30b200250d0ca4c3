/**
 * Writers of text Loupe derives (token texts, labels, statistics, errors,
 * progress) on a real PostgreSQL: values holding NUL and lone surrogates,
 * which text and jsonb refuse, are stored with NUL as ␀ and a lone surrogate
 * as U+FFFD (models/safe-text.ts) instead of failing the write.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../models/log.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { discoveries, saes } from '../schema.ts';
import { getCachedAnalysis, putCachedAnalysis } from './analysis.ts';
import { getDataset, insertDataset, updateDataset } from './datasets.ts';
import { getDiscovery, updateDiscovery } from './discoveries.ts';
import { getFeature, patchFeature, replaceFeatures, setLlmLabel, type FeatureRecord } from './features.ts';
import { setJobProgress } from './jobs.ts';
import { DEMO_MODEL_ID } from './models.ts';

const NUL = '\u0000';
const LONE = '\uD800';

describe('derived text with NUL and lone surrogates', () => {
  let db: TestDatabase;
  let saeId: string;
  beforeAll(async () => {
    db = await createTestDatabase('loupe_derived_text');
    await registerDemoModel(db.db, logger('test'));
    const [row] = await db.db.insert(saes).values({ name: 'sae', hookPoint: 'blocks.3.hook_resid_post', architecture: 'topk', dIn: 64, dSae: 4, cfg: {}, path: '/nowhere' }).returning({ id: saes.id });
    saeId = row!.id;
  });
  afterAll(() => db?.drop());

  it('stores an analysis result, its token texts made safe', async () => {
    const result = { top: [{ token: 189, text: NUL, value: 3 }, { token: 7, text: `a${LONE}`, value: 2 }], bottom: [] };
    await putCachedAnalysis(db.db, { key: 'logit-lens:x', kind: 'logit-lens', saeId, featureIndex: 0, result, ttlMs: 60_000 });
    expect((await getCachedAnalysis(db.db, 'logit-lens:x'))?.result).toEqual({ top: [{ token: 189, text: '␀', value: 3 }, { token: 7, text: 'a\uFFFD', value: 2 }], bottom: [] });
  });

  it('stores features whose labels and top tokens hold NUL, and an LLM label or user note that does', async () => {
    const [d] = await db.db.insert(discoveries).values({ saeId, settings: { topK: 2, left: 3, right: 1 }, status: 'running' }).returning({ id: discoveries.id });
    const record: FeatureRecord = {
      index: 0,
      frequency: 0.1,
      maxActivation: 2,
      meanActivation: 1,
      histogram: { edges: [0, 1], counts: [3] },
      heuristicLabel: `“${NUL}”`,
      heuristicScore: 0.9,
      heuristicKind: 'token',
      llmLabel: null,
      peakTokens: [189],
      topTokens: [{ token: 189, text: NUL, count: 3 }],
      examples: [{ rank: 0, maxValue: 2, position: 1, start: 0, tokens: [5, 189], values: [0, 2] }],
    };
    const ok = await replaceFeatures(db.db, d!.id, saeId, [record], { progress: { phase: 'saving', rowsDone: 1, rowsTotal: 1, featuresLabelled: 0, etaSeconds: 0 }, rows: 10, warning: `LLM said ${NUL}` });
    expect(ok).toBe(true);
    expect(await getFeature(db.db, saeId, 0)).toMatchObject({ label: '“␀”', heuristicLabel: '“␀”', topTokens: [{ token: 189, text: '␀', count: 3 }] });
    expect((await getDiscovery(db.db, d!.id))?.warning).toBe('LLM said ␀');
    expect(await setLlmLabel(db.db, saeId, 0, `Feature: “${NUL}${LONE}”`)).toBe(true);
    expect(await getFeature(db.db, saeId, 0)).toMatchObject({ label: 'Feature: “␀\uFFFD”', labelSource: 'llm' });
    expect(await patchFeature(db.db, saeId, 0, { notes: `n${NUL}` })).toBe(true);
    expect((await getFeature(db.db, saeId, 0))?.notes).toBe('n␀');
    expect(await updateDiscovery(db.db, d!.id, { error: `failed at ${NUL}` })).toMatchObject({ error: 'failed at ␀' });
  });

  it('stores dataset statistics and errors, and job progress, that hold NUL', async () => {
    const ds = await insertDataset(db.db, { name: 'nul', source: { kind: 'upload', fileName: 'a.txt', bytes: 3 }, settings: { textColumn: 'text', textSplit: 'document', onBadRow: 'error', addBos: null, addEos: null, maxDocuments: null, maxTokens: null }, tokenizerModelId: DEMO_MODEL_ID, path: null });
    const stats = { documents: 1, tokens: 3, topTokens: [{ id: 189, count: 3, fraction: 1, text: NUL, special: false }] };
    expect(await updateDataset(db.db, ds.id, { stats: stats as never, error: `line 1: ${NUL}` })).toBeDefined();
    const row = await getDataset(db.db, ds.id);
    expect((row?.stats as unknown as typeof stats).topTokens[0]!.text).toBe('␀');
    expect(row?.error).toBe('line 1: ␀');
    const jobId = randomUUID();
    await setJobProgress(db.db, jobId, 'dataset.import', { file: `a${NUL}.txt`, error: LONE });
    const { rows } = await db.pool.query<{ progress: unknown }>('SELECT progress FROM job_progress WHERE job_id = $1', [jobId]);
    expect(rows[0]!.progress).toEqual({ file: 'a␀.txt', error: '\uFFFD' });
  });
});
