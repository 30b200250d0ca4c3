/**
 * trainSaes beyond one hook and one uninterrupted run, on the demo model's
 * real activations at two hook points: several hooks in one pass equal
 * separate runs byte for byte; a pause (checkpoint) and a resume reproduce an
 * uninterrupted run's weights and metrics; hooks whose checkpoints are at
 * different steps (a crash between two checkpoint writes) still resume to
 * the same weights; a stop saves the SAE from the current weights; the
 * evaluation callback sees the feature density of its window and an SAE that
 * splices into the model (CE-loss recovered on held-out windows).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationsDir, runExtraction } from '../activations/run.ts';
import type { ExtractionSettings } from '../contracts/extractions.ts';
import { DEMO_MODEL_DIR } from '../model-files.ts';
import { openDocuments } from '../datasets/sources.ts';
import { tokenizeDataset } from '../datasets/tokenize.ts';
import { loadTokenizer } from '../tokenizer.ts';
import { openCeEvaluator } from './evaluate.ts';
import { loadSae } from './saelens.ts';
import { CHECKPOINT_FILE } from './checkpoint.ts';
import { trainSae, trainSaes, type EvalPoint, type TrainConfig, type TrainMetrics } from './train.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.4.hook_resid_post'];
const SETTINGS: ExtractionSettings = { dtype: 'fp32', storage: 'f32', contextLength: 64, batchSize: 8, tokenBudget: 96 * 64, stride: null, keepBos: false, prependBos: null, windowsPerShard: 16 };
/** ReLU, 30 steps of 256 rows: metrics every 5, checkpoints every 10 */
const CONFIG: TrainConfig = { architecture: 'relu', dSae: 256, l1Coefficient: 1, lr: 1e-3, batchSize: 256, totalTokens: 30 * 256, metricsEvery: 5, checkpointEvery: 10, mixingShards: 2 };

let dir: string;
let acts: string;
let dataset: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-train-multi-'));
  dataset = path.join(dir, 'dataset');
  const file = path.resolve(import.meta.dirname, '../../demo/datasets/debian-english-mix-heldout.jsonl');
  await tokenizeDataset(await openDocuments([file]), await loadTokenizer(DEMO_MODEL_DIR), dataset, { maxTokens: 12_000, model: 'tiny-gpt2-debian-6l', source: { file: path.basename(file) } });
  acts = activationsDir(dir, 'acts');
  await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: acts, hookPoints: HOOKS, settings: SETTINGS, device: 'cpu' });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const W = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
async function sameWeights(a: string, b: string): Promise<void> {
  const [x, y] = [await loadSae(a), await loadSae(b)];
  for (const n of W) expect(Buffer.from(y.weights[n].buffer).equals(Buffer.from(x.weights[n].buffer)), `${b} ${n}`).toBe(true);
}
/** A metrics point without its timing. */
const values = ({ tokensPerSecond: _, ...m }: TrainMetrics) => m;

