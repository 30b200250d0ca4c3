/** Seeded randomness: streams fixed by their seed, seeds mixed from several integers. */
import { describe, expect, it } from 'vitest';
import { gaussian, rng, seedOf } from './random.ts';

describe('seeded randomness', () => {
  it('gives the same stream for the same seed, in [0, 1)', () => {
    const a = rng(42);
    const b = rng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
  });

  it('mixes neighbouring seeds into unrelated ones', () => {
    const seeds = Array.from({ length: 1000 }, (_, i) => seedOf(3, i));
    expect(new Set(seeds).size).toBe(1000);
    expect(seedOf(3, 1)).not.toBe(seedOf(1, 3));
    // first draws of neighbouring trials' streams: uniform, not ordered like the trial numbers
    const first = seeds.map((s) => rng(s)());
    expect(first.reduce((s, x) => s + x, 0) / first.length).toBeCloseTo(0.5, 1);
    expect(first.filter((x, i) => i > 0 && x > first[i - 1]!).length / 999).toBeCloseTo(0.5, 1);
  });

  it('draws standard normals', () => {
    const random = rng(5);
    const xs = Array.from({ length: 20000 }, () => gaussian(random));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
  });
});
