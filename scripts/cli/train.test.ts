/**
 * `npm run -s loupe -- train` as a pipeline runs it: real processes over a
 * small activation store of the demo model (two hook points). Metrics come
 * as JSON lines; the SAE folder is SAELens layout; Ctrl-C writes checkpoints
 * and the same command resumes to the weights of an uninterrupted run;
 * several hooks train in one pass into a folder each; bad usage exits 2
 * naming the option.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationsDir, runExtraction } from '../../models/activations/run.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { loadSae } from '../../models/sae/saelens.ts';
import { CHECKPOINT_FILE } from '../../models/sae/checkpoint.ts';
import { loupe, startLoupe } from '../testing/activations.ts';
import { waitFor } from '../testing/processes.ts';
import { tokenizeDemo } from '../testing/tokenized.ts';
import { SMALL_EXTRACTION } from '../testing/training.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.3.hook_resid_post'];

let tmp: string;
let acts: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'loupe-cli-train-'));
  const dataset = path.join(tmp, 'dataset');
  await tokenizeDemo(dataset, 8000);
  acts = activationsDir(tmp, 'acts');
  await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset, outDir: acts, hookPoints: HOOKS, settings: { ...SMALL_EXTRACTION, tokenBudget: 96 * 64 }, device: 'cpu' });
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const base = (out: string, extra: string[]) => ['train', '--activations', acts, '--out', out, ...extra];
const SMALL = ['--arch', 'relu', '--d-sae', '256', '--l1', '1', '--lr', '1e-3', '--batch', '256', '--metrics-every', '5', '--checkpoint-every', '10'];
type Line = { type: string; hook?: string; step?: number; outcome?: string; resumedAt?: number; [k: string]: unknown };
const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);

describe('loupe train', () => {
  it('trains an SAE on one hook: metrics as JSON lines, evaluations of feature density, the SAE in SAELens layout with its checkpoint', async () => {
    const out = path.join(tmp, 'one');
    const r = await loupe(base(out, ['--hook', HOOKS[0]!, ...SMALL, '--tokens', String(20 * 256), '--eval-every', '10']));
    expect(r.code, r.stderr).toBe(0);
    const all = lines(r.stdout);
    const metrics = all.filter((l) => l.type === 'metrics');
    expect(metrics.map((m) => m.step)).toEqual([5, 10, 15, 20]);
    expect(metrics[0]).toMatchObject({ hook: HOOKS[0], tokens: 5 * 256, loss: expect.any(Number), mse: expect.any(Number), l0: expect.any(Number), explainedVariance: expect.any(Number), deadFraction: 0, lr: expect.any(Number), tokensPerSecond: expect.any(Number) });
    expect(metrics.at(-1)!.explainedVariance as number).toBeGreaterThan(metrics[0]!.explainedVariance as number);
    expect(all.filter((l) => l.type === 'eval').map((l) => [l.step, (l.density as { tokens: number }).tokens])).toEqual([
      [10, 2560],
      [20, 2560],
    ]);
    expect(all.at(-1)).toMatchObject({ type: 'done', outcome: 'completed', steps: 20, totalSteps: 20, resumedAt: 0, hooks: [{ hook: HOOKS[0], out, dIn: 256, dSae: 256, checkpointStep: 20 }] });
    expect(r.stderr).toMatch(/train: step 20 \/ 20 \(5,120 tokens\)/);
    const sae = await loadSae(out);
    expect(sae.cfg).toMatchObject({ architecture: 'relu', dIn: 256, dSae: 256, hookName: HOOKS[0], hookLayer: 1, contextSize: 64 });
    expect(existsSync(path.join(out, CHECKPOINT_FILE))).toBe(true);
  });

  it('Ctrl-C writes checkpoints and exits 130; the same command resumes to the weights of an uninterrupted run', async () => {
    // ReLU: its step is deterministic (TopK's sparse step sums with a multi-threaded ScatterND, whose order varies from run to run)
    const args = ['--hook', HOOKS[1]!, ...SMALL, '--tokens', String(400 * 256)];
    const stopped = path.join(tmp, 'stopped');
    const whole = path.join(tmp, 'whole');
    const uninterrupted = loupe(base(whole, args));
    const run = startLoupe(base(stopped, args));
    let out = '';
    run.child.stdout!.on('data', (d) => (out += d));
    await waitFor('metrics past step 20', () => lines(out).some((l) => l.type === 'metrics' && l.step! >= 20) || undefined, 60_000, 20);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    const done = lines(r.stdout).at(-1)!;
    expect(done).toMatchObject({ type: 'done', outcome: 'paused' });
    const at = done.steps as number;
    expect(at).toBeGreaterThanOrEqual(20);
    expect(at).toBeLessThan(400);
    expect(r.stderr).toMatch(/run the same command again to resume/);

    const resumed = await loupe(base(stopped, args));
    expect(resumed.code, resumed.stderr).toBe(0);
    const again = lines(resumed.stdout);
    expect(again.at(-1)).toMatchObject({ outcome: 'completed', steps: 400, resumedAt: at });
    // metrics continue after the pause without a gap: the first is the next multiple of 5
    expect(again.find((l) => l.type === 'metrics')!.step).toBe(Math.floor(at / 5) * 5 + 5);
    const w = await uninterrupted;
    expect(w.code, w.stderr).toBe(0);
    const [a, b] = [await loadSae(whole), await loadSae(stopped)];
    for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Buffer.from(b.weights[n].buffer).equals(Buffer.from(a.weights[n].buffer)), n).toBe(true);
  });

  it('trains several hooks in one pass, a folder each', async () => {
    const out = path.join(tmp, 'both');
    const r = await loupe(base(out, ['--hook', HOOKS.join(','), ...SMALL, '--tokens', String(10 * 256), '--expansion', '2', '--d-sae', '']));
    expect(r.code).toBe(2);
    const ok = await loupe(base(out, ['--hook', HOOKS.join(','), '--arch', 'topk', '--k', '8', '--expansion', '2', '--batch', '256', '--tokens', String(10 * 256), '--metrics-every', '5']));
    expect(ok.code, ok.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([...HOOKS].sort());
    for (const hook of HOOKS) expect((await loadSae(path.join(out, hook))).cfg).toMatchObject({ architecture: 'topk', k: 8, dSae: 512, hookName: hook });
    expect(lines(ok.stdout).filter((l) => l.type === 'metrics').map((l) => [l.hook, l.step])).toEqual([
      [HOOKS[0], 5],
      [HOOKS[1], 5],
      [HOOKS[0], 10],
      [HOOKS[1], 10],
    ]);
  });

  it('refuses bad usage with exit 2, naming the option, and writes nothing; a checkpoint of other settings exits 1', async () => {
    const hook = ['--hook', HOOKS[0]!];
    const cases: [string[], RegExp][] = [
      [['train', '--activations', acts, ...hook], /--out DIR is required/],
      [['train', '--activations', path.join(tmp, 'nowhere'), '--out', 'x', ...hook], /--activations: .*nowhere is not a folder/],
      [[...hook, '--k', '0'], /--k: .*>=1/],
      [[...hook, '--lr', 'fast'], /--lr: "fast" is not a number/],
      [[...hook, '--d-sae', '100', '--expansion', '4'], /--d-sae: give dSae or expansionFactor, not both/],
      [[...hook, '--arch', 'gated'], /--arch: /],
      [[...hook, '--b-dec-init', 'median'], /--b-dec-init: /],
      [['--hook', 'blocks.5.hook_resid_post'], /--hook: blocks\.5\.hook_resid_post is not in/],
      [[...hook, '--batch', '60000'], /--batch: 60000 is more than the \d+ rows stored/],
      [[...hook, '--d-sae', '16', '--k', '32'], /--k: must be below d_sae \(16/],
      [[...hook, '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    const results = await Promise.all(
      cases.map(async ([args], i) => {
        const out = path.join(tmp, `bad-${i}`);
        return { r: await loupe(args[0] === 'train' ? args.map((a) => (a === 'x' ? out : a)) : base(out, args)), out };
      }),
    );
    for (const [i, { r, out }] of results.entries()) {
      expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(existsSync(out)).toBe(false);
    }
    const other = await loupe(base(path.join(tmp, 'one'), ['--hook', HOOKS[0]!, ...SMALL, '--tokens', String(20 * 256), '--seed', '7']));
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/cannot resume, seed was 42 and is now 7/);
  });
});
