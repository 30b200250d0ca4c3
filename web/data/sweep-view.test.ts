import { describe, expect, it } from 'vitest';
import { UNSWEPT_SETTINGS, type Sweep, type SweepTrial } from '../../models/contracts/sweeps.ts';
import { trainConfigSchema } from '../../models/contracts/trainings.ts';
import type { SearchSpace } from '../../models/sweep/space.ts';
import {
  applySweepEvent,
  applyTrialTraining,
  axisFraction,
  axisX,
  bestSoFar,
  endedWithObjective,
  formatParam,
  formatParams,
  formGridSize,
  importanceRows,
  initialSweepForm,
  newSpaceRow,
  nextTrialSort,
  objectiveShade,
  OBJECTIVE_AXIS,
  parallelAxes,
  parseChoiceValues,
  pruneOn,
  rowTypesOf,
  sortTrials,
  SWEEPABLE,
  sweepErrorFor,
  sweepFormBody,
  sweepPercent,
  sweepProgressText,
  trialPolyline,
  unplacedErrors,
  type SpaceRow,
  type SweepForm,
} from './sweep-view.ts';

const EXTRACTION = '3f1c2b8e-6a4d-4c1e-9b7a-2d5e8f0a1b2c';

/** A trial with what the helpers read; the rest at neutral values. */
function trial(number: number, status: SweepTrial['status'], objective: number | null, more: Partial<SweepTrial> = {}): SweepTrial {
  return {
    number,
    params: {},
    status,
    objective,
    score: objective,
    feasible: objective === null ? null : true,
    best: false,
    reason: null,
    trainingId: null,
    training: null,
    final: {},
    createdAt: 0,
    finishedAt: null,
    ...more,
  };
}

const row = (p: Partial<SpaceRow>): SpaceRow => ({ key: '', type: 'float', min: '', max: '', log: false, points: '', values: '', ...p });
const form = (p: Partial<SweepForm>): SweepForm => ({ ...initialSweepForm(), extractionId: EXTRACTION, ...p });

describe('the best objective so far', () => {
  const trials = [
    trial(3, 'completed', 0.6),
    trial(0, 'completed', 0.5),
    trial(1, 'completed', 0.3),
    trial(2, 'completed', 0.7),
    trial(4, 'pruned', 0.9),
    trial(5, 'running', 0.95),
    trial(6, 'completed', 0.99, { feasible: false }),
    trial(7, 'failed', null),
    trial(8, 'completed', 0.2),
  ];
  it('maximising: the highest so far at each completed trial that keeps the constraints, by trial number', () => {
    expect(bestSoFar(trials, 'maximize')).toEqual([
      { number: 0, value: 0.5 },
      { number: 1, value: 0.5 },
      { number: 2, value: 0.7 },
      { number: 3, value: 0.7 },
      { number: 8, value: 0.7 },
    ]);
  });
  it('minimising: the lowest so far', () => {
    expect(bestSoFar(trials, 'minimize')).toEqual([
      { number: 0, value: 0.5 },
      { number: 1, value: 0.3 },
      { number: 2, value: 0.3 },
      { number: 3, value: 0.3 },
      { number: 8, value: 0.2 },
    ]);
  });
  it('is empty before any trial completes', () => {
    expect(bestSoFar([trial(0, 'running', 0.4), trial(1, 'pruned', 0.2)], 'maximize')).toEqual([]);
  });
  it('the charts draw the ended trials with a value: not running ones, not those without', () => {
    expect(endedWithObjective(trials).map((t) => t.number)).toEqual([3, 0, 1, 2, 4, 6, 8]);
  });
});

