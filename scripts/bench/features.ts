/**
 * Features: discovery throughput on the demo SAE and the latency of the
 * analysis endpoints. A real Loupe (`npm start`'s launcher: embedded
 * PostgreSQL, server, worker) in a temporary DATA_DIR builds the demo's
 * artifacts through its API with the demo's settings (models/demo.ts): an
 * extraction of the demo model at blocks.3.hook_resid_post over --tokens
 * tokens of the demo dataset, a TopK k32 2,048-feature SAE, a discovery.
 * Then:
 *
 * - `build_*`: how long each of those jobs took (row created → completed);
 * - `discover_local`: discoverFeatures in this process over the stored
 *   activations (tokens/s, the scan and examples passes apart);
 * - `discover_job`: a second `POST /api/discoveries` until completed, as a
 *   user waits for it (queue, both passes, labels, saving);
 * - `analysis_<kind>`: `GET /api/features/{id}/logit-lens|correlations|ablation`
 *   for --features features (the best scored), cold (the request waits for a
 *   `features.analyze` job) and cached (the same request again): median and
 *   max ms.
 *
 *   npm run bench -- features [--tokens 300000] [--features 5] [--device cpu] [--data DIR]
 *
 * --data keeps the DATA_DIR (and reuses the artifacts a previous run built in it).
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { activationsDir } from '../../models/activations/run.ts';
import { extractionListSchema, type Extraction } from '../../models/contracts/extractions.ts';
import { discoveryListSchema, discoverySchema, featureListSchema, type Discovery } from '../../models/contracts/features.ts';
import { saeListSchema, trainingListSchema, type Sae, type Training } from '../../models/contracts/trainings.ts';
import { datasetDir } from '../../models/dataset-files.ts';
import { openTokenStore, readDocOffsets } from '../../models/datasets/format.ts';
import { DEMO_DISCOVERY, DEMO_EXTRACTION, DEMO_HOOK, DEMO_TRAINING } from '../../models/demo.ts';
import { discoverFeatures } from '../../models/features/discover.ts';
import type { Device } from '../../models/runtime.ts';
import { loadSae } from '../../models/sae/saelens.ts';
import { DEMO_DATASET_ID } from '../../db/queries/datasets.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { launch, tempDataDir } from '../testing/launcher.ts';
import { waitFor } from '../testing/processes.ts';

const line = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'features', ...o }));
const ms = (a: number, b: number) => Math.round(b - a);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { tokens: { type: 'string', default: String(DEMO_EXTRACTION.tokenBudget) }, features: { type: 'string', default: '5' }, device: { type: 'string', default: 'cpu' }, data: { type: 'string' } } });
  const tokens = Number(values.tokens);
  const nFeatures = Number(values.features);
  const device = values.device as Device;
  const dataDir = values.data ? path.resolve(values.data) : tempDataDir('loupe-bench-features-');
  const threads = os.availableParallelism();
  const app = await launch(dataDir, { LOUPE_DEMO: '0', LOUPE_SAMPLER: '0', LOUPE_DEVICE: device, LOG_LEVEL: 'warn' });
  const base = app.base;
  const api = async <T>(p: string, schema: { parse(v: unknown): T }, init?: RequestInit): Promise<T> => {
    const res = await fetch(base + p, { ...init, headers: { 'content-type': 'application/json' } });
    const body: unknown = await res.json();
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${JSON.stringify(body)}`);
    return schema.parse(body);
  };
  const post = <T>(p: string, schema: { parse(v: unknown): T }, body: unknown) => api(p, schema, { method: 'POST', body: JSON.stringify(body) });
  const ended = <R extends { status: string; error: string | null }>(what: string, look: () => Promise<R | undefined>) =>
    waitFor(
      what,
      async () => {
        const r = await look();
        if (r && (r.status === 'failed' || r.status === 'cancelled')) throw new Error(`${what}: ${r.status} ${r.error ?? ''}`);
        return r?.status === 'completed' ? r : undefined;
      },
      3_600_000,
      250,
    );

  try {
    // the demo's artifacts at --tokens, built through the API (or found from an earlier run in --data)
    const { extractions } = await api('/api/extractions', extractionListSchema);
    let extraction: Extraction | undefined = extractions.find((e) => e.status === 'completed' && e.hookPoints.includes(DEMO_HOOK) && e.settings.tokenBudget === tokens);
    if (!extraction) {
      await waitFor('the demo dataset to be tokenized', async () => ((await (await fetch(`${base}/api/datasets/${DEMO_DATASET_ID}`)).json()) as { status?: string }).status === 'completed' || undefined, 300_000, 250);
      const created = await post('/api/extractions', { parse: (v) => v as { extraction: Extraction } }, { modelId: DEMO_MODEL_ID, datasetId: DEMO_DATASET_ID, hookPoints: [DEMO_HOOK], ...DEMO_EXTRACTION, tokenBudget: tokens });
      extraction = await ended('the extraction', async () => (await api('/api/extractions', extractionListSchema)).extractions.find((e) => e.id === created.extraction.id));
      line({ case: 'build_extraction', device, threads, tokens, seconds: ms(extraction.createdAt, extraction.updatedAt) / 1000, tokens_per_s: Math.round(tokens / ((extraction.updatedAt - extraction.createdAt) / 1000)) });
    }
    const saes = (await api('/api/saes', saeListSchema)).saes;
    const trainings = (await api('/api/trainings', trainingListSchema)).trainings.filter((t) => t.extractionId === extraction!.id && t.status === 'completed');
    let sae: Sae | undefined = saes.find((s) => s.hookPoint === DEMO_HOOK && trainings.some((t) => t.id === s.trainingId) && s.dSae === DEMO_TRAINING.dSae);
    if (!sae) {
      const created = await post('/api/trainings', { parse: (v) => v as { training: Training } }, { extractionId: extraction.id, hookPoints: [DEMO_HOOK], config: DEMO_TRAINING, name: 'bench features' });
      const t = await ended('the training', async () => (await api('/api/trainings', trainingListSchema)).trainings.find((x) => x.id === created.training.id));
      sae = (await api('/api/saes', saeListSchema)).saes.find((s) => s.trainingId === t.id)!;
      line({ case: 'build_training', device, threads, tokens: t.config.totalTokens, seconds: ms(t.createdAt, t.updatedAt) / 1000, explained_variance: sae.metrics?.train?.explainedVariance ?? null });
    }
    const discover = async (): Promise<Discovery> => {
      const d = await post('/api/discoveries', discoverySchema, { saeId: sae!.id, extractionId: extraction!.id, ...DEMO_DISCOVERY });
      return ended('the discovery', async () => (await api(`/api/discoveries?sae=${sae!.id}`, discoveryListSchema)).discoveries.find((x) => x.id === d.id));
    };
    const had = (await api(`/api/discoveries?sae=${sae.id}`, discoveryListSchema)).discoveries.some((d) => d.status === 'completed');
    if (!had) {
      const d = await discover();
      line({ case: 'build_discovery', device, threads, rows: d.rows, seconds: ms(d.createdAt, d.updatedAt) / 1000 });
    }

    // discovery in this process, pass by pass
    const cfg = await loadSae(sae.path);
    const data = datasetDir(dataDir, DEMO_DATASET_ID);
    const store = await openTokenStore(data);
    const start = performance.now();
    const marks: { examples?: number } = {};
    const r = await discoverFeatures({
      activations: activationsDir(dataDir, extraction.id),
      hook: DEMO_HOOK,
      cfg: cfg.cfg,
      weights: cfg.weights,
      tokens: store,
      docOffsets: await readDocOffsets(data),
      ...DEMO_DISCOVERY,
      device,
      onProgress: (_done, _total, phase) => void (phase === 'examples' && (marks.examples ??= performance.now())),
    });
    const end = performance.now();
    await store.close();
    const secs = (end - start) / 1000;
    line({
      case: 'discover_local',
      device,
      threads,
      rows: r.rows,
      d_in: cfg.cfg.dIn,
      d_sae: cfg.cfg.dSae,
      k: cfg.cfg.k,
      top_k: DEMO_DISCOVERY.topK,
      seconds: Math.round(secs * 10) / 10,
      tokens_per_s: Math.round(r.rows / secs),
      scan_s: Math.round(((marks.examples ?? end) - start) / 100) / 10,
      examples_s: marks.examples ? Math.round((end - marks.examples) / 100) / 10 : null,
    });

    // the job as a user waits for it
    const t0 = Date.now();
    const d = await discover();
    const jobS = (Date.now() - t0) / 1000;
    line({ case: 'discover_job', device, threads, rows: d.rows, d_sae: cfg.cfg.dSae, seconds: Math.round(jobS * 10) / 10, tokens_per_s: Math.round((d.rows ?? 0) / jobS) });

    // analyses of the best scored features, cold then cached
    const feats = (await api(`/api/features?sae=${sae.id}&sort=-score&limit=${nFeatures}&minFreq=0.0001`, featureListSchema)).items;
    const kinds: [string, (n: number) => string][] = [
      ['logit-lens', (n) => `logit-lens?k=${20 + n}`],
      ['correlations', (n) => `correlations?k=${10 + n}`],
      ['ablation', (n) => `ablation?mode=zero&examples=${Math.min(20, 5 + n)}`],
    ];
    for (const [kind, query] of kinds) {
      const cold: number[] = [];
      const cached: number[] = [];
      for (const f of feats) {
        // a parameter no earlier run asked for (answers are cached for days)
        for (let n = 0; n < 15; n++) {
          const url = `${base}/api/features/${f.id}/${query(n)}`;
          let a = performance.now();
          let res = await fetch(url);
          let body = (await res.json()) as { cached?: boolean };
          while (res.status === 202) {
            await new Promise((r) => setTimeout(r, 200));
            res = await fetch(url);
            body = (await res.json()) as { cached?: boolean };
          }
          if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
          if (body.cached) continue;
          cold.push(performance.now() - a);
          a = performance.now();
          const again = (await (await fetch(url)).json()) as { cached?: boolean };
          if (!again.cached) throw new Error(`${url}: asked again, not cached`);
          cached.push(performance.now() - a);
          break;
        }
      }
      line({ case: `analysis_${kind}`, device, threads, features: cold.length, cold_ms_median: Math.round(median(cold)), cold_ms_max: Math.round(Math.max(...cold)), cached_ms_median: Math.round(median(cached) * 10) / 10, cached_ms_max: Math.round(Math.max(...cached) * 10) / 10 });
    }
  } finally {
    await app.proc.stop('SIGINT', 30_000);
    if (!values.data) rmSync(dataDir, { recursive: true, force: true });
  }
}
