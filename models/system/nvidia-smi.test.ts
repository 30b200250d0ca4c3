import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNvidiaSmiCsv, readGpus } from './nvidia-smi.ts';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');
const MIB = 1024 * 1024;

describe('nvidia-smi parsing (recorded samples)', () => {
  it('reads one H100 with every field', () => {
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

  it('reads eight GPUs in index order, ignoring the trailing blank line', () => {
    const gpus = parseNvidiaSmiCsv(fixture('nvidia-smi-8xa100.csv'), 'h', 0);
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gpus[2]).toMatchObject({ util: 0, memUsed: 4 * MIB, smClock: 210 });
    expect(gpus.every((g) => g.memTotal === 81920 * MIB && g.name === 'NVIDIA A100-SXM4-80GB')).toBe(true);
  });

  it('turns [N/A] and [Not Supported] into null', () => {
    const [a, b] = parseNvidiaSmiCsv(fixture('nvidia-smi-consumer-na.csv'), 'h', 0);
    expect(a).toMatchObject({ util: 3, power: null, powerLimit: null, temperature: 38 });
    expect(b).toMatchObject({ name: 'Quadro P400', uuid: null, util: null, temperature: null, power: null, memUsed: 120 * MIB, smClock: 1227 });
  });

  it('skips short, garbage and index-less lines and keeps empty cells as null', () => {
    const gpus = parseNvidiaSmiCsv(fixture('nvidia-smi-missing-fields.csv'), 'h', 0);
    expect(gpus.map((g) => g.index)).toEqual([0, 2]);
    expect(gpus[1]).toMatchObject({ util: null, temperature: null, power: 26, memUsed: 200 * MIB });
  });

  it('accepts values that still carry units', () => {
    const [g] = parseNvidiaSmiCsv('0, X, GPU-1, 35 %, 81559 MiB, 81559 MiB, 40, 69.27 W, 700.00 W, 1980 MHz, 2619 MHz', 'h', 0);
    expect(g).toMatchObject({ util: 35, memUsed: 81559 * MIB, power: 69.27, smClock: 1980 });
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
    const csv = path.join(dir, 'two.csv');
    writeFileSync(csv, fixture('nvidia-smi-8xa100.csv').split('\n').slice(0, 2).join('\n'));
    const args = path.join(dir, 'args.txt');
    const bin = script('smi-ok', `echo "$@" > ${args}\ncat ${csv}`);
    const r = await readGpus('h', 1, bin);
    expect(r.error).toBeUndefined();
    expect(r.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(readFileSync(args, 'utf8')).toMatch(/^--query-gpu=index,name,uuid,utilization\.gpu,.* --format=csv,noheader,nounits/);
  });

  it('reports a failing binary and a missing one without throwing', async () => {
    const failing = await readGpus('h', 1, script('smi-fail', 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2\nexit 9'));
    expect(failing.gpus).toEqual([]);
    expect(failing.missing).toBeUndefined();
    expect(failing.error).toMatch(/exit 9.*couldn't communicate/);
    const missing = await readGpus('h', 1, path.join(dir, 'does-not-exist'));
    expect(missing).toMatchObject({ gpus: [], missing: true });
    expect(missing.error).toMatch(/not found/);
  });
});
