/**
 * A discovery over text against one over stored activations: the demo
 * dataset tokenized, the demo model's blocks.3.hook_resid_post extracted
 * with the settings a discovery over text uses (64-token windows, BOS rows
 * left out), a small TopK SAE trained on it; then the SAE over the store and
 * over the same windows of text through the model give the same rows,
 * statistics and examples. The text source checkpoints and resumes like the
 * store does, exactly; and its windows are checked against the model and
 * dataset naming the request's fields.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsError } from '../settings-error.ts';
import { runExtraction } from '../activations/run.ts';
import type { DiscoveryText } from '../contracts/features.ts';
import { openTokenStore, readDocOffsets, type TokenStore } from '../datasets/format.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import { DEMO_MODEL_DIR } from '../model-files.ts';
import { resolveTrainConfig, toTrainConfig } from '../sae/config.ts';
import { loadSae } from '../sae/saelens.ts';
import { trainSae } from '../sae/train.ts';
import { tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { discoverFeatures, type DiscoverCheckpoint, type FeatureSummary } from './discover.ts';
import { openStoredSource, openTextSource, planText, textSettings } from './sources.ts';

const HOOK = 'blocks.3.hook_resid_post';
const TEXT: DiscoveryText = { contextLength: 64, maxTokens: 96 * 64 };
const SETTINGS = { topK: 10, left: 16, right: 4 };

let dir: string;
let tokens: TokenStore;
let offsets: Float64Array;
let model: LoadedModel;
let sae: Awaited<ReturnType<typeof loadSae>>;
let stored: { rows: number; features: FeatureSummary[] };

const common = () => ({ cfg: sae.cfg, weights: sae.weights, tokens, docOffsets: offsets, ...SETTINGS, device: 'cpu' as const });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-text-source-'));
  const data = path.join(dir, 'data');
  await tokenizeDemo(data, 8000);
  // the extraction a discovery over TEXT reads the same windows as: 12 shards of 8 windows
  const acts = path.join(dir, 'acts');
  await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: data, outDir: acts, hookPoints: [HOOK], settings: textSettings(TEXT, 'fp32'), device: 'cpu' });
  await trainSae({ activations: acts, hook: HOOK, out: path.join(dir, 'sae'), config: toTrainConfig(resolveTrainConfig([{ architecture: 'topk', k: 8, dSae: 128, lr: 2e-3, batchSize: 256, totalTokens: 120 * 256 }], 0)), device: 'cpu' });
  sae = await loadSae(path.join(dir, 'sae'));
  tokens = await openTokenStore(data);
  offsets = await readDocOffsets(data);
  model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu' });
  stored = await discoverFeatures({ activations: acts, hook: HOOK, ...common() });
}, 240_000);

afterAll(async () => {
  await model?.close();
  await tokens?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a discovery over text', () => {
  it('gives the rows, statistics and examples of a discovery over an extraction of the same windows', async () => {
    const source = openTextSource({ model, store: tokens, hook: HOOK, dIn: sae.cfg.dIn, text: TEXT });
    const storedSource = await openStoredSource(path.join(dir, 'acts'), HOOK);
    // 96 windows of 64 tokens in batches of 8; the rows are the tokens but the BOS/EOS ones, as stored
    expect(source).toMatchObject({ d: 256, units: 12, total: 96 * 64 });
    expect(storedSource.rows).toBeLessThan(96 * 64);
    const progress: number[] = [];
    const text = await discoverFeatures({ source, ...common(), onProgress: (done, _total, phase) => phase === 'scan' && progress.push(done) });
    expect(progress.at(-1)).toBe(96 * 64);
    expect(text.rows).toBe(storedSource.rows);
    expect(stored.rows).toBe(storedSource.rows);

    expect(text.features).toHaveLength(128);
    const live = stored.features.filter((f) => f.frequency > 0);
    expect(live.length).toBeGreaterThan(64);
    for (const [i, s] of stored.features.entries()) {
      const t = text.features[i]!;
      expect(t.frequency).toBeCloseTo(s.frequency, 4);
      expect(t.maxActivation).toBeCloseTo(s.maxActivation, 4);
      expect(t.meanActivation).toBeCloseTo(s.meanActivation, 4);
      expect(t.histogram.counts.reduce((a, b) => a + b, 0)).toBe(s.histogram.counts.reduce((a, b) => a + b, 0));
      expect(t.examples.map((e) => [e.position, e.start, e.tokens])).toEqual(s.examples.map((e) => [e.position, e.start, e.tokens]));
      for (const [j, e] of s.examples.entries()) {
        expect(t.examples[j]!.maxValue).toBeCloseTo(e.maxValue, 4);
        t.examples[j]!.values.forEach((v, k) => expect(v).toBeCloseTo(e.values[k]!, 4));
      }
    }
  }, 120_000);

  it('resumes from a checkpoint exactly, and tells which batches can hold an example window', async () => {
    const source = openTextSource({ model, store: tokens, hook: HOOK, dIn: sae.cfg.dIn, text: TEXT });
    let saved: DiscoverCheckpoint | null = null;
    const abort = new AbortController();
    const copy = (s: DiscoverCheckpoint): DiscoverCheckpoint => ({ ...s, count: s.count.slice(), sum: s.sum.slice(), max: s.max.slice(), hist: s.hist.slice(), topVal: s.topVal.slice(), topPos: s.topPos.slice(), topSize: s.topSize.slice(), topMin: s.topMin.slice(), values: s.values?.slice() ?? null });
    const save = async (s: DiscoverCheckpoint) => {
      saved = copy(s);
      if (s.phase === 'scan' && s.unit === 5) abort.abort(new Error('stopped'));
    };
    await expect(discoverFeatures({ source, ...common(), signal: abort.signal, checkpoint: { everyUnits: 1, everyMs: 0, save } })).rejects.toThrow('stopped');
    expect(saved).toMatchObject({ phase: 'scan', unit: 5, units: 12, done: 5 * 8 * 64 });
    const read: number[] = [];
    const counting = { ...source, read: (u: number) => (read.push(u), source.read(u)) };
    const resumed = await discoverFeatures({ source: counting, ...common(), resume: saved });
    // the scan went on at batch 5
    expect(read.slice(0, 7)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    const straight = await discoverFeatures({ source, ...common() });
    expect(resumed).toEqual(straight);
    // a batch whose windows hold no wanted position is passed over unread in the examples pass (windows of 64 tokens, no BOS prepended: batch u is tokens [512u, 512u + 512))
    expect(source.mayHold!(0, (p) => p === 511)).toBe(true);
    expect(source.mayHold!(1, (p) => p === 511)).toBe(false);
    expect(source.mayHold!(1, (p) => p === 512)).toBe(true);
    // after the scan, the quantile samples' read then the examples pass: each reads a batch at most once, in order
    const passes: number[][] = [];
    for (const u of read.slice(7)) {
      const last = passes[passes.length - 1];
      if (last && u > last[last.length - 1]!) last.push(u);
      else passes.push([u]);
    }
    expect(passes.length).toBeLessThanOrEqual(2);
  }, 120_000);

  it('refuses windows the model or the dataset cannot hold, naming the request field', () => {
    const o = { hookPoints: model.hookPoints, hook: HOOK, dIn: 256, modelContext: model.spec.contextLength, modelVocab: model.spec.vocabSize, dataset: { tokens: tokens.tokens, vocabSize: tokens.meta.tokenizer.vocabSize, addsBos: false } };
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(SettingsError);
        return (err as SettingsError).field;
      }
      return null;
    };
    expect(planText(TEXT, o)).toMatchObject({ length: 64, span: 64, total: 96 });
    expect(field(() => planText({ ...TEXT, contextLength: model.spec.contextLength + 1 }, o))).toBe('contextLength');
    expect(field(() => planText({ ...TEXT, maxTokens: 63 }, o))).toBe('maxTokens');
    expect(field(() => planText({ contextLength: 64, maxTokens: 1e9 }, { ...o, dataset: { ...o.dataset, tokens: 10 } }))).toBe('contextLength');
    expect(field(() => planText(TEXT, { ...o, hook: 'blocks.99.hook_resid_post' }))).toBe('saeId');
    expect(field(() => planText(TEXT, { ...o, dIn: 512 }))).toBe('saeId');
    expect(field(() => planText(TEXT, { ...o, dataset: { ...o.dataset, vocabSize: model.spec.vocabSize + 1 } }))).toBe('datasetId');
  });
});
