/**
 * The metric registry covers the metric points exactly: every training
 * metric and every evaluation metric (the density histogram aside, which is
 * no number) is in METRICS once, from the part of a point that holds it;
 * primary metrics lead, then standard, then diagnostic; and a metric's value
 * is read from the right part of a point.
 */
import { describe, expect, it } from 'vitest';
import { isBetter, METRIC_KEYS, METRIC_TIERS, metricDef, METRICS, metricValue } from './metrics.ts';
import { evalValuesSchema, trainMetricValuesSchema, type EvalValues, type TrainMetricValues } from './trainings.ts';

describe('METRICS', () => {
  it('holds every key of trainMetricValuesSchema and of evalValuesSchema (but density) exactly once, from its own part of a point', () => {
    const train = Object.keys(trainMetricValuesSchema.shape);
    const evaluation = Object.keys(evalValuesSchema.shape).filter((k) => k !== 'density');
    const keys = METRICS.map((m) => m.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual([...train, ...evaluation].sort());
    for (const m of METRICS) expect(m.source, m.key).toBe(train.includes(m.key) ? 'train' : 'eval');
    expect(METRIC_KEYS).toEqual(keys);
  });

  it('lists primary metrics first, then standard, then diagnostic', () => {
    const tiers = METRICS.map((m) => METRIC_TIERS.indexOf(m.tier));
    expect(tiers).toEqual([...tiers].sort((a, b) => a - b));
    expect(METRICS[0]!.tier).toBe('primary');
    for (const tier of METRIC_TIERS) expect(METRICS.some((m) => m.tier === tier), tier).toBe(true);
  });

  it('reads a metric from its part of a point, and compares by its direction', () => {
    const train = { loss: 1, mse: 0.5, l1: 2, l0: 32, explainedVariance: 0.9, deadFraction: 0, denseFraction: 0, lr: 1e-3, l1Coefficient: 0, tokensPerSecond: 100 } satisfies TrainMetricValues;
    const ev = { density: { edges: [-1, 0], counts: [1], dead: 0, tokens: 10 }, ceLossClean: 3, ceLossSpliced: 3.5, ceLossZero: 5, ceLossRecovered: null } satisfies EvalValues;
    expect(metricValue('l0', { train, eval: null })).toBe(32);
    expect(metricValue('ceLossSpliced', { train, eval: ev })).toBe(3.5);
    expect(metricValue('ceLossRecovered', { train, eval: ev })).toBeNull();
    expect(metricValue('ceLossClean', { train, eval: null })).toBeNull();
    expect(metricValue('loss', { train: null, eval: ev })).toBeNull();
    expect(isBetter('explainedVariance', 0.9, 0.8)).toBe(true);
    expect(isBetter('l0', 40, 32)).toBe(false);
    expect(isBetter('lr', 1, 0)).toBe(false);
    expect(() => metricDef('nope' as 'l0')).toThrow(/no metric "nope"/);
  });
});
