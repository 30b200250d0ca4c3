/**
 * The first-start demo end to end, as a newcomer gets it, on the Loupe that
 * web/pages/demo.e2e.test.ts starts for the demo's browser suites: `npm
 * start`'s launcher (embedded PostgreSQL, server, worker) on a fresh
 * DATA_DIR, plus a second worker started at the same moment against the same
 * database. With no request, the demo dataset is tokenized and the demo
 * builds an extraction at blocks.3.hook_resid_post, a TopK SAE trained on it
 * and its discovered features, each an ordinary row seen through the API
 * while it runs ({@link watchDemo}, started with the Loupe, records what it
 * sees); the two workers make one of each. At the end (after the browser
 * suites), a user deletes the demo's discovery, Loupe is stopped and started
 * again: nothing is made twice, and the deleted discovery is not made again.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { healthSchema, jobListSchema } from '../../models/contracts/api.ts';
import { extractionListSchema, type Extraction } from '../../models/contracts/extractions.ts';
import { discoveryListSchema, featureListSchema, type Discovery } from '../../models/contracts/features.ts';
import { saeListSchema, trainingListSchema, type Training } from '../../models/contracts/trainings.ts';
import { DEMO_HOOK } from '../../models/demo.ts';
import { launch, type Launched } from '../../scripts/testing/launcher.ts';
import { waitFor, type RunningProcess } from '../../scripts/testing/processes.ts';
import { startWorker } from '../../scripts/testing/worker.ts';

/** The demo (tokenization, extraction, training, discovery): ~1.5 min on two idle cores, ~4 on two loaded ones. */
const DEMO_MS = 10 * 60_000;

