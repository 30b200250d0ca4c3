import { describe, expect, it } from 'vitest';
import { DENSITY_BIN_WIDTH, DENSITY_LOG10_MAX, DENSITY_LOG10_MIN, densityHistogram } from './density.ts';

describe('densityHistogram', () => {
  it('bins log10 frequency on fixed edges, counting features that never fired apart', () => {
    // frequencies 0, 1e-2, 1e-2, 0.5, 1 over 1000 tokens, and one below the lowest edge
    const h = densityHistogram(Float64Array.of(0, 10, 10, 500, 1000, 1e-6), 1000);
    expect(h.edges).toHaveLength((DENSITY_LOG10_MAX - DENSITY_LOG10_MIN) / DENSITY_BIN_WIDTH + 1);
    expect(h.edges[0]).toBe(DENSITY_LOG10_MIN);
    expect(h.edges.at(-1)).toBe(DENSITY_LOG10_MAX);
    expect(h.counts).toHaveLength(h.edges.length - 1);
    expect(h).toMatchObject({ dead: 1, tokens: 1000 });
    const bin = (lg: number) => Math.min(h.counts.length - 1, Math.floor((lg - DENSITY_LOG10_MIN) / DENSITY_BIN_WIDTH));
    expect(h.counts[bin(-2)]).toBe(2);
    expect(h.counts[bin(Math.log10(0.5))]).toBe(1);
    expect(h.counts[h.counts.length - 1]).toBe(1); // frequency 1 is in the last bin
    expect(h.counts[0]).toBe(1); // 1e-9 is below the lowest edge
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('counts every feature dead over an empty window', () => {
    expect(densityHistogram(Float64Array.of(0, 0, 3), 0)).toMatchObject({ dead: 3, tokens: 0 });
  });
});
