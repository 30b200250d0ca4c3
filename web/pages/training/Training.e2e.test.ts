/**
 * The Training page in a real Chromium against the real stack (`npm start`'s
 * launcher: server, worker, embedded PostgreSQL) with the built-in demo
 * model and demo dataset, a small extraction made through the API first
 * (32 windows of 64 tokens at blocks.3.hook_resid_post). From the form: the
 * server's message beside the k field, a template saved and loaded, then a
 * small TopK training (k 16, d_sae 256) that runs a few seconds: its loss
 * chart gets points and moves while it runs; it is paused, the WebSocket
 * drops, it is resumed and the chart goes on from polling alone until the
 * socket is back; the progress reaches completed, the density histogram, CE-loss recovered, checkpoints and the
 * SAE (with a download that answers) are listed; after a reload the chart
 * drawn from the stored history is the one drawn live; the run is deleted
 * through the dialog and its SAE stays. Then three more tiny trainings (made
 * through the API, k 8, 16 and 32) are ticked on the page and compared: the
 * Compare page's overlaid curves, settings diff, final metrics with the best
 * of each column, frontier and Pareto front, its view in the URL through a
 * reload, and a frontier point that opens its training
 * (docs/screens/compare-1280.png). Last, the Sweeps page on the same
 * extraction (web/pages/sweeps/sweeps.suite.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelListSchema } from '../../../models/contracts/api.ts';
import { datasetListSchema } from '../../../models/contracts/datasets.ts';
import { createdExtractionSchema, extractionSchema } from '../../../models/contracts/extractions.ts';
import { metricDef, type MetricKey } from '../../../models/contracts/metrics.ts';
import { createdTrainingSchema, saeListSchema, trainingDetailSchema } from '../../../models/contracts/trainings.ts';
import { FREEZE_CSS, launchChromium } from '../../../scripts/testing/browser.ts';
import { launch, tempDataDir, type Launched } from '../../../scripts/testing/launcher.ts';
import { ROOT, waitFor } from '../../../scripts/testing/processes.ts';
import { sweepsSuite } from '../sweeps/sweeps.suite.ts';

const HOOK = 'blocks.3.hook_resid_post';
/** steps of the training: long enough to watch for a few seconds on a CPU */
const STEPS = 800;
const BATCH = 32;

