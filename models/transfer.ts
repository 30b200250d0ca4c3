/**
 * Progress of a multi-file transfer: bytes per file, totals, a recent rate and
 * an ETA. Pure (time is passed in), so downloads and copies share it and tests
 * drive it with a fake clock.
 */

/** One file of a transfer; bytes. */
export interface FileProgress {
  path: string;
  bytes: number;
  total: number;
}

/** A transfer's state at one moment. */
export interface TransferSnapshot {
  files: FileProgress[];
  bytesDone: number;
  bytesTotal: number;
  /** bytes/s over the last {@link RATE_WINDOW_MS} */
  bytesPerSecond: number;
  /** s left at that rate; null while the rate is unknown or zero */
  etaSeconds: number | null;
}

/** The rate is measured over this window, ms: long enough to smooth chunk bursts, short enough to follow a change. */
export const RATE_WINDOW_MS = 3000;

/** Tracks a transfer of known files. */
export class TransferTracker {
  private readonly files: FileProgress[];
  private readonly byPath = new Map<string, FileProgress>();
  /** (time ms, bytes done) samples within the rate window */
  private samples: [number, number][] = [];

  constructor(files: readonly { path: string; size: number }[], now: number) {
    this.files = files.map((f) => ({ path: f.path, bytes: 0, total: f.size }));
    for (const f of this.files) this.byPath.set(f.path, f);
    this.samples.push([now, 0]);
  }

  /** Records that `bytes` of `file` are done (a file not announced is added). */
  update(file: string, bytes: number, total: number | undefined, now: number): void {
    let f = this.byPath.get(file);
    if (!f) {
      f = { path: file, bytes: 0, total: total ?? 0 };
      this.files.push(f);
      this.byPath.set(file, f);
    }
    if (total !== undefined && total > 0) f.total = total;
    f.bytes = Math.min(bytes, f.total || bytes);
    const done = this.bytesDone();
    const last = this.samples[this.samples.length - 1];
    if (last && last[0] === now) last[1] = done;
    else this.samples.push([now, done]);
    // Keep one sample older than the window so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1]![0] <= now - RATE_WINDOW_MS) this.samples.shift();
  }

  /** Marks every file complete (a transfer that ended, including skipped files). */
  complete(now: number): void {
    for (const f of this.files) this.update(f.path, f.total, f.total, now);
  }

  private bytesDone(): number {
    return this.files.reduce((n, f) => n + f.bytes, 0);
  }

  /** The state at `now`. */
  snapshot(now: number): TransferSnapshot {
    const bytesDone = this.bytesDone();
    const bytesTotal = this.files.reduce((n, f) => n + f.total, 0);
    const first = this.samples[0]!;
    const dt = (now - first[0]) / 1000;
    const bytesPerSecond = dt > 0 ? Math.max(0, (bytesDone - first[1]) / dt) : 0;
    const left = Math.max(0, bytesTotal - bytesDone);
    const etaSeconds = left === 0 ? 0 : bytesPerSecond > 0 ? Math.round((left / bytesPerSecond) * 10) / 10 : null;
    return { files: this.files.map((f) => ({ ...f })), bytesDone, bytesTotal, bytesPerSecond: Math.round(bytesPerSecond), etaSeconds };
  }
}

/**
 * Calls `fn` at most once per `intervalMs`: the first call runs at once, later
 * ones within the interval are folded into one trailing call. `flush()` runs a
 * pending call now and returns its promise; `cancel()` drops it. Calls never
 * overlap: a call that takes longer than the interval delays the next.
 */
export function throttle(fn: () => Promise<void>, intervalMs: number): { (): void; flush(): Promise<void>; cancel(): void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let pending = false;
  const run = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    pending = false;
    last = Date.now();
    running = running.then(fn, fn);
    return running;
  };
  const call = () => {
    const wait = last + intervalMs - Date.now();
    if (wait <= 0 && !timer) {
      void run().catch(() => undefined);
      return;
    }
    pending = true;
    timer ??= setTimeout(() => void run().catch(() => undefined), Math.max(0, wait));
  };
  call.flush = async () => {
    if (pending) await run();
    else await running.catch(() => undefined);
  };
  call.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
    pending = false;
  };
  return call;
}
