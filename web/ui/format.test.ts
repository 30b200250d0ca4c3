import { describe, expect, it } from 'vitest';
import { binaryTicks, formatBytes, formatPercent, formatRate, formatUnit } from './format.ts';

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
