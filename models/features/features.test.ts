/**
 * Discovery and analysis on real data: the demo dataset tokenized to disk, the demo
 * model's blocks.2.hook_resid_post extracted with dataset positions, a small
 * TopK SAE trained on it; then every statistic and example is checked against
 * a direct computation over all stored rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractActivations } from '../activations/extract.ts';
import { openActivationWriter, readManifest, readShard } from '../activations/store.ts';
import { openTokenStore, readDocOffsets, type TokenStore } from '../datasets/format.ts';
import { openDocuments } from '../datasets/sources.ts';
import { tokenizeDataset } from '../datasets/tokenize.ts';
import { sequenceWindows } from '../datasets/windows.ts';
import { loadModel } from '../model.ts';
import { loadSae } from '../sae/saelens.ts';
import { trainSae } from '../sae/train.ts';
import { loadTokenizer } from '../tokenizer.ts';
import { discoverFeatures, type DiscoverCheckpoint, type FeatureSummary } from './discover.ts';
import { readCheckpoint, writeCheckpoint, type StagedKey } from './staging.ts';
import { heuristicLabel, tokenKey } from './label.ts';
import { QUANTILE_BANDS, QUANTILE_POLICY } from './quantiles.ts';
import { ablate, ablationIntervention, correlations } from './analysis.ts';
import { logitLens, readUnembedding } from './lens.ts';
import { openSafetensors, toFloat32 } from '../safetensors.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'demo/models/tiny-gpt2-debian-6l');
const DATASET = path.join(ROOT, 'demo/datasets/debian-english-mix-heldout.jsonl');
const HOOK = 'blocks.2.hook_resid_post';
const T = 64;

let dir: string;
let tokens: TokenStore;
let offsets: Float64Array;
let features: FeatureSummary[];
let rows: number;
let sae: Awaited<ReturnType<typeof loadSae>>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-discover-'));
  const tok = await loadTokenizer(DEMO);
  await tokenizeDataset(await openDocuments([DATASET]), tok, path.join(dir, 'data'), { maxTokens: 16_000 });
  tokens = await openTokenStore(path.join(dir, 'data'));
  offsets = await readDocOffsets(path.join(dir, 'data'));
  const win = sequenceWindows(offsets, { contextLength: T, acrossDocuments: true });
  const model = await loadModel(DEMO, { device: 'cpu' });
  const acts = path.join(dir, 'acts');
  const writer = await openActivationWriter(acts, { hooks: [{ hook: HOOK, rowShape: [256] }], dtype: 'f32', windowsTotal: win.count, windowsPerShard: 64, settings: { contextLength: T } });
  await extractActivations({
    model,
    hooks: [HOOK],
    windows: {
      count: win.count,
      length: T,
      async read(first, n) {
        const ids = new BigInt64Array(n * T);
        for (let k = 0; k < n; k++) ids.set(Array.from(await tokens.readTokens(win.start[first + k]!, T), BigInt), k * T);
        return { ids, starts: BigInt64Array.from({ length: n }, (_, k) => BigInt(win.start[first + k]!)) };
      },
    },
    windowsTotal: win.count,
    batchSize: 32,
    writer,
    skipTokenIds: [tok.eosId!],
  });
  await writer.finish();
  await model.close();
  await trainSae({ activations: acts, hook: HOOK, out: path.join(dir, 'sae'), config: { architecture: 'topk', k: 16, dSae: 256, lr: 2e-3, batchSize: 512, totalTokens: 80 * 512, metricsEvery: 80 } });
  sae = await loadSae(path.join(dir, 'sae'));
  const r = await discoverFeatures({ activations: acts, hook: HOOK, cfg: sae.cfg, weights: sae.weights, tokens, docOffsets: offsets, topK: 8, left: 6, right: 3, chunkRows: 300 });
  features = r.features;
  rows = r.rows;
}, 180_000);

afterAll(async () => {
  await tokens?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Every stored row's activations of one feature, computed directly from the SAE weights. */
