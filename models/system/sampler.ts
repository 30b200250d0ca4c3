/**
 * The system monitor's sampler: every interval, reads this host's counters
 * and GPUs and hands a {@link SystemSnapshot} to `onSample`. Rates (CPU %,
 * disk and network bytes/s) are computed from two readings over the real
 * elapsed time, so the first tick only primes the counters.
 */
import os from 'node:os';
import { readGpus } from './nvidia-smi.ts';
import { busyPercent, readCounters, type Counters } from './proc.ts';
import type { SystemSnapshot } from './types.ts';

export interface SamplerOptions {
  /** ms between ticks */
  intervalMs: number;
  /** DATA_DIR: the file system whose usage is reported */
  path: string;
  /** defaults to os.hostname() */
  host?: string;
  /** nvidia-smi binary; defaults to `nvidia-smi` on PATH */
  nvidiaSmi?: string;
  onSample: (snapshot: SystemSnapshot) => void | Promise<void>;
  /** problems worth a log line; each distinct message is reported once */
  onWarning?: (message: string) => void;
}

export interface Sampler {
  /** stops ticking and waits for a tick in progress */
  stop(): Promise<void>;
}

/** Rate per second of a counter between two readings; counters that went backwards (wrap, reset) count as 0. */
function rate(prev: number, next: number, seconds: number): number {
  return seconds > 0 && next >= prev ? (next - prev) / seconds : 0;
}

/** Builds a snapshot from two readings `seconds` apart. Pure; exported for tests. */
export function snapshotFrom(prev: Counters, next: Counters, host: string, ts: number, path: string): Omit<SystemSnapshot, 'gpus'> {
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
    memory: { host, ts, total: next.memory.total, used: next.memory.used, available: next.memory.available, swapTotal: next.memory.swapTotal, swapUsed: next.memory.swapUsed },
    disk: {
      host,
      ts,
      path,
      total: next.disk.total,
      used: next.disk.used,
      readBps: rate(prev.disk.readBytes, next.disk.readBytes, seconds),
      writeBps: rate(prev.disk.writeBytes, next.disk.writeBytes, seconds),
    },
    network: { host, ts, rxBps: rate(prev.net.rxBytes, next.net.rxBytes, seconds), txBps: rate(prev.net.txBytes, next.net.txBytes, seconds) },
  };
}

/**
 * Starts sampling. Ticks never overlap (each is scheduled after the previous
 * one finished) and the timer never keeps the process alive. A missing
 * nvidia-smi is reported once and not tried again; a failing one is reported
 * once, retried, and its recovery reported once.
 */
export function startSampler(opts: SamplerOptions): Sampler {
  const host = opts.host ?? os.hostname();
  const warned = new Set<string>();
  const warn = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    opts.onWarning?.(message);
  };
  let prev: Counters | undefined;
  let gpuState: 'unknown' | 'ok' | 'failing' | 'missing' = 'unknown';
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const tick = async () => {
    const ts = Date.now();
    const [counters, gpu] = await Promise.all([readCounters(opts.path), gpuState === 'missing' ? undefined : readGpus(host, ts, opts.nvidiaSmi)]);
    if (gpu?.error) {
      if (gpu.missing) gpuState = 'missing';
      else if (gpuState !== 'failing') gpuState = 'failing';
      warn(gpu.error);
    } else if (gpu) {
      if (gpuState === 'failing') opts.onWarning?.('nvidia-smi answers again: GPU metrics resumed');
      gpuState = 'ok';
      warned.forEach((m) => m.startsWith(opts.nvidiaSmi ?? 'nvidia-smi') && warned.delete(m));
    }
    const before = prev;
    prev = counters;
    if (!before) return;
    await opts.onSample({ ...snapshotFrom(before, counters, host, ts, opts.path), gpus: gpu?.gpus ?? [] });
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = performance.now();
      running = tick()
        .catch((err) => warn(`system sample failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          running = undefined;
          schedule(Math.max(0, opts.intervalMs - (performance.now() - started)));
        });
    }, delay);
    timer.unref();
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
