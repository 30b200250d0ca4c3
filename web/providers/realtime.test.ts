import { describe, expect, it } from 'vitest';
import { backoffDelay } from './realtime.ts';

describe('reconnect backoff', () => {
  it('doubles from 0.5 s and stops at 15 s', () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelay(n, mid))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it('jitters by ±20 % without passing the cap', () => {
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
    expect(backoffDelay(3, () => 0)).toBe(3200);
    expect(backoffDelay(20, () => 1)).toBe(15_000);
    expect(backoffDelay(20, () => 0)).toBe(12_000);
  });
});