describe('parallel coordinates', () => {
  const space: SearchSpace = {
    k: { type: 'int', min: 8, max: 32, log: true },
    lr: { type: 'float', min: 0, max: 0.01 },
    architecture: { type: 'choice', values: ['topk', 'relu', 'batchtopk'] },
  };
  const trials = [trial(0, 'completed', 0.5), trial(1, 'completed', 0.8), trial(2, 'running', 0.9), trial(3, 'pruned', 0.6), trial(4, 'failed', null)];
  const axes = parallelAxes(space, trials, 'explained variance');

  it('an axis per param in the space\'s order, then the objective over the ended trials\' values', () => {
    expect(axes).toEqual([
      { key: 'k', label: 'k', kind: 'log', domain: [8, 32] },
      { key: 'lr', label: 'lr', kind: 'linear', domain: [0, 0.01] },
      { key: 'architecture', label: 'architecture', kind: 'point', domain: ['topk', 'relu', 'batchtopk'] },
      { key: OBJECTIVE_AXIS, label: 'explained variance', kind: 'linear', domain: [0.5, 0.8] },
    ]);
  });
  it('the objective axis around a lone value (±10 %, ±1 around 0), or 0 to 1 without any', () => {
    expect(parallelAxes(space, [trial(0, 'completed', 0.5)], 'o').at(-1)!.domain).toEqual([0.45, 0.55]);
    expect(parallelAxes(space, [trial(0, 'completed', -20)], 'o').at(-1)!.domain).toEqual([-22, -18]);
    expect(parallelAxes(space, [trial(0, 'completed', 0)], 'o').at(-1)!.domain).toEqual([-1, 1]);
    expect(parallelAxes(space, [trial(0, 'running', 0.3)], 'o').at(-1)!.domain).toEqual([0, 1]);
  });
  it('places a value on its axis: log, linear, a choice in the middle of its band', () => {
    const [k, lr, arch, obj] = axes as [(typeof axes)[number], (typeof axes)[number], (typeof axes)[number], (typeof axes)[number]];
    // ln(16/8) / ln(32/8) = 1/2
    expect(axisFraction(k, 16)).toBeCloseTo(0.5, 12);
    expect(axisFraction(k, 8)).toBe(0);
    expect(axisFraction(k, 32)).toBeCloseTo(1, 12);
    expect(axisFraction(lr, 0.0025)).toBeCloseTo(0.25, 12);
    // three bands of 1/3: the middles at 1/6, 1/2, 5/6
    expect(axisFraction(arch, 'topk')).toBeCloseTo(1 / 6, 12);
    expect(axisFraction(arch, 'relu')).toBeCloseTo(0.5, 12);
    expect(axisFraction(arch, 'batchtopk')).toBeCloseTo(5 / 6, 12);
    expect(axisFraction(obj, 0.65)).toBeCloseTo(0.5, 12);
    // no place: not a choice, ≤ 0 on a log axis, missing
    expect(axisFraction(arch, 'jumprelu')).toBeNull();
    expect(axisFraction(k, 0)).toBeNull();
    expect(axisFraction(lr, undefined)).toBeNull();
    expect(axisFraction(lr, 'x')).toBeNull();
  });
  it('a trial\'s polyline: a point per axis, evenly across the width, y from the top', () => {
    const t = trial(1, 'completed', 0.8, { params: { k: 16, lr: 0.0025, architecture: 'topk' } });
    const pts = trialPolyline(axes, t, 300, 120)!;
    const expected = [
      [0, 60], // k = 16: half way up
      [100, 90], // lr a quarter up
      [200, 100], // topk: 1/6 up → 120 · 5/6
      [300, 0], // the highest objective: the top
    ];
    expect(pts).toHaveLength(4);
    pts.forEach(([x, y], i) => {
      expect(x).toBeCloseTo(expected[i]![0]!, 9);
      expect(y).toBeCloseTo(expected[i]![1]!, 9);
    });
    expect(trialPolyline(axes, trial(2, 'completed', 0.5, { params: { k: 16, lr: 0.001 } }), 300, 120)).toBeNull();
    expect(axisX(0, 1, 200)).toBe(100);
  });
  it('shades a line by how good its objective is, whichever way is better', () => {
    expect(objectiveShade(0.8, [0.5, 0.8], 'maximize')).toBeCloseTo(1, 12);
    expect(objectiveShade(0.5, [0.5, 0.8], 'maximize')).toBe(0);
    expect(objectiveShade(0.575, [0.5, 0.8], 'minimize')).toBeCloseTo(0.75, 12);
    expect(objectiveShade(3, [3, 3], 'minimize')).toBe(0);
  });
});

