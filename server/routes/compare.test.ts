/**
 * `GET /api/trainings/compare` in-process over a real PostgreSQL, on three
 * fixture trainings written straight to the database
 * (scripts/testing/compare.ts: one of two hooks with evaluations, one
 * running without any, one queued without points): one run per (training,
 * hook) in the order asked, each final value the last one recorded, the
 * settings split into differing and same, every curve the recorded series
 * downsampled by the shared downsampler (first and last points as
 * recorded), x in steps or tokens; the 404 names the missing ids and the
 * 400s the bad field; the route is not taken for `/api/trainings/{id}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { COMPARE_LIMITS, compareSchema, type Compare } from '../../models/contracts/compare.ts';
import { METRICS, metricValue, type MetricKey } from '../../models/contracts/metrics.ts';
import { trainConfigSchema } from '../../models/contracts/trainings.ts';
import { downsampleWithExtremes } from '../../models/series/downsample.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { COMPARE_HOOKS, insertCompareFixture, type CompareFixture, type RecordedRun } from '../../scripts/testing/compare.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';

const [H1, H2] = COMPARE_HOOKS;
const MISSING = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];

/** A run's recorded series of one metric: (step, tokens, value) wherever it was recorded. */
function recordedSeries(run: RecordedRun, key: MetricKey): { steps: number[]; tokens: number[]; v: number[] } {
  const out = { steps: [] as number[], tokens: [] as number[], v: [] as number[] };
  const add = (step: number, tokens: number, v: number | null) => {
    if (v === null) return;
    out.steps.push(step);
    out.tokens.push(tokens);
    out.v.push(v);
  };
  if (METRICS.find((m) => m.key === key)!.source === 'train') run.train.forEach((t, i) => add(run.steps[i]!, run.tokens[i]!, metricValue(key, { train: t, eval: null })));
  else for (const e of run.evals) add(e.step, e.tokens, metricValue(key, { train: null, eval: e.eval }));
  return out;
}

