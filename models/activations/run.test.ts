/**
 * The plan of an extraction (settings, windows) against the datasets
 * module's own window cutter, and runExtraction's resume over what a crash
 * leaves: temporary files and a shard renamed into place whose manifest never
 * followed are removed, and the run ends with the bytes of an uninterrupted one.
 */
import { mkdtemp, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExtractionSettings } from '../contracts/extractions.ts';
import { sequenceWindows } from '../datasets/windows.ts';
import { DEMO_MODEL_DIR } from '../model-files.ts';
import { compareShards, storeFiles } from '../../scripts/testing/activations.ts';
import { tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { defaultWindowsPerShard, planWindows, resolveHooks, resolveSettings, statsSummary, varianceProfile } from './plan.ts';
import { SettingsError } from '../settings-error.ts';
import { runExtraction } from './run.ts';
import { readManifest } from './store.ts';
import { hookPoints } from '../architectures/decoder.ts';
import { familyOf } from '../architectures/index.ts';
import { readModelConfig } from '../model-files.ts';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'loupe-run-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const base: ExtractionSettings = { dtype: 'fp32', storage: 'f32', contextLength: 16, batchSize: 4, tokenBudget: 1_000, stride: null, keepBos: false, prependBos: null, windowsPerShard: 8 };

describe('extraction plan', () => {
  it('resolves defaults, with shards of whole batches of about 64 MiB for the widest hook', () => {
    const s = resolveSettings({}, { modelDtype: 'q8', widestRow: 1024 });
    expect(s).toEqual({ dtype: 'q8', storage: 'f32', contextLength: 128, batchSize: 8, tokenBudget: 1_000_000, stride: null, keepBos: false, prependBos: null, windowsPerShard: 128 });
    expect(defaultWindowsPerShard(128, 24, 768) % 24).toBe(0);
    expect(defaultWindowsPerShard(4096, 64, 16384)).toBe(64); // never less than one batch
    const err = (() => {
      try {
        resolveSettings({ batchSize: 4, windowsPerShard: 6 }, { modelDtype: 'fp32', widestRow: 1 });
      } catch (e) {
        return e as SettingsError;
      }
    })();
    expect(err).toBeInstanceOf(SettingsError);
    expect(err!.field).toBe('windowsPerShard');
  });

  it('cuts the windows sequenceWindows cuts over packed documents, up to the budget', () => {
    const tokens = 1000;
    for (const [contextLength, stride, prependBos] of [
      [16, null, false],
      [16, 5, false],
      [16, 40, false],
      [16, null, true],
    ] as const) {
      const plan = planWindows({ ...base, contextLength, stride, prependBos, tokenBudget: 1e9 }, tokens, false);
      const span = contextLength - (prependBos ? 1 : 0);
      const ref = sequenceWindows([0, 300, 700, tokens], { contextLength: span, stride: stride ?? span, acrossDocuments: true });
      expect(plan.total).toBe(ref.count);
      expect(plan.span).toBe(span);
      expect(Array.from({ length: plan.total }, (_, k) => k * plan.stride)).toEqual(Array.from(ref.start));
    }
    expect(planWindows({ ...base, tokenBudget: 100 }, tokens, false).total).toBe(6); // floor(100 / 16)
    expect(planWindows(base, tokens, true).prependBos).toBe(true); // the dataset's convention by default
    expect(() => planWindows({ ...base, contextLength: 64 }, 50, false)).toThrow(/50 tokens do not fill one window of 64/);
  });

  it('names unknown and not-per-token hooks by their index', async () => {
    const config = await readModelConfig(DEMO_MODEL_DIR);
    const all = hookPoints(familyOf(config).spec(config));
    expect(resolveHooks(all, ['blocks.0.attn.hook_z']).map((h) => h.shape)).toEqual([['batch', 'pos', 8, 32]]);
    expect(() => resolveHooks(all, ['hook_embed', 'blocks.6.hook_resid_post'])).toThrow(/^hookPoints\.1: unknown hook point "blocks\.6\.hook_resid_post" \(this model has e\.g\. blocks\.0\.hook_resid_post … blocks\.5\.hook_resid_post\)/);
    expect(() => resolveHooks(all, ['blocks.2.attn.hook_pattern'])).toThrow(/^hookPoints\.0: .* not one row per token/);
  });

  it('summarises statistics and downsamples a variance profile deterministically', () => {
    expect(statsSummary({ count: 3, mean: [1, 3], variance: [2, 6], meanNorm: 4 })).toEqual({ count: 3, meanNorm: 4, meanOfMeans: 2, meanVariance: 4, maxVariance: 6 });
    expect(varianceProfile([1, 3, 2, 2, 5], 2)).toEqual({ bucket: 3, mean: [2, 3.5], max: [3, 5] });
    expect(varianceProfile([1, 2], 256)).toEqual({ bucket: 1, mean: [1, 2], max: [1, 2] });
  });
});

describe('runExtraction', () => {
  let dataset: string;
  beforeAll(async () => {
    dataset = path.join(await tmp(), 'ds');
    await tokenizeDemo(dataset, 3000);
  });

  it('removes what a crash left and resumes to the bytes of an uninterrupted run', async () => {
    const hooks = ['blocks.1.hook_resid_post'];
    const settings: ExtractionSettings = { ...base, tokenBudget: 16 * 40 };
    const whole = await tmp();
    await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: whole, hookPoints: hooks, settings, device: 'cpu' });

    // A run stopped after its second shard...
    const crashed = await tmp();
    const ac = new AbortController();
    await expect(
      runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: crashed, hookPoints: hooks, settings, device: 'cpu', signal: ac.signal, onProgress: (p) => p.shards >= 2 && ac.abort(new Error('killed')) }),
    ).rejects.toThrow(/killed/);
    const m = (await readManifest(crashed))!;
    expect(m.hooks[hooks[0]!]!.shards.length).toBeGreaterThanOrEqual(2);
    // ...then what a SIGKILL can leave: a shard renamed into place without its manifest, and temporary files.
    const next = `shard-${String(m.hooks[hooks[0]!]!.shards.length).padStart(5, '0')}.safetensors`;
    await copyFile(path.join(crashed, hooks[0]!, 'shard-00000.safetensors'), path.join(crashed, hooks[0]!, next));
    await writeFile(path.join(crashed, hooks[0]!, `.${next}.1a2b3c4d.tmp`), 'half a shard');
    await writeFile(path.join(crashed, '.manifest.json.5e6f7a8b.tmp'), '{"half"');

    const resumed = await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: crashed, hookPoints: hooks, settings, device: 'cpu' });
    expect(resumed.resumedAt).toBe(m.windowsDone);
    expect(storeFiles(crashed)).toEqual(storeFiles(whole));
    expect(compareShards(crashed, whole).differ).toEqual([]);
    expect(await readdir(path.join(crashed, hooks[0]!))).toHaveLength(5);
  });

  it('refuses settings the dataset or model cannot satisfy before writing anything', async () => {
    const out = path.join(await tmp(), 'never');
    await expect(runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: out, hookPoints: ['blocks.1.hook_resid_post'], settings: { ...base, contextLength: 600, tokenBudget: 10_000 }, device: 'cpu' })).rejects.toThrow(
      /contextLength: 600 exceeds the model's context length 512/,
    );
    await expect(runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: out, hookPoints: ['blocks.1.attn.hook_pattern'], settings: base, device: 'cpu' })).rejects.toThrow(/not one row per token/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});