describe('Training page', () => {
  const dataDir = tempDataDir('loupe-training-page-');
  let stack: Launched;
  let browser: Browser;
  let extractionId: string;

  const api = async (p: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${stack.base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };

  beforeAll(async () => {
    [stack, browser] = await Promise.all([launch(dataDir, { LOUPE_DEVICE: 'cpu' }), launchChromium()]);
    // The worker tokenizes the demo dataset at its first start (a few seconds).
    const dataset = await waitFor(
      'the demo dataset',
      async () => datasetListSchema.parse(await api('/api/datasets')).datasets.find((d) => d.builtin && d.status === 'completed'),
      60_000,
      250,
    );
    const model = modelListSchema.parse(await api('/api/models')).models.find((m) => m.default && m.status === 'completed');
    expect(model).toBeDefined();
    const { extraction } = createdExtractionSchema.parse(
      await api('/api/extractions', { method: 'POST', body: JSON.stringify({ modelId: model!.id, datasetId: dataset.id, hookPoints: [HOOK], contextLength: 64, batchSize: 8, tokenBudget: 32 * 64 }) }),
    );
    extractionId = extraction.id;
    await waitFor(
      'the extraction',
      async () => {
        const e = extractionSchema.parse(await api(`/api/extractions/${extractionId}`));
        if (e.status === 'failed' || e.status === 'cancelled') throw new Error(`extraction ${e.status}: ${e.error}`);
        return e.status === 'completed' ? e : undefined;
      },
      60_000,
      200,
    );
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts a training from the form and follows it live: a moving loss chart, progress to completed, density, checkpoints and the SAE', async () => {
    const t0 = Date.now();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The hub's WebSocket passes through, until `offline`: then open sockets are dropped and new ones refused.
    let offline = false;
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/ws/, (ws) => {
      if (offline) return void ws.close();
      sockets.push(ws);
      ws.connectToServer();
    });
    await page.goto(`${stack.base}/training`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });
    await page.getByTestId('no-runs').waitFor({ timeout: 10_000 });

    // The completed extraction is picked, with its hook checked and its row width from the store.
    await expect.poll(() => page.getByTestId('extraction-select').inputValue(), { timeout: 10_000 }).toBe(extractionId);
    const hook = page.getByTestId(`hook-${HOOK}`);
    await hook.waitFor({ timeout: 10_000 });
    expect(await hook.isChecked()).toBe(true);
    await page.getByTestId('hook-list').filter({ hasText: /d_in 256 → d_sae 2,048/ }).waitFor({ timeout: 10_000 });
    // The API's defaults.
    expect(await page.getByTestId('input-k').inputValue()).toBe('32');
    expect(await page.getByTestId('input-lr').inputValue()).toBe('0.0004');
    expect(await page.getByTestId('input-l1Coefficient').count()).toBe(0);

    await page.getByTestId('input-sizeMode').selectOption('dSae');
    await page.getByTestId('input-dSae').fill('256');
    expect(await page.getByTestId('hook-list').textContent()).toMatch(/d_sae 256/);

    // k not below d_sae: the server's message beside the k field, nothing started.
    await page.getByTestId('input-k').fill('300');
    await page.getByTestId('training-submit').click();
    const kError = page.getByTestId('error-config.k');
    await kError.waitFor({ timeout: 10_000 });
    expect(await kError.textContent()).toMatch(/below d_sae \(256/);
    expect(await page.getByTestId('no-runs').count()).toBe(1);

    // ReLU shows its L1 coefficient and warm-up instead of k.
    await page.getByTestId('input-architecture').selectOption('relu');
    await page.getByTestId('input-l1Coefficient').waitFor();
    expect(await page.getByTestId('input-k').count()).toBe(0);
    await page.getByTestId('input-architecture').selectOption('topk');

    // typed key by key (the field must survive its own updates: a re-created input would lose the focus)
    await page.getByTestId('input-k').fill('');
    await page.getByTestId('input-k').pressSequentially('16');
    expect(await page.getByTestId('input-k').inputValue()).toBe('16');
    await page.getByTestId('input-lr').fill('0.001');
    await page.getByTestId('input-batchSize').fill(String(BATCH));
    // left empty, one pass over the stored rows
    const storedRows = /([\d,]+) rows/.exec((await page.getByTestId('hook-list').textContent()) ?? '')?.[1];
    expect(await page.getByTestId('input-totalTokens').getAttribute('placeholder')).toBe(`one pass: ${storedRows}`);
    await page.getByTestId('input-totalTokens').pressSequentially(String(STEPS * BATCH));
    expect(await page.getByTestId('input-totalTokens').inputValue()).toBe(String(STEPS * BATCH));
    await page.getByTestId('input-metricsEvery').fill('10');
    await page.getByTestId('input-checkpointEvery').fill('300');
    await page.getByTestId('input-evalEvery').fill('400');
    await page.getByTestId('input-evalWindows').fill('2');
    expect(await page.getByTestId('steps-note').textContent()).toBe(`${STEPS.toLocaleString('en-US')} steps`);

    // Saved as a template, then loaded back over other values.
    await page.getByTestId('template-name').fill('tiny topk');
    await page.getByTestId('template-save').click();
    await page.getByTestId('template-note').filter({ hasText: /Saved/ }).waitFor({ timeout: 10_000 });
    await page.getByTestId('input-k').fill('20');
    await page.getByTestId('input-architecture').selectOption('batchtopk');
    await page.getByTestId('template-select').selectOption({ label: 'tiny topk' });
    await page.getByTestId('template-load').click();
    expect(await page.getByTestId('input-architecture').inputValue()).toBe('topk');
    expect(await page.getByTestId('input-k').inputValue()).toBe('16');
    expect(await page.getByTestId('input-dSae').inputValue()).toBe('256');
    expect(await page.getByTestId('input-totalTokens').inputValue()).toBe(String(STEPS * BATCH));

    await page.getByTestId('training-submit').click();
    const newest = page.locator('[data-testid^="training-"][data-status]').first();
    await newest.waitFor({ timeout: 10_000 });
    expect(await kError.count()).toBe(0);
    const id = (await newest.getAttribute('data-testid'))!.replace(/^training-/, '');
    const card = page.locator(`[data-testid="training-${id}"]`);
    expect(await card.getByTestId('run-config').textContent()).toMatch(/topk k=16 · d_sae 256 · lr 0\.0010.* · batch 32 · 25,600 tokens/);

    // The run opens with its charts: the loss line gets points and moves while the run goes on.
    const lossPath = card.getByTestId('chart-loss').locator('g.lines path').first();
    const bar = card.getByTestId('run-progress');
    // values the bar shows, and whether a rate was shown while it ran, over the whole run
    const seen = new Set<number>();
    let rate = false;
    const look = async () => {
      seen.add(Number(await bar.getAttribute('data-value')));
      rate ||= /tokens\/s · ETA/.test((await card.getByTestId('run-progress-text').textContent()) ?? '');
    };
    await lossPath.waitFor({ state: 'attached', timeout: 30_000 });
    const first = await waitFor('a loss line', async () => ((await lossPath.getAttribute('d')) || undefined), 30_000, 50);
    const tStarted = Date.now();
    const moved = await waitFor('the loss line to move', async () => {
      const d = await lossPath.getAttribute('d');
      return d && d !== first ? d : undefined;
    }, 30_000, 50);
    expect(moved.split(/[LM]/).length).toBeGreaterThan(first.split(/[LM]/).length);
    const movedWhile = (await card.getByTestId('run-status').getAttribute('data-status')) ?? '';
    await look();

    // Paused (a checkpoint within a step, the job ends): the pause's checkpoint is the one kept, at the step the progress stopped at.
    await card.getByTestId('control-pause').click();
    await card.getByTestId('run-status').and(page.locator('[data-status="paused"]')).waitFor({ timeout: 15_000 });
    const kept = card.getByTestId('checkpoint-row').filter({ hasText: 'kept' });
    await kept.waitFor({ timeout: 5000 });
    const pausedAt = Number(await kept.getAttribute('data-step'));
    expect(pausedAt).toBeGreaterThan(0);
    expect(pausedAt).toBeLessThan(STEPS);
    expect(await card.getByTestId('run-progress-text').textContent()).toMatch(new RegExp(`^step ${pausedAt.toLocaleString('en-US')} /`));
    await look();

    // The socket drops while it is paused, and it is resumed (a new job, from the checkpoint): with no socket, the page
    // polls the API, and the line and the bar go on from the polls alone; then the socket is back.
    const conn = page.getByTestId('conn-status');
    offline = true;
    await Promise.all(sockets.splice(0).map((ws) => ws.close()));
    await conn.filter({ hasText: /reconnecting/ }).waitFor({ timeout: 10_000 });
    const pathFrom = await lossPath.getAttribute('d');
    const barFrom = await bar.getAttribute('data-value');
    await card.getByTestId('control-resume').click();
    // nothing to poll while it was paused; now it is queued
    await conn.filter({ hasText: /polling/ }).waitFor({ timeout: 10_000 });
    await waitFor('the loss line and the bar to move from polling', async () => ((await lossPath.getAttribute('d')) !== pathFrom && (await bar.getAttribute('data-value')) !== barFrom ? true : undefined), 20_000, 100);
    await card.getByTestId('run-progress-text').filter({ hasText: `resumed at step ${pausedAt.toLocaleString('en-US')}` }).waitFor({ timeout: 10_000 });
    const tResumed = Date.now();
    await look();
    offline = false;
    await conn.filter({ hasText: /live/ }).waitFor({ timeout: 20_000 });
    const tOnline = Date.now();
    await look();

    // The bar moves through intermediate values to 100 %, with a rate while it runs.
    let status = '';
    for (let i = 0; i < 1200 && status !== 'completed'; i++) {
      await look();
      status = (await card.getByTestId('run-status').getAttribute('data-status')) ?? '';
      expect(status).not.toBe('failed');
      await page.waitForTimeout(50);
    }
    const tDone = Date.now();
    expect(status).toBe('completed');
    expect(movedWhile).toBe('running');
    expect([...seen].filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(2);
    expect(rate).toBe(true);
    await bar.and(page.locator('[data-value="100"]')).waitFor({ timeout: 5000 });
    expect(await card.getByTestId('run-progress-text').textContent()).toMatch(/step 800 \/ 800 · 25,600 \/ 25,600 tokens/);

    // Every metric has its chart, with one line for the one hook (no L1 chart: a TopK SAE has no L1 term); the table has the latest values.
    for (const key of ['loss', 'mse', 'l0', 'explainedVariance', 'deadFraction', 'denseFraction', 'lr', 'tokensPerSecond']) {
      expect(await card.getByTestId(`chart-${key}`).locator('g.lines path').count()).toBe(1);
    }
    expect(await card.getByTestId('chart-l1').count()).toBe(0);
    await card.getByTestId(`hook-row-${HOOK}`).filter({ hasText: /800/ }).waitFor({ timeout: 10_000 });
    expect(Number(await card.getByTestId('latest-train-l0').textContent())).toBeGreaterThan(0);

    // Evaluations (steps 400 and 800): the density histogram and CE-loss recovered.
    const density = card.getByTestId(`density-${HOOK}`);
    await density.waitFor({ timeout: 10_000 });
    expect(await density.textContent()).toMatch(/at step 800/);
    const counted = await density.getByTestId('density-bar').evaluateAll((bars) => bars.reduce((s, b) => s + Number(b.getAttribute('data-count')), 0));
    const dead = Number(await density.getByTestId('density-dead').getAttribute('data-count'));
    expect(counted + dead).toBe(256);
    expect(await density.getByTestId('ce-line').textContent()).toMatch(/CE-loss recovered -?\d/);
    expect(await card.getByTestId('chart-ceLossRecovered').locator('g.lines path').count()).toBe(1);

    // Checkpoints seen: every 300 steps, the pause's, and the end's (only the last one is kept on disk); and the SAE with its files.
    const checkpoints = card.getByTestId('checkpoint-list');
    await checkpoints.filter({ hasText: /800/ }).waitFor({ timeout: 10_000 });
    const rows = checkpoints.getByTestId('checkpoint-row');
    const texts = await rows.allTextContents();
    expect(texts[0]).toMatch(/kept/);
    expect(texts.slice(1).every((r) => /replaced/.test(r))).toBe(true);
    // (a checkpoint written and replaced while the socket was down may have gone unseen: polling shows each hook's latest)
    const steps = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-step'))));
    expect(steps[0]).toBe(STEPS);
    expect(steps).toContain(pausedAt);
    expect(steps.every((s, i) => i === 0 || s < steps[i - 1]!)).toBe(true);
    expect(steps.every((s) => s === pausedAt || s % 300 === 0 || s === STEPS)).toBe(true);
    const saes = saeListSchema.parse(await api(`/api/saes?trainingId=${id}`)).saes;
    expect(saes.map((s) => [s.hookPoint, s.architecture, s.dSae, s.k])).toEqual([[HOOK, 'topk', 256, 16]]);
    const sae = card.getByTestId(`sae-${saes[0]!.id}`);
    await sae.waitFor({ timeout: 10_000 });
    const href = await sae.getByTestId('sae-download').getAttribute('href');
    expect(href).toBe(`/api/saes/${saes[0]!.id}/files/sae_weights.safetensors`);
    const file = await page.request.get(`${stack.base}${href}`);
    expect(file.status()).toBe(200);
    expect((await file.body()).length).toBeGreaterThan(4 * 2 * 256 * 256);

    mkdirSync(path.join(ROOT, '.vitest-data'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.vitest-data', 'training-page.png'), fullPage: true });

    // After a reload the charts come from the stored history alone, and draw the line drawn live.
    const live = await lossPath.getAttribute('d');
    await page.reload();
    const again = page.locator(`[data-testid="training-${id}"]`).getByTestId('chart-loss').locator('g.lines path').first();
    await again.waitFor({ state: 'attached', timeout: 15_000 });
    await expect.poll(() => again.getAttribute('d'), { timeout: 10_000 }).toBe(live);

    // Deleted through the dialog: the card goes, the SAE stays.
    await page.locator(`[data-testid="training-${id}"]`).getByTestId('delete-run').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByTestId('confirm-ok').click();
    await page.locator(`[data-testid="training-${id}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByTestId('no-runs').waitFor({ timeout: 5000 });
    expect(saeListSchema.parse(await api('/api/saes')).saes.map((s) => s.id)).toContain(saes[0]!.id);

    expect(errors).toEqual([]);
    await page.close();
    console.log(
      `training page: form ${((tStarted - t0) / 1000).toFixed(1)} s, paused, resumed offline ${((tResumed - tStarted) / 1000).toFixed(1)} s, back online ${((tOnline - tResumed) / 1000).toFixed(1)} s, to the end ${((tDone - tOnline) / 1000).toFixed(1)} s, rest ${((Date.now() - tDone) / 1000).toFixed(1)} s`,
    );
  });

  it('compares three runs ticked on the page: overlaid curves, the setting that differs, the best of each column, the frontier, the view in the URL', async () => {
    const t0 = Date.now();
    // Three tiny TopK trainings that differ in k only, made through the API (the worker runs them one after another).
    const ks = [8, 16, 32];
    const ids: string[] = [];
    for (const k of ks) {
      const config = { architecture: 'topk', k, dSae: 256, lr: 0.001, batchSize: 32, totalTokens: 120 * 32, metricsEvery: 5, checkpointEvery: 1000, evalEvery: 0, evalWindows: 2 };
      const { training } = createdTrainingSchema.parse(await api('/api/trainings', { method: 'POST', body: JSON.stringify({ extractionId, hookPoints: [HOOK], name: `compare k=${k}`, config }) }));
      ids.push(training.id);
    }
    await waitFor(
      'the three trainings',
      async () => {
        const runs = await Promise.all(ids.map(async (id) => trainingDetailSchema.parse(await api(`/api/trainings/${id}`))));
        const bad = runs.find((r) => r.status === 'failed' || r.status === 'cancelled');
        if (bad) throw new Error(`training ${bad.name} ${bad.status}: ${bad.error}`);
        return runs.every((r) => r.status === 'completed') ? runs : undefined;
      },
      120_000,
      250,
    );
    const tTrained = Date.now();
    const keyOf = (id: string) => `${id}:${HOOK}`;

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));

    // Ticked on the Training page, in order; Compare is enabled from two.
    await page.goto(`${stack.base}/training`);
    const compareButton = page.getByTestId('compare-runs');
    await compareButton.waitFor({ timeout: 15_000 });
    expect(await compareButton.isDisabled()).toBe(true);
    for (const id of ids) await page.locator(`[data-testid="training-${id}"]`).getByTestId('compare-tick').check();
    expect(await compareButton.textContent()).toBe('Compare (3)');
    await compareButton.click();
    await page.waitForURL((u) => u.pathname === '/compare', { timeout: 10_000 });
    expect(new URL(page.url()).searchParams.get('ids')).toBe(ids.join(','));

    // Three overlaid lines in the loss chart, a colour each, the legend naming the runs.
    const loss = page.getByTestId('curve-loss');
    const lossLines = loss.locator('g.lines path');
    await expect.poll(() => lossLines.count(), { timeout: 20_000 }).toBe(3);
    expect(new Set(await lossLines.evaluateAll((ps) => ps.map((p) => p.getAttribute('stroke')))).size).toBe(3);
    expect(await loss.getByTestId('chart-legend').textContent()).toMatch(/compare k=8.*compare k=16.*compare k=32/);
    for (const key of ['mse', 'l0', 'explainedVariance', 'deadFraction']) expect(await page.getByTestId(`curve-${key}`).locator('g.lines path').count()).toBe(3);
    // CE-loss recovered: measured once, at the end of each run (a dot each)
    expect(await page.getByTestId('curve-ceLossRecovered').getByTestId('chart-dot').count()).toBe(3);
    expect(await loss.locator('.chart-title').getAttribute('title')).toContain(metricDef('loss').definition);

    // The settings: k differs (a row, a column per run); the equal ones folded away.
    const diff = page.getByTestId('config-diff');
    expect(await diff.getByTestId('diff-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(['k']);
    expect(await diff.locator('[data-key="k"] td').allTextContents()).toEqual(ks.map(String));
    const same = page.getByTestId('same-settings');
    expect(await same.locator('summary').textContent()).toMatch(/^\d+ settings equal$/);
    expect(await same.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    expect(await same.locator('dl').isVisible()).toBe(false);

    // Final metrics: primary first, headers explained by the registry, the best of each column (and only it) starred.
    const table = page.getByTestId('final-table');
    expect(await table.getByTestId('final-row').count()).toBe(3);
    const sortKeys = await table.locator('thead [data-testid^="sort-"]').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-testid')!.slice(5)));
    expect(sortKeys.slice(0, 4)).toEqual(['name', 'explainedVariance', 'l0', 'ceLossRecovered']);
    expect(await table.locator('thead th[title]').first().getAttribute('title')).toContain(metricDef('explainedVariance').definition);
    const cells = await table.locator('td[data-testid^="final-"]').evaluateAll((tds) =>
      tds.map((td) => ({ key: td.getAttribute('data-testid')!.slice(6), value: td.getAttribute('data-value'), best: td.getAttribute('data-best') === 'true', mark: td.querySelector('[role="img"]')?.getAttribute('aria-label') ?? null })),
    );
    for (const key of sortKeys.slice(1) as MetricKey[]) {
      const col = cells.filter((c) => c.key === key);
      const values = col.filter((c) => c.value !== '').map((c) => Number(c.value));
      const better = metricDef(key).better;
      const best = better === 'higher' ? Math.max(...values) : Math.min(...values);
      const marked = better && values.length > 1 && values.some((v) => v !== best) ? col.filter((c) => c.value !== '' && Number(c.value) === best) : [];
      expect(col.filter((c) => c.best), key).toEqual(marked);
      for (const c of marked) expect(c.mark).toBe(`best ${metricDef(key).name}`);
    }
    expect(cells.filter((c) => c.key === 'loss' && c.best).length).toBe(1);

    // The frontier: a point per run, the front through those no other beats (lower L0, higher explained variance).
    const frontier = page.getByTestId('frontier-chart');
    const points = frontier.getByTestId('frontier-point');
    expect(await points.count()).toBe(3);
    expect(await frontier.getByTestId('frontier-front').getAttribute('d')).toMatch(/^M[\d.,-]+/);
    const finals = new Map(
      await table.getByTestId('final-row').evaluateAll((rows) =>
        rows.map((r) => [r.getAttribute('data-key')!, { x: Number(r.querySelector('[data-testid="final-l0"]')!.getAttribute('data-value')), y: Number(r.querySelector('[data-testid="final-explainedVariance"]')!.getAttribute('data-value')) }] as const),
      ),
    );
    const onFront = await points.evaluateAll((cs) => cs.map((c) => [c.getAttribute('data-key')!, c.getAttribute('data-front') === 'true'] as const));
    for (const [key, front] of onFront) {
      const p = finals.get(key)!;
      const dominated = [...finals.values()].some((q) => q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
      expect(front, key).toBe(!dominated);
    }
    await points.first().hover();
    expect(await frontier.getByTestId('frontier-tip').textContent()).toMatch(/compare k=\d+/);
    await page.mouse.move(0, 0);

    // The screenshot, before the view changes: frozen live figures, top of the page.
    await page.evaluate(() => window.scrollTo(0, 0));
    const frozen = await page.addStyleTag({ content: FREEZE_CSS });
    mkdirSync(path.join(ROOT, 'docs', 'screens'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'screens', 'compare-1280.png') });
    await frozen.evaluate((el) => (el as Element).remove());

    // Log y, then smoothing, each redraw the lines and go into the URL.
    const lossPath = lossLines.first();
    const raw = await lossPath.getAttribute('d');
    await page.getByTestId('log-y').check();
    await page.waitForURL((u) => u.searchParams.get('log') === '1', { timeout: 5000 });
    await expect.poll(() => lossPath.getAttribute('d'), { timeout: 5000 }).not.toBe(raw);
    const logged = await lossPath.getAttribute('d');
    await page.getByTestId('smooth').fill('0.8');
    await page.waitForURL((u) => u.searchParams.get('smooth') === '0.8', { timeout: 5000 });
    await expect.poll(() => lossPath.getAttribute('d'), { timeout: 5000 }).not.toBe(logged);
    // tokens on x (refetched), CE-loss recovered on the frontier, sorted by L0
    await page.getByTestId('x-tokens').click();
    await page.waitForURL((u) => u.searchParams.get('x') === 'tokens', { timeout: 5000 });
    await expect.poll(() => loss.locator('.axis-x .tick text').last().textContent(), { timeout: 10_000 }).toMatch(/tokens$/);
    await page.getByTestId('frontier-y').selectOption('ceLossRecovered');
    await page.waitForURL((u) => u.searchParams.get('frontier') === 'ceLossRecovered', { timeout: 5000 });
    expect(await points.count()).toBe(3);
    await table.getByTestId('sort-l0').click();
    await page.waitForURL((u) => u.searchParams.get('sort') === 'l0', { timeout: 5000 });
    const byL0 = [...finals.entries()].sort((a, b) => a[1].x - b[1].x).map(([k]) => k);
    expect(await table.getByTestId('final-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(byL0);

    // A reload restores the whole view from the URL, and draws the same lines.
    const url = page.url();
    const drawn = await lossPath.getAttribute('d');
    await page.reload();
    await lossLines.first().waitFor({ state: 'attached', timeout: 15_000 });
    expect(page.url()).toBe(url);
    expect(await page.getByTestId('log-y').isChecked()).toBe(true);
    expect(await page.getByTestId('smooth').inputValue()).toBe('0.8');
    expect(await page.getByTestId('x-tokens').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('frontier-y').inputValue()).toBe('ceLossRecovered');
    await expect.poll(() => lossPath.getAttribute('d'), { timeout: 10_000 }).toBe(drawn);
    expect(await table.getByTestId('final-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(byL0);

    // On a phone's width the page still fits: the tables scroll in their own boxes.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), { timeout: 5000 }).toBeLessThanOrEqual(0);

    // A frontier point opens its run's training, its charts shown.
    await frontier.locator(`[data-key="${keyOf(ids[1]!)}"]`).click();
    await page.waitForURL((u) => u.pathname === '/training' && u.searchParams.get('run') === ids[1], { timeout: 10_000 });
    await page.locator(`[data-testid="training-${ids[1]}"]`).getByTestId('run-detail').waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);

    // Without trainings, the page lists them to tick; with one unknown, the API's message.
    await page.goto(`${stack.base}/compare`);
    await page.getByTestId('compare-hint').waitFor({ timeout: 10_000 });
    await page.getByTestId(`pick-${ids[0]}`).waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('picker-compare').isDisabled()).toBe(true);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const answer = await fetch(`${stack.base}/api/trainings/compare?ids=${unknown},${ids[0]}`);
    expect(answer.status).toBe(404);
    const message = ((await answer.json()) as { error: { message: string } }).error.message;
    await page.goto(`${stack.base}/compare?ids=${unknown},${ids[0]}`);
    await page.getByTestId('compare-error').filter({ hasText: message }).waitFor({ timeout: 10_000 });
    await page.close();
    console.log(`compare: three trainings ${((tTrained - t0) / 1000).toFixed(1)} s, the page ${((Date.now() - tTrained) / 1000).toFixed(1)} s`);
  });

  // the Sweeps page on this stack's extraction: a small sweep from its form, live to completed, the best trial a template
  sweepsSuite(() => ({ base: stack.base, extractionId, hook: HOOK }));
});