async function direct(feature: number): Promise<{ values: Float64Array; positions: number[] }> {
  const m = (await readManifest(path.join(dir, 'acts')))!;
  const h = m.hooks[HOOK]!;
  const { W_enc, b_enc, b_dec } = sae.weights;
  const S = sae.cfg.dSae;
  const values: number[] = [];
  const positions: number[] = [];
  for (let s = 0; s < h.shards.length; s++) {
    const shard = await readShard(path.join(dir, 'acts'), h, s);
    for (let r = 0; r < shard.rows; r++) {
      const pre = new Float64Array(S);
      for (let f = 0; f < S; f++) pre[f] = b_enc[f]!;
      for (let i = 0; i < h.d; i++) {
        const xi = shard.data[r * h.d + i]! - b_dec[i]!;
        for (let f = 0; f < S; f++) pre[f]! += xi * W_enc[i * S + f]!;
      }
      const kth = [...pre].sort((a, b) => b - a)[sae.cfg.k! - 1]!;
      values.push(pre[feature]! >= kth ? Math.max(0, pre[feature]!) : 0);
      positions.push(Number(shard.positions[r]!));
    }
  }
  return { values: Float64Array.from(values), positions };
}

describe('discoverFeatures', () => {
  it('frequency, mean, max and examples equal a direct computation over every stored row', async () => {
    expect(features).toHaveLength(256);
    const busy = [...features].sort((a, b) => b.frequency - a.frequency)[3]!;
    const { values, positions } = await direct(busy.index);
    expect(values.length).toBe(rows);
    const active = [...values].filter((v) => v > 0);
    expect(busy.frequency).toBeCloseTo(active.length / rows, 3);
    expect(busy.meanActivation).toBeCloseTo(active.reduce((a, b) => a + b, 0) / active.length, 3);
    expect(busy.maxActivation).toBeCloseTo(Math.max(...active), 3);
    expect(busy.histogram.counts.reduce((a, b) => a + b, 0)).toBeCloseTo(active.length, -1);
    // the top example is the global peak; examples descend and never share a window
    const top = busy.examples[0]!;
    expect(top.maxValue).toBeCloseTo(busy.maxActivation, 4);
    expect(positions[values.indexOf(Math.max(...values))]).toBe(top.position);
    for (let i = 1; i < busy.examples.length; i++) {
      expect(busy.examples[i]!.maxValue).toBeLessThanOrEqual(busy.examples[i - 1]!.maxValue);
      for (let j = 0; j < i; j++) expect(Math.abs(busy.examples[i]!.position - busy.examples[j]!.position)).toBeGreaterThanOrEqual(10);
    }
    // each window: the dataset's tokens, and the feature's value at every token
    const byPos = new Map(positions.map((p, i) => [p, values[i]!]));
    for (const e of busy.examples) {
      expect(e.tokens).toEqual(Array.from(await tokens.readTokens(e.start, e.tokens.length)));
      expect(e.values[e.position - e.start]).toBeCloseTo(e.maxValue, 4);
      e.values.forEach((v, k) => expect(v).toBeCloseTo(byPos.get(e.start + k) ?? 0, 3));
    }

    // samples from each quartile of its active values: the share of active values below a sample's peak is its band's
    // (the cuts come from the 10-bins-a-decade histogram: a bin's worth of slack); windows as for the top examples
    const sorted = [...active].sort((a, b) => a - b);
    const below = (v: number) => sorted.filter((x) => x < v - 1e-6).length / sorted.length;
    expect(new Set(busy.quantiles.map((q) => q.band)).size).toBe(QUANTILE_BANDS.length);
    for (const q of busy.quantiles) {
      const [from, to] = QUANTILE_BANDS[q.band!]!;
      expect(q.maxValue).toBeCloseTo(byPos.get(q.position)!, 3);
      expect(below(q.maxValue)).toBeGreaterThanOrEqual(from - 0.1);
      expect(below(q.maxValue)).toBeLessThanOrEqual(to + 0.1);
      expect(q.tokens).toEqual(Array.from(await tokens.readTokens(q.start, q.tokens.length)));
      q.values.forEach((v, k) => expect(v).toBeCloseTo(byPos.get(q.start + k) ?? 0, 3));
      for (const other of busy.quantiles) if (other !== q && other.band === q.band) expect(Math.abs(other.position - q.position)).toBeGreaterThanOrEqual(10);
    }
    expect(busy.quantiles.filter((q) => q.band === 0).length).toBe(QUANTILE_POLICY.SAMPLES);
  }, 120_000);

  it('labels a feature by the token its top examples share, scored by the share that agree', async () => {
    const tok = await loadTokenizer(DEMO);
    const show = (id: number) => tok.tokenStrings([id])[0]!;
    const ex = (peak: number, prev: number) => ({ rank: 0, maxValue: 1, position: 11, start: 10, tokens: [prev, peak, 5], values: [0, 1, 0] });
    const moses = tok.encode(' Moses')[0]!;
    const the = tok.encode(' the')[0]!;
    expect(heuristicLabel([ex(moses, 1), ex(moses, 2), ex(moses, 3), ex(7, 4)], show)).toMatchObject({ label: '“ Moses”', score: 0.75, token: moses, kind: 'token' });
    expect(heuristicLabel([ex(1, the), ex(2, the), ex(3, the), ex(4, 9)], show)).toMatchObject({ label: 'after “ the”', score: 0.75, kind: 'after' });
    // variants of one word piece (case, a leading space) count as one token; the label quotes the most common
    const [sw, Sw, bareSw] = [' Sw', 'Sw', 'sw'].map((t) => { const ids = tok.encode(t); expect(ids).toHaveLength(1); return ids[0]!; });
    expect(heuristicLabel([ex(Sw!, 1), ex(sw!, 2), ex(sw!, 3), ex(bareSw!, 4), ex(moses, 5)], show)).toMatchObject({ label: '“ Sw”', score: 0.8, token: sw, kind: 'token' });
    expect(tokenKey(' Sw')).toBe('sw');
    expect(tokenKey('\n')).toBe('\n');
    // on the discovered features, the score is the share of examples peaking on (or following) the label's token, variants included
    const f = features.find((x) => x.examples.length === 8)!;
    const l = heuristicLabel(f.examples, show);
    const back = l.kind === 'token' ? 0 : 1;
    const agree = f.examples.filter((e) => e.position - e.start >= back && tokenKey(show(e.tokens[e.position - e.start - back]!)) === tokenKey(show(l.token!))).length;
    expect(l.score).toBeCloseTo(agree / 8, 10);
  });
});