async function get<T>(base: string, url: string, schema: { parse(v: unknown): T }): Promise<T> {
  const res = await fetch(base + url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return schema.parse(await res.json());
}

/** What the demo made, counted through the API. */
async function counts(base: string) {
  return {
    extractions: (await get(base, '/api/extractions', extractionListSchema)).extractions.length,
    trainings: (await get(base, '/api/trainings', trainingListSchema)).trainings.length,
    saes: (await get(base, '/api/saes', saeListSchema)).saes.length,
    discoveries: (await get(base, '/api/discoveries', discoveryListSchema)).discoveries.length,
    demoJobs: (await get(base, '/api/jobs?kind=demo.setup', jobListSchema)).total,
  };
}

/** What {@link watchDemo} saw while the demo ran. */
export interface DemoWatch {
  extraction: Extraction;
  training: Training;
  discovery: Discovery;
  /** `extraction progress`, `training progress`, `discovery progress`: seen running with progress */
  seen: Set<string>;
  /** s since the launch at which each completed */
  times: Record<string, number>;
  /** what existed the moment the discovery completed (before any suite made more) */
  counts: Awaited<ReturnType<typeof counts>>;
}

/**
 * Starts a second worker on `stack`'s database and follows the demo through
 * the API until its discovery completes (polling every 250 ms, so each
 * artifact is seen while it runs). Call right after the launch; the
 * promise settles in the background while other suites use the Loupe.
 */
export function watchDemo(stack: Launched, t0: number): { second: Promise<RunningProcess>; done: Promise<DemoWatch> } {
  const password = readFileSync(path.join(stack.dataDir, 'pg.password'), 'utf8').trim();
  const env = { LOUPE_DEVICE: 'cpu', LOUPE_SAMPLER: '0', DATA_DIR: stack.dataDir, DATABASE_URL: `postgres://loupe:${encodeURIComponent(password)}@127.0.0.1:${stack.env.PG_PORT}/loupe` };
  const second = startWorker(env, 120_000);
  const base = stack.base;
  const seen = new Set<string>();
  const times: Record<string, number> = {};
  const completed = <T extends { status: string; error: string | null }>(what: string, latest: () => Promise<T | undefined>, progressing: (x: T) => boolean) =>
    waitFor(
      `the demo ${what} to complete`,
      async () => {
        const x = await latest();
        if (x?.status === 'running' && progressing(x)) seen.add(`${what} progress`);
        if (x?.status === 'failed') throw new Error(`${what} failed: ${x.error}`);
        if (x?.status !== 'completed') return undefined;
        times[what] = Math.round((Date.now() - t0) / 1000);
        return x;
      },
      DEMO_MS,
      250,
    );
  // the oldest of each: the demo's (the suites make more later)
  const done = (async () => {
    const extraction = await completed('extraction', async () => (await get(base, '/api/extractions', extractionListSchema)).extractions.at(-1), (e) => !!e.progress && e.progress.tokensDone > 0);
    const training = await completed('training', async () => (await get(base, '/api/trainings', trainingListSchema)).trainings.at(-1), (t) => !!t.progress && t.progress.step > 0);
    const discovery = await completed('discovery', async () => (await get(base, '/api/discoveries', discoveryListSchema)).discoveries.at(-1), (d) => !!d.progress && d.progress.rowsDone > 0);
    return { extraction, training, discovery, seen, times, counts: await counts(base) };
  })();
  done.catch(() => undefined); // awaited by the suite; no unhandled rejection meanwhile
  return { second, done };
}

/** The demo's own checks, on `demo()`'s Loupe (started with LOUPE_DEMO=1 and watched by {@link watchDemo}). */
export function demoSetupSuite(demo: () => { stack: Launched; watch: ReturnType<typeof watchDemo> }): {
  /** after the browser suites: a restart makes nothing again */
  restart(): void;
} {
  describe('the first-start demo', () => {
    it('builds an extraction, an SAE and its features on its own, once with two workers, each seen running', async () => {
      const { stack, watch } = demo();
      const w = await watch.done;
      const base = stack.base;
      expect(w.extraction).toMatchObject({ hookPoints: [DEMO_HOOK], modelName: expect.stringContaining('demo'), datasetName: expect.stringContaining('demo') });
      expect(w.extraction.settings.tokenBudget).toBe(300_000);
      expect(w.training).toMatchObject({ extractionId: w.extraction.id, hookPoints: [DEMO_HOOK], config: { architecture: 'topk', k: 32, dSae: 2048 } });
      const sae = (await get(base, `/api/saes?trainingId=${w.training.id}`, saeListSchema)).saes[0];
      expect(sae).toMatchObject({ trainingId: w.training.id, hookPoint: DEMO_HOOK, dSae: 2048, family: { version: 1, active: true, purpose: 'default' } });
      expect(w.discovery).toMatchObject({ saeId: sae!.id, extractionId: w.extraction.id, settings: { topK: 10, left: 16, right: 4 } });
      const features = await get(base, `/api/features?sae=${sae!.id}&sort=-score&limit=10`, featureListSchema);
      expect(features.total).toBe(2048);
      expect(features.items[0]!.score).toBe(1);
      console.log(`demo: seconds since the launch: ${JSON.stringify(w.times)}; seen live: ${[...w.seen].join(', ')}; best features: ${features.items.map((f) => f.label).join(' ')}`);
      expect(w.seen.has('extraction progress') && w.seen.has('training progress')).toBe(true);
      // two workers, one demo: one job and one of each artifact
      expect(w.counts).toEqual({ extractions: 1, trainings: 1, saes: 1, discoveries: 1, demoJobs: 1 });
      await waitFor('the demo job to complete', async () => ((await get(base, '/api/jobs?kind=demo.setup', jobListSchema)).jobs[0]?.state === 'completed' ? true : undefined), 30_000);
    });
  });

  return {
    restart: () =>
      describe('the first-start demo, after a restart', () => {
        it('makes nothing again, not even the discovery a user deleted', async () => {
          const d = demo();
          const w = await d.watch.done;
          const [demoJob] = (await get(d.stack.base, '/api/jobs?kind=demo.setup', jobListSchema)).jobs;
          expect((await fetch(`${d.stack.base}/api/discoveries/${w.discovery.id}`, { method: 'DELETE' })).status).toBe(204);
          const before = await counts(d.stack.base);
          await (await d.watch.second).stop();
          expect(await d.stack.proc.stop('SIGINT', 30_000)).toBe(0);
          const ports = { port: Number(d.stack.env.PORT), wsPort: Number(d.stack.env.WS_PORT), pgPort: Number(d.stack.env.PG_PORT) };
          d.stack = await launch(d.stack.dataDir, { LOUPE_DEMO: '1', LOUPE_DEVICE: 'cpu' }, ports);
          const base = d.stack.base;
          await waitFor('the restarted worker to be ready', async () => (/\[worker\].*ready/.test(d.stack.proc.output()) && healthSchema.parse(await (await fetch(`${base}/api/health`)).json()).workers.active >= 1 ? true : undefined), 60_000);
          await new Promise((r) => setTimeout(r, 3000));
          expect(await counts(base)).toEqual(before);
          expect((await get(base, '/api/jobs?kind=demo.setup', jobListSchema)).jobs[0]!.id).toBe(demoJob!.id);
          expect((await get(base, `/api/discoveries?sae=${w.discovery.saeId}`, discoveryListSchema)).discoveries.map((x) => x.id)).not.toContain(w.discovery.id);
        });
      }),
  };
}
