/**
 * `loupe sweep`: hyperparameter sweeps through a running Loupe's HTTP API.
 *
 *   sweep create --extraction ID (--space FILE.json | --param NAME=SPEC ...) --objective METRIC
 *                [--direction maximize|minimize] [--constraint "l0<=40" ...] [--method grid|random|tpe]
 *                [--budget N] [--parallelism N] [--seed N] [--hook NAME] [--name NAME] [--base FILE.json] [--json]
 *       queues a sweep (`POST /api/sweeps`). A --param SPEC is `int:MIN:MAX[:log][:POINTS]`,
 *       `float:MIN:MAX[:log][:POINTS]` or `choice:A,B,...` (numbers and true/false read as such),
 *       e.g. `--param k=int:16:128:log --param lr=float:1e-4:1e-2:log --param architecture=choice:topk,batchtopk`;
 *       --space FILE.json holds the same as the API's `space`, --base FILE.json a training config
 *       (`{"batchSize": 1024, "totalTokens": 2000000}`). Prints the sweep's id (--json: the API's answer).
 *   sweep show ID [--json]   the sweep and a table of its trials, the best marked `*` (--json: the API's detail)
 *   sweep cancel ID          cancels a queued or running sweep and its running trials
 *
 * The server is --server URL, else LOUPE_SERVER, else http://127.0.0.1:$PORT
 * (8787); LOUPE_TOKEN is sent as a bearer token when set. A request the
 * server refuses naming a field is a usage error naming the option.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createdSweepSchema, createSweepSchema, sweepDetailSchema, sweepSchema, type SweepDetail } from '../../models/contracts/sweeps.ts';
import type { ParamSpec, ParamValue, RangeSpec } from '../../models/sweep/space.ts';
import { ApiError, call, serverUrl, UsageError, type Command } from './args.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const str = { type: 'string' } as const;
const OPTIONS = {
  server: str,
  extraction: str,
  space: str,
  param: { type: 'string', multiple: true },
  objective: str,
  direction: str,
  constraint: { type: 'string', multiple: true },
  method: str,
  budget: str,
  parallelism: str,
  seed: str,
  hook: str,
  name: str,
  base: str,
  json: { type: 'boolean' },
} as const;
/** Options of each action. */
const ONLY: Record<string, string[]> = { create: Object.keys(OPTIONS), show: ['server', 'json'], cancel: ['server'] };

/** The option behind a field of the request: `space.k.max` → `--param` (or `--space`), `objective.constraints.0` → `--constraint`. */
function optionOf(field: string, spaceFromFile: boolean): string {
  const [head, next] = field.split('.');
  if (head === 'space') return spaceFromFile ? '--space' : '--param';
  if (head === 'objective') return next === 'constraints' ? '--constraint' : next === 'direction' ? '--direction' : '--objective';
  const named: Record<string, string> = { extractionId: '--extraction', hookPoint: '--hook', base: '--base' };
  return named[head!] ?? `--${head}`;
}

/** A choice's value as typed: a number, true or false, else the word. */
function value(s: string): ParamValue {
  if (s === 'true' || s === 'false') return s === 'true';
  return s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s;
}

/** `k=int:16:128:log` → ['k', {type: 'int', min: 16, max: 128, log: true}]; a usage error naming --param otherwise. */
function parseParam(arg: string): [string, ParamSpec] {
  const bad = (why: string) => new UsageError(`--param ${arg}: ${why} (expected NAME=int:MIN:MAX[:log][:POINTS], NAME=float:… or NAME=choice:A,B,…)`);
  const m = /^([A-Za-z]\w*)=(int|float|choice):(.+)$/.exec(arg);
  if (!m) throw bad('not NAME=TYPE:…');
  const [, name, type, rest] = m as unknown as [string, string, 'int' | 'float' | 'choice', string];
  if (type === 'choice') return [name, { type, values: rest.split(',').map(value) }];
  const [min = '', max = '', ...flags] = rest.split(':');
  const spec: RangeSpec = { type, min: Number(min), max: Number(max) };
  if (!min.trim() || !max.trim() || !Number.isFinite(spec.min) || !Number.isFinite(spec.max)) throw bad('MIN and MAX must be numbers');
  for (const f of flags) {
    if (f === 'log') spec.log = true;
    else if (/^\d+$/.test(f)) spec.points = Number(f);
    else throw bad(`"${f}" is neither log nor a number of grid points`);
  }
  return [name, spec];
}

/** `l0<=40` → {metric: 'l0', op: '<=', value: 40}. */
function parseConstraint(arg: string): { metric: string; op: string; value: number } {
  const m = /^\s*(\w+)\s*(<=|>=)\s*(\S+)\s*$/.exec(arg);
  if (!m || !Number.isFinite(Number(m[3]))) throw new UsageError(`--constraint "${arg}": expected METRIC<=NUMBER or METRIC>=NUMBER, e.g. "l0<=40"`);
  return { metric: m[1]!, op: m[2]!, value: Number(m[3]) };
}

