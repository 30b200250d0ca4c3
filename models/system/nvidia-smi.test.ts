import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { NVIDIA_SMI_FIELDS, parseNvidiaSmiCsv, readGpus } from './nvidia-smi.ts';

const fixturePath = (name: string) => path.join(import.meta.dirname, 'fixtures', name);
const fixture = (name: string) => readFileSync(fixturePath(name), 'utf8');
const MIB = 1024 * 1024;

describe('parseNvidiaSmiCsv (recorded samples)', () => {
  it('reads one H100 with every field, memory in bytes', () => {
    const [gpu, ...rest] = parseNvidiaSmiCsv(fixture('nvidia-smi-h100.csv'), 'h', 5);
    expect(rest).toEqual([]);
    expect(gpu).toEqual({
      host: 'h',
      ts: 5,
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-5f8c1d2e-0a4b-4c3d-9e8f-123456789abc',
      util: 37,
      memUsed: 15234 * MIB,
      memTotal: 81559 * MIB,
      temperature: 41,
      power: 312.45,
      powerLimit: 700,
      smClock: 1980,
      memClock: 2619,
    });
  });

  it('reads eight A100s in index order, ignoring the trailing blank line', () => {
    const gpus = parseNvidiaSmiCsv(fixture('nvidia-smi-8xa100.csv'), 'h', 0);
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gpus[2]).toMatchObject({ util: 0, memUsed: 4 * MIB, power: 61.2, smClock: 210 });
    expect(gpus[7]).toMatchObject({ uuid: 'GPU-00000000-1111-2222-3333-444444444447', util: 13, memUsed: 1025 * MIB, temperature: 37, power: 91.5 });
    expect(gpus.every((g) => g.memTotal === 81920 * MIB && g.name === 'NVIDIA A100-SXM4-80GB' && g.powerLimit === 400)).toBe(true);
  });

  it('turns [N/A] and [Not Supported] into null', () => {
    const [a, b] = parseNvidiaSmiCsv(fixture('nvidia-smi-consumer-na.csv'), 'h', 0);
    expect(a).toMatchObject({ name: 'NVIDIA GeForce GTX 1050 Ti', util: 3, memUsed: 512 * MIB, power: null, powerLimit: null, temperature: 38, smClock: 139 });
    expect(b).toMatchObject({ name: 'Quadro P400', uuid: null, util: null, temperature: null, power: null, powerLimit: null, memUsed: 120 * MIB, smClock: 1227, memClock: 2005 });
  });

  it('skips short, garbage and index-less lines and keeps empty cells as null', () => {
    const gpus = parseNvidiaSmiCsv(fixture('nvidia-smi-missing-fields.csv'), 'h', 0);
    expect(gpus.map((g) => g.index)).toEqual([0, 2]);
    expect(gpus[0]).toMatchObject({ util: 7, memUsed: 300 * MIB, power: 27.51 });
    expect(gpus[1]).toMatchObject({ util: null, temperature: null, power: 26, memUsed: 200 * MIB, memTotal: 15360 * MIB });
  });

  it('reads values that still carry their units (output without nounits)', () => {
    const [g] = parseNvidiaSmiCsv(fixture('nvidia-smi-h100-units.csv'), 'h', 0);
    expect(g).toMatchObject({ util: 35, memUsed: 40960 * MIB, memTotal: 81559 * MIB, temperature: 44, power: 69.27, powerLimit: 700, smClock: 1980, memClock: 2619 });
  });

  it('takes N/A, trailing spaces and CRLF line ends', () => {
    const csv = '0, Tesla V100-SXM2-16GB  , GPU-1  , N/A, 0, 16384, 30, N/A, 300.00, 135, 877  \r\n\r\n';
    expect(parseNvidiaSmiCsv(csv, 'h', 0)).toEqual([
      { host: 'h', ts: 0, index: 0, name: 'Tesla V100-SXM2-16GB', uuid: 'GPU-1', util: null, memUsed: 0, memTotal: 16384 * MIB, temperature: 30, power: null, powerLimit: 300, smClock: 135, memClock: 877 },
    ]);
  });

  it('returns what it can from garbage and never throws', () => {
    expect(parseNvidiaSmiCsv('', 'h', 0)).toEqual([]);
    expect(parseNvidiaSmiCsv("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 'h', 0)).toEqual([]);
    // a header (nvidia-smi run without noheader) has no numeric index
    expect(parseNvidiaSmiCsv(`${NVIDIA_SMI_FIELDS.join(', ')}\n${fixture('nvidia-smi-h100.csv')}`, 'h', 0).map((g) => g.index)).toEqual([0]);
    expect(parseNvidiaSmiCsv(',,,,,,,,,,\n-1, a, b, 1, 1, 1, 1, 1, 1, 1, 1\n1.5, a, b, 1, 1, 1, 1, 1, 1, 1, 1', 'h', 0)).toEqual([]);
    expect(parseNvidiaSmiCsv('\u0000\u0001garbage, , ,', 'h', 0)).toEqual([]);
  });
});

describe('readGpus', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-smi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };

  it('runs the binary with the query and parses what it prints', async () => {
    const args = path.join(dir, 'args.txt');
    const bin = script('smi-ok', `echo "$@" > '${args}'\ncat '${fixturePath('nvidia-smi-8xa100.csv')}'`);
    const r = await readGpus('h', 7, { binary: bin });
    expect(r.error).toBeUndefined();
    expect(r.missing).toBeUndefined();
    expect(r.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.gpus[0]).toMatchObject({ host: 'h', ts: 7, util: 100, memUsed: 79012 * MIB });
    expect(readFileSync(args, 'utf8').trim()).toBe(`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')} --format=csv,noheader,nounits`);
  });

  it('reports a binary that exits non-zero, with what it printed', async () => {
    const r = await readGpus('h', 1, { binary: script('smi-fail', 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9') });
    expect(r.gpus).toEqual([]);
    expect(r.missing).toBeUndefined();
    expect(r.error).toMatch(/exit 9.*couldn't communicate/);
  });

  it('reports a missing binary as missing', async () => {
    const r = await readGpus('h', 1, { binary: path.join(dir, 'does-not-exist') });
    expect(r).toMatchObject({ gpus: [], missing: true });
    expect(r.error).toMatch(/not found: GPU metrics disabled/);
  });

  it('kills a binary that hangs after the timeout', async () => {
    const started = performance.now();
    const r = await readGpus('h', 1, { binary: script('smi-hang', 'exec sleep 30'), timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(r.gpus).toEqual([]);
    expect(r.missing).toBeUndefined();
    expect(r.error).toMatch(/timed out after 200 ms/);
  });

  it('answers after the timeout even when a child of the binary keeps its output open', async () => {
    const started = performance.now();
    const r = await readGpus('h', 1, { binary: script('smi-stuck', 'sleep 3\nexit 0'), timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(2500);
    expect(r).toMatchObject({ gpus: [], error: expect.stringMatching(/timed out/) });
  });

  it('answers by its own deadline when the process never closes (stuck in the kernel)', async () => {
    vi.resetModules();
    // an execFile whose callback never comes, as with a process in uninterruptible sleep
    vi.doMock('node:child_process', () => ({ execFile: () => ({}) }));
    try {
      const { readGpus: readStuck } = await import('./nvidia-smi.ts');
      const started = performance.now();
      const r = await readStuck('h', 1, { timeoutMs: 100 });
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      expect(elapsed).toBeLessThan(3000);
      expect(r).toEqual({ gpus: [], error: 'nvidia-smi timed out after 100 ms' });
    } finally {
      vi.doUnmock('node:child_process');
      vi.resetModules();
    }
  });
});
