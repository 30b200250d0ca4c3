/**
 * The system monitor's sampler: every interval, reads this host's counters
 * and GPUs and hands a {@link SystemSnapshot} to `onSample`. Rates (CPU %,
 * disk and network bytes/s) are computed from two readings over the real
 * elapsed time, so the first tick only primes the counters.
 */
import os from 'node:os';
import { POLICY } from '../config.ts';
import { dirSize } from './dir-size.ts';
import { readGpus } from './nvidia-smi.ts';
import { busyPercent, readCounters, type Counters } from './proc.ts';
import type { GpuSample, SystemSnapshot } from './types.ts';

/** Options of {@link startSampler}. */
export interface SamplerOptions {
  /** ms between the starts of two ticks (a slow tick delays the next one, never overlaps it) */
  intervalMs: number;
  /** DATA_DIR: the directory whose file system size is reported, and its own size (every POLICY.DATA_DIR_SIZE_MS) */
  path: string;
  /** host name stamped on every sample; default os.hostname() */
  host?: string;
  /** nvidia-smi binary, a name on PATH or a path; default `nvidia-smi` */
  nvidiaSmi?: string;
  /** receives every snapshot after the first tick; a throw or rejection is reported through onWarning */
  onSample: (snapshot: SystemSnapshot) => void | Promise<void>;
  /** problems worth one log line; the same message is not repeated */
  onWarning?: (message: string) => void;
}

/** A running sampler. */
export interface Sampler {
  /** Stops ticking; resolves once a tick in progress has finished. No onSample call starts after stop(). */
  stop(): Promise<void>;
  /**
   * Takes a sample now, after any tick in progress, and hands it to onSample
   * like a scheduled tick (the next scheduled tick then comes one interval
   * later). Resolves with the snapshot, or null when this call only primed
   * the counters or the sampler is stopped.
   */
  sampleNow(): Promise<SystemSnapshot | null>;
}

/** Distinct warnings remembered for de-duplication; the oldest is forgotten past this. */
const MAX_REMEMBERED_WARNINGS = 100;

