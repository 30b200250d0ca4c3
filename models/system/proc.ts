/**
 * Host counters from Linux's /proc: pure parsers (tested on recorded text)
 * and the readers that feed them. Where there is no /proc (macOS, Windows),
 * CPU and memory come from `node:os` and I/O counters are zero; nothing here
 * throws for a missing or unreadable file.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';

/** /proc/diskstats counts in 512-byte sectors whatever the device's sector size. */
const SECTOR_BYTES = 512;

/** Jiffies of one CPU line of /proc/stat (or ms from os.cpus(); only ratios matter). */
export interface CpuTimes {
  /** user + nice + system + idle + iowait + irq + softirq + steal */
  total: number;
  /** idle + iowait */
  idle: number;
}

/** CPU times of the whole machine and of each core (index = core number). */
export interface CpuReading {
  all: CpuTimes;
  cores: CpuTimes[];
}

const NO_TIMES: CpuTimes = { total: 0, idle: 0 };

/**
 * Parses /proc/stat into the aggregate `cpu` line and one entry per `cpuN`
 * line. Guest time is left out of the total because the kernel already counts
 * it in user and nice. A core missing from the text (offline) reads as zeros.
 */
export function parseProcStat(text: string): CpuReading {
  let all: CpuTimes = NO_TIMES;
  const cores: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    const v = m[2]!
      .trim()
      .split(/\s+/)
      .map((x) => {
        const n = Number(x);
        return Number.isFinite(n) ? n : 0;
      });
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    if (m[1] === '') all = { total, idle };
    else cores[Number(m[1])] = { total, idle };
  }
  return { all, cores: Array.from(cores, (c) => c ?? NO_TIMES) };
}

/**
 * Busy share of a CPU between two readings, % in [0, 100]:
 * busy = Δtotal − Δ(idle + iowait). 0 when no time passed or the counters
 * went backwards.
 */
export function busyPercent(prev: CpuTimes, next: CpuTimes): number {
  const dt = next.total - prev.total;
  if (dt <= 0) return 0;
  const busy = dt - (next.idle - prev.idle);
  return Math.min(100, Math.max(0, (busy / dt) * 100));
}

/** Parses /proc/loadavg into the 1, 5 and 15 minute load averages (0 for anything unreadable). */
export function parseLoadavg(text: string): [number, number, number] {
  const v = text
    .trim()
    .split(/\s+/)
    .slice(0, 3)
    .map((x) => {
      const n = Number(x);
      return Number.isFinite(n) ? n : 0;
    });
  return [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0];
}

/** Memory and swap, bytes. */
export interface MemInfo {
  total: number;
  available: number;
  /** total − available */
  used: number;
  swapTotal: number;
  /** SwapTotal − SwapFree */
  swapUsed: number;
}

/** Parses /proc/meminfo (values in kB = 1024 bytes) into bytes; used = MemTotal − MemAvailable. */
export function parseMeminfo(text: string): MemInfo {
  const bytes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)\s*kB/.exec(line);
    if (m) bytes.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = bytes.get('MemTotal') ?? 0;
  // Kernels before 3.14 have no MemAvailable: estimate it the way free(1) did.
  const available = bytes.get('MemAvailable') ?? (bytes.get('MemFree') ?? 0) + (bytes.get('Buffers') ?? 0) + (bytes.get('Cached') ?? 0);
  const swapTotal = bytes.get('SwapTotal') ?? 0;
  return {
    total,
    available,
    used: Math.max(0, total - available),
    swapTotal,
    swapUsed: Math.max(0, swapTotal - (bytes.get('SwapFree') ?? swapTotal)),
  };
}

/** Block devices that are not disks: their I/O is already counted on the disks below them (or never reaches one). */
const VIRTUAL_DEVICE = /^(loop|ram|dm-|md|zram|sr|fd|nbd)\d/;
const PARTITION = /^((s|v|xv|h)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$/;

/**
 * Whether a /proc/diskstats name is a whole physical disk by name alone:
 * not a loop, RAM, device-mapper, md, zram, optical, floppy or network block
 * device, and not a partition (sda1, vda1, nvme0n1p1, mmcblk0p1).
 */
export function isPhysicalDiskName(name: string): boolean {
  return !VIRTUAL_DEVICE.test(name) && !PARTITION.test(name);
}

/** Bytes moved by block devices since boot. */
export interface DiskIo {
  readBytes: number;
  writeBytes: number;
}

/**
 * Parses /proc/diskstats into bytes read and written over whole physical
 * disks (sectors × 512). `isDevice` says whether a name is a whole block
 * device, from the list in /sys/block; without it, the name rules of
 * {@link isPhysicalDiskName} alone exclude partitions.
 */
export function parseDiskstats(text: string, isDevice?: (name: string) => boolean): DiskIo {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    // major minor name reads merged sectors_read ms writes merged sectors_written …
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const name = f[2]!;
    if (VIRTUAL_DEVICE.test(name)) continue;
    if (isDevice ? !isDevice(name) : PARTITION.test(name)) continue;
    const r = Number(f[5]);
    const w = Number(f[9]);
    if (Number.isFinite(r)) read += r * SECTOR_BYTES;
    if (Number.isFinite(w)) write += w * SECTOR_BYTES;
  }
  return { readBytes: read, writeBytes: write };
}

