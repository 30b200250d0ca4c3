import { describe, expect, it } from 'vitest';
import { createTrainingSchema, trainingTemplateSettingsSchema, type MetricPoint, type Training, type TrainingProgress, type TrainMetricValues } from '../../models/contracts/trainings.ts';
import { densityHistogram } from '../../models/sae/density.ts';
import { resolveTrainConfig } from '../../models/sae/config.ts';
import { applyTrainingTemplate, errorFor, formBody, formConfig, formDSae, formTemplate, initialTrainingForm, parseNumber, type TrainingForm } from './training-form.ts';
import { catchUpAfter, ceRecoveredSeries, createHistory, densityBars, latestEval, mergeCheckpoints, mergePoints, metricSeries, pointCount } from './training-history.ts';
import { applyTrainingProgress, configLabel, controlsOf, statusLabel, stepsPercent } from './training-view.ts';

const EXTRACTION = '6f1f4f0e-8a43-4a57-9a0e-3f8d3c0b7a11';

const resolved = resolveTrainConfig([], 50_000);
const run: Training = {
  id: 't1',
  name: 'topk k=32 ×8 on blocks.3.hook_resid_post',
  extractionId: EXTRACTION,
  modelId: 'm1',
  modelName: 'demo',
  datasetName: 'slice',
  hookPoints: ['blocks.3.hook_resid_post'],
  config: resolved,
  purpose: 'default',
  status: 'queued',
  control: null,
  progress: null,
  device: null,
  queuePosition: 2,
  stopped: false,
  jobId: 'j1',
  error: null,
  createdAt: 1,
  updatedAt: 1,
  startedAt: null,
  finishedAt: null,
};
const progress = (ts: number, step: number, status: TrainingProgress['status'] = 'running'): TrainingProgress => ({
  id: 't1',
  status,
  phase: 'training',
  step,
  totalSteps: 48,
  tokens: step * 1024,
  totalTokens: 48 * 1024,
  tokensPerSecond: 5000,
  etaSeconds: 3,
  resumedAt: 0,
  checkpoints: [],
  stopped: false,
  error: null,
  ts,
});
const values = (loss: number): TrainMetricValues => ({ loss, mse: loss, l1: 0, l0: 16, explainedVariance: 1 - loss, deadFraction: 0, denseFraction: 0, lr: 1e-3, l1Coefficient: 0, tokensPerSecond: 1000 });
const point = (hook: string, step: number, loss: number): MetricPoint => ({ hook, step, tokens: step * 64, ts: step, train: values(loss), eval: null });
const evalPoint = (hook: string, step: number, recovered: number | null): MetricPoint => ({
  hook,
  step,
  tokens: step * 64,
  ts: step,
  train: null,
  eval: { density: densityHistogram([0, 1, 10, 100], 1000), ceLossClean: 3, ceLossSpliced: 3.5, ceLossZero: 8, ceLossRecovered: recovered },
});