/** Rate per second of a cumulative counter; a counter that went backwards (wrap, reset, device removed) gives 0. */
function rate(prev: number, next: number, seconds: number): number {
  return seconds > 0 && next >= prev ? (next - prev) / seconds : 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Builds a snapshot from two readings of {@link readCounters}. Rates are per
 * second over the time between the readings (`next.at − prev.at`, ms), not
 * over the nominal interval. Pure.
 *
 * @param ts ms since epoch stamped on the snapshot and each part
 * @param path the directory whose file system was measured
 * @param dataDir bytes `path`'s own files take, when measured
 */
export function snapshotFrom(prev: Counters, next: Counters, host: string, ts: number, path: string, gpus: GpuSample[] = [], dataDir?: number): SystemSnapshot {
  const seconds = (next.at - prev.at) / 1000;
  return {
    host,
    ts,
    cpu: {
      host,
      ts,
      total: busyPercent(prev.cpu.all, next.cpu.all),
      cores: next.cpu.cores.map((c, i) => busyPercent(prev.cpu.cores[i] ?? c, c)),
      load: next.load,
    },
    memory: {
      host,
      ts,
      total: next.memory.total,
      used: next.memory.used,
      available: next.memory.available,
      swapTotal: next.memory.swapTotal,
      swapUsed: next.memory.swapUsed,
    },
    disk: {
      host,
      ts,
      path,
      total: next.disk.total,
      used: next.disk.used,
      ...(dataDir === undefined ? {} : { dataDir }),
      readBps: rate(prev.disk.readBytes, next.disk.readBytes, seconds),
      writeBps: rate(prev.disk.writeBytes, next.disk.writeBytes, seconds),
    },
    network: {
      host,
      ts,
      rxBps: rate(prev.net.rxBytes, next.net.rxBytes, seconds),
      txBps: rate(prev.net.txBytes, next.net.txBytes, seconds),
    },
    gpus,
  };
}

/**
 * Starts sampling this host: the first tick runs at once and only primes the
 * counters; each later tick emits a snapshot. Ticks are chained with
 * setTimeout, so they never overlap, and the timer is unref'd, so a running
 * sampler never keeps the process alive. Never throws.
 *
 * GPUs: a missing nvidia-smi (ENOENT) is reported once and not tried again;
 * a failing one (non-zero exit, timeout) is reported once, retried every
 * tick, and its recovery reported once. Other problems (an unmeasurable
 * `path`, a throwing onSample) are reported once per distinct message.
 *
 * @example
 * const sampler = startSampler({ intervalMs: 2000, path: config.dataDir, onSample: (s) => store(s), onWarning: (m) => log.warn(m) });
 * // on shutdown
 * await sampler.stop();
 */
export function startSampler(opts: SamplerOptions): Sampler {
  const host = opts.host ?? os.hostname();
  const smi = opts.nvidiaSmi ?? 'nvidia-smi';
  const warned = new Set<string>();
  const report = (message: string) => {
    try {
      opts.onWarning?.(message);
    } catch {
      // a logger that throws must not stop the sampler
    }
  };
  const warnOnce = (message: string) => {
    if (warned.has(message)) return;
    if (warned.size >= MAX_REMEMBERED_WARNINGS) warned.delete(warned.values().next().value!);
    warned.add(message);
    report(message);
  };

  let gpuState: 'unknown' | 'ok' | 'failing' | 'missing' = 'unknown';
  const readGpusOnce = async (ts: number): Promise<GpuSample[]> => {
    if (gpuState === 'missing') return [];
    const r = await readGpus(host, ts, { binary: smi });
    if (r.missing) {
      gpuState = 'missing';
      report(r.error ?? `${smi} not found: GPU metrics disabled`);
      return [];
    }
    if (r.error !== undefined) {
      if (gpuState !== 'failing') report(`${r.error} (GPU metrics paused; retrying every tick)`);
      gpuState = 'failing';
      return [];
    }
    if (gpuState === 'failing') report(`${smi} answers again: GPU metrics resumed`);
    gpuState = 'ok';
    return r.gpus;
  };

  // DATA_DIR's own size: a walk of its files, in the background, at most every POLICY.DATA_DIR_SIZE_MS; each tick reports the last one
  let dataDir: number | undefined;
  let measuring: Promise<void> | undefined;
  let measuredAt = -Infinity;
  const sizeAbort = new AbortController();
  const measure = () => {
    if (measuring || performance.now() - measuredAt < POLICY.DATA_DIR_SIZE_MS) return;
    measuredAt = performance.now();
    measuring = dirSize(opts.path, sizeAbort.signal)
      .then((bytes) => void (sizeAbort.signal.aborted || (dataDir = bytes)))
      .catch((err) => warnOnce(`cannot measure ${opts.path}: ${messageOf(err)}`))
      .finally(() => (measuring = undefined));
  };

  let prev: Counters | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async (): Promise<SystemSnapshot | null> => {
    const ts = Date.now();
    measure();
    const [counters, gpus] = await Promise.all([readCounters(opts.path), readGpusOnce(ts)]);
    if (counters.disk.error) warnOnce(counters.disk.error);
    const before = prev;
    prev = counters;
    if (!before || stopped) return null;
    const snapshot = snapshotFrom(before, counters, host, ts, opts.path, gpus, dataDir);
    try {
      await opts.onSample(snapshot);
    } catch (err) {
      warnOnce(`system sample not handled: ${messageOf(err)}`);
    }
    return snapshot;
  };

  // One tick at a time: every run, scheduled or asked for, waits for the one before.
  let queue: Promise<unknown> = Promise.resolve();
  const run = (): Promise<SystemSnapshot | null> => {
    const next = queue.then(async () => {
      if (stopped) return null;
      const started = performance.now();
      try {
        return await tick();
      } catch (err) {
        warnOnce(`system sample failed: ${messageOf(err)}`);
        return null;
      } finally {
        schedule(Math.max(0, opts.intervalMs - (performance.now() - started)));
      }
    });
    queue = next;
    return next;
  };

  const schedule = (delay: number) => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, delay);
    timer.unref();
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      sizeAbort.abort();
      await Promise.all([queue, measuring]);
    },
    sampleNow() {
      if (stopped) return Promise.resolve(null);
      clearTimeout(timer);
      timer = undefined;
      return run();
    },
  };
}
