/**
 * `npm run -s loupe -- compare` against a real HTTP server (the API app over
 * a test database with the fixture trainings of scripts/testing/compare.ts,
 * served on a free port): the table has a row per run with its final
 * metrics, the best of each column starred, then the settings that differ;
 * `--json` prints the API's answer as the route gives it; an unknown id is
 * the server's 404 (exit 1); bad usage exits 2 naming the option. The
 * formatting itself is checked in-process on a hand-made answer.
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareSchema, type Compare } from '../../models/contracts/compare.ts';
import { METRICS, type MetricKey } from '../../models/contracts/metrics.ts';
import { loupe } from '../testing/activations.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { COMPARE_HOOKS, insertCompareFixture, type CompareFixture } from '../testing/compare.ts';
import { createTestDatabase, type TestDatabase } from '../testing/db.ts';
import { freePort } from '../testing/ports.ts';
import { formatComparison, formatValue } from './compare.ts';

const COLUMNS = METRICS.filter((m) => m.tier !== 'diagnostic');
const MISSING = '00000000-0000-4000-8000-000000000001';

/** The cells of a table line (columns are two or more spaces apart). */
const cells = (line: string) => line.trim().split(/\s{2,}/);

describe('loupe compare', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: ServerType;
  let base: string;
  let f: CompareFixture;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-compare-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_cli_compare');
    f = await insertCompareFixture(db.db);
    t = await createTestApp(db, tmp);
    const port = await freePort();
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const api = async (q: string) => compareSchema.parse(await (await t.request(`/api/trainings/compare?${q}`)).json());

  it('prints a row per run with its final metrics, the best of each column starred, then the settings that differ', async () => {
    const r = await loupe(['compare', f.a.id, f.b.id, f.c.id, '--server', base]);
    expect(r.code, r.stderr).toBe(0);
    const answer = await api(`ids=${f.a.id},${f.b.id},${f.c.id}`);
    const lines = r.stdout.split('\n');
    expect(cells(lines[0]!)).toEqual(['#', 'training', 'hook', 'arch', ...COLUMNS.map((m) => m.name)]);
    const rows = lines.slice(1, 5).map(cells);
    expect(rows.map((row) => row.slice(0, 4))).toEqual([
      ['1', 'compare a', COMPARE_HOOKS[0], 'topk'],
      ['2', 'compare a', COMPARE_HOOKS[1], 'topk'],
      ['3', 'compare b', COMPARE_HOOKS[0], 'topk'],
      ['4', 'compare c', COMPARE_HOOKS[0], 'relu'],
    ]);
    for (const [c, m] of COLUMNS.entries()) {
      const finals = answer.runs.map((run) => run.final[m.key as MetricKey] ?? null);
      const present = finals.filter((v): v is number => v !== null);
      const best = m.better === 'higher' ? Math.max(...present) : Math.min(...present);
      for (const [i, row] of rows.entries()) {
        const v = finals[i]!;
        expect(row[4 + c], `${m.key} of run ${i + 1}`).toBe(`${formatValue(v)}${v !== null && v === best ? '*' : ''}`);
      }
    }
    // a's first hook has CE-loss recovered; b and c never evaluated it
    expect(rows.map((row) => row[4 + COLUMNS.findIndex((m) => m.key === 'ceLossRecovered')]!.replace('*', '') !== '-')).toEqual([true, true, false, false]);
    expect(r.stdout).toContain('* best of its column');
    const settings = r.stdout.slice(r.stdout.indexOf('settings that differ'));
    expect(settings).toMatch(/^settings that differ \(\d+ more are the same in every run\):\n/);
    const table = settings.trim().split('\n').slice(1).map(cells);
    expect(table).toEqual([
      ['setting', '#1', '#2', '#3', '#4'],
      ['dataset', 'compare slice', 'compare slice', 'compare slice', 'other slice'],
      ['hook', COMPARE_HOOKS[0], COMPARE_HOOKS[1], COMPARE_HOOKS[0], COMPARE_HOOKS[0]],
      ['architecture', 'topk', 'topk', 'topk', 'relu'],
      ['k', '32', '32', '64', '32'],
      ['l1Coefficient', '5', '5', '5', '2'],
    ]);
  });

  it('prints the API\'s answer with --json, against tokens with --x tokens', async () => {
    const [plain, tokens] = await Promise.all([
      loupe(['compare', `${f.a.id},${f.b.id}`, '--json', '--server', base]),
      loupe(['compare', f.b.id, f.a.id, '--json', '--x', 'tokens', '--points', '50'], { LOUPE_SERVER: base }),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)).toEqual(await api(`ids=${f.a.id},${f.b.id}`));
    expect(tokens.code, tokens.stderr).toBe(0);
    const answer = compareSchema.parse(JSON.parse(tokens.stdout));
    expect(answer).toEqual(await api(`ids=${f.b.id},${f.a.id}&x=tokens&points=50`));
    expect(answer.x).toBe('tokens');
    expect(answer.runs.map((run) => run.trainingName)).toEqual(['compare b', 'compare a', 'compare a']);
  });

  it('reports an unknown training (exit 1), an unreachable server (exit 1) and bad usage naming the option (exit 2)', async () => {
    const gone = await loupe(['compare', f.a.id, MISSING, '--server', base]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`loupe compare: No training ${MISSING}`));
    const down = await loupe(['compare', f.a.id, '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ .*is Loupe running\?/);
    const many = Array.from({ length: 51 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const usage: [string[], RegExp][] = [
      [['compare'], /name at least one training id/],
      [['compare', f.a.id, 'abc'], /ID: "abc" is not a training id/],
      [['compare', f.a.id, '--x', 'epochs'], /--x: "epochs" is not step or tokens/],
      [['compare', f.a.id, '--json', '--points', 'many'], /--points: "many" is not a whole number/],
      [['compare', f.a.id, '--json', '--points', '5'], /--points: /],
      [['compare', f.a.id, '--points', '50'], /--points: only with --json/],
      [['compare', ...many], /ID: /],
      [['compare', f.a.id, '--server', 'ftp://x'], /--server: "ftp:\/\/x" is not an http/],
      [['compare', f.a.id, '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    const results = await Promise.all(usage.map(([args]) => loupe(args)));
    for (const [i, u] of results.entries()) {
      expect(u.code, `${usage[i]![0].join(' ')}: ${u.stderr}`).toBe(2);
      expect(u.stderr).toMatch(usage[i]![1]);
      expect(u.stderr).toMatch(/usage: compare ID \[ID \.\.\.\]/);
    }
  });
});

describe('the comparison report', () => {
  const final = (v: Partial<Record<MetricKey, number>>) => Object.fromEntries(METRICS.map((m) => [m.key, v[m.key] ?? null])) as Record<MetricKey, number | null>;
  const run = (i: number, v: Partial<Record<MetricKey, number>>): Compare['runs'][number] => ({
    key: `t${i}:h`,
    trainingId: `t${i}`,
    trainingName: i === 1 ? 'a training whose name is far too long for one column of the table' : `t${i}`,
    hook: 'h',
    saeId: null,
    modelId: null,
    modelName: null,
    datasetName: null,
    architecture: 'topk',
    status: 'completed',
    step: 10,
    tokens: 100,
    final: final(v),
  });

  it('writes values compactly', () => {
    expect([0.912345, 31.98765, 1234.5, 4e-4, 0.0000123, 2.5e7, 0, -0.25, null].map(formatValue)).toEqual(['0.9123', '31.99', '1235', '4e-4', '1.23e-5', '2.5e+7', '0', '-0.25', '-']);
  });

  it('stars every run tied for the best, none where all runs agree or a metric has no direction, and folds equal settings away', () => {
    const answer: Compare = {
      x: 'step',
      runs: [run(1, { explainedVariance: 0.9, l0: 30, mse: 1 }), run(2, { explainedVariance: 0.9, l0: 20, mse: 1 }), run(3, { explainedVariance: 0.8, mse: 1 })],
      differing: [{ key: 'k', values: [32, 16, null] }],
      same: [{ key: 'model', value: 'm' }],
      curves: Object.fromEntries(METRICS.map((m) => [m.key, []])) as unknown as Compare['curves'],
    };
    const lines = formatComparison(answer).split('\n');
    const at = (row: number, key: MetricKey) => cells(lines[row]!)[4 + COLUMNS.findIndex((m) => m.key === key)];
    expect(cells(lines[1]!)[1]).toBe('a training whose name is far too long f…');
    expect([1, 2, 3].map((r) => at(r, 'explainedVariance'))).toEqual(['0.9*', '0.9*', '0.8']);
    expect([1, 2, 3].map((r) => at(r, 'l0'))).toEqual(['30', '20*', '-']);
    expect([1, 2, 3].map((r) => at(r, 'mse'))).toEqual(['1', '1', '1']);
    expect(lines.slice(4)).toEqual(['* best of its column', '', 'settings that differ (1 more is the same in every run):', 'setting  #1  #2  #3', 'k        32  16  -', '']);
    const one = formatComparison({ ...answer, runs: [answer.runs[0]!], differing: [] });
    expect(one).not.toContain('*');
    expect(one).toMatch(/settings: the same in every run \(1\)\n$/);
  });
});
