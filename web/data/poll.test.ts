import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createListPoller, historyPath, listReloadMs, pollIntervalMs } from './poll.ts';

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

describe('list reloads', () => {
  const idle = { anyActive: false, online: true, visible: true };

  it('reloads every 10 s while the tab is visible, fast only for an active row without the socket, never hidden and idle', () => {
    expect(listReloadMs(idle)).toBe(10_000);
    expect(listReloadMs({ ...idle, online: false })).toBe(10_000);
    expect(listReloadMs({ ...idle, visible: false })).toBeNull();
    expect(listReloadMs({ anyActive: true, online: false, visible: false })).toBe(2000);
    expect(listReloadMs({ anyActive: true, online: true, visible: false })).toBe(10_000);
    expect(listReloadMs({ anyActive: true, online: true, visible: true }, 5000)).toBe(5000);
  });

  describe('a poller', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('reloads an idle list on its own every 10 s, not while hidden, at once when shown again after that long', async () => {
      let calls = 0;
      const poller = createListPoller(async () => void calls++);
      poller.set(idle);
      await vi.advanceTimersByTimeAsync(9_999);
      expect(calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(20_000);
      expect(calls).toBe(3);
      poller.set({ ...idle, visible: false });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(calls).toBe(3);
      poller.set(idle);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toBe(4);
      // a state change does not reload before its interval since the last one
      await vi.advanceTimersByTimeAsync(1000);
      poller.set({ anyActive: true, online: true, visible: true });
      await vi.advanceTimersByTimeAsync(8_999);
      expect(calls).toBe(4);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(5);
      poller.stop();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(calls).toBe(5);
    });

    it('polls every 2 s while a row is active and the socket is down; one reload at a time, a failure does not stop it', async () => {
      const started: number[] = [];
      let release: (() => void) | undefined;
      const poller = createListPoller(() => {
        started.push(Date.now());
        if (started.length === 1) return new Promise<void>((r) => (release = r));
        return Promise.reject(new Error('server down'));
      });
      const t0 = Date.now();
      poller.set({ anyActive: true, online: false, visible: true });
      await vi.advanceTimersByTimeAsync(2000);
      expect(started).toEqual([t0 + 2000]);
      // the first is still running: none other starts
      await vi.advanceTimersByTimeAsync(5000);
      expect(started).toHaveLength(1);
      release!();
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(4000);
      expect(started.map((t) => t - t0)).toEqual([2000, 7000, 9000, 11_000]);
      poller.stop();
    });
  });
});
