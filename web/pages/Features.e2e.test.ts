/**
 * The Features and Settings pages in a real Chromium against the real stack
 * (`npm start`'s launcher: server, worker, embedded PostgreSQL). Seeded
 * through the API, without waiting for anything the first start makes
 * beyond the demo dataset's tokenization: an extraction of the demo model at
 * blocks.3.hook_resid_post, a small TopK SAE trained on it, and a discovery
 * of its features. Then, in the page: the discovery listed as completed; a
 * search by label and a filter by peak token narrow the table (done by the
 * server, the view in the URL; back restores the previous view); a feature
 * opened: its examples lit by activation (intensities that differ, the peak
 * the brightest), a token's tooltip, the histogram, logit-lens tokens,
 * correlations, an ablation; the label edited (Escape cancels, Enter saves;
 * kept after a reload), notes saved on blur, a favourite found by the
 * favourites filter; a new discovery started from the page and followed
 * live to completed, the edits kept. A screenshot of the feature's page goes to
 * docs/feature-detail.png for the README. Settings: the LLM endpoint saved,
 * its key never echoed, tested against a local OpenAI-compatible server
 * (a wrong key refused, the form's values tried before saving), a
 * feature labelled by it from its page, cleared.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelListSchema } from '../../models/contracts/api.ts';
import { datasetListSchema } from '../../models/contracts/datasets.ts';
import { createdExtractionSchema, extractionSchema } from '../../models/contracts/extractions.ts';
import { discoverySchema, featureDetailSchema, featureListSchema, settingsSchema, type FeatureListItem } from '../../models/contracts/features.ts';
import { createdTrainingSchema, saeListSchema, trainingSchema } from '../../models/contracts/trainings.ts';
import { launchChromium } from '../../scripts/testing/browser.ts';
import { launch, tempDataDir, type Launched } from '../../scripts/testing/launcher.ts';
import { startLlmServer } from '../../scripts/testing/llm-server.ts';
import { ROOT, waitFor } from '../../scripts/testing/processes.ts';
import { tokenFilterInput } from '../data/feature-view.ts';

const HOOK = 'blocks.3.hook_resid_post';
const CONTEXT = 64;
const WINDOWS = 128;
const D_SAE = 256;

/** The alpha of a computed `rgb()`/`rgba()` colour (1 for rgb, 0 for transparent). */
function alphaOf(color: string): number {
  if (color === 'transparent') return 0;
  const m = /rgba?\(([^)]+)\)/.exec(color);
  if (!m) throw new Error(`not a colour: ${color}`);
  const parts = m[1]!.split(',').map((s) => Number(s.trim()));
  return parts.length === 4 ? parts[3]! : 1;
}