describe('the settings a space may vary', () => {
  it('every training setting but those that set how trials are measured, each of its kind', () => {
    const keys = Object.keys(trainConfigSchema.shape).filter((k) => !(UNSWEPT_SETTINGS as readonly string[]).includes(k));
    expect(SWEEPABLE.map((s) => s.key)).toEqual(keys);
    const kind = (key: string) => SWEEPABLE.find((s) => s.key === key);
    expect(kind('k')).toEqual({ key: 'k', kind: 'int' });
    expect(kind('dSae')).toEqual({ key: 'dSae', kind: 'int' });
    expect(kind('lr')).toEqual({ key: 'lr', kind: 'float' });
    expect(kind('expansionFactor')).toEqual({ key: 'expansionFactor', kind: 'float' });
    expect(kind('architecture')).toEqual({ key: 'architecture', kind: 'choice', options: ['relu', 'topk', 'batchtopk', 'jumprelu'] });
    expect(kind('normalizeDecoder')).toEqual({ key: 'normalizeDecoder', kind: 'choice', options: [true, false] });
    expect(rowTypesOf('k')).toEqual(['int', 'choice']);
    expect(rowTypesOf('bDecInit')).toEqual(['choice']);
  });
  it('a new row starts from a common setting\'s range, or every value of a word', () => {
    expect(newSpaceRow('lr')).toEqual(row({ key: 'lr', type: 'float', min: '0.0001', max: '0.01', log: true }));
    expect(newSpaceRow('architecture')).toEqual(row({ key: 'architecture', type: 'choice', values: 'relu, topk, batchtopk, jumprelu' }));
    expect(newSpaceRow('beta1')).toEqual(row({ key: 'beta1', type: 'float' }));
  });
  it('reads a choice\'s values for its setting', () => {
    expect(parseChoiceValues('k', '8, 16,32')).toEqual({ values: [8, 16, 32] });
    expect(parseChoiceValues('lr', '1e-3, 0.003')).toEqual({ values: [0.001, 0.003] });
    expect(parseChoiceValues('architecture', 'TopK, relu')).toEqual({ values: ['topk', 'relu'] });
    expect(parseChoiceValues('normalizeDecoder', 'true,false')).toEqual({ values: [true, false] });
    expect(parseChoiceValues('k', '8, 8.5')).toEqual({ error: 'k takes whole numbers ("8.5")' });
    expect(parseChoiceValues('k', '8, x')).toEqual({ error: '"x" is not a number' });
    expect(parseChoiceValues('architecture', 'gated')).toEqual({ error: '"gated" is not one of relu, topk, batchtopk, jumprelu' });
    expect(parseChoiceValues('k', ' , ')).toEqual({ error: 'give at least one value' });
    expect(parseChoiceValues('k', '8, 8')).toEqual({ error: 'values must be distinct' });
  });
});

