import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSize } from './dir-size.ts';
import type { Counters } from './proc.ts';
import { snapshotFrom, startSampler } from './sampler.ts';
import type { SystemSnapshot } from './types.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-sampler-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

/** A stand-in for nvidia-smi: a shell script in the temp dir. */
function fakeSmi(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `done()` or 10 s. */
async function until(done: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!done() && Date.now() - t0 < 10_000) await wait(10);
}

describe('startSampler on this machine', () => {
  it('primes on the first tick, then emits snapshots with sane values and two GPUs', async () => {
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const sampler = startSampler({
      intervalMs: 100,
      path: dir,
      host: 'test-host',
      nvidiaSmi: fakeSmi('smi-2gpu', `cat '${fixture('nvidia-smi-2xrtx4090.csv')}'`),
      onSample: (s) => void snapshots.push(s),
      onWarning: (m) => warnings.push(m),
    });
    // the first tick runs at once; the second cannot start before 100 ms
    await wait(60);
    expect(snapshots).toEqual([]);
    await until(() => snapshots.length >= 3);
    await sampler.stop();
    const count = snapshots.length;
    await wait(300);
    expect(snapshots.length).toBe(count); // nothing after stop()
    expect(count).toBeGreaterThanOrEqual(3);
    expect(warnings).toEqual([]);

    for (const s of snapshots) {
      expect(s.host).toBe('test-host');
      expect(s.cpu.cores).toHaveLength(os.cpus().length);
      expect(s.cpu.total).toBeGreaterThanOrEqual(0);
      expect(s.cpu.total).toBeLessThanOrEqual(100);
      expect(s.cpu.cores.every((c) => c >= 0 && c <= 100)).toBe(true);
      expect(Math.abs(s.memory.total - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
      expect(s.memory.used).toBeGreaterThan(0);
      expect(s.memory.used).toBeLessThanOrEqual(s.memory.total);
      expect(s.disk.path).toBe(dir);
      expect(s.disk.total).toBeGreaterThan(0);
      expect(s.disk.used).toBeLessThanOrEqual(s.disk.total);
      for (const v of [s.disk.readBps, s.disk.writeBps, s.network.rxBps, s.network.txBps]) expect(v).toBeGreaterThanOrEqual(0);
      expect([s.cpu.ts, s.memory.ts, s.disk.ts, s.network.ts]).toEqual([s.ts, s.ts, s.ts, s.ts]);
      expect(s.gpus).toHaveLength(2);
    }
    expect(snapshots[0]!.gpus.map((g) => [g.index, g.name, g.util, g.memTotal, g.host])).toEqual([
      [0, 'NVIDIA GeForce RTX 4090', 97, 24564 * 1024 * 1024, 'test-host'],
      [1, 'NVIDIA GeForce RTX 4090', 0, 24564 * 1024 * 1024, 'test-host'],
    ]);
    // DATA_DIR's own size (the fake nvidia-smi scripts in it): measured from the first tick on, reported by every later snapshot
    const measured = snapshots.filter((x) => x.disk.dataDir !== undefined);
    expect(measured.length).toBeGreaterThan(0);
    expect(measured.at(-1)!.disk.dataDir).toBe(await dirSize(dir));
    expect(measured.at(-1)!.disk.dataDir!).toBeLessThan(measured.at(-1)!.disk.used);
    // ticks are spaced by the interval, not bunched
    const gaps = snapshots.slice(1).map((x, i) => x.ts - snapshots[i]!.ts);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(90);
  });

  it('emits nothing for the priming sample, then a snapshot, through sampleNow', async () => {
    const snapshots: SystemSnapshot[] = [];
    const sampler = startSampler({ intervalMs: 60_000, path: dir, nvidiaSmi: fakeSmi('smi-2gpu-b', `cat '${fixture('nvidia-smi-2xrtx4090.csv')}'`), onSample: (s) => void snapshots.push(s) });
    expect(await sampler.sampleNow()).toBeNull();
    expect(snapshots).toEqual([]);
    const s = await sampler.sampleNow();
    expect(s).not.toBeNull();
    expect(snapshots).toEqual([s]);
    expect(s!.host).toBe(os.hostname());
    expect(s!.gpus).toHaveLength(2);
    await sampler.stop();
    expect(await sampler.sampleNow()).toBeNull();
    expect(snapshots).toHaveLength(1);
  });

  it('reports a missing nvidia-smi exactly once over several ticks and keeps sampling', async () => {
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const sampler = startSampler({ intervalMs: 50, path: dir, nvidiaSmi: path.join(dir, 'no-such-smi'), onSample: (s) => void snapshots.push(s), onWarning: (m) => warnings.push(m) });
    await until(() => snapshots.length >= 5);
    await sampler.stop();
    expect(snapshots.length).toBeGreaterThanOrEqual(5);
    expect(snapshots.every((s) => s.gpus.length === 0)).toBe(true);
    expect(warnings).toEqual([`${path.join(dir, 'no-such-smi')} not found: GPU metrics disabled`]);
  });

  it('reports a failing nvidia-smi once, and once more when it recovers', async () => {
    const flag = path.join(dir, 'fail-flag');
    writeFileSync(flag, '');
    const smi = fakeSmi('smi-flaky', `if [ -f '${flag}' ]; then echo broken >&2; exit 3; fi\ncat '${fixture('nvidia-smi-h100.csv')}'`);
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const sampler = startSampler({ intervalMs: 40, path: dir, nvidiaSmi: smi, onSample: (s) => void snapshots.push(s), onWarning: (m) => warnings.push(m) });
    await until(() => snapshots.length >= 4);
    expect(snapshots.every((s) => s.gpus.length === 0)).toBe(true);
    rmSync(flag);
    await until(() => snapshots.filter((s) => s.gpus.length === 1).length >= 3);
    await sampler.stop();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/exit 3.*broken/);
    expect(warnings[1]).toMatch(/resumed/);
  });

  it('survives an onSample that throws or rejects, reporting each message once', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const sampler = startSampler({
      intervalMs: 30,
      path: dir,
      nvidiaSmi: path.join(dir, 'none'),
      onSample: async () => {
        calls++;
        if (calls % 2) throw new Error('database down');
        await Promise.reject(new Error('disk full'));
      },
      onWarning: (m) => warnings.push(m),
    });
    await until(() => calls >= 6);
    await sampler.stop();
    expect(calls).toBeGreaterThanOrEqual(6);
    expect(warnings.filter((w) => /database down/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /disk full/.test(w))).toHaveLength(1);
  });

  it('never overlaps ticks: a slow onSample delays the next tick', async () => {
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    const sampler = startSampler({
      intervalMs: 10,
      path: dir,
      nvidiaSmi: path.join(dir, 'none'),
      onSample: async () => {
        starts.push(performance.now());
        maxActive = Math.max(maxActive, ++active);
        await wait(80);
        active--;
      },
    });
    // sampleNow in the middle must queue behind the tick in progress too
    await until(() => starts.length >= 2);
    await Promise.all([sampler.sampleNow(), sampler.sampleNow()]);
    await until(() => starts.length >= 5);
    await sampler.stop();
    expect(maxActive).toBe(1);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(75);
  });

  it('has a timer that does not keep the process alive', async () => {
    // a process that starts a sampler and never stops it still exits
    const code = `const { startSampler } = await import(${JSON.stringify(path.join(import.meta.dirname, 'sampler.ts'))});
      startSampler({ intervalMs: 20, path: '.', nvidiaSmi: '/nonexistent', onSample: () => {} });
      setTimeout(() => console.log('bye'), 100);`;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: path.join(import.meta.dirname, '..', '..'), timeout: 15_000 }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
      child.stdin?.end();
    });
    expect(out).toEqual({ code: 0, stdout: 'bye\n' });
  });
});

