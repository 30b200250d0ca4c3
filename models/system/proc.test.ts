import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  busyPercent,
  HAS_PROC,
  isPhysicalDiskName,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  readCounters,
  readDiskUsage,
} from './proc.ts';

/** Recorded /proc text: `vm-2cpu` was read on a 2-vCPU VM, `workstation-4cpu` is a GPU workstation's. */
const fixture = (host: string, name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', 'proc', host, name), 'utf8');
const KB = 1024;
const SECTOR = 512;

describe('/proc/stat', () => {
  it('computes CPU % on a recorded VM (one core spinning between the readings)', () => {
    const a = parseProcStat(fixture('vm-2cpu', 'stat.1'));
    const b = parseProcStat(fixture('vm-2cpu', 'stat.2'));
    // user nice system idle iowait irq softirq steal (guest columns are 0)
    const total1 = 67972 + 608 + 37344 + 3313267 + 2294 + 0 + 995 + 43;
    const total2 = 68072 + 608 + 37345 + 3313366 + 2294 + 0 + 995 + 43;
    const idle1 = 3313267 + 2294;
    const idle2 = 3313366 + 2294;
    expect(a.all).toEqual({ total: total1, idle: idle1 });
    expect(b.all).toEqual({ total: total2, idle: idle2 });
    expect(total2 - total1).toBe(200);
    // busy = Δtotal − Δidle = 200 − 99 = 101 of 200
    expect(busyPercent(a.all, b.all)).toBeCloseTo(50.5, 10);
    expect(a.cores).toHaveLength(2);
    // cpu0: system +1, idle +99 → 1 %; cpu1: user +100, system +1, idle +0 → 100 %
    expect(busyPercent(a.cores[0]!, b.cores[0]!)).toBeCloseTo(1, 10);
    expect(busyPercent(a.cores[1]!, b.cores[1]!)).toBe(100);
  });

  it('computes per-core % with iowait as idle and guest time not counted twice', () => {
    const a = parseProcStat(fixture('workstation-4cpu', 'stat.1'));
    const b = parseProcStat(fixture('workstation-4cpu', 'stat.2'));
    expect(a.cores).toHaveLength(4);
    // aggregate: Δtotal = (4862−4705) + 0 + (1144−1120) + (16549−16385) + (127−77) + 0 + (41−36) = 157+24+164+50+5 = 400
    expect(b.all.total - a.all.total).toBe(400);
    // Δ(idle+iowait) = 164 + 50 = 214 → busy 186 / 400
    expect(busyPercent(a.all, b.all)).toBeCloseTo((186 / 400) * 100, 10);
    const pct = a.cores.map((c, i) => busyPercent(c, b.cores[i]!));
    // cpu0: user +90, system +8, idle +2 → 98 %
    expect(pct[0]).toBeCloseTo(98, 10);
    // cpu1: user +2, system +1, idle +97 → 3 %
    expect(pct[1]).toBeCloseTo(3, 10);
    // cpu2: user +5, system +5, idle +40, iowait +50 → 10 %
    expect(pct[2]).toBeCloseTo(10, 10);
    // cpu3: user +60 (of which guest +50), system +10, softirq +5, idle +25 → 75 of 100 jiffies, not 75 of 150
    expect(pct[3]).toBeCloseTo(75, 10);
  });

  it('reads 0 % when no time passed or counters went backwards', () => {
    const b = parseProcStat(fixture('vm-2cpu', 'stat.2'));
    const a = parseProcStat(fixture('vm-2cpu', 'stat.1'));
    expect(busyPercent(b.all, b.all)).toBe(0);
    expect(busyPercent(b.all, a.all)).toBe(0);
    expect(parseProcStat('')).toEqual({ all: { total: 0, idle: 0 }, cores: [] });
  });
});

describe('/proc/loadavg and /proc/meminfo', () => {
  it('reads the load averages', () => {
    expect(parseLoadavg(fixture('workstation-4cpu', 'loadavg'))).toEqual([3.41, 2.87, 2.1]);
    expect(parseLoadavg(fixture('vm-2cpu', 'loadavg'))).toEqual([0, 0, 0]);
    expect(parseLoadavg('garbage')).toEqual([0, 0, 0]);
  });

  it('reads memory and swap in bytes, used = total − available', () => {
    expect(parseMeminfo(fixture('workstation-4cpu', 'meminfo'))).toEqual({
      total: 65759372 * KB,
      available: 41234567 * KB,
      used: (65759372 - 41234567) * KB,
      swapTotal: 8388604 * KB,
      swapUsed: (8388604 - 8123900) * KB,
    });
    expect(parseMeminfo(fixture('vm-2cpu', 'meminfo'))).toEqual({
      total: 24684092 * KB,
      available: 24319692 * KB,
      used: (24684092 - 24319692) * KB,
      swapTotal: 0,
      swapUsed: 0,
    });
  });

  it('estimates available memory on kernels without MemAvailable', () => {
    const text = 'MemTotal:        1000 kB\nMemFree:          100 kB\nBuffers:           20 kB\nCached:           300 kB\n';
    expect(parseMeminfo(text)).toMatchObject({ total: 1000 * KB, available: 420 * KB, used: 580 * KB });
  });
});

describe('/proc/diskstats', () => {
  const sysBlock = new Set(fixture('workstation-4cpu', 'sys-block').split('\n').filter(Boolean));
  // whole disks: nvme0n1, nvme1n1, sda; not loop0/1, sr0, dm-0, md0, zram0 or the partitions nvme0n1p1/p2, sda1
  const expected = {
    readBytes: (152934016 + 736803200 + 4123344) * SECTOR,
    writeBytes: (398120544 + 98304000 + 190112) * SECTOR,
  };

  it('sums sectors × 512 over the physical disks listed in /sys/block', () => {
    expect(parseDiskstats(fixture('workstation-4cpu', 'diskstats'), (name) => sysBlock.has(name))).toEqual(expected);
  });

  it('falls back to name rules when /sys/block cannot be read', () => {
    expect(parseDiskstats(fixture('workstation-4cpu', 'diskstats'))).toEqual(expected);
    expect(['sda', 'vda', 'xvdb', 'nvme0n1', 'mmcblk0', 'hdc'].every(isPhysicalDiskName)).toBe(true);
    expect(['sda1', 'vda1', 'xvdb3', 'nvme0n1p1', 'mmcblk0p2', 'loop7', 'ram0', 'dm-3', 'md127', 'zram0', 'sr0', 'nbd0'].some(isPhysicalDiskName)).toBe(false);
  });

  it('takes the /sys/block list over the name rules', () => {
    // a disk /sys/block does not list is left out even though its name looks like one
    expect(parseDiskstats(fixture('workstation-4cpu', 'diskstats'), (name) => name === 'sda')).toEqual({ readBytes: 4123344 * SECTOR, writeBytes: 190112 * SECTOR });
  });

  it('reads the recorded VM (vda only; loop and zram excluded)', () => {
    const sys = new Set(fixture('vm-2cpu', 'sys-block').split('\n').filter(Boolean));
    expect(parseDiskstats(fixture('vm-2cpu', 'diskstats'), (name) => sys.has(name))).toEqual({ readBytes: 8238586 * SECTOR, writeBytes: 40590424 * SECTOR });
  });
});

describe('/proc/net/dev', () => {
  it('sums bytes over every interface but lo, including lines with no space after the colon', () => {
    // enp5s0 + wlp4s0 + docker0 + veth1a2b3c4
    expect(parseNetDev(fixture('workstation-4cpu', 'net-dev'))).toEqual({
      rxBytes: 918273645 + 0 + 4411223 + 52310,
      txBytes: 123456789 + 0 + 92837465 + 880123,
    });
  });

  it('reads the recorded VM (ifb0, ifb1, eth0)', () => {
    expect(parseNetDev(fixture('vm-2cpu', 'net-dev'))).toEqual({ rxBytes: 0 + 0 + 2677366746, txBytes: 0 + 0 + 4998019 });
  });
});

describe('readers on this machine', () => {
  it('reads plausible live counters', async () => {
    const c = await readCounters(os.tmpdir());
    expect(c.cpu.cores).toHaveLength(os.cpus().length);
    expect(c.cpu.all.total).toBeGreaterThan(0);
    expect(Math.abs(c.memory.total - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
    expect(c.memory.used).toBeGreaterThan(0);
    expect(c.disk.error).toBeUndefined();
    expect(c.disk.total).toBeGreaterThan(0);
    expect(c.disk.used).toBeGreaterThan(0);
    expect(c.disk.used).toBeLessThanOrEqual(c.disk.total);
    if (HAS_PROC) expect(c.net.rxBytes + c.net.txBytes + c.disk.readBytes).toBeGreaterThanOrEqual(0);
  });

  it('measures a file system with statfs and reports a path it cannot measure', async () => {
    const usage = await readDiskUsage(os.tmpdir());
    expect(usage.total).toBeGreaterThan(0);
    const missing = await readDiskUsage(path.join(os.tmpdir(), 'loupe-no-such-dir', 'x'));
    expect(missing).toMatchObject({ total: 0, used: 0 });
    expect(missing.error).toMatch(/ENOENT/);
  });
});
