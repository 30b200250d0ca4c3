/**
 * `loupe features`: an SAE's features, found locally or browsed and analysed
 * through a running Loupe's HTTP API.
 *
 *   features discover --sae DIR --activations DIR --dataset DIR [--model DIR] [--top-k 10] [--left 16] [--right 4] [--out FILE.jsonl]
 *       no server: every feature of the SAE (SAELens folder) over the stored
 *       activations of its hook (a `loupe extract` folder or DATA_DIR/activations/<id>),
 *       with examples from the tokenized dataset they came from and token texts
 *       from --model's tokenizer (default: the demo model, for datasets it
 *       tokenized). One JSON line per feature, by index: {index, label, kind,
 *       score, frequency, maxActivation, meanActivation, topTokens, histogram,
 *       examples: [{rank, maxValue, position, start, tokens: [{id, text, value}]}]}
 *       — the API's feature detail with the heuristic label. --out writes the
 *       file whole or not at all. Progress goes to stderr.
 *   features list --sae ID [--q TEXT] [--token " Moses"|#123] [--min-freq F] [--max-freq F] [--favourite] [--sort -score] [--limit 50] [--offset 0]
 *       one JSON line per feature of the page (`GET /api/features`); the total on stderr
 *   features show ID                 a feature (`{saeId}:{index}`) with its examples, as JSON
 *   features lens ID [--k 20] [--norm weight|none]
 *       its logit lens: W_dec[f] centred (LayerNorm) and scaled by the final
 *       norm's gain (weight, the default), or W_dec[f]·W_U exactly (none)
 *   features correlations ID [--k 10]
 *   features ablate ID [--mode zero|clamp] [--value V] [--examples 5]
 *       the analyses wait for the server's job (polling its 202) up to --wait seconds (600)
 *
 * The server is --server URL, else LOUPE_SERVER, else http://127.0.0.1:$PORT
 * (8787); LOUPE_TOKEN is sent as a bearer token when set.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { readManifest } from '../../models/activations/store.ts';
import {
  ablationQuerySchema,
  ablationSchema,
  analysisPendingSchema,
  correlationsQuerySchema,
  correlationsSchema,
  discoverySettingsSchema,
  FEATURE_LIMITS,
  featureDetailSchema,
  featureIdParamSchema,
  featureListQuerySchema,
  featureListSchema,
  logitLensQuerySchema,
  logitLensSchema,
} from '../../models/contracts/features.ts';
import { openTokenStore, readDocOffsets, type TokenStore } from '../../models/datasets/format.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { discoverFeatures, type FeatureSummary } from '../../models/features/discover.ts';
import { toFeatureRecord } from '../../models/features/records.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { loadSae, SaeFormatError } from '../../models/sae/saelens.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { call, serverUrl, UsageError, type Command } from './args.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

const str = { type: 'string' } as const;
const SERVER: Options = { server: str };
const ACTIONS: Record<string, Options> = {
  discover: { sae: str, activations: str, dataset: str, model: str, 'top-k': str, left: str, right: str, out: str },
  list: { ...SERVER, sae: str, q: str, token: str, 'min-freq': str, 'max-freq': str, favourite: { type: 'boolean' }, sort: str, limit: str, offset: str },
  show: SERVER,
  lens: { ...SERVER, k: str, norm: str, wait: str },
  correlations: { ...SERVER, k: str, wait: str },
  ablate: { ...SERVER, mode: str, value: str, examples: str, wait: str },
};

/** The option behind a query or settings field (`minFreq` → `--min-freq`, `topK` → `--top-k`). */
const flag = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Validates options with one of the API's schemas; the first issue becomes a usage error naming its option. */
function parseWith<S extends z.ZodType>(schema: S, input: Record<string, unknown>): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new UsageError(`${flag(String(issue.path[0] ?? 'options'))}: ${issue.message}`);
}