/** The JSON object in `file`; a usage error naming `option` when it cannot be read or is not one. */
async function jsonFile(option: string, file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${option}: ${file} is not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${option}: ${file} does not hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** An integer option's value, or undefined when not given. */
function intOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name}: "${String(v)}" is not a whole number`);
  return Number(v);
}

async function create(values: Record<string, unknown>): Promise<void> {
  if (typeof values.extraction !== 'string') throw new UsageError('--extraction ID is required (`GET /api/extractions` lists them)');
  if (typeof values.objective !== 'string') throw new UsageError('--objective METRIC is required (e.g. explainedVariance, l0, ceLossRecovered)');
  const params = (values.param as string[] | undefined) ?? [];
  if ((values.space === undefined) === (params.length === 0)) throw new UsageError('give --space FILE.json or --param NAME=SPEC (one or more), not both');
  const fromFile = typeof values.space === 'string';
  const space = fromFile ? await jsonFile('--space', values.space as string) : Object.fromEntries(params.map(parseParam));
  const body = {
    extractionId: values.extraction,
    space,
    objective: { metric: values.objective, ...(values.direction !== undefined ? { direction: values.direction } : {}), constraints: ((values.constraint as string[] | undefined) ?? []).map(parseConstraint) },
    ...(values.method !== undefined ? { method: values.method } : {}),
    ...Object.fromEntries((['budget', 'parallelism', 'seed'] as const).flatMap((k) => (values[k] !== undefined ? [[k, intOption(values, k)]] : []))),
    ...(values.hook !== undefined ? { hookPoint: values.hook } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(typeof values.base === 'string' ? { base: await jsonFile('--base', values.base) } : {}),
  };
  const checked = createSweepSchema.safeParse(body);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path.join('.');
    throw new UsageError(`${optionOf(field, fromFile)}: ${field ? `${field}: ` : ''}${issue.message}`);
  }
  const base = serverUrl(values.server as string | undefined);
  let res: Response;
  try {
    res = await call(base, '/api/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    const first = err instanceof ApiError && err.status === 400 && Array.isArray(err.details) ? (err.details[0] as { field?: unknown; message?: unknown } | undefined) : undefined;
    if (typeof first?.field === 'string') throw new UsageError(`${optionOf(first.field, fromFile)}: ${first.field}: ${String(first.message)}`);
    throw err;
  }
  const created = createdSweepSchema.parse(await res.json());
  const { sweep } = created;
  console.error(`sweep: queued "${sweep.name}" (${sweep.spec.method}, ${sweep.spec.budget} trials, ${sweep.spec.parallelism} at once; ${sweep.objectiveText}) as ${sweep.id}`);
  console.log(values.json ? JSON.stringify(created) : sweep.id);
}

const cell = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(4))) : v === null || v === undefined ? '-' : String(v));

/** The sweep in words and its trials as a table, the best marked `*`. */
function sweepTable(d: SweepDetail): string {
  const p = d.progress;
  const keys = Object.keys(d.spec.space);
  const head = [
    `${d.name} (${d.id}): ${d.status}; ${d.spec.method}, ${d.objectiveText}`,
    `${p.trials}/${d.spec.budget} trials: ${p.running} running, ${p.completed} completed, ${p.pruned} pruned, ${p.failed} failed, ${p.cancelled} cancelled${p.best ? `; best #${p.best.number}: ${cell(p.best.value)}` : ''}`,
  ];
  const rows = [['', '#', ...keys, 'status', 'objective', 'step', 'reason']];
  for (const t of d.trials) {
    rows.push([t.best ? '*' : '', String(t.number), ...keys.map((k) => cell(t.params[k])), t.status, cell(t.objective), t.training ? `${t.training.step}/${t.training.totalSteps}` : '-', t.reason ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [...head, '', ...rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd())].join('\n');
}

export const command: Command = {
  usage:
    'sweep create --extraction ID (--space FILE.json | --param NAME=int|float:MIN:MAX[:log][:POINTS] | --param NAME=choice:A,B ...) --objective METRIC [--direction maximize|minimize] [--constraint "l0<=40" ...] [--method grid|random|tpe] [--budget N] [--parallelism N] [--seed N] [--hook NAME] [--name NAME] [--base FILE.json] [--json] | sweep show ID [--json] | sweep cancel ID  (all: [--server URL])',
  async run(args) {
    let values: Record<string, unknown>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const [action, ...rest] = positionals;
    if (!action || !ONLY[action]) throw new UsageError(action ? `unknown action "${action}" (create, show or cancel)` : 'create, show or cancel?');
    const stray = Object.keys(values).find((k) => !ONLY[action]!.includes(k));
    if (stray) throw new UsageError(`--${stray} is not an option of sweep ${action}`);
    if (action === 'create') {
      if (rest.length) throw new UsageError(`create takes no arguments, only options (got "${rest[0]}")`);
      return create(values);
    }
    if (rest.length !== 1 || !UUID.test(rest[0]!)) throw new UsageError(`${action} takes one sweep id (a UUID; \`GET /api/sweeps\` lists them)`);
    const base = serverUrl(values.server as string | undefined);
    if (action === 'show') {
      const d = sweepDetailSchema.parse(await (await call(base, `/api/sweeps/${rest[0]}`)).json());
      console.log(values.json ? JSON.stringify(d) : sweepTable(d));
      return;
    }
    const sweep = sweepSchema.parse(await (await call(base, `/api/sweeps/${rest[0]}/cancel`, { method: 'POST' })).json());
    console.error(`sweep: cancelled "${sweep.name}" (${sweep.progress.trials} trials made, ${sweep.progress.cancelled} cancelled)`);
    console.log(JSON.stringify(sweep));
  },
};
