import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hookStats, openActivationWriter, readManifest, readShard, type WriterOptions } from './store.ts';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'loupe-acts-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const T = 8; // tokens a window
const D = { a: 6, b: 4 };
/** Deterministic rows of window w: the values any run would compute for it. */
function windowRows(w: number, hook: 'a' | 'b', skipFirst: boolean): Float32Array {
  const d = D[hook];
  const rows = skipFirst ? T - 1 : T;
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) out[r * d + i] = Math.sin(w * 1.3 + r * 0.7 + i * 0.11 + (hook === 'b' ? 5 : 0)) * (1 + i);
  return out;
}
function positions(w: number, skipFirst: boolean): BigInt64Array {
  return BigInt64Array.from({ length: skipFirst ? T - 1 : T }, (_, r) => BigInt(w * T + r + (skipFirst ? 1 : 0)));
}

const options = (dtype: 'f32' | 'f16'): WriterOptions => ({
  hooks: [
    { hook: 'blocks.0.hook_resid_post', rowShape: [D.a] },
    { hook: 'blocks.1.attn.hook_z', rowShape: [2, 2] },
  ],
  dtype,
  windowsTotal: 10,
  windowsPerShard: 4,
  settings: { model: 'm', dataset: 'd', contextLength: T },
});

/** Appends windows [from, to) two at a time (the batch), stopping early when asked. */
async function run(dir: string, dtype: 'f32' | 'f16', stopAfter?: number): Promise<void> {
  const w = await openActivationWriter(dir, options(dtype));
  for (let first = w.windowsDone; first < 10; first += 2) {
    if (stopAfter !== undefined && first >= stopAfter) return; // the process dies here: nothing else is written
    const n = Math.min(2, 10 - first);
    const parts = Array.from({ length: n }, (_, k) => first + k);
    const cat = (hook: 'a' | 'b') => {
      const chunks = parts.map((x) => windowRows(x, hook, true));
      const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
      let at = 0;
      for (const c of chunks) out.set(c, (at += c.length) - c.length);
      return out;
    };
    const pos = new BigInt64Array(n * (T - 1));
    parts.forEach((x, k) => pos.set(positions(x, true), k * (T - 1)));
    await w.append(n, { 'blocks.0.hook_resid_post': { data: cat('a'), rows: n * (T - 1) }, 'blocks.1.attn.hook_z': { data: cat('b'), rows: n * (T - 1) } }, pos);
    expect(w.bufferedRows()).toBeLessThanOrEqual(2 * 4 * (T - 1));
  }
  await w.finish();
}

async function snapshot(dir: string): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const sub of ['blocks.0.hook_resid_post', 'blocks.1.attn.hook_z']) {
    for (const f of (await readdir(path.join(dir, sub))).sort()) out[`${sub}/${f}`] = await readFile(path.join(dir, sub, f));
  }
  const m = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  delete m.updatedAt;
  out['manifest.json'] = Buffer.from(JSON.stringify(m));
  return out;
}

describe('activation store', () => {
  it('stores every row with its position, in shards of whole windows, and exact statistics', async () => {
    const dir = await tmp();
    await run(dir, 'f32');
    const m = (await readManifest(dir))!;
    expect(m.complete).toBe(true);
    expect(m.windowsDone).toBe(10);
    const h = m.hooks['blocks.0.hook_resid_post']!;
    expect(h.shards.map((s) => [s.firstWindow, s.windows, s.rows])).toEqual([[0, 4, 28], [4, 4, 28], [8, 2, 14]]);
    expect(m.hooks['blocks.1.attn.hook_z']!.rowShape).toEqual([2, 2]);
    // read back equals what was written, row by row, with positions
    for (let s = 0; s < h.shards.length; s++) {
      const shard = await readShard(dir, h, s);
      for (let k = 0; k < h.shards[s]!.windows; k++) {
        const w = h.shards[s]!.firstWindow + k;
        expect(Array.from(shard.data.subarray(k * (T - 1) * D.a, (k + 1) * (T - 1) * D.a))).toEqual(Array.from(windowRows(w, 'a', true)));
        expect(Array.from(shard.positions.subarray(k * (T - 1), (k + 1) * (T - 1)))).toEqual(Array.from(positions(w, true)));
      }
    }
    // statistics against a direct computation
    const all: number[][] = [];
    for (let w = 0; w < 10; w++) {
      const r = windowRows(w, 'a', true);
      for (let i = 0; i < T - 1; i++) all.push(Array.from(r.subarray(i * D.a, (i + 1) * D.a)));
    }
    const stats = hookStats(h);
    expect(stats.count).toBe(70);
    for (let i = 0; i < D.a; i++) {
      const mean = all.reduce((s, r) => s + r[i]!, 0) / all.length;
      const v = all.reduce((s, r) => s + (r[i]! - mean) ** 2, 0) / all.length;
      expect(stats.mean[i]).toBeCloseTo(mean, 10);
      expect(stats.variance[i]).toBeCloseTo(v, 9);
    }
    const meanNorm = all.reduce((s, r) => s + Math.hypot(...r), 0) / all.length;
    expect(stats.meanNorm).toBeCloseTo(meanNorm, 10);
  });

  it('a run killed mid-way resumes to the same bytes as an uninterrupted one', async () => {
    const whole = await tmp();
    await run(whole, 'f16');
    const killed = await tmp();
    await run(killed, 'f16', 6); // windows 0..5 appended: shard 0 written, windows 4-5 lost with the process
    expect((await readManifest(killed))!.windowsDone).toBe(4);
    await run(killed, 'f16');
    expect(await snapshot(killed)).toEqual(await snapshot(whole));
  });

  it('stores f16 within half a unit in the last place', async () => {
    const dir = await tmp();
    await run(dir, 'f16');
    const m = (await readManifest(dir))!;
    const shard = await readShard(dir, m.hooks['blocks.0.hook_resid_post']!, 0);
    const want = windowRows(0, 'a', true);
    for (let i = 0; i < want.length; i++) expect(Math.abs(shard.data[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -11 + 1e-7);
  });

  it('refuses to resume with other settings, naming the setting', async () => {
    const dir = await tmp();
    await run(dir, 'f32', 4);
    await expect(openActivationWriter(dir, { ...options('f32'), settings: { model: 'm', dataset: 'd', contextLength: 16 } })).rejects.toThrow(/setting "contextLength" was 8 and is now 16/);
  });
});
