/**
 * The Features and Settings pages in a real Chromium against the real stack
 * (`npm start`'s launcher: server, worker, embedded PostgreSQL) on a fresh
 * DATA_DIR with the first-start demo on (LOUPE_DEMO=1), as a newcomer gets
 * it. The Features page, opened from the nav before the demo has made
 * anything ("No SAE yet"), shows the demo's SAE and its discovery once the
 * worker makes them, without a reload (lists reload every 10 s while the tab
 * is visible), and the features when the discovery completes. Then, on the
 * demo's SAE: a search by label and a filter by peak token narrow the table
 * (done by the server, the view in the URL; back restores the previous
 * view); a feature opened: its examples lit by activation (intensities that
 * differ, the peak the brightest), a token's tooltip, the histogram,
 * logit-lens tokens, correlations, an ablation; the label edited (Escape
 * cancels, Enter saves; kept after a reload), notes saved on blur, a
 * favourite found by the favourites filter; a new discovery started from the
 * page and followed live to completed, the edits kept, then one over fresh
 * text from the demo dataset (a bad max tokens refused beside its field),
 * each row saying what it ran over; a feature past the
 * SAE's size and an unknown SAE say so. A screenshot of a convincing
 * feature's page (the best-scoring one firing on 0.05–2 % of tokens whose
 * label is a word; the live CPU/memory figures and the analyses' times
 * hidden, so the file changes only when the page does) goes to
 * docs/feature-detail.png for the README. Settings: the LLM endpoint saved,
 * its key never echoed, tested against a local OpenAI-compatible server (a
 * wrong key refused, the form's values tried before saving), a feature
 * labelled by it from its page, cleared. Run first on the demo's Loupe, which
 * web/pages/demo.e2e.test.ts starts for this and the other demo suites.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetListSchema } from '../../../models/contracts/datasets.ts';
import { discoveryListSchema, featureDetailSchema, featureListSchema, settingsSchema, type FeatureListItem } from '../../../models/contracts/features.ts';
import { saeListSchema } from '../../../models/contracts/trainings.ts';
import { DEMO_HOOK, DEMO_TRAINING } from '../../../models/demo.ts';
import { launchChromium } from '../../../scripts/testing/browser.ts';
import type { Launched } from '../../../scripts/testing/launcher.ts';
import { startLlmServer } from '../../../scripts/testing/llm-server.ts';
import { ROOT, waitFor } from '../../../scripts/testing/processes.ts';
import { featureCountText, tokenFilterInput } from '../../data/feature-view.ts';

const D_SAE = DEMO_TRAINING.dSae!;
/** The demo (tokenization, extraction, training, discovery) takes ~1.5 min on two idle cores, ~4 on two loaded ones. */
const DEMO_MS = 10 * 60_000;
/** Longest a row made elsewhere may take to show on an open page: a list's reload interval (10 s), and time to draw it. */
const LIST_RELOAD_MS = 20_000;
/** What changes from one run to the next without the page changing: the host's live figures, when analyses were computed. */
const FREEZE_CSS = '.nav-status > span:not([data-testid="conn-status"]) { display: none !important; } [data-testid="computed-note"], [data-testid="search-ms"], [data-testid="jobs-indicator"] { visibility: hidden !important; }';

/** The alpha of a computed `rgb()`/`rgba()` colour (1 for rgb, 0 for transparent). */
function alphaOf(color: string): number {
  if (color === 'transparent') return 0;
  const m = /rgba?\(([^)]+)\)/.exec(color);
  if (!m) throw new Error(`not a colour: ${color}`);
  const parts = m[1]!.split(',').map((s) => Number(s.trim()));
  return parts.length === 4 ? parts[3]! : 1;
}

/** The table's count of a first page of `total` matches (50 rows a page). */
const countOf = (total: number) => featureCountText(total === 0 ? 0 : 1, Math.min(50, total), total);

