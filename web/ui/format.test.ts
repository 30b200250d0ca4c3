import { describe, expect, it } from 'vitest';
import { binaryTicks, byteTicks, formatBytes, formatPercent, formatRate, formatUnit, fractionTicks, logTicks, numberTicks, rateTicks } from './format.ts';

describe('formatting', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(81559 * 1024 * 1024)).toBe('79.6 GiB');
    expect(formatBytes(200 * 1024 ** 3)).toBe('200 GiB');
    expect(formatRate(10 * 1024 * 1024)).toBe('10.0 MiB/s');
    expect(formatBytes(NaN)).toBe('–');
  });
  it('formats percentages and units', () => {
    expect(formatPercent(37.25)).toBe('37.3 %');
    expect(formatPercent(100)).toBe('100 %');
    expect(formatPercent(0)).toBe('0 %');
    expect(formatUnit('MHz')(1980)).toBe('1980 MHz');
    expect(formatUnit('W', 1)(312.45)).toBe('312.4 W');
  });
  it('puts byte axis ticks on round binary units', () => {
    const GiB = 1024 ** 3;
    expect(binaryTicks(0, 18.6 * GiB, 4)).toEqual([0, 5, 10, 15].map((v) => v * GiB));
    expect(binaryTicks(0, 800, 4)).toEqual([0, 200, 400, 600, 800]);
    expect(binaryTicks(0, 3 * 1024 * 1024, 3)).toEqual([0, 1, 2, 3].map((v) => v * 1024 * 1024));
    expect(binaryTicks(0, 0, 4)).toEqual([0]);
  });
});

describe('axis ticks', () => {
  const all = (f: (n: number) => string, ticks: number[]) => ticks.map(f);
  it('writes every tick of an axis in one form', () => {
    const lr = [0, 0.001, 0.002, 0.003, 0.004];
    expect(all(numberTicks()(lr), lr)).toEqual(['0.000', '0.001', '0.002', '0.003', '0.004']);
    const loss = [0, 50, 100, 150];
    expect(all(numberTicks()(loss), loss)).toEqual(['0', '50', '100', '150']);
    const half = [0, 0.5, 1];
    expect(all(numberTicks()(half), half)).toEqual(['0.0', '0.5', '1.0']);
    // steps of 2.5 need one more digit than steps of 2
    const quarter = [0, 2.5, 5, 7.5];
    expect(all(numberTicks()(quarter), quarter)).toEqual(['0.0', '2.5', '5.0', '7.5']);
    // tiny or huge: the same exponent form on every tick, never 0.0000 beside 2.00e-4
    const tiny = [0, 0.0001, 0.0002, 0.0003];
    expect(all(numberTicks()(tiny), tiny)).toEqual(['0', '1e-4', '2e-4', '3e-4']);
    const steps = [1e-4, 1.5e-4, 2e-4];
    expect(all(numberTicks()(steps), steps)).toEqual(['1.0e-4', '1.5e-4', '2.0e-4']);
    expect(all(numberTicks('°C')([20, 40, 60]), [20, 40])).toEqual(['20 °C', '40 °C']);
  });
  it('writes fractions as percentages, and bytes in one unit', () => {
    expect(all(fractionTicks([0, 0.5, 1]), [0, 0.5, 1])).toEqual(['0 %', '50 %', '100 %']);
    expect(all(fractionTicks([0, 0.005, 0.01]), [0, 0.005])).toEqual(['0.0 %', '0.5 %']);
    const GiB = 1024 ** 3;
    const bytes = [0, 5, 10, 15].map((v) => v * GiB);
    expect(all(byteTicks(bytes), bytes)).toEqual(['0 GiB', '5 GiB', '10 GiB', '15 GiB']);
    const small = [0, 512, 1024, 1536].map((v) => v * 1024);
    expect(all(byteTicks(small), small)).toEqual(['0.0 MiB', '0.5 MiB', '1.0 MiB', '1.5 MiB']);
    expect(rateTicks([0, 1024])(1024)).toBe('1 KiB/s');
  });

  it('puts log-axis ticks on round numbers inside the range, never more than asked', () => {
    expect(logTicks(0.05, 20, 5)).toEqual([0.1, 1, 10]);
    expect(logTicks(0.15, 0.9, 5)).toEqual([0.2, 0.5]);
    expect(logTicks(1.5, 9.5, 8)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(logTicks(3, 2000, 3)).toEqual([10, 100, 1000]);
    expect(logTicks(1e-6, 1e6, 4)).toEqual([1e-6, 1e-2, 100, 1e6]);
    // within one step of 1-2-5: plain decimal ticks
    expect(logTicks(2.1, 2.9, 4).every((t) => t >= 2.1 && t <= 2.9)).toBe(true);
    for (const [lo, hi, n] of [[0.001, 3, 4], [7, 7e7, 5], [0.002, 0.9, 2]] as const) {
      const t = logTicks(lo, hi, n);
      expect(t.length).toBeLessThanOrEqual(n);
      expect(t.every((v) => v >= lo && v <= hi)).toBe(true);
    }
  });
});
