import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSampler } from './sampler.ts';
import type { SystemSnapshot } from './types.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-sampler-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeSmi(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sampler', () => {
  it('primes on the first tick, then emits snapshots with rates, CPU % and GPUs', async () => {
    const csv = path.join(dir, 'gpus.csv');
    writeFileSync(csv, readFileSync(path.join(import.meta.dirname, 'fixtures', 'nvidia-smi-8xa100.csv'), 'utf8').split('\n').slice(0, 2).join('\n'));
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const started = Date.now();
    const sampler = startSampler({ intervalMs: 100, path: dir, host: 'test-host', nvidiaSmi: fakeSmi('smi', `cat ${csv}`), onSample: (s) => void snapshots.push(s), onWarning: (m) => warnings.push(m) });
    await wait(60);
    expect(snapshots).toEqual([]); // the first tick only primes the counters
    while (snapshots.length < 3 && Date.now() - started < 10_000) await wait(20);
    await sampler.stop();
    const count = snapshots.length;
    await wait(300);
    expect(snapshots.length).toBe(count); // nothing after stop()
    expect(warnings).toEqual([]);
    const s = snapshots[0]!;
    expect(s.host).toBe('test-host');
    expect(s.cpu.cores).toHaveLength(os.cpus().length);
    expect(s.cpu.total).toBeGreaterThanOrEqual(0);
    expect(s.cpu.total).toBeLessThanOrEqual(100);
    expect(Math.abs(s.memory.total - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
    expect(s.disk.total).toBeGreaterThan(0);
    expect(s.disk.path).toBe(dir);
    expect(s.network.rxBps).toBeGreaterThanOrEqual(0);
    expect(s.gpus.map((g) => [g.index, g.util])).toEqual([
      [0, 100],
      [1, 98],
    ]);
    // ticks are spaced by the interval, not bunched
    const gaps = snapshots.slice(1).map((x, i) => x.ts - snapshots[i]!.ts);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(80);
  });

  it('reports a missing nvidia-smi once, not on every tick, and keeps sampling', async () => {
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const sampler = startSampler({ intervalMs: 50, path: dir, nvidiaSmi: path.join(dir, 'no-such-smi'), onSample: (s) => void snapshots.push(s), onWarning: (m) => warnings.push(m) });
    const t0 = Date.now();
    while (snapshots.length < 5 && Date.now() - t0 < 10_000) await wait(20);
    await sampler.stop();
    expect(snapshots.length).toBeGreaterThanOrEqual(5);
    expect(snapshots.every((s) => s.gpus.length === 0)).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not found/);
  });

  it('reports a failing nvidia-smi once, and once more when it recovers', async () => {
    const flag = path.join(dir, 'fail-flag');
    writeFileSync(flag, '');
    const smi = fakeSmi('smi-flaky', `if [ -f ${flag} ]; then echo broken >&2; exit 3; fi\necho "0, GPU, GPU-1, 5, 1, 2, 3, 4, 5, 6, 7"`);
    const snapshots: SystemSnapshot[] = [];
    const warnings: string[] = [];
    const sampler = startSampler({ intervalMs: 40, path: dir, nvidiaSmi: smi, onSample: (s) => void snapshots.push(s), onWarning: (m) => warnings.push(m) });
    const t0 = Date.now();
    while (snapshots.length < 4 && Date.now() - t0 < 10_000) await wait(20);
    rmSync(flag);
    while (!snapshots.some((s) => s.gpus.length === 1) && Date.now() - t0 < 10_000) await wait(20);
    await sampler.stop();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/exit 3.*broken/);
    expect(warnings[1]).toMatch(/resumed/);
  });

  it('survives an onSample that throws, reporting it once', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const sampler = startSampler({
      intervalMs: 30,
      path: dir,
      nvidiaSmi: path.join(dir, 'none'),
      onSample: () => {
        calls++;
        throw new Error('database down');
      },
      onWarning: (m) => warnings.push(m),
    });
    const t0 = Date.now();
    while (calls < 4 && Date.now() - t0 < 10_000) await wait(20);
    await sampler.stop();
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(warnings.filter((w) => /database down/.test(w))).toHaveLength(1);
  });
});