describe('Features page', () => {
  const dataDir = tempDataDir('loupe-features-page-');
  let stack: Launched;
  let browser: Browser;
  let saeId: string;

  const api = async (p: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${stack.base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const until = <T>(what: string, check: () => Promise<T | undefined>, ms: number) =>
    waitFor(
      what,
      async () => {
        const v = await check();
        const s = (v as { status?: string } | undefined)?.status;
        if (s === 'failed' || s === 'cancelled') throw new Error(`${what} ${s}: ${JSON.stringify(v)}`);
        return s === undefined || s === 'completed' ? v : undefined;
      },
      ms,
      250,
    );

  beforeAll(async () => {
    [stack, browser] = await Promise.all([launch(dataDir, { LOUPE_DEVICE: 'cpu' }), launchChromium()]);
    const t0 = Date.now();
    // The worker tokenizes the demo dataset at its first start (a few seconds): the extraction needs it.
    const dataset = await waitFor(
      'the demo dataset',
      async () => datasetListSchema.parse(await api('/api/datasets')).datasets.find((d) => d.builtin && d.status === 'completed'),
      90_000,
      250,
    );
    const model = modelListSchema.parse(await api('/api/models')).models.find((m) => m.default && m.status === 'completed');
    expect(model).toBeDefined();
    const { extraction } = createdExtractionSchema.parse(
      await api('/api/extractions', { method: 'POST', body: JSON.stringify({ modelId: model!.id, datasetId: dataset.id, hookPoints: [HOOK], contextLength: CONTEXT, batchSize: 8, tokenBudget: WINDOWS * CONTEXT }) }),
    );
    await until('the extraction', async () => extractionSchema.parse(await api(`/api/extractions/${extraction.id}`)), 120_000);
    const { training } = createdTrainingSchema.parse(
      await api('/api/trainings', {
        method: 'POST',
        body: JSON.stringify({
          extractionId: extraction.id,
          name: 'TopK k=16 · 256 features',
          config: { architecture: 'topk', k: 16, dSae: D_SAE, expansionFactor: null, lr: 0.001, batchSize: 64, totalTokens: WINDOWS * CONTEXT * 4, metricsEvery: 50, checkpointEvery: 10_000, evalEvery: 0, evalWindows: 0 },
        }),
      }),
    );
    await until('the training', async () => trainingSchema.parse(await api(`/api/trainings/${training.id}`)), 180_000);
    const saes = saeListSchema.parse(await api(`/api/saes?trainingId=${training.id}`)).saes;
    expect(saes).toHaveLength(1);
    saeId = saes[0]!.id;
    const discovery = discoverySchema.parse(await api('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId }) }));
    await until('the discovery', async () => discoverySchema.parse(await api(`/api/discoveries/${discovery.id}`)), 180_000);
    console.log(`features page: seeded (extraction, training, discovery) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const list = async (query: string) => featureListSchema.parse(await api(`/api/features?sae=${saeId}&${query}`));
  const rowIndexes = (page: Page) => page.getByTestId('feature-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-index'))));

  it('searches, filters, opens a feature with highlighted examples and its analyses, edits its label', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // A readable feature: a heuristic token label most of its top examples agree on.
    const all = await list('sort=-score&limit=200');
    expect(all.total).toBeGreaterThan(0);
    const target = all.items.find((f) => f.labelSource === 'heuristic' && (f.score ?? 0) >= 0.5 && f.topTokens[0] && f.topTokens[0].count >= 3 && /[A-Za-z]{3}/.test(f.topTokens[0].text));
    expect(target, 'a feature with a readable peak token').toBeDefined();
    const t = target as FeatureListItem;
    const token = t.topTokens[0]!.text;

    await page.goto(`${stack.base}/features?sae=${saeId}`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });
    await page.getByTestId('discovery').and(page.locator('[data-status="completed"]')).waitFor({ timeout: 15_000 });
    await page.getByTestId('feature-row').first().waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('feature-count').textContent()).toBe(`1–${Math.min(50, all.total)} of ${all.total.toLocaleString('en-US')} features`);
    // sorted by score, descending, by default
    const scores = (await page.getByTestId('row-score').allTextContents()).map(Number);
    expect(scores.every((s, i) => i === 0 || s <= scores[i - 1]!)).toBe(true);

    // Search by label: typed key by key, one request after the pause; every row's label has the text.
    const word = /[A-Za-z]{3,}/.exec(token)![0];
    await page.getByTestId('feature-search').pressSequentially(word.toLowerCase(), { delay: 40 });
    await page.waitForURL((u) => u.searchParams.get('q') === word.toLowerCase(), { timeout: 10_000 });
    const searched = await list(`q=${encodeURIComponent(word.toLowerCase())}`);
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toMatch(new RegExp(`of ${searched.total} features$`));
    const labels = await page.getByTestId('row-label').allTextContents();
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.every((l) => l.toLowerCase().includes(word.toLowerCase()))).toBe(true);
    expect(searched.total).toBeLessThan(all.total);
    await page.getByTestId('feature-search').fill('');
    await page.waitForURL((u) => !u.searchParams.has('q'), { timeout: 10_000 });

    // Filter by peak token (whitespace typed as the page shows it): the target is among the matches.
    const byToken = await list(`token=${encodeURIComponent(token)}`);
    expect(byToken.items.map((f) => f.index)).toContain(t.index);
    await page.getByTestId('token-filter').fill(tokenFilterInput(token));
    await page.waitForURL((u) => u.searchParams.get('token') === token, { timeout: 10_000 });
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toMatch(new RegExp(`of ${byToken.total} features$`));
    expect(await rowIndexes(page)).toContain(t.index);
    // A frequency range from the slider: the URL and the table follow.
    await page.getByTestId('freq-min').fill('-2');
    await page.waitForURL((u) => u.searchParams.get('minFreq') === '0.01', { timeout: 10_000 });
    const frequent = await list(`token=${encodeURIComponent(token)}&minFreq=0.01`);
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toMatch(frequent.total === 0 ? /No feature matches/ : new RegExp(`of ${frequent.total} features$`));
    // Back: the previous view (token filter, no frequency bound), the slider at its end again.
    await page.goBack();
    await page.waitForURL((u) => !u.searchParams.has('minFreq') && u.searchParams.get('token') === token, { timeout: 10_000 });
    expect(await page.getByTestId('freq-min').inputValue()).toBe('-5');
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toMatch(new RegExp(`of ${byToken.total} features$`));
    expect(await page.getByTestId('token-filter').inputValue()).toBe(tokenFilterInput(token));

    // Open the feature.
    await page.locator(`[data-testid="feature-row"][data-index="${t.index}"]`).getByTestId('feature-link').click();
    await page.waitForURL(new RegExp(`/features/${saeId}/${t.index}\\?`), { timeout: 10_000 });
    expect(await page.getByTestId('feature-heading').textContent()).toBe(`Feature #${t.index}`);
    const examples = page.getByTestId('example');
    await examples.first().waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('feature-label').textContent()).toBe(t.label);
    expect(await page.getByTestId('label-source').textContent()).toBe('heuristic');
    expect(await page.getByTestId('score-explain').textContent()).toMatch(/^\d+ of \d+ top examples (peak on|have) the label’s token/);
    expect(await page.getByTestId('activation-histogram').getByTestId('act-hist-bar').count()).toBeGreaterThan(0);

    // Tokens lit by activation relative to the feature's max: intensities differ, the peak is the brightest of its strip.
    const first = examples.first();
    const tokens = first.getByTestId('act-token');
    const lit = await tokens.evaluateAll((els) => els.map((el) => ({ color: getComputedStyle(el).backgroundColor, value: Number(el.getAttribute('data-value')), peak: el.getAttribute('data-peak') === 'true' })));
    const alphas = lit.map((x) => alphaOf(x.color));
    expect(new Set(alphas.map((a) => a.toFixed(2))).size).toBeGreaterThanOrEqual(2);
    const peakAt = lit.findIndex((x) => x.peak);
    expect(peakAt).toBeGreaterThanOrEqual(0);
    expect(alphas[peakAt]).toBeGreaterThan(0);
    expect(alphas[peakAt]).toBe(Math.max(...alphas));
    expect(lit[peakAt]!.value).toBe(Math.max(...lit.map((x) => x.value)));
    // Every example's peak token is the brightest of its own strip, and the strips compare: the first example is lit the most.
    const peaks = await page.locator('[data-testid="act-token"][data-peak="true"]').evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor));
    expect(peaks.length).toBe(await examples.count());
    expect(alphaOf(peaks[0]!)).toBe(Math.max(...peaks.map(alphaOf)));

    // A token's tooltip: its text, id and value.
    const peakToken = tokens.nth(peakAt);
    await peakToken.hover();
    const tip = page.getByTestId('token-tip');
    await tip.waitFor({ timeout: 5000 });
    const tipText = (await tip.textContent()) ?? '';
    expect(tipText).toContain(`token id ${await peakToken.getAttribute('data-id')}`);
    expect(tipText).toContain('peak');
    const detail = featureDetailSchema.parse(await api(`/api/features/${saeId}:${t.index}`));
    const e0 = detail.examples[0]!;
    expect(e0.position - e0.start).toBe(peakAt);
    expect(tipText).toContain(JSON.stringify(e0.tokens[peakAt]!.text));
    // shown to 3 significant digits
    expect(Math.abs(Number(await tip.getByTestId('token-tip-value').textContent()) / lit[peakAt]!.value - 1)).toBeLessThan(0.01);
    await page.mouse.move(0, 0);
    await tip.waitFor({ state: 'detached', timeout: 5000 });

    // Logit lens: promoted and suppressed tokens as bars (computed by a worker on the first request).
    const lensRows = page.getByTestId('lens-top').getByTestId('lens-row');
    await lensRows.first().waitFor({ state: 'attached', timeout: 90_000 });
    expect(await lensRows.count()).toBe(12);
    const lensValues = await lensRows.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-value'))));
    expect(lensValues.every((v, i) => i === 0 || v <= lensValues[i - 1]!)).toBe(true);
    expect(await page.getByTestId('lens-bottom').getByTestId('lens-row').count()).toBe(12);
    expect((await lensRows.first().locator('text.lens-token').textContent())!.length).toBeGreaterThan(0);
    // Correlated features, linked to their pages.
    await page.getByTestId('correlation-link').first().waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('correlation-link').first().getAttribute('href')).toMatch(new RegExp(`^/features/${saeId}/\\d+`));

    // The screenshot for the README: the feature's page as a newcomer sees it.
    await page.evaluate(() => window.scrollTo(0, 0));
    mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'feature-detail.png') });

    // Ablation on the top contexts: loss and perplexity before and after.
    await page.getByTestId('ablation-run').click();
    const ablation = page.getByTestId('ablation-result');
    await ablation.waitFor({ timeout: 120_000 });
    expect(await ablation.getByTestId('ablation-loss').textContent()).toMatch(/^\d+\.\d{4} → \d+\.\d{4}/);
    expect(await ablation.getByTestId('ablation-strip').count()).toBeGreaterThan(0);

    // The label: Escape cancels, Enter saves; the source becomes "edited", and it stays after a reload.
    await page.getByTestId('label-edit').click();
    await page.getByTestId('label-input').fill('not kept');
    await page.getByTestId('label-input').press('Escape');
    expect(await page.getByTestId('feature-label').textContent()).toBe(t.label);
    await page.getByTestId('feature-label').click();
    await page.getByTestId('label-input').fill(`${word} detector`);
    await page.getByTestId('label-input').press('Enter');
    await page.getByTestId('feature-label').filter({ hasText: `${word} detector` }).waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('label-source').textContent()).toBe('edited');
    // Notes, saved when the field loses focus; a favourite.
    await page.getByTestId('feature-notes').fill('fires on the word, in every context');
    await page.getByTestId('feature-heading').click();
    await page.getByTestId('notes-state').filter({ hasText: 'saved' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('feature-star').click();
    await expect.poll(async () => (await list('favourite=true')).items.map((f) => f.index), { timeout: 10_000 }).toEqual([t.index]);
    await page.reload();
    await page.getByTestId('feature-label').filter({ hasText: `${word} detector` }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('label-source').textContent()).toBe('edited');
    expect(await page.getByTestId('feature-notes').inputValue()).toBe('fires on the word, in every context');
    expect(await page.getByTestId('feature-star').getAttribute('aria-pressed')).toBe('true');

    // Back to the list with its view; the favourites filter finds the feature, with its new label.
    await page.getByTestId('back-to-list').click();
    await page.waitForURL((u) => u.pathname === '/features' && u.searchParams.get('token') === token && u.searchParams.get('sae') === saeId, { timeout: 10_000 });
    await page.getByTestId('token-filter').fill('');
    await page.getByTestId('favourites-only').check();
    await page.waitForURL((u) => u.searchParams.get('fav') === '1' && !u.searchParams.has('token'), { timeout: 10_000 });
    await expect.poll(() => rowIndexes(page), { timeout: 10_000 }).toEqual([t.index]);
    expect(await page.getByTestId('row-label').textContent()).toBe(`${word} detector`);

    // A new discovery from the page, followed live through its phases to completed; the table reloads, the edits kept.
    expect(await page.getByTestId('discovery').count()).toBe(1);
    await page.getByTestId('discover-button').click();
    await expect.poll(() => page.getByTestId('discovery').count(), { timeout: 10_000 }).toBe(2);
    const newest = page.getByTestId('discovery').first();
    const states = new Set<string>();
    const texts = new Set<string>();
    for (let i = 0; i < 1200; i++) {
      const status = (await newest.getAttribute('data-status')) ?? '';
      states.add(status);
      texts.add((await newest.getByTestId('discovery-text').textContent()) ?? '');
      if (status === 'completed') break;
      expect(status).not.toBe('failed');
      await page.waitForTimeout(50);
    }
    expect(states.has('completed')).toBe(true);
    expect([...states].some((s) => s === 'queued' || s === 'running')).toBe(true);
    expect([...texts].some((x) => /waiting for a worker|scanning activations|reading top examples|saving features/.test(x))).toBe(true);
    expect(await newest.getByTestId('discovery-progress').getAttribute('data-value')).toBe('100');
    expect(await page.getByTestId('discover-button').textContent()).toBe('Discover again');
    await expect.poll(() => rowIndexes(page), { timeout: 10_000 }).toEqual([t.index]);
    expect(await page.getByTestId('row-label').textContent()).toBe(`${word} detector`);

    // What does not exist says so, never a blank page.
    await page.goto(`${stack.base}/features/${saeId}/${D_SAE + 5}`);
    await page.getByTestId('feature-error').filter({ hasText: `No feature #${D_SAE + 5} in this SAE` }).waitFor({ timeout: 10_000 });
    await page.goto(`${stack.base}/features?sae=00000000-0000-4000-8000-000000000000`);
    await page.getByTestId('unknown-sae').waitFor({ timeout: 10_000 });

    expect(errors).toEqual([]);
    await page.close();
  });

  it('saves the LLM endpoint without echoing its key, tests it against a local OpenAI-compatible server, clears it', async () => {
    const key = 'sk-loupe-test-0123456789';
    const llm = await startLlmServer(key);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${stack.base}/settings`);
      await page.getByTestId('llm-state').filter({ hasText: /Not set: heuristic labels only/ }).waitFor({ timeout: 15_000 });

      // A bad URL: the server's message beside the field, nothing saved.
      await page.getByTestId('llm-url').fill('not a url');
      await page.getByTestId('llm-model').fill('tiny-model');
      await page.getByTestId('llm-save').click();
      await page.getByTestId('error-url').waitFor({ timeout: 10_000 });
      expect(settingsSchema.parse(await api('/api/settings')).llm).toBeNull();

      // Saved with a wrong key: stored as "set", never shown again; the test reports the endpoint's refusal.
      await page.getByTestId('llm-url').fill(llm.url);
      await page.getByTestId('llm-key').fill('sk-wrong');
      await page.getByTestId('llm-save').click();
      await page.getByTestId('llm-note').filter({ hasText: /Saved/ }).waitFor({ timeout: 10_000 });
      await page.getByTestId('key-set').waitFor({ timeout: 5000 });
      expect(await page.getByTestId('error-url').count()).toBe(0);
      expect(await page.getByTestId('llm-key').inputValue()).toBe('');
      expect(await page.getByTestId('llm-state').textContent()).toBe(`In use: tiny-model at ${llm.url}, with an API key.`);
      await page.getByTestId('llm-test').click();
      const result = page.getByTestId('llm-test-result');
      await result.waitFor({ timeout: 30_000 });
      expect(await result.getAttribute('data-ok')).toBe('false');
      expect(await result.textContent()).toMatch(/^Test failed: .*(401|Incorrect API key)/);
      expect(llm.requests.at(-1)?.authorization).toBe('Bearer sk-wrong');

      // The right key typed: the test tries the form's values before they are saved, then they are saved.
      await page.getByTestId('llm-key').fill(key);
      await page.getByTestId('llm-test').click();
      await result.and(page.locator('[data-ok="true"]')).waitFor({ timeout: 30_000 });
      expect(await result.textContent()).toMatch(/It works\. tiny-model answered: /);
      expect(await page.getByTestId('llm-test-sample').textContent()).not.toBe('');
      expect(llm.requests.at(-1)?.authorization).toBe(`Bearer ${key}`);
      await page.getByTestId('llm-save').click();
      await page.getByTestId('llm-note').filter({ hasText: /Saved/ }).waitFor({ timeout: 10_000 });
      const raw = await (await fetch(`${stack.base}/api/settings`)).text();
      expect(JSON.parse(raw)).toEqual({ llm: { url: llm.url, model: 'tiny-model', apiKeySet: true } });
      expect(raw).not.toContain(key);
      await page.reload();
      await page.getByTestId('key-set').waitFor({ timeout: 10_000 });
      expect(await page.getByTestId('llm-url').inputValue()).toBe(llm.url);
      expect(await page.getByTestId('llm-key').inputValue()).toBe('');
      expect(await page.content()).not.toContain(key);

      // The stored settings, tested as they are (the stored key is used).
      const before = llm.requests.length;
      await page.getByTestId('llm-test').click();
      await page.getByTestId('llm-test-result').and(page.locator('[data-ok="true"]')).waitFor({ timeout: 30_000 });
      expect(llm.requests.length).toBe(before + 1);
      expect(llm.requests.at(-1)?.authorization).toBe(`Bearer ${key}`);

      // With an endpoint set, a feature's page can ask it for a label now.
      const plain = (await list('sort=-frequency&limit=50')).items.find((f) => f.labelSource === 'heuristic');
      expect(plain).toBeDefined();
      await page.goto(`${stack.base}/features/${saeId}/${plain!.index}`);
      await page.getByTestId('label-llm').click();
      await page.getByTestId('label-source').filter({ hasText: 'LLM' }).waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('feature-label').textContent()).toMatch(/^Feature: “/);
      expect(await page.getByTestId('heuristic-label').textContent()).toBe(plain!.label);
      await page.goto(`${stack.base}/settings`);
      await page.getByTestId('key-set').waitFor({ timeout: 10_000 });

      // Cleared: heuristic labels only.
      await page.getByTestId('llm-clear').click();
      await page.getByTestId('llm-state').filter({ hasText: /Not set/ }).waitFor({ timeout: 10_000 });
      expect(settingsSchema.parse(await api('/api/settings')).llm).toBeNull();
      expect(await page.getByTestId('key-set').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await llm.close();
    }
  });
});