/** Options given as strings, without the ones left out. */
function given(values: Record<string, unknown>, names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [opt, field] of Object.entries(names)) if (typeof values[opt] === 'string') out[field] = values[opt] as string;
  return out;
}

function oneId(rest: string[], action: string): string {
  if (rest.length !== 1) throw new UsageError(`${action} takes one feature id: features ${action} SAE_ID:INDEX`);
  const id = rest[0]!;
  if (!featureIdParamSchema.safeParse({ id }).success) throw new UsageError(`"${id}" is not a feature id ({saeId}:{index}, e.g. 3f1c…:17; \`loupe features list --sae ID\` lists them)`);
  return id;
}

/** `--sort -score`, `--value -2` as `--sort=-score`, `--value=-2` (parseArgs takes a value starting with "-" for an option). */
function joinDashValues(args: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name && options?.[name]?.type === 'string' && next !== undefined && next.startsWith('-') && !(next.startsWith('--') && options[next.slice(2).split('=')[0]!])) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

const line = (o: unknown): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);

/** GET of an analysis, polling its 202 (a job still running) until the answer or `waitS` seconds. */
async function analysis<S extends z.ZodType>(base: string, p: string, schema: S, waitS: number): Promise<z.infer<S>> {
  const deadline = Date.now() + waitS * 1000;
  let said = false;
  for (;;) {
    const res = await call(base, p);
    const body: unknown = await res.json();
    if (res.status !== 202) return schema.parse(body);
    const { jobId } = analysisPendingSchema.parse(body);
    if (!said) console.error(`features: the server is computing it (job ${jobId}); waiting…`);
    said = true;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish within ${waitS} s (--wait); ask again later for the cached answer`);
    await sleep(1000);
  }
}

async function isFolder(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** `features discover`: checks everything before any work, then one line per feature. */
async function discover(values: Record<string, unknown>): Promise<void> {
  for (const o of ['sae', 'activations', 'dataset'] as const) if (typeof values[o] !== 'string') throw new UsageError(`--${o} DIR is required`);
  const settings = parseWith(discoverySettingsSchema, {
    topK: FEATURE_LIMITS.DEFAULT_TOP_K,
    left: FEATURE_LIMITS.DEFAULT_LEFT,
    right: FEATURE_LIMITS.DEFAULT_RIGHT,
    ...Object.fromEntries(Object.entries(given(values, { 'top-k': 'topK', left: 'left', right: 'right' })).map(([k, v]) => [k, /^\d+$/.test(v) ? Number(v) : v])),
  });
  const saeDir = path.resolve(values.sae as string);
  const acts = path.resolve(values.activations as string);
  const data = path.resolve(values.dataset as string);
  if (!(await isFolder(saeDir))) throw new UsageError(`--sae: ${saeDir} is not a folder`);
  if (!(await isFolder(acts))) throw new UsageError(`--activations: ${acts} is not a folder`);
  if (!(await isFolder(data))) throw new UsageError(`--dataset: ${data} is not a folder`);
  let sae: Awaited<ReturnType<typeof loadSae>>;
  try {
    sae = await loadSae(saeDir);
  } catch (err) {
    if (err instanceof SaeFormatError) throw new UsageError(`--sae: ${err.message}`);
    throw err;
  }
  const hook = sae.cfg.hookName;
  const manifest = await readManifest(acts);
  if (!manifest) throw new UsageError(`--activations: ${acts} has no manifest.json (an activation store of \`loupe extract\`)`);
  const h = manifest.hooks[hook];
  if (!h) throw new UsageError(`--activations: ${acts} has no activations at ${hook}, the SAE's hook point (it has ${Object.keys(manifest.hooks).join(', ')})`);
  if (h.d !== sae.cfg.dIn) throw new UsageError(`--activations: ${hook} rows there have ${h.d} values; the SAE takes ${sae.cfg.dIn}`);
  let tokens: TokenStore;
  try {
    tokens = await openTokenStore(data);
  } catch (err) {
    throw new UsageError(`--dataset: ${data} is not a tokenized dataset (${err instanceof Error ? err.message : String(err)})`);
  }
  const out = typeof values.out === 'string' ? path.resolve(values.out) : null;
  let file: { tmp: string; stream: WriteStream } | null = null;
  try {
    const from = (manifest.settings as { dataset?: { tokens?: number; createdAt?: string } }).dataset;
    if (from && (from.tokens !== tokens.tokens || (from.createdAt && from.createdAt !== tokens.meta.createdAt))) {
      throw new UsageError(`--dataset: ${data} holds ${tokens.tokens} tokens made ${tokens.meta.createdAt}; the activations were extracted from ${from.tokens} tokens made ${from.createdAt}`);
    }
    const modelDir = typeof values.model === 'string' ? path.resolve(values.model) : /tiny-gpt2-debian-6l/.test(tokens.meta.tokenizer.model) || tokens.meta.tokenizer.model === DEMO_MODEL_ID ? DEMO_MODEL_DIR : null;
    if (!modelDir) throw new UsageError(`--model DIR is required: the model folder whose tokenizer made --dataset (it says "${tokens.meta.tokenizer.model}"), for the tokens' texts`);
    if (!(await isFolder(modelDir))) throw new UsageError(`--model: ${modelDir} is not a folder`);
    const tokenizer = await loadTokenizer(modelDir).catch((err: Error) => {
      throw new UsageError(`--model: ${err.message}`);
    });
    if (tokenizer.vocabSize < tokens.meta.tokenizer.vocabSize) throw new UsageError(`--model: its tokenizer has ${tokenizer.vocabSize} tokens; --dataset was tokenized with ${tokens.meta.tokenizer.vocabSize}`);
    if (out) {
      if (!(await isFolder(path.dirname(out)))) throw new UsageError(`--out: the folder ${path.dirname(out)} does not exist`);
      const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
      file = { tmp, stream: createWriteStream(tmp) };
    }

    const memo = new Map<number, string>();
    const show = (id: number) => {
      let s = memo.get(id);
      if (s === undefined) memo.set(id, (s = tokenizer.tokenStrings([id])[0] ?? '\uFFFD'));
      return s;
    };
    const ac = new AbortController();
    const onSignal = () => ac.abort(new Error('interrupted; nothing written'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const started = performance.now();
    let said = 0;
    let result: { rows: number; features: FeatureSummary[] };
    try {
      result = await discoverFeatures({
        activations: acts,
        hook,
        cfg: sae.cfg,
        weights: sae.weights,
        tokens,
        docOffsets: await readDocOffsets(data),
        ...settings,
        signal: ac.signal,
        onProgress(done, total, phase) {
          const now = performance.now();
          if (now - said < 2000 && done < total) return;
          said = now;
          console.error(`features: ${phase} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} rows`);
        },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const secs = (performance.now() - started) / 1000;

    const write = (s: string) => (file ? new Promise<void>((resolve, reject) => file!.stream.write(s, (err) => (err ? reject(err) : resolve()))) : Promise.resolve(void process.stdout.write(s)));
    let dead = 0;
    for (const f of result.features) {
      if (f.frequency === 0) dead++;
      const r = toFeatureRecord(f, show);
      const o = {
        index: f.index,
        label: r.heuristicLabel,
        kind: r.heuristicKind,
        score: r.heuristicScore,
        frequency: f.frequency,
        maxActivation: f.maxActivation,
        meanActivation: f.meanActivation,
        topTokens: r.topTokens,
        histogram: f.histogram,
        examples: f.examples.map((e) => ({ rank: e.rank, maxValue: e.maxValue, position: e.position, start: e.start, tokens: e.tokens.map((id, i) => ({ id, text: show(id), value: e.values[i] ?? 0 })) })),
      };
      await write(`${JSON.stringify(o)}\n`);
    }
    if (file) {
      await new Promise<void>((resolve, reject) => file!.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await fs.rename(file.tmp, out!);
      file = null;
    }
    console.error(
      `features: ${result.features.length} features of ${hook} over ${result.rows.toLocaleString('en-US')} rows in ${secs.toFixed(1)} s (${Math.round(result.rows / secs).toLocaleString('en-US')} rows/s); ${dead} never active${out ? `; written to ${out}` : ''}`,
    );
  } finally {
    await tokens.close();
    if (file) {
      file.stream.destroy();
      await fs.rm(file.tmp, { force: true });
    }
  }
}

export const command: Command = {
  usage:
    'features discover --sae DIR --activations DIR --dataset DIR [--model DIR] [--top-k 10] [--left 16] [--right 4] [--out FILE.jsonl] | features list --sae ID [--q TEXT] [--token T] [--min-freq F] [--max-freq F] [--favourite] [--sort -score] [--limit 50] [--offset 0] | features show|lens|correlations|ablate SAE_ID:INDEX [--k N] [--norm weight|none] [--mode zero|clamp] [--value V] [--examples 5] [--wait 600]  (all but discover: [--server URL])',
  async run(args) {
    const [action, ...tail] = args;
    if (!action || action.startsWith('-')) throw new UsageError('discover, list, show, lens, correlations or ablate?');
    const options = ACTIONS[action];
    if (!options) throw new UsageError(`unknown action "${action}" (discover, list, show, lens, correlations or ablate)`);
    let values: Record<string, unknown>;
    let rest: string[];
    try {
      ({ values, positionals: rest } = parseArgs({ args: joinDashValues(tail, options), options, strict: true, allowPositionals: true }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (action === 'discover') {
      if (rest.length) throw new UsageError(`discover takes no arguments, only options (got "${rest[0]}")`);
      return discover(values);
    }
    if (action === 'list') {
      if (rest.length) throw new UsageError(`list takes no arguments, only options (got "${rest[0]}")`);
      if (typeof values.sae !== 'string') throw new UsageError('--sae ID is required (`GET /api/saes` lists them)');
      const input: Record<string, unknown> = given(values, { sae: 'sae', q: 'q', token: 'token', 'min-freq': 'minFreq', 'max-freq': 'maxFreq', sort: 'sort', limit: 'limit', offset: 'offset' });
      if (values.favourite) input.favourite = 'true';
      parseWith(featureListQuerySchema, input);
      const base = serverUrl(values.server as string | undefined);
      const page = featureListSchema.parse(await (await call(base, `/api/features?${new URLSearchParams(input as Record<string, string>)}`)).json());
      for (const item of page.items) line(item);
      const offset = Number(input.offset ?? 0);
      console.error(page.items.length ? `features: ${offset + 1}–${offset + page.items.length} of ${page.total}` : `features: none of ${page.total}`);
      return;
    }
    const id = oneId(rest, action);
    const base = serverUrl(values.server as string | undefined);
    const waitS = values.wait === undefined ? 600 : Number(values.wait);
    if (!(waitS >= 0)) throw new UsageError(`--wait: "${String(values.wait)}" is not a number of seconds`);
    const feature = `/api/features/${encodeURIComponent(id)}`;
    if (action === 'show') {
      line(featureDetailSchema.parse(await (await call(base, feature)).json()));
      return;
    }
    if (action === 'lens' || action === 'correlations') {
      const input = given(values, action === 'lens' ? { k: 'k', norm: 'norm' } : { k: 'k' });
      parseWith(action === 'lens' ? logitLensQuerySchema : correlationsQuerySchema, input);
      const p = `${feature}/${action === 'lens' ? 'logit-lens' : 'correlations'}?${new URLSearchParams(input)}`;
      line(await analysis(base, p, action === 'lens' ? logitLensSchema : correlationsSchema, waitS));
      return;
    }
    const input = given(values, { mode: 'mode', value: 'value', examples: 'examples' });
    parseWith(ablationQuerySchema, input);
    line(await analysis(base, `${feature}/ablation?${new URLSearchParams(input)}`, ablationSchema, waitS));
  },
};