describe('a discovery interrupted and resumed from its checkpoint', () => {
  const settings = { topK: 8, left: 6, right: 3 };
  const key: StagedKey = { saeId: 'sae', source: { extractionId: 'extraction' }, settings };
  const options = () => ({ activations: path.join(dir, 'acts'), hook: HOOK, cfg: sae.cfg, weights: sae.weights, tokens, docOffsets: offsets, ...settings, chunkRows: 300 });

  /** Runs with a checkpoint after every shard (through the staging file) until `stop` says so, then resumes from the file. */
  async function interruptedAt(folder: string, stop: (s: DiscoverCheckpoint) => boolean) {
    const staging = path.join(dir, folder);
    const save = async (s: DiscoverCheckpoint) => {
      await writeCheckpoint(staging, key, s);
      if (stop(s)) abort.abort(new Error('stopped here'));
    };
    const abort = new AbortController();
    await expect(discoverFeatures({ ...options(), signal: abort.signal, checkpoint: { everyUnits: 1, everyMs: 0, save } })).rejects.toThrow('stopped here');
    const state = await readCheckpoint(staging, key);
    expect(state).not.toBeNull();
    const progress: [number, string][] = [];
    const resumed = await discoverFeatures({ ...options(), resume: state, checkpoint: { everyUnits: 1, everyMs: 0, save: (s) => writeCheckpoint(staging, key, s) }, onProgress: (done, _total, phase) => progress.push([done, phase]) });
    return { state: state!, resumed, progress };
  }

  it('mid-scan: goes on from the next shard and gives exactly the features of a straight run', async () => {
    const shards = (await readManifest(path.join(dir, 'acts')))!.hooks[HOOK]!.shards;
    expect(shards.length).toBeGreaterThanOrEqual(3);
    const { state, resumed, progress } = await interruptedAt('scan-stop', (s) => s.phase === 'scan' && s.unit === 2);
    expect(state).toMatchObject({ phase: 'scan', unit: 2, units: shards.length, done: shards[0]!.rows + shards[1]!.rows, rows: shards[0]!.rows + shards[1]!.rows, values: null });
    // the resumed run started after the two shards
    expect(progress[0]).toEqual([state.done + Math.min(300, shards[2]!.rows), 'scan']);
    // every field equal, floats included
    expect(resumed.rows).toBe(rows);
    expect(resumed.features).toEqual(features);
  }, 120_000);

  it('mid-examples: goes on with the example values gathered so far and gives exactly the features of a straight run', async () => {
    const shards = (await readManifest(path.join(dir, 'acts')))!.hooks[HOOK]!.shards;
    const { state, resumed, progress } = await interruptedAt('examples-stop', (s) => s.phase === 'examples' && s.unit === 2);
    expect(state).toMatchObject({ phase: 'examples', unit: 2, rows });
    expect(state.values!.some((v) => v > 0)).toBe(true);
    expect(progress.every(([, phase]) => phase === 'examples')).toBe(true);
    expect(progress[0]).toEqual([state.done + shards[2]!.rows, 'examples']);
    expect(resumed.rows).toBe(rows);
    expect(resumed.features).toEqual(features);
  }, 120_000);

  it('uses a checkpoint only when it was made from the same SAE, source and settings', async () => {
    const staging = path.join(dir, 'scan-stop');
    expect(await readCheckpoint(staging, key)).not.toBeNull();
    expect(await readCheckpoint(staging, { ...key, saeId: 'other' })).toBeNull();
    expect(await readCheckpoint(staging, { ...key, source: { extractionId: 'other' } })).toBeNull();
    expect(await readCheckpoint(staging, { ...key, settings: { ...settings, right: 4 } })).toBeNull();
    expect(await readCheckpoint(path.join(dir, 'nowhere'), key)).toBeNull();
  });
});

