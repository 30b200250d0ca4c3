/**
 * The first-start demo end to end, as a newcomer gets it: `npm start`'s
 * launcher (embedded PostgreSQL, server, worker) on a fresh DATA_DIR, plus a
 * second worker started at the same moment against the same database. With
 * no request, the demo dataset is tokenized and the demo builds an
 * extraction at blocks.3.hook_resid_post, a TopK SAE trained on it and its
 * discovered features, each an ordinary row seen through the API while it
 * runs; the two workers make one of each. Then a user deletes the
 * discovery, Loupe is stopped and started again: nothing is made twice and
 * the deleted discovery is not made again. The time each artifact took is
 * printed.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { healthSchema, jobListSchema } from '../models/contracts/api.ts';
import { extractionListSchema } from '../models/contracts/extractions.ts';
import { discoveryListSchema, featureListSchema } from '../models/contracts/features.ts';
import { saeListSchema, trainingListSchema } from '../models/contracts/trainings.ts';
import { DEMO_HOOK } from '../models/demo.ts';
import { launch, tempDataDir, type Launched } from '../scripts/testing/launcher.ts';
import { freePort } from '../scripts/testing/ports.ts';
import { waitFor, type RunningProcess } from '../scripts/testing/processes.ts';
import { startWorker } from '../scripts/testing/worker.ts';

describe('the first-start demo', () => {
  const dataDir = tempDataDir('loupe-demo-e2e-');
  let app: Launched | undefined;
  let second: RunningProcess | undefined;
  afterAll(async () => {
    await second?.stop();
    await app?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = async <T>(base: string, url: string, schema: { parse(v: unknown): T }): Promise<T> => {
    const res = await fetch(base + url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return schema.parse(await res.json());
  };
  const counts = async (base: string) => ({
    extractions: (await get(base, '/api/extractions', extractionListSchema)).extractions.length,
    trainings: (await get(base, '/api/trainings', trainingListSchema)).trainings.length,
    saes: (await get(base, '/api/saes', saeListSchema)).saes.length,
    discoveries: (await get(base, '/api/discoveries', discoveryListSchema)).discoveries.length,
    demoJobs: (await get(base, '/api/jobs?kind=demo.setup', jobListSchema)).total,
  });

  it('builds an extraction, an SAE and its features on its own, once, and never again', async () => {
    const ports = { port: await freePort(), wsPort: await freePort(), pgPort: await freePort() };
    const env = { LOUPE_DEMO: '1', LOUPE_DEVICE: 'cpu', LOUPE_SAMPLER: '0' };
    const t0 = Date.now();
    app = await launch(dataDir, env, ports);
    const base = app.base;
    const password = readFileSync(path.join(dataDir, 'pg.password'), 'utf8').trim();
    const seconds = (t = Date.now()) => Math.round((t - t0) / 1000);
    const times: Record<string, number> = { launched: seconds() };
    second = await startWorker({ ...env, DATA_DIR: dataDir, DATABASE_URL: `postgres://loupe:${encodeURIComponent(password)}@127.0.0.1:${ports.pgPort}/loupe` }, 120_000);

    // Each artifact appears, runs with progress (seen while it runs), completes.
    const seen = new Set<string>();
    const completed = <T extends { status: string; error: string | null }>(what: string, latest: () => Promise<T | undefined>, progressing: (x: T) => boolean, stepMs: number) =>
      waitFor(
        `the demo ${what} to complete`,
        async () => {
          const x = await latest();
          if (x?.status === 'running' && progressing(x)) seen.add(`${what} progress`);
          if (x?.status === 'failed') throw new Error(`${what} failed: ${x.error}`);
          return x?.status === 'completed' ? x : undefined;
        },
        600_000,
        stepMs,
      );
    const extraction = await completed('extraction', async () => (await get(base, '/api/extractions', extractionListSchema)).extractions[0], (e) => !!e.progress && e.progress.tokensDone > 0, 500);
    times.extraction = seconds();
    expect(extraction).toMatchObject({ hookPoints: [DEMO_HOOK], modelName: expect.stringContaining('demo'), datasetName: expect.stringContaining('demo') });
    expect(extraction.settings.tokenBudget).toBe(300_000);

    const training = await completed('training', async () => (await get(base, '/api/trainings', trainingListSchema)).trainings[0], (t) => !!t.progress && t.progress.step > 0, 500);
    times.training = seconds();
    expect(training).toMatchObject({ extractionId: extraction.id, hookPoints: [DEMO_HOOK], config: { architecture: 'topk', k: 32, dSae: 2048 } });
    const [sae] = (await get(base, '/api/saes', saeListSchema)).saes;
    expect(sae).toMatchObject({ trainingId: training.id, hookPoint: DEMO_HOOK, dSae: 2048 });

    const discovery = await completed('discovery', async () => (await get(base, `/api/discoveries?sae=${sae!.id}`, discoveryListSchema)).discoveries[0], (d) => !!d.progress && d.progress.rowsDone > 0, 250);
    times.discovery = seconds();
    expect(discovery).toMatchObject({ extractionId: extraction.id, settings: { topK: 10, left: 16, right: 4 } });
    const features = await get(base, `/api/features?sae=${sae!.id}&sort=-score&limit=10`, featureListSchema);
    expect(features.total).toBe(2048);
    expect(features.items[0]!.score).toBe(1);
    console.log(`demo e2e: seconds since the launch: ${JSON.stringify(times)}; seen live: ${[...seen].join(', ')}; best features: ${features.items.map((f) => f.label).join(' ')}`);
    expect(seen.has('extraction progress') && seen.has('training progress')).toBe(true);

    // two workers, one demo: one job and one of each artifact
    expect(await counts(base)).toEqual({ extractions: 1, trainings: 1, saes: 1, discoveries: 1, demoJobs: 1 });
    const [demoJob] = (await get(base, '/api/jobs?kind=demo.setup', jobListSchema)).jobs;
    await waitFor('the demo job to complete', async () => ((await get(base, `/api/jobs?kind=demo.setup`, jobListSchema)).jobs[0]?.state === 'completed' ? true : undefined), 30_000);

    // a user deletes the discovery; Loupe restarts: nothing made again
    expect((await fetch(`${base}/api/discoveries/${discovery.id}`, { method: 'DELETE' })).status).toBe(204);
    await second.stop();
    expect(await app.proc.stop('SIGINT', 30_000)).toBe(0);
    app = await launch(dataDir, env, ports);
    await waitFor('the restarted worker to be ready', async () => (/\[worker\].*ready/.test(app!.proc.output()) && healthSchema.parse(await (await fetch(`${app!.base}/api/health`)).json()).workers.active >= 1 ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await counts(app.base)).toEqual({ extractions: 1, trainings: 1, saes: 1, discoveries: 0, demoJobs: 1 });
    expect((await get(app.base, '/api/jobs?kind=demo.setup', jobListSchema)).jobs[0]!.id).toBe(demoJob!.id);
    expect((await get(app.base, `/api/features?sae=${sae!.id}&limit=1`, featureListSchema)).total).toBe(2048);
  }, 900_000);
});