describe('the new-sweep form', () => {
  it('makes the request body of a grid over k × lr with tiny trials', () => {
    const f = form({
      name: ' tiny grid ',
      hookPoint: 'blocks.3.hook_resid_post',
      method: 'grid',
      seed: '7',
      parallelism: '2',
      rows: [row({ key: 'k', type: 'choice', values: '8, 16' }), row({ key: 'lr', type: 'float', min: '0.001', max: '0.003', log: true, points: '2' })],
      base: { architecture: 'topk', dSae: '256', k: '', lr: '', batchSize: '32', totalTokens: '4,800', metricsEvery: '10', evalWindows: '0' },
      constraints: [{ metric: 'l0', op: '<=', value: '40' }],
      prune: false,
    });
    const { body, errors } = sweepFormBody(f);
    expect(errors).toEqual({});
    expect(body).toEqual({
      extractionId: EXTRACTION,
      name: 'tiny grid',
      hookPoint: 'blocks.3.hook_resid_post',
      base: { architecture: 'topk', dSae: 256, batchSize: 32, totalTokens: 4800, metricsEvery: 10, evalWindows: 0 },
      space: { k: { type: 'choice', values: [8, 16] }, lr: { type: 'float', min: 0.001, max: 0.003, log: true, points: 2 } },
      method: 'grid',
      seed: 7,
      objective: { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 40 }] },
      parallelism: 2,
      pruner: { enabled: false },
    });
    expect(formGridSize(f)).toBe(4);
  });
  it('leaves out what the server defaults: name, hook point, base, budget, pruner', () => {
    const { body } = sweepFormBody(form({ rows: [row({ key: 'k', type: 'int', min: '16', max: '64' })], seed: '', parallelism: '' }));
    expect(body).toEqual({ extractionId: EXTRACTION, space: { k: { type: 'int', min: 16, max: 64 } }, method: 'tpe', objective: { metric: 'explainedVariance', direction: 'maximize', constraints: [] } });
    // grid points are a grid's only
    expect(sweepFormBody(form({ rows: [row({ key: 'k', type: 'int', min: '16', max: '64', points: '3' })] })).body!.space).toEqual({ k: { type: 'int', min: 16, max: 64 } });
  });
  it('names each wrong field as the server would', () => {
    const { body, errors } = sweepFormBody(
      form({
        extractionId: '',
        method: 'grid',
        budget: '9',
        parallelism: '0',
        seed: '-1',
        rows: [
          row({ key: 'k', type: 'int', min: '16.5', max: '' }),
          row({ key: 'lr', type: 'float', min: '0', max: '0.01', log: true }),
          row({ key: 'lr', type: 'float', min: '1', max: '2' }),
          row({ key: '' }),
          row({ key: 'l1Coefficient', type: 'float', min: '5', max: '1' }),
          row({ key: 'architecture', type: 'choice', values: 'topk, gated' }),
          row({ key: 'beta1', type: 'float', min: '0.8', max: '0.9', points: '1' }),
        ],
        constraints: [{ metric: 'l0', op: '<=', value: '' }, { metric: 'l0', op: '>=', value: 'few' }],
        base: { architecture: '', dSae: 'big', k: '', lr: '', batchSize: '', totalTokens: '', metricsEvery: '', evalWindows: '' },
        warmupSteps: '1.5',
        minTrials: '0',
      }),
    );
    expect(body).toBeUndefined();
    expect(errors).toEqual({
      extractionId: 'pick a completed extraction',
      'space.k.min': 'a whole number (an int range)',
      'space.k.max': 'required',
      'space.lr.min': 'a log range needs min > 0',
      'rows.2.key': 'lr is swept twice',
      'rows.3.key': 'pick a setting',
      'space.l1Coefficient.max': 'must be above min (5)',
      'space.architecture.values': '"gated" is not one of relu, topk, batchtopk, jumprelu',
      'space.beta1.points': 'from 2 to 100',
      'base.dSae': 'a number',
      seed: 'from 0 to 2,147,483,647',
      parallelism: 'from 1 to 32',
      'pruner.warmupSteps': 'a whole number',
      'pruner.minTrials': 'from 1 to 100',
      'objective.constraints.0.value': 'required',
      'objective.constraints.1.value': 'a number',
    });
  });
  it('a grid\'s budget is at most its size; an empty space is named', () => {
    const grid = form({ method: 'grid', budget: '5', rows: [row({ key: 'k', type: 'choice', values: '8, 16' }), row({ key: 'lr', type: 'choice', values: '0.001, 0.002' })] });
    expect(sweepFormBody(grid).errors).toEqual({ budget: 'the grid has 4 points: at most 4 trials' });
    expect(sweepFormBody({ ...grid, budget: '4' }).errors).toEqual({});
    expect(sweepFormBody(form({ rows: [] })).errors).toEqual({ space: 'add a setting to sweep' });
  });
  it('a metric better neither way needs a direction', () => {
    const f = form({ metric: 'ceLossClean', direction: '', rows: [newSpaceRow('k')] });
    expect(sweepFormBody(f).errors).toEqual({ 'objective.direction': 'CE loss, clean is neither better high nor low: pick maximize or minimize' });
    expect(sweepFormBody({ ...f, direction: 'minimize' }).errors).toEqual({});
  });
  it('then checks the contract: the server\'s own field names for what the form cannot see', () => {
    const { body, errors } = sweepFormBody(form({ rows: [newSpaceRow('dSae'), newSpaceRow('expansionFactor')] }));
    expect(body).toBeUndefined();
    expect(Object.keys(errors)).toEqual(['space.expansionFactor']);
    expect(errors['space.expansionFactor']).toMatch(/dSae or expansionFactor, not both/);
    // a base field the contract refuses
    expect(Object.keys(sweepFormBody(form({ base: { ...initialSweepForm().base, batchSize: '0' } })).errors)).toEqual(['base.batchSize']);
  });
  it('the pruner follows the method until set', () => {
    expect(pruneOn({ prune: null, method: 'tpe' })).toBe(true);
    expect(pruneOn({ prune: null, method: 'grid' })).toBe(false);
    expect(pruneOn({ prune: true, method: 'grid' })).toBe(true);
    const { body } = sweepFormBody(form({ warmupSteps: '50', rows: [newSpaceRow('k')] }));
    expect(body!.pruner).toEqual({ warmupSteps: 50 });
  });
  it('finds a field\'s messages and those under it; the rest are shown together', () => {
    const errors = { 'space.k.values.1': 'too big', 'space.k.values': 'distinct', 'space.kk': 'x', 'base.beta1': 'from a template', 'space.lr.max': 'high', budget: 'many', 'rows.0.key': 'pick', 'objective.constraints.0.value': 'a number', 'base.k': 'below d_sae' };
    expect(sweepErrorFor(errors, 'space.k.values')).toBe('too big; distinct');
    expect(sweepErrorFor(errors, 'space.k')).toBe('too big; distinct');
    expect(sweepErrorFor(errors, 'budget')).toBe('many');
    expect(sweepErrorFor(errors, 'seed')).toBeUndefined();
    expect(unplacedErrors(errors, { rows: [newSpaceRow('k')] })).toEqual([
      ['space.kk', 'x'],
      ['base.beta1', 'from a template'],
      ['space.lr.max', 'high'],
    ]);
  });
});

