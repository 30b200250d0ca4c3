import { describe, expect, it } from 'vitest';
import { METRICS } from '../../models/contracts/metrics.ts';
import { formatMetric, metricTicks, metricTip, metricTitle } from './metric-view.ts';

describe('metrics as the pages show them', () => {
  it('titles and tooltips come from the registry', () => {
    expect(metricTitle('explainedVariance')).toBe('Explained variance');
    expect(metricTitle('l0')).toBe('L0');
    expect(metricTip('l0')).toBe('L0: mean number of features active on a token (features; lower is better)');
    expect(metricTip('loss')).toMatch(/^loss: the training objective.*\(lower is better\)$/);
    expect(metricTip('ceLossClean')).toMatch(/\(nats\)$/);
    for (const m of METRICS) expect(metricTip(m.key)).toContain(m.definition);
  });

  it('writes values as their unit asks', () => {
    expect(formatMetric('explainedVariance', 0.85234)).toBe('85.23 %');
    expect(formatMetric('tokensPerSecond', 12345.6)).toBe('12,346');
    expect(formatMetric('l0', 31.9876)).toBe('31.99');
    expect(formatMetric('mse', 0.000123)).toBe('1.23e-4');
    expect(formatMetric('loss', null)).toBe('–');
    expect(formatMetric('loss', NaN)).toBe('–');
    expect(metricTicks('deadFraction')([0, 0.5, 1])(0.5)).toBe('50 %');
    expect(metricTicks('loss')([0, 0.5, 1])(0.5)).toBe('0.5');
  });
});
