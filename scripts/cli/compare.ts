/**
 * `loupe compare ID ID ... [--json] [--x step|tokens] [--points N]`:
 * trainings side by side, through `GET /api/trainings/compare` of a running
 * Loupe.
 *
 * Default output (stdout), plain text: a table of one row per run (a hook
 * point of a training) — training name, hook, architecture, then the primary
 * and standard metrics of the registry (models/contracts/metrics.ts) in its
 * order, each run's final value, the best of each column marked `*` — then
 * the settings that differ between the runs, one row each with a column per
 * run. `--json` prints the API's answer instead (curves against `--x`,
 * downsampled to `--points`).
 *
 * The server is --server URL, else LOUPE_SERVER, else http://127.0.0.1:$PORT
 * (8787); LOUPE_TOKEN is sent as a bearer token when set. A malformed id or
 * option is a usage error naming it (exit 2); an unknown training is the
 * server's 404, naming the ids (exit 1).
 */
import { parseArgs } from 'node:util';
import { COMPARE_LIMITS, COMPARE_X, compareQuerySchema, compareSchema, type Compare } from '../../models/contracts/compare.ts';
import { METRICS, type MetricDef } from '../../models/contracts/metrics.ts';
import { ApiError, call, serverUrl, UsageError, type Command } from './args.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The columns of metrics: primary and standard tiers, in the registry's order. */
const COLUMNS: readonly MetricDef[] = METRICS.filter((m) => m.tier !== 'diagnostic');

/** Training names longer than this are cut (with `…`) so a row stays on a line. */
const MAX_NAME = 40;

/** The option behind a query field of the API (`ids.3` → `ID`). */
const OPTION_OF: Record<string, string> = { ids: 'ID', x: '--x', points: '--points' };
const optionOf = (field: string) => OPTION_OF[field.split('.')[0]!];

/**
 * A metric value in few characters: four significant digits, trailing zeros
 * dropped, an exponent for the very large and very small; `-` for none.
 * @example formatValue(0.912345) // '0.9123'; formatValue(0.0000123) // '1.23e-5'
 */
export function formatValue(v: number | null): string {
  if (v === null) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

/** A setting's value as the table shows it. */
function formatSetting(v: string | number | boolean | null): string {
  return v === null ? '-' : String(v);
}

/** The runs whose value of `m` is the best of the column (ties all marked); none without a direction, or when fewer than two runs differ. */
function bestRows(answer: Compare, m: MetricDef): Set<number> {
  const values = answer.runs.map((r) => r.final[m.key] ?? null);
  const present = values.filter((v): v is number => v !== null);
  if (!m.better || new Set(present).size < 2) return new Set();
  const best = m.better === 'higher' ? Math.max(...present) : Math.min(...present);
  return new Set(values.flatMap((v, i) => (v === best ? [i] : [])));
}

/** Rows of cells as aligned text: text columns to the left, numeric ones (`right[i]`) to the right, two spaces apart. */
function table(rows: string[][], right: boolean[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...r[c]!].length)));
  return rows.map((r) => r.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/**
 * The plain-text report of an answer: the runs' table (best values marked
 * `*`), then the settings that differ, a column per run (`#1`, `#2`, … as
 * numbered in the first table).
 */
export function formatComparison(answer: Compare): string {
  const cut = (s: string) => ([...s].length > MAX_NAME ? `${[...s].slice(0, MAX_NAME - 1).join('')}…` : s);
  const best = COLUMNS.map((m) => bestRows(answer, m));
  const head = ['#', 'training', 'hook', 'arch', ...COLUMNS.map((m) => `${m.name} `)];
  const rows = answer.runs.map((r, i) => [
    String(i + 1),
    cut(r.trainingName),
    r.hook,
    r.architecture,
    // a space where no star is, so the digits of a column stay aligned
    ...COLUMNS.map((m, c) => `${formatValue(r.final[m.key] ?? null)}${best[c]!.has(i) ? '*' : ' '}`),
  ]);
  const lines = [table([head, ...rows], [true, false, false, false, ...COLUMNS.map(() => true)])];
  if (best.some((b) => b.size > 0)) lines.push('* best of its column');
  lines.push('');
  if (answer.differing.length === 0) lines.push(`settings: the same in every run (${answer.same.length})`);
  else {
    const settings = [['setting', ...answer.runs.map((_, i) => `#${i + 1}`)], ...answer.differing.map((s) => [s.key, ...s.values.map(formatSetting)])];
    lines.push(`settings that differ (${answer.same.length} more ${answer.same.length === 1 ? 'is' : 'are'} the same in every run):`, table(settings, settings[0]!.map(() => false)));
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  usage: `compare ID [ID ...] [--json] [--x ${COMPARE_X.join('|')}] [--points N] [--server URL]`,
  async run(args) {
    let values;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args,
        options: { json: { type: 'boolean', default: false }, x: { type: 'string' }, points: { type: 'string' }, server: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const ids = positionals.flatMap((p) => p.split(',')).map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) throw new UsageError('name at least one training id (`GET /api/trainings` lists them): compare ID [ID ...]');
    const bad = ids.find((id) => !UUID.test(id));
    if (bad !== undefined) throw new UsageError(`ID: "${bad}" is not a training id (a UUID; \`GET /api/trainings\` lists them)`);
    const x = values.x ?? 'step';
    if (!(COMPARE_X as readonly string[]).includes(x)) throw new UsageError(`--x: "${x}" is not ${COMPARE_X.join(' or ')}`);
    if (values.points !== undefined && !/^\d+$/.test(values.points)) throw new UsageError(`--points: "${values.points}" is not a whole number`);
    if (values.points !== undefined && !values.json) throw new UsageError('--points: only with --json (the table shows no curves)');
    // the table reads no curves: the fewest points the API draws
    const query = { ids: ids.join(','), x, points: values.points ?? (values.json ? String(COMPARE_LIMITS.DEFAULT_POINTS) : '10') };
    const checked = compareQuerySchema.safeParse(query);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      throw new UsageError(`${optionOf(issue.path.join('.')) ?? 'options'}: ${issue.message}`);
    }
    const base = serverUrl(values.server);
    let res: Response;
    try {
      res = await call(base, `/api/trainings/compare?${new URLSearchParams(query).toString()}`);
    } catch (err) {
      const first = err instanceof ApiError && err.status === 400 && Array.isArray(err.details) ? (err.details[0] as { field?: unknown; message?: unknown } | undefined) : undefined;
      const option = typeof first?.field === 'string' ? optionOf(first.field) : undefined;
      if (option) throw new UsageError(`${option}: ${String(first!.message)}`);
      throw err;
    }
    const answer = compareSchema.parse(await res.json());
    if (values.json) {
      console.log(JSON.stringify(answer));
      return;
    }
    process.stdout.write(formatComparison(answer));
  },
};
