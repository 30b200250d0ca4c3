/**
 * `npm run -s loupe -- extract` as a pipeline runs it: real processes over a
 * small tokenized slice of the demo dataset. Stored rows equal `loupe forward`
 * on the same window's ids, at the dataset positions they came from; Ctrl-C
 * keeps only complete shards and the same command resumes to the bytes of an
 * uninterrupted run; BOS is excluded or kept (prepended BOS at position -1);
 * bad usage exits 2 naming the option and writes nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hookStats, readManifest } from '../../models/activations/store.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { compareShards, datasetTokens, forwardRows, loupe, maxDiff, readHookRows, startLoupe, storeFiles } from '../testing/activations.ts';
import { waitFor } from '../testing/processes.ts';
import { tokenizeDemo } from '../testing/tokenized.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.2.mlp.hook_post'];
const T = 32;
const BOS = 0;

let tmp: string;
let dataset: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'loupe-cli-extract-'));
  dataset = path.join(tmp, 'dataset');
  await tokenizeDemo(dataset, 20_000);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const base = (out: string, extra: string[] = []) => ['extract', '--model', DEMO_MODEL_DIR, '--dataset', dataset, '--out', out, ...extra];

describe('loupe extract', () => {
  it('stores every non-BOS token\'s hook values, equal to `loupe forward` on the same window, with its dataset position and exact statistics', async () => {
    const out = path.join(tmp, 'plain');
    const r = await loupe(base(out, ['--hooks', HOOKS.join(','), '--context', String(T), '--batch', '4', '--tokens', String(32 * T), '--shard-windows', '8']));
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { complete: boolean; windows: number; tokens: number; hooks: Record<string, { rowShape: number[]; rows: number; shards: number; dtype: string }> };
    expect(summary).toMatchObject({ complete: true, windows: 32, tokens: 32 * T });
    expect(summary.hooks['blocks.2.mlp.hook_post']).toMatchObject({ rowShape: [1024], shards: 4, dtype: 'f32' });
    expect(r.stderr).toMatch(/extract: 1,024 \/ 1,024 tokens \(100\.0 %\)/);

    // positions: every token of the first 32 windows but BOS (id 0, which GPT-2 puts between documents), in order
    const tokens = datasetTokens(dataset, 0, 32 * T);
    const want = tokens.flatMap((id, i) => (id === BOS ? [] : [BigInt(i)]));
    expect(tokens.filter((id) => id === BOS).length).toBeGreaterThan(0);
    for (const hook of HOOKS) {
      const { positions, rows } = await readHookRows(out, hook);
      expect(positions).toEqual(want);
      expect(summary.hooks[hook]!.rows).toBe(rows.length);
    }

    // values: the model on windows 0 and 21 alone, through the forward command
    const all = Object.fromEntries(await Promise.all(HOOKS.map(async (h) => [h, await readHookRows(out, h)] as const)));
    for (const w of [0, 21]) {
      const ids = tokens.slice(w * T, (w + 1) * T);
      const ref = await forwardRows(DEMO_MODEL_DIR, ids, HOOKS, path.join(tmp, `fwd-${w}.safetensors`));
      for (const hook of HOOKS) {
        const { rows, positions } = all[hook]!;
        let compared = 0;
        for (let t = 0; t < T; t++) {
          const k = positions.indexOf(BigInt(w * T + t));
          if (ids[t] === BOS) {
            expect(k).toBe(-1);
            continue;
          }
          expect(maxDiff(rows[k]!, ref[hook]![t]!), `${hook} window ${w} token ${t}`).toBeLessThan(1e-4);
          compared++;
        }
        expect(compared).toBeGreaterThan(T / 2);
      }
    }

    // statistics: the manifest's equal a plain float64 pass over the stored rows
    const m = (await readManifest(out))!;
    for (const hook of HOOKS) {
      const { rows, d } = all[hook]!;
      const s = hookStats(m.hooks[hook]!);
      let norm = 0;
      const mean = new Float64Array(d);
      for (const row of rows) {
        let sq = 0;
        for (let i = 0; i < d; i++) (mean[i]! += row[i]!), (sq += row[i]! * row[i]!);
        norm += Math.sqrt(sq);
      }
      expect(s.count).toBe(rows.length);
      expect(s.meanNorm).toBeCloseTo(norm / rows.length, 6);
      for (const i of [0, 7, d - 1]) expect(s.mean[i]).toBeCloseTo(mean[i]! / rows.length, 9);
    }
  });

  it('Ctrl-C keeps only complete shards, and the same command resumes to the bytes of an uninterrupted run', async () => {
    const args = ['--hooks', HOOKS[0]!, '--context', String(T), '--batch', '4', '--tokens', String(400 * T), '--shard-windows', '8', '--storage', 'f16'];
    const whole = path.join(tmp, 'whole');
    const stopped = path.join(tmp, 'stopped');
    const run = startLoupe(base(stopped, args));
    await waitFor('a shard', async () => ((await readManifest(stopped).catch(() => null))?.windowsDone ?? 0) >= 8 || undefined, 30_000, 10);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: false, interrupted: true });
    expect(r.stderr).toMatch(/stopped at .* tokens \(\d+ complete shards kept\); run the same command again to resume/);

    // on disk: the manifest and exactly the shards it lists, nothing half-written under a final name or a temporary one
    const m = (await readManifest(stopped))!;
    expect(m.complete).toBe(false);
    expect(m.windowsDone).toBeGreaterThanOrEqual(8);
    expect(m.windowsDone).toBeLessThan(400);
    const shards = m.hooks[HOOKS[0]!]!.shards.map((s) => s.file);
    expect(storeFiles(stopped)).toEqual(['manifest.json', ...shards].sort());

    const resumed = await loupe(base(stopped, args));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ complete: true, windows: 400, resumedAtWindow: m.windowsDone });
    expect(resumed.stderr).toMatch(new RegExp(`resumed at window ${m.windowsDone}`));

    const fresh = await loupe(base(whole, args));
    expect(fresh.code, fresh.stderr).toBe(0);
    const { files, differ } = compareShards(whole, stopped);
    expect(files).toHaveLength(50);
    expect(storeFiles(stopped)).toEqual(storeFiles(whole));
    expect(differ).toEqual([]);

    // another setting on the same folder is refused, naming it
    const other = await loupe(base(stopped, [...args.slice(0, -2), '--storage', 'f32']));
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/cannot resume, setting "storage" was "f16" and is now "f32"/);
  });

  it('--prepend-bos --keep-bos: each window starts with BOS, stored at position -1, and every row is the model\'s value', async () => {
    const out = path.join(tmp, 'bos');
    const ctx = 16;
    const r = await loupe(base(out, ['--hooks', HOOKS[0]!, '--context', String(ctx), '--batch', '2', '--tokens', String(4 * ctx), '--prepend-bos', '--keep-bos']));
    expect(r.code, r.stderr).toBe(0);
    const { rows, positions } = await readHookRows(out, HOOKS[0]!);
    expect(rows).toHaveLength(4 * ctx);
    // window w: BOS, then dataset tokens [w·15, w·15 + 15)
    expect(positions).toEqual(Array.from({ length: 4 * ctx }, (_, i) => (i % ctx === 0 ? -1n : BigInt(Math.floor(i / ctx) * (ctx - 1) + (i % ctx) - 1))));
    const ids = [BOS, ...datasetTokens(dataset, ctx - 1, ctx - 1)];
    const ref = await forwardRows(DEMO_MODEL_DIR, ids, [HOOKS[0]!], path.join(tmp, 'fwd-bos.safetensors'));
    for (let t = 0; t < ctx; t++) expect(maxDiff(rows[ctx + t]!, ref[HOOKS[0]!]![t]!)).toBeLessThan(1e-4);
  });

  it('refuses bad usage with exit 2, naming the option, and writes nothing', async () => {
    const noOut = ['extract', '--model', DEMO_MODEL_DIR, '--dataset', dataset, '--hooks', HOOKS[0]!];
    const cases: [(out: string) => string[], RegExp][] = [
      [() => noOut, /--out DIR is required/],
      [(out) => base(out, ['--hooks', 'blocks.9.hook_resid_post']), /--hooks: unknown hook point "blocks\.9\.hook_resid_post"/],
      [(out) => base(out, ['--hooks', 'blocks.0.attn.hook_pattern']), /--hooks: blocks\.0\.attn\.hook_pattern is not one row per token/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--context', '1024']), /--context: 1024 exceeds the model's context length 512/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--context', 'abc']), /--context: "abc" is not an integer/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--batch', '4', '--shard-windows', '6']), /--shard-windows: must be a multiple of batchSize \(4\)/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--context', '32', '--tokens', '10']), /--tokens: 10 tokens do not fill one window of contextLength 32/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--dtype', 'fp8']), /--dtype: "fp8" is not one of fp32, fp16, q8, q4/],
      [(out) => base(out, ['--hooks', HOOKS[0]!, '--frobnicate']), /Unknown option '--frobnicate'/],
      [(out) => ['extract', '--model', DEMO_MODEL_DIR, '--dataset', path.join(tmp, 'nowhere'), '--hooks', HOOKS[0]!, '--out', out], /--dataset: .*nowhere is not a folder/],
    ];
    const results = await Promise.all(
      cases.map(async ([args], i) => {
        const out = path.join(tmp, `bad-${i}`);
        return { r: await loupe(args(out)), out };
      }),
    );
    for (const [i, { r, out }] of results.entries()) {
      expect(r.code, `${cases[i]![0](out).join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(existsSync(out) && readdirSync(out).length > 0).toBe(false);
    }
  });
});
