/** The quantile bands' cuts and the units the sample reads, against plain computations. */
import { describe, expect, it } from 'vitest';
import { bandCuts, QUANTILE_BANDS, sampledUnits } from './quantiles.ts';
import { HISTOGRAM_EDGES } from './scan.ts';
import { histogramBin } from '../sae/gpu/feature-kernels.ts';

describe('bandCuts', () => {
  it('finds the quartiles of the values a histogram counts, within a bin', () => {
    // log-uniform values over 0.01 … 10: their quartiles are 10^(-2 + 3q)
    const values = Array.from({ length: 10_000 }, (_, i) => 10 ** (-2 + (3 * (i + 0.5)) / 10_000));
    const counts = new Array(HISTOGRAM_EDGES.length - 1).fill(0);
    for (const v of values) counts[histogramBin(HISTOGRAM_EDGES, v)]++;
    const cuts = bandCuts(counts, HISTOGRAM_EDGES);
    expect(cuts).toHaveLength(QUANTILE_BANDS.length - 1);
    QUANTILE_BANDS.slice(0, -1).forEach(([, q], i) => expect(Math.log10(cuts[i]!)).toBeCloseTo(-2 + 3 * q, 1));
    expect(bandCuts(new Array(counts.length).fill(0), HISTOGRAM_EDGES)).toEqual([]);
  });

  it('puts all the cuts in the one bin of a feature that always fires alike', () => {
    const counts = new Array(HISTOGRAM_EDGES.length - 1).fill(0);
    counts[30] = 500;
    for (const c of bandCuts(counts, HISTOGRAM_EDGES)) {
      expect(c).toBeGreaterThanOrEqual(HISTOGRAM_EDGES[30]!);
      expect(c).toBeLessThanOrEqual(HISTOGRAM_EDGES[31]!);
    }
  });
});

describe('sampledUnits', () => {
  it('reads every unit of a small source, and evenly spread units of a large one', () => {
    expect(sampledUnits({ units: 5, total: 5_000, size: () => 1000 }, 65_536)).toEqual([0, 1, 2, 3, 4]);
    const picked = sampledUnits({ units: 1000, total: 1000 * 4096, size: () => 4096 }, 65_536);
    expect(picked).toHaveLength(16);
    expect(picked[1]! - picked[0]!).toBe(62);
    expect(picked.at(-1)!).toBeLessThan(1000);
  });
});