describe('analysis', () => {
  it("logit lens: (W_dec[f] − mean) ⊙ γ · W_E (norm=weight) and W_dec[f] · W_E (norm=none), from the checkpoint, with no bias", async () => {
    const f = [...features].sort((a, b) => b.frequency - a.frequency)[0]!.index;
    const dir = sae.weights.W_dec.slice(f * 256, (f + 1) * 256);
    const head = await readUnembedding(DEMO);
    const ck = await openSafetensors(path.join(DEMO, 'model.safetensors'));
    const read = async (n: string) => toFloat32(ck.tensors.get(n)!.dtype, await ck.read(n));
    const names = [...ck.tensors.keys()];
    const pre = names.some((n) => n.startsWith('transformer.')) ? 'transformer.' : '';
    const gain = await read(`${pre}ln_f.weight`);
    const E = await read(`${pre}wte.weight`);
    await ck.close();
    const mean = dir.reduce((a, v) => a + v, 0) / 256;
    const expected = {
      weight: Array.from(dir, (v, i) => (v - mean) * gain[i]!),
      none: Array.from(dir),
    };
    for (const norm of ['weight', 'none'] as const) {
      const got = logitLens(head, dir, { k: 20, norm });
      const logits = Array.from({ length: 8192 }, (_, t) => expected[norm].reduce((a, v, i) => a + v * E[t * 256 + i]!, 0));
      const order = logits.map((v, t) => [v, t] as const).sort((a, c) => c[0] - a[0]);
      expect(got.top.map((x) => x.token), norm).toEqual(order.slice(0, 20).map((x) => x[1]));
      expect(got.bottom.map((x) => x.token), norm).toEqual(order.slice(-20).reverse().map((x) => x[1]));
      for (const x of [...got.top, ...got.bottom]) expect(Math.abs(x.value - logits[x.token]!), `${norm} token ${x.token}`).toBeLessThan(1e-4);
    }
  });

  it('correlation of a feature with itself is 1, and with another equals a direct Pearson computation', async () => {
    const [a, b] = [...features].sort((x, y) => y.frequency - x.frequency).map((x) => x.index);
    const c = await correlations(path.join(dir, 'acts'), HOOK, sae.cfg, sae.weights, a!, { k: 300 });
    expect(c.self).toBeCloseTo(1, 6);
    const va = (await direct(a!)).values;
    const vb = (await direct(b!)).values;
    const n = va.length;
    const ma = va.reduce((s, v) => s + v, 0) / n;
    const mb = vb.reduce((s, v) => s + v, 0) / n;
    let cov = 0;
    let sa = 0;
    let sb = 0;
    for (let i = 0; i < n; i++) {
      cov += (va[i]! - ma) * (vb[i]! - mb);
      sa += (va[i]! - ma) ** 2;
      sb += (vb[i]! - mb) ** 2;
    }
    const r = cov / Math.sqrt(sa * sb);
    const found = [...c.positive, ...c.negative].find((x) => x.feature === b);
    expect(found, 'the second feature is among the correlations').toBeDefined();
    expect(found!.r).toBeCloseTo(r, 3);
  }, 120_000);

  it('ablating a feature changes the loss only from where it was active, and off leaves the model as it is', async () => {
    const feat = [...features].sort((a, b) => b.frequency - a.frequency).find((x) => x.frequency < 0.2 && x.examples.length > 0)!;
    const ex = feat.examples[0]!;
    // a window of the dataset that ends a little after the example's peak
    const start = Math.max(0, ex.position - 40);
    const ids = BigInt64Array.from(await tokens.readTokens(start, 48), BigInt);
    const model = await loadModel(DEMO, { device: 'cpu', interventions: { [HOOK]: ablationIntervention(sae.cfg, sae.weights) } });
    const plain = await loadModel(DEMO, { device: 'cpu' });
    try {
      const r = await ablate(model, feat.index, ids, [1, 48]);
      const clean = (await plain.forward(ids, [1, 48], ['token_nll'])).token_nll!.data;
      // "before" is the model itself
      expect(r.lossBefore).toBeCloseTo(clean.reduce((a, v) => a + v, 0) / clean.length, 4);
      // the feature's activations on this window, from the store: the first active position
      const { values, positions } = await direct(feat.index);
      const act = new Map(positions.map((p, i) => [p, values[i]!]));
      const first = Array.from({ length: 48 }, (_, t) => act.get(start + t) ?? 0).findIndex((v) => v > 0);
      expect(first).toBeGreaterThanOrEqual(0);
      // token_nll[t] predicts token t+1 from positions ≤ t: unchanged for t < first
      for (let t = 0; t < first; t++) expect(Math.abs(r.deltaLoss[t]!)).toBeLessThan(1e-5);
      expect(Array.from(r.deltaLoss.subarray(first)).some((d) => Math.abs(d) > 1e-4)).toBe(true);
      expect(r.moved.length).toBe(10);
      expect(r.moved[0]!.pos).toBeGreaterThanOrEqual(first);
    } finally {
      await model.close();
      await plain.close();
    }
  }, 120_000);
});
