/**
 * `features.discover` end to end through pg-boss: the API sends the job, an
 * in-process job runner runs it (as a worker would), events are heard over
 * PostgreSQL LISTEN as the WebSocket hub hears them, and a local
 * OpenAI-compatible server (scripts/testing/llm-server.ts) labels features.
 *
 * - no LLM settings: heuristic labels only, not one request; progress on
 *   `discovery/{id}` through the phases, with rows that only grow;
 * - settings with a key: every feature that fires gets the server's label
 *   (labelSource 'llm', the Bearer key sent), a user's label is kept;
 * - the endpoint failing: the discovery completes with a warning naming it,
 *   the heuristic labels kept;
 * - cancelled through the jobs API, and deleted, in the labels phase: no
 *   feature written, the staging folder gone, no request after it; an ETA
 *   while it labels.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverySchema, featureDetailSchema, featureListSchema, type Discovery, type FeatureListItem } from '../models/contracts/features.ts';
import type { ServerMessage } from '../models/contracts/topics.ts';
import { loadConfig } from '../models/config.ts';
import { discoveryDir } from '../models/features/staging.ts';
import { logger } from '../models/log.ts';
import { createEvents, listenEvents, type EventListener } from '../db/events.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import { getDiscovery } from '../db/queries/discoveries.ts';
import type { SaeRow } from '../db/queries/saes.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { discoveryEnded, trainedSae } from '../scripts/testing/features.ts';
import { labelFor, startLlmServer, type TestLlmServer } from '../scripts/testing/llm-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { demoExtraction } from '../scripts/testing/training.ts';
import { registerDemoModel } from './demo-model.ts';
import { featuresDiscover } from './features-discover.ts';
import { startJobRunner, type JobRunner } from './runner.ts';

const HOOK = 'blocks.3.hook_resid_post';
const KEY = 'sk-loupe-test';

describe('features.discover through pg-boss', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let listener: EventListener;
  let llm: TestLlmServer;
  let extraction: ExtractionRow;
  let sae: SaeRow;
  const messages: ServerMessage[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-discover-e2e-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_discover_e2e');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), [HOOK]);
    sae = await trainedSae(db.db, dataDir, extraction, HOOK);
    llm = await startLlmServer(KEY);
    t = await createTestApp(db, dataDir);
    listener = await listenEvents(db.url, { pool: db.pool, onEvent: (m) => messages.push(m) });
    runner = await startJobRunner({
      boss: t.boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu' }),
      kinds: [featuresDiscover],
      log: logger('test-worker'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
      stateCheckMs: 500,
    });
  }, 240_000);

  afterAll(async () => {
    await runner?.stop();
    await listener?.close();
    await t?.stop();
    await llm?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const start = async (): Promise<Discovery> => {
    const res = await t.request('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId: sae.id }) });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(202);
    return discoverySchema.parse(body);
  };
  const features = async (): Promise<FeatureListItem[]> => featureListSchema.parse(await (await t.request(`/api/features?sae=${sae.id}&sort=index&limit=200`)).json()).items;
  const events = (id: string) => messages.filter((m) => m.topic === `discovery/${id}`).map((m) => discoverySchema.parse(m.data));
  const setLlm = (llmSettings: unknown) => t.request('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: llmSettings }) });
  const discoveryOfFeatures = async () => new Set((await db.pool.query<{ discovery_id: string }>('SELECT DISTINCT discovery_id::text FROM features WHERE sae_id = $1', [sae.id])).rows.map((r) => r.discovery_id));

  it('without LLM settings: heuristic labels, no request, progress through the phases on discovery/{id}', async () => {
    const d = await start();
    const done = await discoveryEnded(db.db, d.id);
    expect(done).toMatchObject({ status: 'completed', error: null, warning: null, rows: expect.any(Number), progress: { phase: 'saving', rowsDone: sae.dSae, rowsTotal: sae.dSae, etaSeconds: 0 } });
    expect(llm.requests).toHaveLength(0);
    const list = await features();
    expect(list).toHaveLength(sae.dSae);
    expect(list.filter((f) => f.frequency > 0).every((f) => f.labelSource === 'heuristic')).toBe(true);
    expect(await discoveryOfFeatures()).toEqual(new Set([d.id]));
    // removed once the transaction has committed
    await waitFor('the staging folder to go', () => !existsSync(discoveryDir(dataDir, d.id)) || undefined, 10_000, 20);

    await waitFor('the completion event', () => events(d.id).some((e) => e.status === 'completed') || undefined, 10_000, 20);
    const seen = events(d.id);
    expect(seen[0]!.status).toBe('queued');
    expect(seen.some((e) => e.status === 'running')).toBe(true);
    expect(seen.at(-1)).toMatchObject({ status: 'completed', rows: done.rows });
    // phases in order (scan, examples, saving: no labels phase without settings), rows growing within each
    const phases = seen.map((e) => e.progress?.phase).filter((p): p is NonNullable<typeof p> => !!p);
    expect([...new Set(phases)]).toEqual(['scan', 'examples', 'saving']);
    for (const phase of ['scan', 'examples'] as const) {
      const rows = seen.filter((e) => e.progress?.phase === phase).map((e) => e.progress!.rowsDone);
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
      expect(seen.find((e) => e.progress?.phase === phase)!.progress!.rowsTotal).toBe(done.rows);
    }
  }, 120_000);

  it('with an endpoint and key: every feature that fires gets its label from the LLM; a user label stays', async () => {
    const before = await features();
    const mine = before.find((f) => f.frequency > 0)!;
    await t.request(`/api/features/${mine.id}`, { method: 'PATCH', body: JSON.stringify({ label: 'my own label' }) });
    expect((await setLlm({ url: llm.url, model: 'labeller-7b', apiKey: KEY })).status).toBe(200);
    llm.requests.length = 0;
    const d = await start();
    const done = await discoveryEnded(db.db, d.id);
    expect(done).toMatchObject({ status: 'completed', warning: null });
    const list = await features();
    const live = list.filter((f) => f.frequency > 0);
    expect(llm.requests).toHaveLength(live.length);
    expect(llm.requests.every((r) => r.authorization === `Bearer ${KEY}` && r.model === 'labeller-7b')).toBe(true);
    for (const f of live.slice(0, 12)) {
      if (f.index === mine.index) continue;
      const detail = featureDetailSchema.parse(await (await t.request(`/api/features/${f.id}`)).json());
      const first = detail.examples[0]!;
      const peak = first.tokens[first.position - first.start]!.text.replace(/\r?\n/g, '⏎');
      expect(detail).toMatchObject({ label: labelFor(peak), labelSource: 'llm' });
      // the heuristic label is still there to show beside it
      expect(detail.heuristic.label).toBe(before[f.index]!.label);
    }
    expect(list[mine.index]).toMatchObject({ label: 'my own label', labelSource: 'user' });
    const labelling = events(d.id).filter((e) => e.progress?.phase === 'labels');
    expect(labelling.length).toBeGreaterThan(0);
    expect(labelling.at(-1)!.progress!.rowsTotal).toBe(live.length);
    const counts = labelling.map((e) => e.progress!.featuresLabelled);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  }, 120_000);

  it('with the endpoint failing: completed with a warning naming it, heuristic labels kept', async () => {
    llm.failAll(500);
    llm.requests.length = 0;
    try {
      const d = await start();
      const done = await discoveryEnded(db.db, d.id);
      expect(done.status).toBe('completed');
      expect(done.warning).toMatch(new RegExp(`LLM labels stopped after 0 of \\d+ features \\(POST ${llm.url.replace(/[./]/g, '\\$&')}/chat/completions: 500`));
      expect(llm.requests.length).toBeGreaterThan(0);
      const list = await features();
      expect(list.filter((f) => f.frequency > 0 && f.labelSource !== 'user').every((f) => f.labelSource === 'heuristic')).toBe(true);
      expect(await discoveryOfFeatures()).toEqual(new Set([d.id]));
    } finally {
      llm.failAll(null);
    }
  }, 180_000);

  it('cancelled through the jobs API or deleted in the labels phase: writes nothing, its folder goes, asks no more', async () => {
    const written = await discoveryOfFeatures();
    llm.delayMs = 250;
    try {
      for (const how of ['cancel', 'delete'] as const) {
        const d = await start();
        const labelling = await waitFor('the labels phase', async () => {
          const row = await getDiscovery(db.db, d.id);
          return (row?.progress?.featuresLabelled ?? 0) >= 12 ? row : undefined;
        }, 60_000, 20);
        // a rate measured over more than half a second of this phase: an ETA in seconds
        expect(labelling!.progress).toMatchObject({ phase: 'labels', etaSeconds: expect.any(Number) });
        expect(labelling!.progress!.etaSeconds).toBeGreaterThan(0);
        expect(existsSync(discoveryDir(dataDir, d.id))).toBe(true);
        if (how === 'cancel') {
          const res = await t.request(`/api/jobs/${d.jobId}/cancel`, { method: 'POST' });
          expect(res.status).toBe(200);
          const ended = await discoveryEnded(db.db, d.id, 10_000);
          expect(ended.status).toBe('cancelled');
          await waitFor('the cancelled event', () => events(d.id).some((e) => e.status === 'cancelled') || undefined, 10_000, 20);
        } else {
          expect((await t.request(`/api/discoveries/${d.id}`, { method: 'DELETE' })).status).toBe(204);
          expect((await t.request(`/api/discoveries/${d.id}`)).status).toBe(404);
        }
        await waitFor('the staging folder to go', () => !existsSync(discoveryDir(dataDir, d.id)) || undefined, 10_000, 50);
        const asked = llm.requests.length;
        await new Promise((r) => setTimeout(r, 800));
        expect(llm.requests.length).toBe(asked);
        expect(await discoveryOfFeatures()).toEqual(written);
        await waitFor('the job to end', async () => ((await (await t.request(`/api/jobs/${d.jobId}`)).json()) as { state: string }).state === 'cancelled' || undefined, 10_000, 50);
      }
    } finally {
      llm.delayMs = 0;
    }
  }, 180_000);
});