describe('the trials table', () => {
  const trials = [
    trial(0, 'completed', 0.7, { score: 0.7, params: { k: 16, architecture: 'topk' }, final: { l0: 16 } }),
    trial(1, 'completed', 0.9, { score: -2e9 - 0.2, feasible: false, params: { k: 64, architecture: 'relu' }, final: { l0: 64 } }),
    trial(2, 'running', null, { score: null, params: { k: 8, architecture: 'topk' } }),
    trial(3, 'pruned', 0.6, { score: 0.6, params: { k: 32, architecture: 'batchtopk' }, final: { l0: 30 } }),
    trial(4, 'completed', 0.8, { score: 0.8, params: { k: 16, architecture: 'relu' }, final: { l0: 16 } }),
  ];
  const numbers = (ts: SweepTrial[]) => ts.map((t) => t.number);
  it('by the objective\'s score: best first, a broken constraint below those kept, no value last', () => {
    expect(numbers(sortTrials(trials, { key: 'objective', desc: true }))).toEqual([4, 0, 3, 1, 2]);
    expect(numbers(sortTrials(trials, { key: 'objective', desc: false }))).toEqual([1, 3, 0, 4, 2]);
  });
  it('by a param (ties by number), a metric, the status, the number', () => {
    expect(numbers(sortTrials(trials, { key: 'param:k', desc: false }))).toEqual([2, 0, 4, 3, 1]);
    expect(numbers(sortTrials(trials, { key: 'param:architecture', desc: true }))).toEqual([0, 2, 1, 4, 3]);
    expect(numbers(sortTrials(trials, { key: 'l0', desc: false }))).toEqual([0, 4, 3, 1, 2]);
    expect(numbers(sortTrials(trials, { key: 'status', desc: false }))).toEqual([2, 0, 1, 4, 3]);
    expect(numbers(sortTrials(trials, { key: 'number', desc: true }))).toEqual([4, 3, 2, 1, 0]);
  });
  it('keeps the trials themselves (a row keeps its identity)', () => {
    expect(sortTrials(trials, { key: 'objective', desc: true })[0]).toBe(trials[4]);
  });
  it('a click: the same column reversed, a new one best first or ascending', () => {
    expect(nextTrialSort({ key: 'number', desc: false }, 'objective')).toEqual({ key: 'objective', desc: true });
    expect(nextTrialSort({ key: 'objective', desc: true }, 'objective')).toEqual({ key: 'objective', desc: false });
    expect(nextTrialSort({ key: 'number', desc: false }, 'explainedVariance')).toEqual({ key: 'explainedVariance', desc: true });
    expect(nextTrialSort({ key: 'number', desc: false }, 'l0')).toEqual({ key: 'l0', desc: false });
    expect(nextTrialSort({ key: 'objective', desc: true }, 'param:k')).toEqual({ key: 'param:k', desc: false });
  });
  it('parameters by importance, ties in the space\'s order', () => {
    expect(importanceRows({ k: 0.25, lr: 0.5, seed: 0.25 }, ['k', 'lr', 'seed', 'batchSize'])).toEqual([
      { key: 'lr', value: 0.5 },
      { key: 'k', value: 0.25 },
      { key: 'seed', value: 0.25 },
      { key: 'batchSize', value: 0 },
    ]);
  });
});

