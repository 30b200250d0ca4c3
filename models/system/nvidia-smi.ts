/**
 * NVIDIA GPUs through `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`.
 * The parser is pure (tested on recorded output); {@link readGpus} runs the
 * binary without a shell and never throws.
 */
import { execFile } from 'node:child_process';
import type { GpuSample } from './types.ts';

/** The fields queried, in column order. */
export const NVIDIA_SMI_FIELDS = [
  'index',
  'name',
  'uuid',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'clocks.mem',
] as const;

/** nvidia-smi reports memory in MiB. */
const MIB = 1024 * 1024;

/** Default limit for one nvidia-smi call, ms. */
export const NVIDIA_SMI_TIMEOUT_MS = 5000;

/**
 * A number from a CSV cell; null for `[N/A]`, `[Not Supported]`, `N/A`,
 * empty and anything else that is not a number. A unit after the number
 * ("69.27 W", "35 %") is ignored: the query already fixes the unit.
 */
function num(cell: string | undefined): number | null {
  if (cell === undefined) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?\s*$/.exec(cell);
  return m ? Number(m[1]) : null;
}

/** A text cell, or null when nvidia-smi had none (`[N/A]`, `N/A`, empty). */
function label(cell: string | undefined): string | null {
  if (cell === undefined || cell === '' || cell === 'N/A' || /^\[.*\]$/.test(cell)) return null;
  return cell;
}

/** MiB → bytes. */
function mib(cell: string | undefined): number | null {
  const v = num(cell);
  return v === null ? null : v * MIB;
}

/**
 * Parses nvidia-smi's CSV: one line per GPU, columns in
 * {@link NVIDIA_SMI_FIELDS} order, as printed by
 * `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`.
 * Blank lines, lines with the wrong number of columns and lines without a
 * numeric index (a header, an error message) are skipped; a field nvidia-smi
 * could not report is null. Never throws.
 *
 * @param text stdout of nvidia-smi
 * @param host host name stamped on every sample
 * @param ts ms since epoch stamped on every sample
 * @returns the GPUs, sorted by index; memory in bytes, power in W, clocks in MHz, temperature in °C, utilization in %
 * @example
 * parseNvidiaSmiCsv('0, NVIDIA H100 80GB HBM3, GPU-5f8c…, 37, 15234, 81559, 41, 312.45, 700.00, 1980, 2619\n', 'gpu01', Date.now());
 * // → [{ index: 0, memUsed: 15234 * 2**20, power: 312.45, … }]
 */
export function parseNvidiaSmiCsv(text: string, host: string, ts: number): GpuSample[] {
  const gpus: GpuSample[] = [];
  for (const line of String(text).split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== NVIDIA_SMI_FIELDS.length) continue;
    const [index, name, uuid, util, memUsed, memTotal, temp, power, powerLimit, sm, mem] = cells;
    const i = num(index);
    if (i === null || !Number.isInteger(i) || i < 0) continue;
    gpus.push({
      host,
      ts,
      index: i,
      name: label(name) ?? `GPU ${i}`,
      uuid: label(uuid),
      util: num(util),
      memUsed: mib(memUsed),
      memTotal: mib(memTotal),
      temperature: num(temp),
      power: num(power),
      powerLimit: num(powerLimit),
      smClock: num(sm),
      memClock: num(mem),
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/** What one nvidia-smi call gave: the GPUs, or why there are none. */
export interface GpuReading {
  gpus: GpuSample[];
  /** set when nvidia-smi is missing or failed */
  error?: string;
  /** true when the binary does not exist (ENOENT): trying again is pointless */
  missing?: boolean;
}

/** Options of {@link readGpus}. */
export interface ReadGpusOptions {
  /** the nvidia-smi binary: a name looked up on PATH or a path; default `nvidia-smi` */
  binary?: string;
  /** ms before the call is killed; default {@link NVIDIA_SMI_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** First non-empty line of what a failed command printed. */
function firstLine(...outputs: string[]): string {
  for (const out of outputs) {
    const line = out
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (line) return line.length > 300 ? `${line.slice(0, 300)}…` : line;
  }
  return '';
}

/**
 * Runs nvidia-smi with {@link NVIDIA_SMI_FIELDS} (execFile, no shell) and
 * parses its output. Never throws: when the binary is missing (ENOENT), exits
 * non-zero or runs past the timeout, resolves with no GPUs and an `error`
 * (plus `missing: true` for ENOENT).
 *
 * @param host host name stamped on every sample
 * @param ts ms since epoch stamped on every sample
 * @example
 * const { gpus, error } = await readGpus(os.hostname(), Date.now(), { binary: '/usr/bin/nvidia-smi' });
 */
export function readGpus(host: string, ts: number, opts: ReadGpusOptions = {}): Promise<GpuReading> {
  const binary = opts.binary ?? 'nvidia-smi';
  const timeoutMs = opts.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS;
  return new Promise((resolve) => {
    let settled = false;
    const done = (reading: GpuReading) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(reading);
    };
    // execFile's own timeout sends a signal and then waits for the process to
    // close; a process stuck in the kernel (a wedged driver) never does, so
    // this deadline guarantees an answer.
    const deadline = setTimeout(() => done({ gpus: [], error: `${binary} timed out after ${timeoutMs} ms` }), timeoutMs + 1000);
    deadline.unref();
    try {
      execFile(
        binary,
        [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, windowsHide: true, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return done({ gpus: parseNvidiaSmiCsv(stdout, host, ts) });
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null; code?: string | number | null };
          if (e.code === 'ENOENT') return done({ gpus: [], missing: true, error: `${binary} not found: GPU metrics disabled` });
          if (e.killed) return done({ gpus: [], error: `${binary} timed out after ${timeoutMs} ms` });
          const how = typeof e.code === 'number' ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : String(e.code ?? 'error');
          // nvidia-smi prints its own failures ("couldn't communicate with the NVIDIA driver") on stdout.
          done({ gpus: [], error: `${binary} failed (${how}): ${firstLine(stderr, stdout, e.message)}` });
        },
      );
    } catch (err) {
      // execFile throws synchronously on invalid arguments (e.g. a NUL in the path).
      done({ gpus: [], error: `${binary} could not be run: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
}
