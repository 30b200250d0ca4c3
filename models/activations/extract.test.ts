/**
 * Extraction on the demo model: stored rows equal the model's hook values
 * for the same tokens, skipped token ids leave no rows, and an extraction
 * aborted mid-way resumes to the same bytes as an uninterrupted one.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../model.ts';
import { extractActivations, type WindowSource } from './extract.ts';
import { openActivationWriter, readManifest, readShard } from './store.ts';

const DEMO = path.resolve(import.meta.dirname, '../../demo/models/tiny-gpt2-debian-6l');
const T = 32;
const WINDOWS = 24;
const HOOKS = ['blocks.2.hook_resid_post', 'blocks.1.mlp.hook_post'];
const BOS = 0;

/** Windows over synthetic token ids; every 5th window starts with BOS. */
function source(): WindowSource {
  const tokens = BigInt64Array.from({ length: WINDOWS * T }, (_, i) => (i % (5 * T) === 0 ? BigInt(BOS) : BigInt(1 + ((i * 2654435761) % 8191))));
  return {
    count: WINDOWS,
    length: T,
    async read(first, n) {
      return { ids: tokens.slice(first * T, (first + n) * T), starts: BigInt64Array.from({ length: n }, (_, k) => BigInt((first + k) * T)) };
    },
  };
}

let model: LoadedModel;
const dirs: string[] = [];
beforeAll(async () => {
  model = await loadModel(DEMO, { dtype: 'fp32', device: 'cpu' });
});
afterAll(async () => {
  await model.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'loupe-extract-'));
  dirs.push(d);
  return d;
}

const writerOptions = { hooks: [{ hook: HOOKS[0]!, rowShape: [256] }, { hook: HOOKS[1]!, rowShape: [1024] }], dtype: 'f32' as const, windowsTotal: WINDOWS, windowsPerShard: 8, settings: { t: T } };

describe('extractActivations', () => {
  it('stores exactly the hook values of each token, with its position, skipping BOS', async () => {
    const dir = await tmp();
    const writer = await openActivationWriter(dir, writerOptions);
    const seen: number[] = [];
    const end = await extractActivations({ model, hooks: HOOKS, windows: source(), windowsTotal: WINDOWS, batchSize: 4, writer, skipTokenIds: [BOS], onProgress: (p) => seen.push(p.windowsDone) });
    await writer.finish();
    expect(seen).toEqual([4, 8, 12, 16, 20, 24]);
    const bosWindows = Math.ceil(WINDOWS / 5);
    expect(end.rows).toBe(WINDOWS * T - bosWindows);
    const m = (await readManifest(dir))!;
    expect(m.hooks[HOOKS[0]!]!.rows).toBe(end.rows);

    // an independent pass: the model on each window alone
    const src = source();
    for (const hook of HOOKS) {
      const h = m.hooks[hook]!;
      const rows: Float32Array[] = [];
      const pos: bigint[] = [];
      for (let s = 0; s < h.shards.length; s++) {
        const shard = await readShard(dir, h, s);
        for (let r = 0; r < shard.rows; r++) rows.push(shard.data.subarray(r * h.d, (r + 1) * h.d));
        pos.push(...shard.positions);
      }
      let k = 0;
      for (let w = 0; w < WINDOWS; w++) {
        const { ids } = await src.read(w, 1);
        const want = (await model.forward(ids, [1, T], [hook]))[hook]!.data;
        for (let t = 0; t < T; t++) {
          if (Number(ids[t]) === BOS) continue;
          expect(pos[k]).toBe(BigInt(w * T + t));
          const got = rows[k++]!;
          let worst = 0;
          for (let i = 0; i < h.d; i++) worst = Math.max(worst, Math.abs(got[i]! - want[t * h.d + i]!));
          expect(worst).toBeLessThan(1e-4);
        }
      }
      expect(k).toBe(rows.length);
    }
  });

  it('an extraction stopped mid-way resumes to the same bytes as an uninterrupted one', async () => {
    const whole = await tmp();
    let w = await openActivationWriter(whole, writerOptions);
    await extractActivations({ model, hooks: HOOKS, windows: source(), windowsTotal: WINDOWS, batchSize: 4, writer: w, skipTokenIds: [BOS] });
    await w.finish();

    const resumed = await tmp();
    const ac = new AbortController();
    w = await openActivationWriter(resumed, writerOptions);
    await expect(
      extractActivations({ model, hooks: HOOKS, windows: source(), windowsTotal: WINDOWS, batchSize: 4, writer: w, skipTokenIds: [BOS], signal: ac.signal, onProgress: (p) => p.windowsDone >= 12 && ac.abort(new Error('killed')) }),
    ).rejects.toThrow(/killed/);
    expect((await readManifest(resumed))!.windowsDone).toBe(8); // windows 8-11 were in memory only
    w = await openActivationWriter(resumed, writerOptions);
    expect(w.windowsDone).toBe(8);
    await extractActivations({ model, hooks: HOOKS, windows: source(), windowsTotal: WINDOWS, batchSize: 4, writer: w, skipTokenIds: [BOS] });
    await w.finish();
    for (const hook of HOOKS) {
      const files = (await readdir(path.join(whole, hook))).sort();
      expect((await readdir(path.join(resumed, hook))).sort()).toEqual(files);
      for (const f of files) expect((await readFile(path.join(resumed, hook, f))).equals(await readFile(path.join(whole, hook, f))), `${hook}/${f}`).toBe(true);
    }
  });

  it('refuses hooks that are not one row per token', async () => {
    const w = await openActivationWriter(await tmp(), writerOptions);
    await expect(extractActivations({ model, hooks: ['blocks.0.attn.hook_pattern'], windows: source(), windowsTotal: 4, batchSize: 4, writer: w })).rejects.toThrow(/not one row per token/);
  });
});