describe('snapshotFrom', () => {
  const counters = (at: number, readBytes: number, rxBytes: number, busy: number): Counters => ({
    at,
    cpu: { all: { total: 1000 + busy * 2, idle: 1000 + busy }, cores: [{ total: 1000 + busy * 2, idle: 1000 + busy }] },
    load: [1, 2, 3],
    memory: { total: 100, available: 40, used: 60, swapTotal: 10, swapUsed: 1 },
    disk: { readBytes, writeBytes: 0, total: 500, used: 200 },
    net: { rxBytes, txBytes: 0 },
  });

  it('divides by the real time between readings and zeroes counters that went backwards', () => {
    // 2.5 s apart (not the nominal interval): 5000 bytes read → 2000 bytes/s
    const s = snapshotFrom(counters(1000, 10_000, 9_000, 0), counters(3500, 15_000, 4_000, 100), 'h', 42, '/data');
    expect(s.disk).toEqual({ host: 'h', ts: 42, path: '/data', total: 500, used: 200, readBps: 2000, writeBps: 0 });
    expect(s.network).toEqual({ host: 'h', ts: 42, rxBps: 0, txBps: 0 });
    // Δtotal 200, Δidle 100 → 50 %
    expect(s.cpu).toEqual({ host: 'h', ts: 42, total: 50, cores: [50], load: [1, 2, 3] });
    expect(s.memory).toEqual({ host: 'h', ts: 42, total: 100, used: 60, available: 40, swapTotal: 10, swapUsed: 1 });
    expect(s.gpus).toEqual([]);
  });
});