describe('params and progress in words', () => {
  it('formats params: integers with separators, four significant digits, exponents at the ends', () => {
    expect(formatParam(16)).toBe('16');
    expect(formatParam(4096)).toBe('4,096');
    expect(formatParam(0.001)).toBe('0.001');
    expect(formatParam(0.0031622776)).toBe('0.003162');
    expect(formatParam(0.00025)).toBe('2.5e-4');
    expect(formatParam(1e-4)).toBe('1e-4');
    expect(formatParam(0.000123456)).toBe('1.235e-4');
    expect(formatParam(123456.7)).toBe('1.235e5');
    expect(formatParam(2.5)).toBe('2.5');
    expect(formatParam('topk')).toBe('topk');
    expect(formatParam(false)).toBe('false');
    expect(formatParam(undefined)).toBe('–');
    expect(formatParams({ lr: 0.001, k: 16 }, ['k', 'lr'])).toBe('k=16 · lr=0.001');
    expect(formatParams({ architecture: 'relu' })).toBe('architecture=relu');
  });
  const sweep = {
    id: 's',
    status: 'running',
    error: null,
    spec: { budget: 8 },
    progress: { trials: 5, running: 2, completed: 2, pruned: 1, failed: 0, cancelled: 0, best: null },
  } as unknown as Sweep;
  it('says where a sweep stands', () => {
    expect(sweepProgressText(sweep)).toBe('3 / 8 trials · 2 running · 1 pruned');
    expect(sweepPercent(sweep)).toBe(37.5);
    expect(sweepPercent({ ...sweep, status: 'completed' })).toBe(100);
  });
  it('applies a live event to its sweep only, and a training\'s progress to its trial only', () => {
    const progress = { ...sweep.progress, completed: 3, running: 1 };
    const after = applySweepEvent(sweep, { id: 's', status: 'running', progress, error: null, ts: 1 });
    expect(after.progress).toBe(progress);
    expect(applySweepEvent(sweep, { id: 'other', status: 'failed', progress, error: 'x', ts: 1 })).toBe(sweep);
    const t = trial(0, 'running', null, { trainingId: 't1', training: { status: 'queued', step: 0, totalSteps: 100, stopped: false } });
    expect(applyTrialTraining(t, { id: 't1', status: 'running', step: 40, totalSteps: 100, stopped: false }).training).toEqual({ status: 'running', step: 40, totalSteps: 100, stopped: false });
    expect(applyTrialTraining(t, { id: 't2', status: 'running', step: 40, totalSteps: 100, stopped: false })).toBe(t);
  });
});
