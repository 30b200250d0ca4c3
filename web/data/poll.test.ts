import { describe, expect, it } from 'vitest';
import { historyPath, pollIntervalMs } from './poll.ts';

describe('polling fallback', () => {
  it('polls at the sampling interval only while the socket is not open', () => {
    expect(pollIntervalMs('open', 2000)).toBeNull();
    expect(pollIntervalMs('closed', 2000)).toBe(2000);
    expect(pollIntervalMs('connecting', 2000)).toBe(2000);
    expect(pollIntervalMs('closed', 100)).toBe(500);
  });

  it('asks for the window, the points and the host when one is chosen', () => {
    expect(historyPath('15m', undefined, 300)).toBe('/api/system/metrics?window=15m&points=300');
    expect(historyPath('24h', 'gpu-box 2', 300)).toBe('/api/system/metrics?window=24h&points=300&host=gpu-box+2');
  });
});
