import { describe, expect, it, vi } from 'vitest';
import { RATE_WINDOW_MS, throttle, TransferTracker } from './transfer.ts';

describe('transfer progress', () => {
  it('sums files, measures the rate over the recent window and derives the ETA', () => {
    const t = new TransferTracker(
      [
        { path: 'config.json', size: 1000 },
        { path: 'model.safetensors', size: 1_000_000 },
      ],
      0,
    );
    expect(t.snapshot(0)).toMatchObject({ bytesDone: 0, bytesTotal: 1_001_000, bytesPerSecond: 0, etaSeconds: null });
    t.update('config.json', 1000, 1000, 100);
    t.update('model.safetensors', 10_000, 1_000_000, 1000);
    // 11 000 bytes in 1 s
    let s = t.snapshot(1000);
    expect(s.files).toEqual([
      { path: 'config.json', bytes: 1000, total: 1000 },
      { path: 'model.safetensors', bytes: 10_000, total: 1_000_000 },
    ]);
    expect(s.bytesPerSecond).toBe(11_000);
    expect(s.etaSeconds).toBeCloseTo(990_000 / 11_000, 1);
    // Later the rate follows the last window only: 20 000 bytes/s.
    for (let ms = 2000; ms <= 2000 + RATE_WINDOW_MS * 2; ms += 500) t.update('model.safetensors', 10_000 + (ms - 1000) * 20, undefined, ms);
    s = t.snapshot(2000 + RATE_WINDOW_MS * 2);
    expect(s.bytesPerSecond).toBe(20_000);
    t.complete(9000);
    expect(t.snapshot(9000)).toMatchObject({ bytesDone: 1_001_000, etaSeconds: 0 });
  });

  it('adds a file it was not told about, and never counts more than a file holds', () => {
    const t = new TransferTracker([], 0);
    t.update('extra.json', 50, 40, 10);
    expect(t.snapshot(10)).toMatchObject({ bytesDone: 40, bytesTotal: 40 });
  });
});

describe('throttle', () => {
  it('runs at once, folds calls within the interval into one trailing call, and flushes', async () => {
    vi.useFakeTimers();
    try {
      const fn = vi.fn(async () => undefined);
      const call = throttle(fn, 250);
      call();
      await vi.advanceTimersByTimeAsync(0);
      expect(fn).toHaveBeenCalledTimes(1);
      call();
      call();
      await vi.advanceTimersByTimeAsync(100);
      expect(fn).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(200);
      expect(fn).toHaveBeenCalledTimes(2);
      call();
      await call.flush();
      expect(fn).toHaveBeenCalledTimes(3);
      call();
      call.cancel();
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