describe('training form', () => {
  it('starts at the API\'s defaults, so that an untouched form resolves to the config the API would choose', () => {
    const f = { ...initialTrainingForm(), extractionId: EXTRACTION, hookPoints: ['blocks.3.hook_resid_post'] };
    const body = createTrainingSchema.parse(formBody(f));
    expect(resolveTrainConfig([body.config], 50_000)).toEqual(resolved);
    expect(body).not.toHaveProperty('name');
  });

  it('sends the fields the architecture uses and the size it was given', () => {
    const base = initialTrainingForm();
    const topk = formConfig({ ...base, k: '16', l1Coefficient: '9', sizeMode: 'dSae', dSae: '256' });
    expect(topk).toMatchObject({ architecture: 'topk', k: 16, dSae: 256 });
    expect(topk).not.toHaveProperty('l1Coefficient');
    expect(topk).not.toHaveProperty('expansionFactor');
    expect(topk).not.toHaveProperty('initThreshold');
    const relu = formConfig({ ...base, architecture: 'relu', l1Coefficient: '2.5', l1WarmupSteps: '100' });
    expect(relu).toMatchObject({ architecture: 'relu', l1Coefficient: 2.5, l1WarmupSteps: 100, expansionFactor: 8 });
    expect(relu).not.toHaveProperty('k');
    const jump = formConfig({ ...base, architecture: 'jumprelu', initThreshold: '0.01' });
    expect(jump).toMatchObject({ l1Coefficient: 5, initThreshold: 0.01, bandwidth: 0.001 });
    expect(formConfig({ ...base, architecture: 'batchtopk' })).toMatchObject({ k: 32 });
    // an empty total: one pass over the rows (the server's default)
    expect(formConfig(base)).not.toHaveProperty('totalTokens');
  });

  it('reads numbers as typed and passes anything else on for the server to name', () => {
    expect(parseNumber('4e-4')).toBe(4e-4);
    expect(parseNumber(' 1,024 ')).toBe(1024);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber('lots')).toBe('lots');
    const body = formBody({ ...initialTrainingForm(), extractionId: EXTRACTION, hookPoints: ['blocks.3.hook_resid_post'], lr: 'fast' });
    const parsed = createTrainingSchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['config.lr']);
  });

  it('computes d_sae from either size', () => {
    const f = initialTrainingForm();
    expect(formDSae(f, 256)).toBe(2048);
    expect(formDSae({ ...f, expansionFactor: '1.5' }, 3)).toBe(5);
    expect(formDSae({ ...f, sizeMode: 'dSae', dSae: '300' }, 256)).toBe(300);
    expect(formDSae({ ...f, sizeMode: 'dSae', dSae: '' }, 256)).toBeUndefined();
  });

  it('saves a template the API accepts and loads it back to the same form; what a template leaves out gets its default', () => {
    const f: TrainingForm = { ...initialTrainingForm(), extractionId: EXTRACTION, name: 'mine', hookPoints: ['blocks.1.hook_resid_post'], architecture: 'relu', l1Coefficient: '3', sizeMode: 'dSae', dSae: '512', lr: '0.001', totalTokens: '100000', normalizeDecoder: true, bDecInit: 'geometric_median', seed: '7' };
    const settings = trainingTemplateSettingsSchema.parse(formTemplate(f));
    const back = applyTrainingTemplate({ ...initialTrainingForm(), extractionId: EXTRACTION, name: 'mine', lr: '9', hookPoints: [] }, settings);
    expect(back).toEqual(f);
    const partial = applyTrainingTemplate({ ...f, k: '99' }, { config: { k: 8 } });
    expect(partial).toMatchObject({ architecture: 'topk', k: '8', sizeMode: 'expansionFactor', expansionFactor: '8', lr: '0.0004', hookPoints: f.hookPoints, totalTokens: '' });
    expect(formTemplate({ ...f, hookPoints: [] })).not.toHaveProperty('hookPoints');
  });

  it('finds a field\'s message under its request and template paths', () => {
    const errors = { 'config.k': 'must be below d_sae (256 for blocks.3.hook_resid_post)', 'hookPoints.1': 'x is not in extraction', 'settings.config.lr': 'too big' };
    expect(errorFor(errors, 'config.k')).toMatch(/below d_sae/);
    expect(errorFor(errors, 'config.lr')).toBe('too big');
    expect(errorFor(errors, 'hookPoints')).toBe('x is not in extraction');
    expect(errorFor(errors, 'config.seed')).toBeUndefined();
  });
});

describe('runs', () => {
  it('applies live progress, ignores late deliveries, and drops the queue position and control once it leaves them', () => {
    const running = applyTrainingProgress(run, progress(10, 5));
    expect(running).toMatchObject({ status: 'running', queuePosition: null, progress: { step: 5 } });
    expect(applyTrainingProgress(running, progress(5, 2))).toBe(running);
    const asked = { ...running, control: 'pause' as const };
    expect(statusLabel(asked)).toBe('pausing…');
    expect(controlsOf(asked)).toEqual([]);
    const paused = applyTrainingProgress(asked, progress(20, 10, 'paused'));
    expect(paused).toMatchObject({ status: 'paused', control: null });
    expect(controlsOf(paused)).toEqual(['resume', 'stop']);
    expect(stepsPercent(paused)).toBeCloseTo(20.8, 1);
    const stopped = applyTrainingProgress(paused, { ...progress(30, 12, 'completed'), stopped: true });
    expect(statusLabel(stopped)).toBe('stopped at step 12');
    expect(stepsPercent(stopped)).toBe(100);
  });

  it('labels statuses and offers the controls the API allows', () => {
    expect(statusLabel(run)).toBe('queued (#2)');
    expect(controlsOf(run)).toEqual(['pause', 'stop']);
    expect(controlsOf({ ...run, status: 'failed' })).toEqual(['retry']);
    expect(controlsOf({ ...run, status: 'cancelled' })).toEqual(['retry']);
    expect(controlsOf({ ...run, status: 'completed' })).toEqual([]);
    expect(stepsPercent(run)).toBe(0);
    expect(configLabel({ ...resolved, architecture: 'topk', k: 16, dSae: 256, expansionFactor: null, lr: 1e-3, batchSize: 64 })).toBe(
      'topk k=16 · d_sae 256 · lr 0.0010, decay 20 % · batch 64 · 50,000 tokens · b_dec mean · seed 42',
    );
  });
});