const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** The Features and Settings pages' tests, on `demo()`'s Loupe, started with LOUPE_DEMO=1 just before. */
export function featuresSuite(demo: () => { stack: Launched; t0: number }): void {
describe('Features page, on the first-start demo', () => {
  let stack: Launched;
  let t0: number;
  let browser: Browser;
  /** the newcomer's tab, opened before the demo made anything and kept through the first tests */
  let page: Page;
  const errors: string[] = [];
  let saeId: string;

  const api = async (p: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${stack.base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };

  beforeAll(async () => {
    ({ stack, t0 } = demo());
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await page?.close();
    await browser?.close();
  });

  it('shows the demo\'s SAE, discovery and features on a page opened before they exist, without a reload', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(e.message));
    // As a newcomer: the address the launcher prints, then Features in the nav (no SAE in the URL).
    await page.goto(stack.base);
    await page.locator('nav.nav').getByRole('link', { name: 'Features', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/features', { timeout: 10_000 });
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });
    // On a CPU the demo has no SAE yet (its extraction and training take a minute or more); a fast machine may have one already.
    await page.locator('[data-testid="no-saes"], [data-testid="discovery-panel"]').first().waitFor({ timeout: 15_000 });
    if (await page.getByTestId('no-saes').isVisible()) expect(new URL(page.url()).searchParams.has('sae')).toBe(false);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    // The worker makes the demo's SAE (seen through the API): the open page shows it, picked, within a reload's interval.
    const sae = await waitFor('the demo\'s SAE', async () => saeListSchema.parse(await api('/api/saes')).saes[0], DEMO_MS, 1000);
    saeId = sae.id;
    expect(sae).toMatchObject({ hookPoint: DEMO_HOOK, dSae: D_SAE });
    console.log(`features page: the demo's SAE ${seconds(t0)} after the start`);
    await page.getByTestId('discovery-panel').waitFor({ timeout: LIST_RELOAD_MS });
    await page.waitForURL((u) => u.searchParams.get('sae') === saeId, { timeout: 10_000 });
    expect(await page.getByTestId('sae-select').inputValue()).toBe(saeId);
    // Then its discovery, and its completion: the page shows it completed, and the SAE's features.
    const discovery = await waitFor(
      'the demo\'s discovery',
      async () => {
        const [d] = discoveryListSchema.parse(await api(`/api/discoveries?sae=${saeId}`)).discoveries;
        if (d?.status === 'failed' || d?.status === 'cancelled') throw new Error(`the demo's discovery ${d.status}: ${d.error}`);
        return d?.status === 'completed' ? d : undefined;
      },
      DEMO_MS,
      1000,
    );
    console.log(`features page: the demo's discovery completed ${seconds(t0)} after the start`);
    await page.locator(`[data-testid="discovery"][data-status="completed"]`).waitFor({ timeout: LIST_RELOAD_MS });
    expect(discoveryListSchema.parse(await api(`/api/discoveries?sae=${saeId}`)).discoveries.map((d) => d.id)).toEqual([discovery.id]);
    await page.getByTestId('feature-row').first().waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('feature-count').textContent()).toBe(`1–50 of ${D_SAE.toLocaleString('en-US')} features`);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  }, DEMO_MS + 120_000);

  const list = async (query: string) => featureListSchema.parse(await api(`/api/features?sae=${saeId}&${query}`));
  const rowIndexes = (page: Page) => page.getByTestId('feature-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-index'))));

  /** the feature the test opens and the screenshot shows */
  let t: FeatureListItem;
  let word: string;

  it('searches, filters, opens a feature with highlighted examples and its analyses, edits its label', async () => {
    // A convincing feature, picked the same way every run: the best-scoring one that fires on 0.05–2 % of the
    // tokens (neither rare nor everywhere) whose heuristic label is a word most of its top examples peak on.
    const all = await list('sort=-score&limit=1');
    expect(all.total).toBe(D_SAE);
    const candidates = await list('minFreq=0.0005&maxFreq=0.02&sort=-score&limit=200');
    const target = candidates.items.find((f) => f.labelSource === 'heuristic' && /^“ ?[A-Za-z]{4,}”$/.test(f.label ?? '') && (f.topTokens[0]?.count ?? 0) >= 8);
    expect(target, 'a feature labelled with a word').toBeDefined();
    t = target!;
    const token = t.topTokens[0]!.text;
    word = token.trim();
    console.log(`features page: feature #${t.index} ${t.label}, score ${t.score}, frequency ${((t.frequency ?? 0) * 100).toFixed(2)} %`);

    // The newcomer's page: sorted by score, descending, by default.
    const scores = (await page.getByTestId('row-score').allTextContents()).map(Number);
    expect(scores.every((s, i) => i === 0 || s <= scores[i - 1]!)).toBe(true);

    // Search by label: typed key by key, one request after the pause; every row's label has the text.
    await page.getByTestId('feature-search').pressSequentially(word.toLowerCase(), { delay: 40 });
    await page.waitForURL((u) => u.searchParams.get('q') === word.toLowerCase(), { timeout: 10_000 });
    const searched = await list(`q=${encodeURIComponent(word.toLowerCase())}`);
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toBe(countOf(searched.total));
    const labels = await page.getByTestId('row-label').allTextContents();
    expect(labels.length).toBeGreaterThan(0);
    // labels that have the text (the search also finds features whose top examples peak on the word: their labels may not say it)
    expect(labels.some((l) => l.toLowerCase().includes(word.toLowerCase()))).toBe(true);
    expect(await rowIndexes(page)).toContain(t.index);
    expect(searched.total).toBeLessThan(all.total);
    await page.getByTestId('feature-search').fill('');
    await page.waitForURL((u) => !u.searchParams.has('q'), { timeout: 10_000 });

    // Filter by peak token (whitespace typed as the page shows it): the target is among the matches.
    const byToken = await list(`token=${encodeURIComponent(token)}`);
    expect(byToken.items.map((f) => f.index)).toContain(t.index);
    await page.getByTestId('token-filter').fill(tokenFilterInput(token));
    await page.waitForURL((u) => u.searchParams.get('token') === token, { timeout: 10_000 });
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toBe(countOf(byToken.total));
    expect(await rowIndexes(page)).toContain(t.index);
    // A frequency range from the slider: the URL and the table follow.
    await page.getByTestId('freq-min').fill('-2');
    await page.waitForURL((u) => u.searchParams.get('minFreq') === '0.01', { timeout: 10_000 });
    const frequent = await list(`token=${encodeURIComponent(token)}&minFreq=0.01`);
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toBe(countOf(frequent.total));
    // Back: the previous view (token filter, no frequency bound), the slider at its end again.
    await page.goBack();
    await page.waitForURL((u) => !u.searchParams.has('minFreq') && u.searchParams.get('token') === token, { timeout: 10_000 });
    expect(await page.getByTestId('freq-min').inputValue()).toBe('-5');
    await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toBe(countOf(byToken.total));
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
    const peaks = await page.getByTestId('top-examples').locator('[data-testid="act-token"][data-peak="true"]').evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor));
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
    // The convention is named, and switching it asks for the other one (kept in the URL).
    expect(await page.getByTestId('lens-convention').textContent()).toContain('γ');
    const weighted = await lensRows.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-value')));
    await page.getByTestId('lens-norm').getByRole('button', { name: 'raw' }).click();
    await page.waitForURL(/[?&]lens=none/);
    await page.getByTestId('lens-convention').getByText('W_dec[f] · W_U exactly').waitFor();
    await page.waitForFunction((before) => {
      const rows = [...document.querySelectorAll('[data-testid="lens-top"] [data-testid="lens-row"]')];
      return rows.length === 12 && rows.map((r) => r.getAttribute('data-value')).join() !== before.join();
    }, weighted, { timeout: 90_000 });
    // back to the default (cached by now) for the screenshot
    await page.getByTestId('lens-norm').getByRole('button', { name: 'weighted' }).click();
    await page.waitForFunction((before) => {
      const rows = [...document.querySelectorAll('[data-testid="lens-top"] [data-testid="lens-row"]')];
      return !location.search.includes('lens=') && rows.map((r) => r.getAttribute('data-value')).join() === before.join();
    }, weighted, { timeout: 30_000 });
    // Correlated features, linked to their pages.
    await page.getByTestId('correlation-link').first().waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('correlation-link').first().getAttribute('href')).toMatch(new RegExp(`^/features/${saeId}/\\d+`));

    // The screenshot for the README: the feature's page as a newcomer sees it, without what changes on every run.
    await page.evaluate(() => window.scrollTo(0, 0));
    const frozen = await page.addStyleTag({ content: FREEZE_CSS });
    expect(await page.locator('.nav-status > span:visible').count()).toBe(1);
    mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'feature-detail.png') });
    await frozen.evaluate((el) => (el as Element).remove());

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
    expect(errors).toEqual([]);
  });

  it('runs a new discovery from the page, followed live to completed, the edits kept; says what does not exist', async () => {
    // A new discovery of the demo's SAE, followed live through its phases to completed; the table reloads, the edits kept.
    expect(await page.getByTestId('discovery').count()).toBe(1);
    await page.getByTestId('discover-button').click();
    await expect.poll(() => page.getByTestId('discovery').count(), { timeout: 10_000 }).toBe(2);
    const newest = page.getByTestId('discovery').first();
    const states = new Set<string>();
    const texts = new Set<string>();
    const started = Date.now();
    while (Date.now() - started < 5 * 60_000) {
      const status = (await newest.getAttribute('data-status')) ?? '';
      states.add(status);
      texts.add((await newest.getByTestId('discovery-text').textContent()) ?? '');
      if (status === 'completed') break;
      expect(status).not.toBe('failed');
      await page.waitForTimeout(50);
    }
    console.log(`features page: a new discovery of the demo's SAE from the page in ${seconds(started)}`);
    expect(states.has('completed')).toBe(true);
    expect([...states].some((s) => s === 'queued' || s === 'running')).toBe(true);
    expect([...texts].some((x) => /waiting for a worker|scanning activations|reading top examples|saving features/.test(x))).toBe(true);
    expect(await newest.getByTestId('discovery-progress').getAttribute('data-value')).toBe('100');
    expect(await page.getByTestId('discover-button').textContent()).toBe('Discover again');
    await expect.poll(() => rowIndexes(page), { timeout: 10_000 }).toEqual([t.index]);
    expect(await page.getByTestId('row-label').textContent()).toBe(`${word} detector`);
    expect(await newest.getAttribute('data-source')).toBe('extraction');
    expect(await newest.getByTestId('discovery-source').textContent()).toMatch(/^stored activations of .+ on .+ · [\d,]+ tokens$/);

    // Over fresh text: the demo dataset's windows through the demo model, a few thousand tokens. A value out of
    // bounds is refused beside its field before anything is sent; then it runs to completed, its row saying over what.
    const demoData = datasetListSchema.parse(await api('/api/datasets')).datasets.find((d) => d.builtin)!;
    await page.getByTestId('discover-source').selectOption('text');
    await page.getByTestId('discover-dataset').waitFor({ timeout: 5000 });
    await expect.poll(() => page.getByTestId('discover-dataset').inputValue(), { timeout: 15_000 }).toBe(demoData.id);
    expect(await page.getByTestId('discover-max-tokens').getAttribute('placeholder')).toBe('1,000,000');
    await page.getByTestId('discover-max-tokens').fill('10');
    await page.getByTestId('discover-button').click();
    expect(await page.getByTestId('discover-error-maxTokens').textContent()).toMatch(/^at least one window: \d+ tokens$/);
    expect(await page.getByTestId('discovery').count()).toBe(2);
    await page.getByTestId('discover-max-tokens').fill('4096');
    expect(await page.getByTestId('discover-error-maxTokens').count()).toBe(0);
    const textStarted = Date.now();
    await page.getByTestId('discover-button').click();
    await expect.poll(() => page.getByTestId('discovery').count(), { timeout: 10_000 }).toBe(3);
    const fresh = page.getByTestId('discovery').first();
    expect(await fresh.getAttribute('data-source')).toBe('text');
    await page.locator('[data-testid="discovery"][data-source="text"][data-status="completed"]').waitFor({ timeout: 120_000 });
    console.log(`features page: a discovery over 4,096 tokens of fresh text from the page in ${seconds(textStarted)}`);
    const [made] = discoveryListSchema.parse(await api(`/api/discoveries?sae=${saeId}`)).discoveries;
    expect(made).toMatchObject({ source: 'text', datasetId: demoData.id, extractionId: null, status: 'completed', text: { maxTokens: 4096 } });
    expect(made!.rows).toBeGreaterThan(0);
    expect(made!.rows).toBeLessThanOrEqual(4096);
    expect(await fresh.getByTestId('discovery-source').textContent()).toBe(`fresh text: ${demoData.name}, ${made!.rows!.toLocaleString('en-US')} tokens`);
    expect(await fresh.getByTestId('discovery-text').textContent()).toMatch(/^[\d,]+ tokens scanned/);
    await expect.poll(() => rowIndexes(page), { timeout: 10_000 }).toEqual([t.index]);

    // What does not exist says so, never a blank page.
    await page.goto(`${stack.base}/features/${saeId}/${D_SAE + 5}`);
    await page.getByTestId('feature-error').filter({ hasText: `No feature #${(D_SAE + 5).toLocaleString('en-US')} in this SAE` }).waitFor({ timeout: 10_000 });
    await page.goto(`${stack.base}/features?sae=00000000-0000-4000-8000-000000000000`);
    await page.getByTestId('unknown-sae').waitFor({ timeout: 10_000 });

    expect(errors).toEqual([]);
  }, 6 * 60_000);

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
}