describe('trainSaes', () => {
  let together: Record<string, TrainMetrics[]>;
  const out = (name: string, hook: string) => path.join(dir, name, hook);

  it('trains several hooks in one pass, each SAE equal byte for byte to its own single-hook run', async () => {
    together = Object.fromEntries(HOOKS.map((h) => [h, []]));
    const r = await trainSaes({ activations: acts, hooks: HOOKS.map((hook) => ({ hook, out: out('together', hook) })), config: CONFIG, device: 'cpu', onMetrics: (m) => void together[m.hook]!.push(m) });
    expect(r).toMatchObject({ outcome: 'completed', steps: 30, totalSteps: 30, resumedAt: 0 });
    expect(r.hooks.map((h) => [h.hook, h.dIn, h.dSae, h.checkpointStep])).toEqual(HOOKS.map((h) => [h, 256, 256, 30]));
    for (const h of HOOKS) expect(together[h]!.map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30]);
    for (const hook of HOOKS) {
      const alone: TrainMetrics[] = [];
      await trainSae({ activations: acts, hook, out: out('alone', hook), config: CONFIG, device: 'cpu', onMetrics: (m) => void alone.push(m) });
      await sameWeights(out('alone', hook), out('together', hook));
      expect(alone.map(values)).toEqual(together[hook]!.map(values));
    }
    // the two hooks learned different things
    expect(together[HOOKS[0]!]!.at(-1)!.mse).not.toBe(together[HOOKS[1]!]!.at(-1)!.mse);
  });

  it('pauses with a checkpoint between two checkpoint steps and resumes to the same weights and metrics', async () => {
    const hooks = HOOKS.map((hook) => ({ hook, out: out('paused', hook) }));
    const seen: TrainMetrics[] = [];
    let steps = 0;
    const first = await trainSaes({ activations: acts, hooks, config: CONFIG, device: 'cpu', onProgress: (p) => (steps = p.step), shouldStop: () => (steps >= 13 ? 'pause' : null), onMetrics: (m) => void seen.push(m) });
    expect(first).toMatchObject({ outcome: 'paused', steps: 13 });
    expect(first.hooks.map((h) => [h.checkpointStep, h.config])).toEqual([
      [13, null],
      [13, null],
    ]);
    const second = await trainSaes({ activations: acts, hooks, config: CONFIG, device: 'cpu', onMetrics: (m) => void seen.push(m) });
    expect(second).toMatchObject({ outcome: 'completed', steps: 30, resumedAt: 13 });
    for (const { hook, out: o } of hooks) {
      await sameWeights(out('together', hook), o);
      // steps 11-13 of the window ending at 15 came from the checkpoint: the same averages
      expect(seen.filter((m) => m.hook === hook).map(values)).toEqual(together[hook]!.map(values));
    }
  });

  it('resumes hooks whose checkpoints are at different steps: each skips what it has trained', async () => {
    const hooks = HOOKS.map((hook) => ({ hook, out: out('skewed', hook) }));
    let steps = 0;
    const pauseAt = (n: number) => ({ onProgress: (p: { step: number }) => (steps = p.step), shouldStop: () => (steps >= n ? ('pause' as const) : null) });
    await trainSaes({ activations: acts, hooks, config: CONFIG, device: 'cpu', ...pauseAt(10) });
    const early = path.join(dir, 'skewed-early.safetensors');
    await copyFile(path.join(hooks[1]!.out, CHECKPOINT_FILE), early);
    await trainSaes({ activations: acts, hooks, config: CONFIG, device: 'cpu', ...pauseAt(20) });
    // as if the worker died after the first hook's checkpoint at 20 and before the second's
    await copyFile(early, path.join(hooks[1]!.out, CHECKPOINT_FILE));
    const seen: TrainMetrics[] = [];
    const r = await trainSaes({ activations: acts, hooks, config: CONFIG, device: 'cpu', onMetrics: (m) => void seen.push(m) });
    expect(r).toMatchObject({ outcome: 'completed', resumedAt: 10 });
    expect(seen.filter((m) => m.hook === HOOKS[0]).map((m) => m.step)).toEqual([25, 30]);
    expect(seen.filter((m) => m.hook === HOOKS[1]).map((m) => m.step)).toEqual([15, 20, 25, 30]);
    for (const { hook, out: o } of hooks) await sameWeights(out('together', hook), o);
  });

  it('refuses to resume a checkpoint made with another batch size or seed, naming the setting', async () => {
    await expect(trainSae({ activations: acts, hook: HOOKS[0]!, out: out('together', HOOKS[0]!), config: { ...CONFIG, seed: 7 }, device: 'cpu' })).rejects.toThrow(/cannot resume, seed was 42 and is now 7/);
  });

  it('stops on request: the last partial window is reported and evaluated, and the SAE is saved from the current weights', async () => {
    const o = path.join(dir, 'stopped');
    const seen: TrainMetrics[] = [];
    const evals: EvalPoint[] = [];
    let steps = 0;
    const r = await trainSae({
      activations: acts,
      hook: HOOKS[0]!,
      out: o,
      config: { ...CONFIG, evalEvery: 10 },
      device: 'cpu',
      onProgress: (p) => (steps = p.step),
      shouldStop: () => (steps >= 12 ? 'stop' : null),
      onMetrics: (m) => void seen.push(m),
      evaluate: (e) => void evals.push(e),
    });
    expect(r).toMatchObject({ outcome: 'stopped', steps: 12 });
    expect(seen.map((m) => m.step)).toEqual([5, 10, 12]);
    expect(evals.map((e) => [e.step, e.density.tokens])).toEqual([
      [10, 10 * 256],
      [12, 2 * 256],
    ]);
    const saved = await loadSae(o);
    expect(saved.cfg).toMatchObject({ architecture: 'relu', dIn: 256, dSae: 256, hookName: HOOKS[0] });
    // the saved weights are the evaluation's at step 12 (the current ones, for raw activations)
    const last = (await evals.at(-1)!.sae()).weights;
    for (const n of W) expect(Array.from(saved.weights[n])).toEqual(Array.from(last[n]));
  });

  it('evaluates every evalEvery steps and at the end: feature density of the window, and an SAE that recovers CE loss when spliced in', async () => {
    const ce = await openCeEvaluator({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, settings: SETTINGS, windows: 4, device: 'cpu' });
    try {
      expect(ce.heldOut).toBe(true);
      expect(ce.dims).toEqual([4, 64]);
      const evals: { e: EvalPoint; recovered: number }[] = [];
      await trainSae({
        activations: acts,
        hook: HOOKS[1]!,
        out: path.join(dir, 'evaluated'),
        config: { ...CONFIG, architecture: 'topk', k: 16, evalEvery: 12 },
        device: 'cpu',
        evaluate: async (e) => {
          const { config, weights } = await e.sae();
          evals.push({ e, recovered: (await ce.evaluate(e.hook, config, weights)).recovered });
        },
      });
      expect(evals.map(({ e }) => e.step)).toEqual([12, 24, 30]);
      for (const { e } of evals) {
        const fired = Array.from(e.featureFrequency).filter((f) => f > 0).length;
        expect(e.density.dead).toBe(256 - fired);
        expect(e.density.counts.reduce((a, b) => a + b, 0)).toBe(fired);
        expect(e.density.edges).toHaveLength(e.density.counts.length + 1);
        // TopK: at most k features a token, so the frequencies add up to L0 <= k
        const l0 = Array.from(e.featureFrequency).reduce((a, b) => a + b, 0);
        expect(l0).toBeGreaterThan(8);
        expect(l0).toBeLessThanOrEqual(16 + 1e-9);
      }
      expect(evals.map(({ e }) => e.density.tokens)).toEqual([12 * 256, 12 * 256, 6 * 256]);
      expect(evals.at(-1)!.recovered).toBeGreaterThan(0.3);
      expect(evals.at(-1)!.recovered).toBeLessThanOrEqual(1.05);
    } finally {
      await ce.close();
    }
  });
});
