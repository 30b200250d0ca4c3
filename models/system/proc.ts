/**
 * Host counters from Linux's /proc (pure parsers, tested on recorded text)
 * and the readers that feed them. Elsewhere, CPU and memory come from
 * `node:os` and I/O counters are zero.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';

/** Jiffies of one CPU line of /proc/stat. */
export interface CpuTimes {
  /** all jiffies */
  total: number;
  /** idle + iowait jiffies */
  idle: number;
}

/** Parses /proc/stat into the aggregate line and one entry per core. */
export function parseProcStat(text: string): { all: CpuTimes; cores: CpuTimes[] } {
  let all: CpuTimes = { total: 0, idle: 0 };
  const cores: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user/nice.
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    if (m[1] === '') all = { total, idle };
    else cores[Number(m[1])] = { total, idle };
  }
  return { all, cores: Array.from(cores, (c) => c ?? { total: 0, idle: 0 }) };
}

/** Busy share between two readings, % (0 when no time passed). */
export function busyPercent(prev: CpuTimes, next: CpuTimes): number {
  const dt = next.total - prev.total;
  if (dt <= 0) return 0;
  const busy = dt - (next.idle - prev.idle);
  return Math.min(100, Math.max(0, (busy / dt) * 100));
}

/** Parses /proc/loadavg. */
export function parseLoadavg(text: string): [number, number, number] {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  return [a ?? 0, b ?? 0, c ?? 0];
}

/** Memory figures from /proc/meminfo, bytes. */
export interface MemInfo {
  total: number;
  available: number;
  used: number;
  swapTotal: number;
  swapUsed: number;
}

/** Parses /proc/meminfo (kB values) into bytes; used = total − available. */
export function parseMeminfo(text: string): MemInfo {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = kb.get('MemTotal') ?? 0;
  // Kernels before 3.14 have no MemAvailable: estimate it.
  const available = kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  const swapTotal = kb.get('SwapTotal') ?? 0;
  return { total, available, used: Math.max(0, total - available), swapTotal, swapUsed: Math.max(0, swapTotal - (kb.get('SwapFree') ?? 0)) };
}

const VIRTUAL_DEVICE = /^(loop|ram|dm-|md|zram|sr|fd|nbd)\d*/;
const PARTITION = /^(sd[a-z]+\d+|vd[a-z]+\d+|xvd[a-z]+\d+|hd[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$/;

/**
 * Parses /proc/diskstats into bytes read and written over whole physical
 * devices. `isDevice` says whether a name is a whole block device (from
 * /sys/block); without it, name rules exclude partitions and virtual devices.
 */
export function parseDiskstats(text: string, isDevice?: (name: string) => boolean): { readBytes: number; writeBytes: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const name = f[2]!;
    if (VIRTUAL_DEVICE.test(name)) continue;
    if (isDevice ? !isDevice(name) : PARTITION.test(name)) continue;
    // fields: major minor name reads merged sectors_read ms writes merged sectors_written ...; a sector is 512 bytes here.
    read += Number(f[5]) * 512;
    write += Number(f[9]) * 512;
  }
  return { readBytes: read, writeBytes: write };
}

/** Parses /proc/net/dev into bytes received and sent over every interface but `lo`. */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rxBytes: rx, txBytes: tx };
}

/** Raw counters at one moment; rates and percentages come from two of them. */
export interface Counters {
  /** performance.now() of the reading, ms */
  at: number;
  cpu: { all: CpuTimes; cores: CpuTimes[] };
  load: [number, number, number];
  memory: MemInfo;
  disk: { readBytes: number; writeBytes: number; total: number; used: number };
  net: { rxBytes: number; txBytes: number };
}

const HAS_PROC = existsSync('/proc/stat');

async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** CPU times from node:os where /proc is missing (ms rather than jiffies; only ratios matter). */
function osCpuTimes(): { all: CpuTimes; cores: CpuTimes[] } {
  const cores = os.cpus().map((c) => ({ total: c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq, idle: c.times.idle }));
  const all = cores.reduce((a, c) => ({ total: a.total + c.total, idle: a.idle + c.idle }), { total: 0, idle: 0 });
  return { all, cores };
}

/** Reads every counter of this host; `path` picks the file system whose usage is measured. */
export async function readCounters(path: string): Promise<Counters> {
  const at = performance.now();
  const statfs = await fs.statfs(path).catch(() => undefined);
  const disk = {
    total: statfs ? statfs.blocks * statfs.bsize : 0,
    used: statfs ? (statfs.blocks - statfs.bfree) * statfs.bsize : 0,
  };
  if (!HAS_PROC) {
    const total = os.totalmem();
    const available = os.freemem();
    return {
      at,
      cpu: osCpuTimes(),
      load: os.loadavg() as [number, number, number],
      memory: { total, available, used: total - available, swapTotal: 0, swapUsed: 0 },
      disk: { ...disk, readBytes: 0, writeBytes: 0 },
      net: { rxBytes: 0, txBytes: 0 },
    };
  }
  const [stat, loadavg, meminfo, diskstats, netdev, blocks] = await Promise.all([
    readText('/proc/stat'),
    readText('/proc/loadavg'),
    readText('/proc/meminfo'),
    readText('/proc/diskstats'),
    readText('/proc/net/dev'),
    fs.readdir('/sys/block').catch(() => undefined),
  ]);
  const devices = blocks ? new Set(blocks) : undefined;
  return {
    at,
    cpu: parseProcStat(stat),
    load: parseLoadavg(loadavg),
    memory: parseMeminfo(meminfo),
    disk: { ...disk, ...parseDiskstats(diskstats, devices && ((name) => devices.has(name))) },
    net: parseNetDev(netdev),
  };
}