describe('GET /api/trainings/compare', () => {
  let db: TestDatabase;
  let t: TestApp;
  let f: CompareFixture;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-compare-api-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_compare_api');
    t = await createTestApp(db, dataDir);
    f = await insertCompareFixture(db.db);
  });
  afterAll(async () => {
    await t?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const compare = async (q: string): Promise<Compare> => {
    const res = await t.request(`/api/trainings/compare?${q}`);
    const body = await res.json();
    expect(res.status, JSON.stringify(body).slice(0, 500)).toBe(200);
    return compareSchema.parse(body);
  };
  const refused = async (q: string, status: number) => {
    const res = await t.request(`/api/trainings/compare?${q}`);
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(status);
    return errorBodySchema.parse(body).error;
  };

  it('answers one run per (training, hook) in the order asked, each final value the last one recorded', async () => {
    const c = await compare(`ids=${f.a.id},${f.b.id},${f.c.id}`);
    expect(c.x).toBe('step');
    expect(c.runs.map((r) => [r.trainingName, r.hook, r.architecture, r.status, r.saeId, r.datasetName, r.step, r.tokens])).toEqual([
      ['compare a', H1, 'topk', 'completed', f.saeIds.get(H1), 'compare slice', 12_000, 12_000 * 256],
      ['compare a', H2, 'topk', 'completed', f.saeIds.get(H2), 'compare slice', 12_000, 12_000 * 256],
      ['compare b', H1, 'topk', 'running', null, 'compare slice', 3000, 3000 * 256],
      ['compare c', H1, 'relu', 'queued', null, 'other slice', 0, 0],
    ]);
    expect(f.saeIds.size).toBe(2);
    for (const r of c.runs) {
      expect(r.key).toBe(`${r.trainingId}:${r.hook}`);
      expect([r.modelId, r.modelName]).toEqual([f.a.modelId, f.a.modelName]);
      expect(r.modelName).toBeTruthy();
    }
    const [a1, a2, b1, c1] = c.runs as [Compare['runs'][number], Compare['runs'][number], Compare['runs'][number], Compare['runs'][number]];
    const recA1 = f.recorded.get(a1.key)!;
    const recA2 = f.recorded.get(a2.key)!;
    const recB1 = f.recorded.get(b1.key)!;
    for (const m of METRICS) {
      for (const [run, rec] of [
        [a1, recA1],
        [a2, recA2],
        [b1, recB1],
      ] as const) {
        const expected = recordedSeries(rec, m.key).v.at(-1) ?? null;
        expect(run.final[m.key], `${run.key} ${m.key}`).toBe(expected);
      }
      expect(c1.final[m.key], `c ${m.key}`).toBeNull();
    }
    // as inserted: the last training point, the last evaluation that measured CE loss
    expect(a1.final.explainedVariance).toBe(recA1.train.at(-1)!.explainedVariance);
    expect(a1.final.ceLossRecovered).toBe(recA1.evals.at(-1)!.eval.ceLossRecovered);
    // the second hook's last evaluation measured no CE loss: its final is the one before
    expect(recA2.evals.at(-1)!.eval.ceLossRecovered).toBeNull();
    expect(a2.final.ceLossRecovered).toBe(recA2.evals.at(-2)!.eval.ceLossRecovered);
    expect(a2.final.ceLossRecovered).not.toBeNull();
    expect(b1.final.ceLossRecovered).toBeNull();
    expect(b1.final.l0).toBe(recB1.train.at(-1)!.l0);
    expect(Object.keys(a1.final).sort()).toEqual(METRICS.map((m) => m.key).sort());

    // another order, a repeat ignored
    const again = await compare(`ids=${f.c.id},${f.a.id},${f.c.id}`);
    expect(again.runs.map((r) => [r.trainingName, r.hook])).toEqual([
      ['compare c', H1],
      ['compare a', H1],
      ['compare a', H2],
    ]);
  });

  it('splits the settings into those that differ between the runs and those equal in all, in order', async () => {
    const c = await compare(`ids=${f.a.id},${f.b.id},${f.c.id}`);
    const order = ['model', 'dataset', 'hook', 'purpose', ...Object.keys(trainConfigSchema.shape)];
    expect(c.differing).toEqual([
      { key: 'dataset', values: ['compare slice', 'compare slice', 'compare slice', 'other slice'] },
      { key: 'hook', values: [H1, H2, H1, H1] },
      { key: 'architecture', values: ['topk', 'topk', 'topk', 'relu'] },
      { key: 'k', values: [32, 32, 64, 32] },
      { key: 'l1Coefficient', values: [5, 5, 5, 2] },
    ]);
    expect(c.same.map((s) => s.key)).toEqual(order.filter((k) => !c.differing.some((d) => d.key === k)));
    expect(c.same).toContainEqual({ key: 'model', value: f.a.modelName });
    expect(c.same).toContainEqual({ key: 'batchSize', value: 256 });
    expect(c.same).toContainEqual({ key: 'dSae', value: null });
    expect(c.same).toContainEqual({ key: 'normalizeInputs', value: true });
    // one training alone: everything is the same but the hook of its two runs
    const one = await compare(`ids=${f.a.id}`);
    expect(one.differing.map((d) => d.key)).toEqual(['hook']);
    expect(one.same).toHaveLength(order.length - 1);
  });

  it('draws each metric per run that recorded it, downsampled to at most `points`, the first and last points as recorded', async () => {
    const c = await compare(`ids=${f.a.id},${f.b.id},${f.c.id}`);
    expect(Object.keys(c.curves).sort()).toEqual(METRICS.map((m) => m.key).sort());
    for (const m of METRICS) {
      const curves = c.curves[m.key];
      const runs = m.source === 'train' ? [`${f.a.id}:${H1}`, `${f.a.id}:${H2}`, `${f.b.id}:${H1}`] : [`${f.a.id}:${H1}`, `${f.a.id}:${H2}`];
      expect(curves.map((k) => k.run), m.key).toEqual(runs);
      for (const curve of curves) {
        const rec = recordedSeries(f.recorded.get(curve.run)!, m.key);
        expect(curve.x.length).toBeLessThanOrEqual(COMPARE_LIMITS.DEFAULT_POINTS);
        expect([curve.x.length, curve.v.length, curve.min.length, curve.max.length]).toEqual(Array(4).fill(curve.x.length));
        expect([curve.x[0], curve.v[0]]).toEqual([rec.steps[0], rec.v[0]]);
        expect([curve.x.at(-1), curve.v.at(-1)]).toEqual([rec.steps.at(-1), rec.v.at(-1)]);
        const { t: x, ...rest } = downsampleWithExtremes(rec.steps, rec.v, COMPARE_LIMITS.DEFAULT_POINTS);
        expect(curve, `${curve.run} ${m.key}`).toEqual({ run: curve.run, x, ...rest });
        expect(Math.max(...curve.max)).toBe(Math.max(...rec.v));
        expect(Math.min(...curve.min)).toBe(Math.min(...rec.v));
      }
    }
    // 1200 points downsampled; 300 drawn as they are, min and max equal to the values
    const [a1, , b1] = c.curves.loss;
    expect(a1!.x.length).toBeLessThan(1200);
    expect(b1!.x).toEqual(f.recorded.get(b1!.run)!.steps);
    expect(b1!.min).toEqual(b1!.v);
    expect(b1!.max).toEqual(b1!.v);
    // the evaluation that measured no CE loss draws no point
    expect(c.curves.ceLossRecovered[1]!.x).toEqual(f.recorded.get(`${f.a.id}:${H2}`)!.evals.slice(0, -1).map((e) => e.step));
  });

  it('draws against tokens with x=tokens, to the points asked', async () => {
    const c = await compare(`ids=${f.a.id},${f.b.id}&x=tokens&points=50`);
    expect(c.x).toBe('tokens');
    for (const curve of c.curves.explainedVariance) {
      const rec = recordedSeries(f.recorded.get(curve.run)!, 'explainedVariance');
      expect(curve.x.length).toBeLessThanOrEqual(50);
      expect([curve.x[0], curve.x.at(-1)]).toEqual([rec.tokens[0], rec.tokens.at(-1)]);
      const { t: x, ...rest } = downsampleWithExtremes(rec.tokens, rec.v, 50);
      expect(curve).toEqual({ run: curve.run, x, ...rest });
    }
    expect(c.curves.ceLossRecovered[0]!.x).toEqual(f.recorded.get(`${f.a.id}:${H1}`)!.evals.map((e) => e.tokens));
  });

  it('answers 404 naming the unknown ids, and 400 naming a malformed field', async () => {
    const missing = await refused(`ids=${f.a.id},${MISSING.join(',')}`, 404);
    expect(missing).toMatchObject({ code: 'not_found', details: { field: 'ids', ids: MISSING } });
    expect(missing.message).toContain(MISSING[0]);
    expect(missing.message).toContain(MISSING[1]);
    expect(missing.message).not.toContain(f.a.id);

    const fields = async (q: string) => {
      const e = await refused(q, 400);
      expect(e.code).toBe('invalid_request');
      return (e.details as { field: string }[]).map((d) => d.field);
    };
    expect(await fields(`ids=${f.a.id},nope`)).toEqual(['ids.1']);
    expect(await fields('ids=')).toEqual(['ids']);
    expect(await fields('')).toEqual(['ids']);
    expect(await fields(`ids=${f.a.id}&x=epochs`)).toEqual(['x']);
    expect(await fields(`ids=${f.a.id}&points=5`)).toEqual(['points']);
    expect(await fields(`ids=${f.a.id}&points=${COMPARE_LIMITS.MAX_POINTS + 1}`)).toEqual(['points']);
    expect(await fields(`ids=${Array.from({ length: COMPARE_LIMITS.MAX_TRAININGS + 1 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`).join(',')}`)).toEqual(['ids']);
  });

  it('leaves /api/trainings/{id} to the training routes, and is in the OpenAPI document', async () => {
    expect((await t.request(`/api/trainings/${f.a.id}`)).status).toBe(200);
    expect((await refused('', 400)).message).toMatch(/Invalid query parameters: ids/);
    const doc = (await (await t.request('/api/openapi.json')).json()) as { paths: Record<string, { get?: { summary?: string; description?: string } }> };
    expect(doc.paths['/api/trainings/compare']?.get?.summary).toMatch(/side by side/);
    expect(doc.paths['/api/trainings/compare']?.get?.description).toMatch(/downsampled/);
  });
});
