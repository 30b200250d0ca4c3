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

const MIB = 1024 * 1024;

/** A number from a CSV cell, or null for `[N/A]`, `[Not Supported]`, empty and garbage. Units after the number are ignored. */
function num(cell: string | undefined): number | null {
  if (cell === undefined) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?\s*$/.exec(cell);
  return m ? Number(m[1]) : null;
}

/**
 * Parses nvidia-smi's CSV (one line per GPU, columns in {@link NVIDIA_SMI_FIELDS}
 * order). Lines with the wrong number of columns or no index are skipped.
 * @param ts ms since epoch stamped on every sample
 */
export function parseNvidiaSmiCsv(text: string, host: string, ts: number): GpuSample[] {
  const gpus: GpuSample[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== NVIDIA_SMI_FIELDS.length) continue;
    const [index, name, uuid, util, memUsed, memTotal, temp, power, powerLimit, sm, mem] = cells;
    const i = num(index);
    if (i === null || !Number.isInteger(i) || i < 0) continue;
    const mib = (c: string | undefined) => {
      const v = num(c);
      return v === null ? null : v * MIB;
    };
    gpus.push({
      host,
      ts,
      index: i,
      name: name && !name.startsWith('[') ? name : `GPU ${i}`,
      uuid: uuid && !uuid.startsWith('[') ? uuid : null,
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
  /** true when the binary does not exist (no point in trying again) */
  missing?: boolean;
}

/** Runs nvidia-smi (no shell, 5 s timeout) and parses its output. Never throws. */
export function readGpus(host: string, ts: number, binary = 'nvidia-smi'): Promise<GpuReading> {
  return new Promise((resolve) => {
    execFile(
      binary,
      [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
      { timeout: 5000, maxBuffer: 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (e.code === 'ENOENT') resolve({ gpus: [], missing: true, error: `${binary} not found: GPU metrics are off` });
          else if (e.killed) resolve({ gpus: [], error: `${binary} timed out after 5 s` });
          else resolve({ gpus: [], error: `${binary} failed (exit ${String(e.code)}): ${(stderr || stdout || e.message).trim().split('\n')[0]}` });
          return;
        }
        resolve({ gpus: parseNvidiaSmiCsv(stdout, host, ts) });
      },
    );
  });
}