describe('metric history', () => {
  const A = 'blocks.1.hook_resid_post';
  const B = 'blocks.3.hook_resid_post';

  it('merges API pages and live batches in any order into one point per hook and step', () => {
    const all = Array.from({ length: 40 }, (_, i) => [point(A, (i + 1) * 10, 1 / (i + 1)), point(B, (i + 1) * 10, 2 / (i + 1))]).flat();
    const h = createHistory();
    // live batches first (subscribed before the history is read), then pages that overlap them, then a repeat
    mergePoints(h, all.slice(50, 60));
    mergePoints(h, all.slice(0, 30));
    mergePoints(h, all.slice(28, 56));
    mergePoints(h, all.slice(56));
    mergePoints(h, all.slice(60, 62));
    expect(pointCount(h)).toBe(80);
    const [a, b] = metricSeries(h, [A, B], 'loss', 1000);
    expect(a!.label).toBe(A);
    expect(a!.t).toEqual(Array.from({ length: 40 }, (_, i) => (i + 1) * 10));
    expect(b!.v).toEqual(Array.from({ length: 40 }, (_, i) => 2 / (i + 1)));
    // a recomputed point (a retry after its checkpoint) replaces the stored one
    mergePoints(h, [point(A, 20, 0.123)]);
    expect(metricSeries(h, [A], 'loss', 1000)[0]!.v[1]).toBe(0.123);
  });

  it('keeps evaluations apart from training metrics at the same step', () => {
    const h = createHistory();
    mergePoints(h, [point(A, 100, 0.5), evalPoint(A, 100, 0.9)]);
    mergePoints(h, [evalPoint(A, 50, null)]);
    expect(metricSeries(h, [A], 'loss', 100)[0]).toMatchObject({ t: [100], v: [0.5] });
    expect(latestEval(h, A)).toMatchObject({ step: 100, eval: { ceLossRecovered: 0.9 } });
    // evaluations without a CE-loss measure are left out of its chart
    expect(ceRecoveredSeries(h, [A, B])).toEqual([{ label: A, t: [100], v: [0.9] }]);
  });

  it('catches up from the newest step every hook has reached', () => {
    const h = createHistory();
    expect(catchUpAfter(h, [A, B])).toBe(-1);
    mergePoints(h, [point(A, 10, 1), point(B, 10, 1), point(A, 20, 1)]);
    expect(catchUpAfter(h, [A, B])).toBe(10);
    mergePoints(h, [point(B, 20, 1), evalPoint(B, 25, 0.5)]);
    expect(catchUpAfter(h, [A, B])).toBe(20);
    expect(catchUpAfter(h, [])).toBe(-1);
  });
});

describe('checkpoints and density', () => {
  it('lists each checkpoint once, newest first, as they are seen', () => {
    let seen = mergeCheckpoints([], [{ hook: 'a', step: 100, at: 1 }]);
    seen = mergeCheckpoints(seen, [{ hook: 'a', step: 100, at: 1 }]);
    const same = seen;
    expect(mergeCheckpoints(same, [{ hook: 'a', step: 100, at: 1 }])).toBe(same);
    seen = mergeCheckpoints(seen, [
      { hook: 'a', step: 200, at: 2 },
      { hook: 'b', step: 200, at: 2 },
    ]);
    expect(seen.map((c) => `${c.hook}@${c.step}`)).toEqual(['a@200', 'b@200', 'a@100']);
  });

  it('turns a density histogram into bars on its log10 edges', () => {
    const d = densityHistogram([0, 1, 10, 1000], 1000);
    const bars = densityBars(d);
    expect(bars).toHaveLength(d.counts.length);
    expect(bars[0]).toEqual({ from: -8, to: -7.75, count: 0 });
    expect(bars.reduce((s, b) => s + b.count, 0) + d.dead).toBe(4);
    expect(bars.find((b) => b.from <= -3 && -3 < b.to)!.count).toBe(1);
    expect(bars.at(-1)).toMatchObject({ to: 0, count: 1 });
  });
});