/** Bytes received and sent since boot. */
export interface NetIo {
  rxBytes: number;
  txBytes: number;
}

/** Parses /proc/net/dev into bytes received and sent over every interface but `lo`. */
export function parseNetDev(text: string): NetIo {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    // Old kernels print `eth0:123…` with no space once the number is wide.
    const m = /^\s*([^:\s|]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes …
    if (Number.isFinite(f[0])) rx += f[0]!;
    if (Number.isFinite(f[8])) tx += f[8]!;
  }
  return { rxBytes: rx, txBytes: tx };
}

/** Size and use of one file system, bytes. */
export interface DiskUsage {
  total: number;
  used: number;
  /** why total and used are 0, when statfs failed */
  error?: string;
}

/**
 * Size of the file system holding `path` (fs.statfs): total = blocks × bsize,
 * used = (blocks − bfree) × bsize, bytes. Zeros and an `error` when the path
 * cannot be measured; never throws.
 */
export async function readDiskUsage(path: string): Promise<DiskUsage> {
  try {
    const s = await fs.statfs(path);
    return { total: s.blocks * s.bsize, used: (s.blocks - s.bfree) * s.bsize };
  } catch (err) {
    return { total: 0, used: 0, error: `cannot measure the file system of ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Whether this host has Linux's /proc. */
export const HAS_PROC = existsSync('/proc/stat');

function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** CPU times from node:os where /proc is missing (ms rather than jiffies; only ratios matter). */
function osCpuTimes(): CpuReading {
  const cores = os.cpus().map((c) => ({ total: c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq, idle: c.times.idle }));
  const all = cores.reduce((a, c) => ({ total: a.total + c.total, idle: a.idle + c.idle }), NO_TIMES);
  return { all, cores };
}

/** CPU times of this host: /proc/stat, or os.cpus() without /proc. */
export async function readCpuTimes(): Promise<CpuReading> {
  if (!HAS_PROC) return osCpuTimes();
  const reading = parseProcStat(await readText('/proc/stat'));
  return reading.cores.length > 0 ? reading : osCpuTimes();
}

/** Load averages over 1, 5 and 15 minutes: /proc/loadavg, or os.loadavg(). */
export async function readLoadavg(): Promise<[number, number, number]> {
  if (!HAS_PROC) return os.loadavg() as [number, number, number];
  return parseLoadavg(await readText('/proc/loadavg'));
}

/**
 * Memory this process may use, bytes: the host's (os.totalmem()), or the
 * cgroup limit when a container sets a lower one. What a worker reports,
 * and what jobs size themselves against (models/memory.ts).
 */
export function hostMemoryBytes(): number {
  const total = os.totalmem();
  const limit = typeof process.constrainedMemory === 'function' ? (process.constrainedMemory() ?? 0) : 0;
  return limit > 0 && limit < total ? limit : total;
}

/** Memory and swap of this host, bytes: /proc/meminfo, or os.totalmem()/os.freemem() (no swap) without /proc. */
export async function readMemory(): Promise<MemInfo> {
  const meminfo = HAS_PROC ? parseMeminfo(await readText('/proc/meminfo')) : undefined;
  if (meminfo && meminfo.total > 0) return meminfo;
  const total = os.totalmem();
  const available = os.freemem();
  return { total, available, used: total - available, swapTotal: 0, swapUsed: 0 };
}

/** Bytes read and written by the physical disks since boot; zeros without /proc. */
export async function readDiskIo(): Promise<DiskIo> {
  if (!HAS_PROC) return { readBytes: 0, writeBytes: 0 };
  const [text, blocks] = await Promise.all([readText('/proc/diskstats'), fs.readdir('/sys/block').catch(() => undefined)]);
  const devices = blocks && blocks.length > 0 ? new Set(blocks) : undefined;
  return parseDiskstats(text, devices && ((name) => devices.has(name)));
}

/** Bytes received and sent over all interfaces but lo since boot; zeros without /proc. */
export async function readNetIo(): Promise<NetIo> {
  if (!HAS_PROC) return { rxBytes: 0, txBytes: 0 };
  return parseNetDev(await readText('/proc/net/dev'));
}

/** Raw counters at one moment; rates and percentages come from two of them. */
export interface Counters {
  /** performance.now() when the counters were read, ms */
  at: number;
  cpu: CpuReading;
  load: [number, number, number];
  memory: MemInfo;
  disk: DiskIo & DiskUsage;
  net: NetIo;
}

/**
 * Reads every counter of this host at once. `path` is the directory whose
 * file system size is reported (DATA_DIR). Never throws: what cannot be read
 * is zero, and a failed statfs leaves its reason in `disk.error`.
 */
export async function readCounters(path: string): Promise<Counters> {
  const usage = readDiskUsage(path);
  // The moment the cumulative counters are read: rates divide by the time between two of these.
  const at = performance.now();
  const [cpu, load, memory, io, net] = await Promise.all([readCpuTimes(), readLoadavg(), readMemory(), readDiskIo(), readNetIo()]);
  return { at, cpu, load, memory, disk: { ...io, ...(await usage) }, net };
}
