import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { busyPercent, parseDiskstats, parseLoadavg, parseMeminfo, parseNetDev, parseProcStat, readCounters } from './proc.ts';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', 'proc', name), 'utf8');

describe('/proc parsers (recorded text)', () => {
  it('computes CPU busy % from two /proc/stat readings, total and per core', () => {
    const a = parseProcStat(fixture('stat.1'));
    const b = parseProcStat(fixture('stat.2'));
    // all: total 9750 → 10950 (+1200), idle+iowait 8200 → 8600 (+400): 800/1200 busy
    expect(a.all).toEqual({ total: 9750, idle: 8200 });
    expect(busyPercent(a.all, b.all)).toBeCloseTo((800 / 1200) * 100, 10);
    expect(a.cores).toHaveLength(2);
    // cpu0: +700 total, +50 idle; cpu1: +500 total, +350 idle
    expect(busyPercent(a.cores[0]!, b.cores[0]!)).toBeCloseTo((650 / 700) * 100, 10);
    expect(busyPercent(a.cores[1]!, b.cores[1]!)).toBeCloseTo(30, 10);
    expect(busyPercent(b.all, b.all)).toBe(0);
  });

  it('reads memory and swap in bytes, used = total − available', () => {
    expect(parseMeminfo(fixture('meminfo'))).toEqual({
      total: 24576000 * 1024,
      available: 20000000 * 1024,
      used: 4576000 * 1024,
      swapTotal: 2097148 * 1024,
      swapUsed: (2097148 - 1048574) * 1024,
    });
  });

  it('sums disk sectors over whole physical devices only', () => {
    // vda + nvme0n1; not loop0, dm-0 or the partitions vda1, nvme0n1p1
    expect(parseDiskstats(fixture('diskstats'))).toEqual({ readBytes: (400000 + 80000) * 512, writeBytes: (600000 + 40000) * 512 });
    const onlyVda = parseDiskstats(fixture('diskstats'), (name) => name === 'vda');
    expect(onlyVda).toEqual({ readBytes: 400000 * 512, writeBytes: 600000 * 512 });
  });

  it('sums network bytes over every interface but lo, and reads the load average', () => {
    expect(parseNetDev(fixture('net-dev'))).toEqual({ rxBytes: 123456 + 1000, txBytes: 65432 + 2000 });
    expect(parseLoadavg(fixture('loadavg'))).toEqual([0.52, 0.58, 0.59]);
  });
});

describe('readCounters on this machine', () => {
  it('reads plausible live values', async () => {
    const c = await readCounters(os.tmpdir());
    expect(c.cpu.cores).toHaveLength(os.cpus().length);
    expect(Math.abs(c.memory.total - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
    expect(c.disk.total).toBeGreaterThan(0);
    expect(c.disk.used).toBeGreaterThan(0);
    expect(c.disk.used).toBeLessThanOrEqual(c.disk.total);
  });
});
