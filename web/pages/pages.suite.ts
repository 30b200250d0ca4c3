/**
 * Every page as a researcher sees it, at 1280×800 and at a phone's 390×844,
 * in a real Chromium against the real stack (`npm start`'s launcher) with the
 * first-start demo (LOUPE_DEMO=1; the Loupe web/pages/demo.e2e.test.ts
 * starts for the demo suites, this one last: it imports a second SAE, which
 * the others must not see first), its features discovered again over the
 * stored activations (the Features suite's last discovery ran over 4,096
 * tokens of fresh text), and a second SAE imported beside it. At
 * each width, on every page: no page wider than the viewport
 * (`scrollWidth <= innerWidth`), no serious or critical axe-core violation
 * (axe's source injected into the page), no console error on the walk with
 * valid input, and a screenshot in docs/screens/<page>-<width>.png (linked
 * from the README). And the defects of issue 16, each checked where a user
 * meets it:
 * - the top bar: a menu button below 700 px that opens and closes the
 *   pages, the nav at full width; the host's CPU and memory on the first
 *   paint, from the server's last sample, with the WebSocket held back; a
 *   running-jobs indicator that counts a discovery and names it;
 * - forms: the browser's plain messages from the contracts beside their
 *   fields with no request sent (Models, Settings, Discovery), the Settings
 *   URL message once, every field with an accessible name (the training's
 *   expansion factor and "decoder rows");
 * - Models: the files' size and the load dtype named as such, the files'
 *   real dtype (F16) beside the in-memory sizes;
 * - Extractions: every block of the hook picker shown (no scroll box),
 *   `ln_final.hook_normalized` inside its panel;
 * - Compare: the demo's one training as one run (a hint to tick another);
 * - Sweeps: the new-sweep form with the demo's extraction and hook picked;
 * - Training: the extraction picker not under the Name field, "dead" in the
 *   table as in the density card, a one-point CE-loss series drawn, no L1
 *   chart for TopK, grid lines under the data, one number form per axis,
 *   the tooltip's swatch on its value's line;
 * - Features: the SAE of the address picked on a direct open and a reload
 *   (another SAE listed first), "#" sorting both ways, the search box's own
 *   example ("moses") finding features by their peak token, the discovery
 *   options in one row with units, "↵" in labels, "1 feature";
 * - a feature's page: logit-lens bars proportional to their values, a
 *   histogram of 8 bins or more with axis titles and counts on hover,
 *   examples from each quantile band, the label editor without typographic
 *   quotes, ←/→, f and /;
 * - bad feature addresses (`/99999`, `/abc`, `/-1`, none): a plain "no such
 *   feature" with links to the first and last features, never "#NaN";
 * - System: DATA_DIR's own size (below the file system's use), totals of
 *   memory and disk, a legend for the min–max band.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMetricsSchema } from '../../models/contracts/api.ts';
import { discoveryListSchema, discoverySchema, featureListSchema, type FeatureListItem } from '../../models/contracts/features.ts';
import { saeListSchema, saeSchema, type Sae } from '../../models/contracts/trainings.ts';
import { DEMO_TRAINING } from '../../models/demo.ts';
import { FREEZE_CSS, launchChromium } from '../../scripts/testing/browser.ts';
import type { Launched } from '../../scripts/testing/launcher.ts';
import { ROOT, waitFor } from '../../scripts/testing/processes.ts';

const D_SAE = DEMO_TRAINING.dSae!;
/** The first-start demo (tokenization, extraction, training, discovery): ~1.5 min on two idle cores, ~4 on two loaded ones. */
const DEMO_MS = 10 * 60_000;
const WIDTHS = [
  { name: '1280', width: 1280, height: 800 },
  { name: '390', width: 390, height: 844 },
] as const;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCREENS = path.join(ROOT, 'docs', 'screens');

const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Every page at both widths, on `demo()`'s Loupe (started with LOUPE_DEMO=1); after the other demo suites. */
export function pagesSuite(demo: () => { stack: Launched; t0: number }): void {
describe('every page, at 1280 and 390 px wide, on the first-start demo', () => {
  let stack: Launched;
  let browser: Browser;
  let sae: Sae;
  let copy: Sae;
  /** a feature labelled with a word, whose page the walk opens */
  let feature: FeatureListItem;
  /** a feature whose label is a line break */
  let newline: FeatureListItem | undefined;

  const api = async (p: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${stack.base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const list = async (query: string) => featureListSchema.parse(await api(`/api/features?sae=${sae.id}&${query}`));

  beforeAll(async () => {
    let t0: number;
    ({ stack, t0 } = demo());
    browser = await launchChromium();
    // the demo's SAE and its discovery, made by the worker
    sae = await waitFor('the demo\'s SAE', async () => saeListSchema.parse(await api('/api/saes')).saes.at(-1), DEMO_MS, 1000);
    const completed = async (what: string, id?: string) =>
      waitFor(
        what,
        async () => {
          const list = discoveryListSchema.parse(await api(`/api/discoveries?sae=${sae.id}`)).discoveries;
          const d = id ? list.find((x) => x.id === id) : list[0];
          if (d?.status === 'failed' || d?.status === 'cancelled') throw new Error(`${what} ${d.status}: ${d.error}`);
          return d?.status === 'completed' ? d : undefined;
        },
        DEMO_MS,
        1000,
      );
    await completed('the demo\'s discovery');
    console.log(`pages: the demo ready ${seconds(t0)} after the start`);
    // its features from all its stored activations again (the suites before may have left a discovery over a little fresh text)
    const started = Date.now();
    const again = discoverySchema.parse(await api('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId: sae.id }) }));
    await completed('the discovery over the stored activations', again.id);
    console.log(`pages: the demo SAE's features discovered again in ${seconds(started)}`);
    // no favourite but the one this suite makes
    for (const f of (await list('favourite=true&limit=200')).items) await api(`/api/features/${f.id}`, { method: 'PATCH', body: JSON.stringify({ favourite: false }) });
    // a second SAE, listed first (the newest): the Features page must still show the one its address names
    copy = saeSchema.parse(await api('/api/saes/import', { method: 'POST', body: JSON.stringify({ path: sae.path, name: 'imported copy of the demo SAE' }) }));
    const candidates = await list('minFreq=0.0005&maxFreq=0.02&sort=-score&limit=200');
    feature = candidates.items.find((f) => f.labelSource === 'heuristic' && /^“ ?[A-Za-z]{4,}”$/.test(f.label ?? '')) ?? candidates.items[0]!;
    newline = (await list(`token=${encodeURIComponent('\n')}&limit=50`)).items.find((f) => f.topTokens[0]?.text === '\n');
    // one favourite, for the count of a one-row table
    await api(`/api/features/${feature.id}`, { method: 'PATCH', body: JSON.stringify({ favourite: true }) });
    mkdirSync(SCREENS, { recursive: true });
  }, DEMO_MS + 300_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** A tab at one width that records console errors and page errors, and the API requests it sends. */
  async function tab(w: (typeof WIDTHS)[number]) {
    const page = await browser.newPage({ viewport: { width: w.width, height: w.height } });
    const errors: string[] = [];
    const sent: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    page.on('request', (r) => r.method() !== 'GET' && sent.push(`${r.method()} ${new URL(r.url()).pathname}`));
    return { page, errors, sent };
  }

  /** The page fits the viewport, passes axe (nothing serious or critical), and is saved as docs/screens/<name>-<width>.png. */
  async function check(page: Page, name: string, w: (typeof WIDTHS)[number]) {
    const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scrollWidth, `${name} at ${w.name} px is ${scrollWidth} px wide`).toBeLessThanOrEqual(innerWidth);
    await page.addScriptTag({ content: AXE });
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] }> } }).axe;
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    expect(violations, `axe on ${name} at ${w.name} px`).toEqual([]);
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
    const frozen = await page.addStyleTag({ content: FREEZE_CSS });
    await page.screenshot({ path: path.join(SCREENS, `${name}-${w.name}.png`) });
    await frozen.evaluate((el) => (el as Element).remove());
  }

  const go = async (page: Page, p: string, ready: string) => {
    await page.goto(`${stack.base}${p}`);
    await page.locator(ready).first().waitFor({ timeout: 30_000 });
  };
  const rect = (page: Page, selector: string) => page.locator(selector).first().evaluate((el) => el.getBoundingClientRect().toJSON() as DOMRect);
  const overlap = (a: DOMRect, b: DOMRect) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  for (const w of WIDTHS) {
    it(`walks every page at ${w.name} px: fits, passes axe, no console error, each defect fixed`, async () => {
      const t0 = Date.now();
      const { page, errors, sent } = await tab(w);
      const narrow = w.width < 700;

      // Top bar: the pages in a menu on a phone, in the bar otherwise.
      await go(page, '/models', '[data-name]');
      const nav = page.locator('nav.nav');
      if (narrow) {
        expect(await nav.isVisible()).toBe(false);
        await page.getByTestId('menu-button').click();
        expect(await page.getByTestId('menu-button').getAttribute('aria-expanded')).toBe('true');
        await nav.getByRole('link', { name: 'Datasets' }).click();
        await page.waitForURL(/\/datasets$/);
        expect(await nav.isVisible()).toBe(false);
      } else {
        expect(await page.getByTestId('menu-button').isVisible()).toBe(false);
        expect(await nav.getByRole('link').count()).toBeGreaterThanOrEqual(8);
      }

      // Models: the files' size and dtype, and the load dtype, each named as such.
      await go(page, '/models', '[data-name]');
      const demo = page.locator('[data-name]').first();
      expect(await demo.getByTestId('model-size').locator('xpath=preceding-sibling::dt').textContent()).toBe('files');
      expect(await demo.getByTestId('model-dtype').locator('xpath=preceding-sibling::dt').textContent()).toBe('loads as');
      await demo.getByTestId('toggle-architecture').click();
      await demo.getByTestId('weights-dtype').filter({ hasText: 'stored as F16' }).waitFor({ timeout: 15_000 });
      // an empty repository: the browser's plain message beside the field, nothing sent
      await page.getByTestId('download-submit').click();
      expect(await page.getByTestId('error-source.repo').textContent()).toBe('required');
      await check(page, 'models', w);

      await go(page, '/datasets', '[data-testid="hub-form"]');
      await page.getByTestId('dataset-tokens').first().waitFor({ timeout: 15_000 });
      await check(page, 'datasets', w);

      // Extractions: every block in the picker (no scroll box of its own), ln_final inside its panel.
      await go(page, '/extractions', '[data-testid="hook-picker"]');
      const picker = page.getByTestId('hook-picker');
      expect(await picker.evaluate((el) => [getComputedStyle(el).overflowY, el.scrollHeight <= el.clientHeight + 1])).toEqual(['visible', true]);
      expect(await picker.getByTestId('hook-blocks.5.hook_resid_post').isVisible()).toBe(true);
      const lnFinal = await page.getByTestId('hook-ln_final.hook_normalized').locator('xpath=ancestor::label').evaluate((el) => el.getBoundingClientRect().right);
      const finalGroup = await rect(page, '[data-testid="hooks-final"]');
      expect(lnFinal).toBeLessThanOrEqual(finalGroup.right);
      await check(page, 'extractions', w);

      // Training: the picker beside (or above) Name, not under it; dead features as the density card counts them;
      // the one-point CE-loss series drawn; no L1 chart for TopK; grid lines under the data; one number form per axis.
      await go(page, '/training', '[data-testid="train-charts"]');
      const select = await rect(page, '[data-testid="extraction-select"]');
      const reload = await rect(page, '[data-testid="extractions-reload"]');
      const name = await rect(page, '[data-testid="input-name"]');
      expect(overlap(select, name) || overlap(reload, name)).toBe(false);
      expect(await page.getByRole('textbox', { name: /expansion factor/ }).count()).toBe(1);
      expect(await page.getByRole('checkbox', { name: 'decoder rows', exact: true }).count()).toBe(1);
      const deadCount = /^([\d,]+) dead/.exec((await page.getByTestId('density-summary').first().textContent()) ?? '')?.[1];
      expect(deadCount).toBeDefined();
      expect(await page.getByTestId('hook-dead').first().textContent()).toMatch(new RegExp(`\\(${deadCount}\\)$`));
      expect(await page.getByTestId('chart-ceLossRecovered').getByTestId('chart-dot').count()).toBe(1);
      expect(await page.getByTestId('chart-l1').count()).toBe(0);
      const loss = page.getByTestId('chart-loss');
      expect(await loss.locator('svg').evaluate((svg) => [...svg.children].map((c) => c.getAttribute('class')))).toEqual(['axis axis-y', 'axis axis-x', 'plot']);
      for (const key of ['loss', 'lr', 'explainedVariance', 'deadFraction']) {
        const ticks = await page.getByTestId(`chart-${key}`).locator('.axis-y .tick text').allTextContents();
        const forms = new Set(ticks.map((t) => (/e[-+]/.test(t) ? 'exp' : `${/\.(\d+)/.exec(t)?.[1]?.length ?? 0}`)));
        expect(forms.size, `${key}: ${ticks.join(' ')}`).toBe(1);
      }
      // the tooltip's swatch on the line of its value
      await loss.scrollIntoViewIfNeeded();
      const box = (await loss.locator('svg').boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      const row = loss.locator('.chart-tip-row').first();
      await row.waitFor({ timeout: 5000 });
      const [swatch, text] = await Promise.all([row.locator('i').boundingBox(), row.locator('span').boundingBox()]);
      expect(Math.abs(swatch!.y + swatch!.height / 2 - (text!.y + text!.height / 2))).toBeLessThan(5);
      await page.mouse.move(0, 0);
      await check(page, 'training', w);

      // Compare, on the demo's one training: its one run in every part, a hint to tick another.
      await go(page, `/compare?ids=${sae.trainingId}`, '[data-testid="frontier-point"]');
      expect(await page.getByTestId('final-row').count()).toBe(1);
      expect(await page.getByTestId('curve-loss').locator('g.lines path').count()).toBe(1);
      await page.getByTestId('compare-hint').waitFor();
      await check(page, 'compare-demo', w);

      // Sweeps: the new-sweep form on the demo's extraction (its hook picked), no sweep yet.
      await go(page, '/sweeps', '[data-testid="no-sweeps"]');
      await expect.poll(() => page.getByTestId('sweep-hook').inputValue(), { timeout: 10_000 }).not.toBe('');
      await check(page, 'sweeps', w);

      // Features, opened directly on the demo's SAE while the imported copy is listed first: the picker says the demo's, also after a reload.
      await go(page, `/features?sae=${sae.id}`, '[data-testid="feature-row"]');
      expect(await page.getByTestId('sae-select').locator('option').first().textContent()).toContain(copy.name);
      expect(await page.getByTestId('sae-select').inputValue()).toBe(sae.id);
      await page.reload();
      await page.getByTestId('feature-row').first().waitFor({ timeout: 15_000 });
      expect(await page.getByTestId('sae-select').inputValue()).toBe(sae.id);
      // "#" sorts up, then down
      await page.getByTestId('sort-index').click();
      await expect.poll(() => page.getByTestId('feature-row').first().getAttribute('data-index'), { timeout: 10_000 }).toBe('0');
      await page.getByTestId('sort-index').click();
      await expect.poll(() => page.getByTestId('feature-row').first().getAttribute('data-index'), { timeout: 10_000 }).toBe(String(D_SAE - 1));
      expect(new URL(page.url()).searchParams.get('sort')).toBe('-index');
      // the discovery options: one row with units at full width
      await page.getByTestId('discover-options').locator('summary').click();
      expect(await page.getByTestId('discover-options-row').textContent()).toMatch(/a feature.*tokens.*tokens/);
      if (!narrow) {
        const tops = await Promise.all(['discover-topK', 'discover-left', 'discover-right'].map(async (id) => (await rect(page, `[data-testid="${id}"]`)).top));
        expect(new Set(tops).size).toBe(1);
      }
      // a bad value: the browser's message beside the field, nothing sent
      await page.getByTestId('discover-topK').fill('0');
      await page.getByTestId('discover-button').click();
      expect(await page.getByTestId('discover-error-topK').textContent()).toBe('at least 1');
      await page.getByTestId('discover-topK').fill('');
      await page.getByTestId('discover-options').locator('summary').click();
      // the search box's own example finds features (by the word their top examples peak on)
      const search = page.getByTestId('feature-search');
      const example = /e\.g\. (\w+)/.exec((await search.getAttribute('placeholder')) ?? '')?.[1];
      expect(example).toBe('moses');
      await search.fill(example!);
      await page.waitForURL((u) => u.searchParams.get('q') === example, { timeout: 10_000 });
      await expect.poll(() => page.getByTestId('feature-count').textContent(), { timeout: 10_000 }).toMatch(/^\d+ features?$|of [\d,]+ features$/);
      expect(await page.getByTestId('feature-row').count()).toBeGreaterThan(0);
      await check(page, 'features', w);
      // a line break shows as ↵ in a label, as in its chips
      if (newline) {
        await go(page, `/features?sae=${sae.id}&token=%0A`, '[data-testid="feature-row"]');
        const labels = await page.getByTestId('row-label').allTextContents();
        expect(labels.some((l) => l.includes('↵'))).toBe(true);
        expect(labels.some((l) => l.includes('\\n'))).toBe(false);
      }
      // one match: "1 feature"
      await go(page, `/features?sae=${sae.id}&fav=1`, '[data-testid="feature-row"]');
      expect(await page.getByTestId('feature-count').textContent()).toBe('1 feature');

      // A feature's page.
      await go(page, `/features/${sae.id}/${feature.index}`, '[data-testid="example"]');
      // logit-lens bars as long as their values (against the largest)
      const bars = page.getByTestId('lens-top').locator('g.lens-row');
      await bars.first().waitFor({ state: 'attached', timeout: 90_000 });
      const lens = await bars.evaluateAll((rows) => rows.map((r) => [Number(r.getAttribute('data-value')), Number(r.querySelector('rect')!.getAttribute('data-width'))]));
      const scale = lens[0]![1]! / Math.abs(lens[0]![0]!);
      for (const [v, width] of lens) expect(Math.abs(width! - Math.abs(v!) * scale)).toBeLessThan(Math.max(1.5, 0.02 * width!));
      expect(lens[0]![1]! / lens.at(-1)![1]!).toBeCloseTo(lens[0]![0]! / lens.at(-1)![0]!, 1);
      // the histogram: enough bins, both axes titled, the count under the pointer
      const hist = page.getByTestId('activation-histogram');
      expect(await hist.getByTestId('act-hist-bar').count()).toBeGreaterThanOrEqual(8);
      expect(await hist.locator('text.axis-label').allTextContents()).toEqual(['activation value (log scale)', 'tokens']);
      const tallest = (await hist.getByTestId('act-hist-bar').evaluateAll((bs) => bs.map((b) => Number(b.getAttribute('data-count'))))).reduce((m, c, i, a) => (c > a[m]! ? i : m), 0);
      await hist.getByTestId('act-hist-bar').nth(tallest).hover();
      expect(await page.getByTestId('act-hist-tip').textContent()).toMatch(/: [\d,]+ tokens$/);
      await page.mouse.move(0, 0);
      // examples sampled from the quantile bands, labelled by band
      expect(await page.getByTestId('quantile-band').count()).toBeGreaterThanOrEqual(2);
      expect(await page.getByTestId('quantile-band').first().textContent()).toMatch(/75–100 % quantile/);
      expect(await page.getByTestId('quantile-example').count()).toBeGreaterThanOrEqual(2);
      // the label editor starts from the word, without the page's typographic quotes
      await page.getByTestId('label-edit').click();
      expect(await page.getByTestId('label-input').inputValue()).not.toMatch(/[“”]/);
      await page.getByTestId('label-input').press('Escape');
      await check(page, 'feature', w);
      // keyboard: ← and → for the previous and next feature, f for the favourite star, / for the list's search
      expect(feature.index).toBeGreaterThan(0);
      await page.locator('body').press('ArrowLeft');
      await page.waitForURL(new RegExp(`/features/${sae.id}/${feature.index - 1}(\\?|$)`), { timeout: 10_000 });
      await page.getByTestId('feature-heading').filter({ hasText: `#${feature.index - 1}` }).waitFor();
      await page.getByTestId('next-feature').waitFor({ timeout: 15_000 });
      await page.locator('body').press('ArrowRight');
      await page.waitForURL(new RegExp(`/features/${sae.id}/${feature.index}(\\?|$)`), { timeout: 10_000 });
      await page.getByTestId('feature-star').and(page.locator('[aria-pressed="true"]')).waitFor({ timeout: 15_000 });
      await page.locator('body').press('f');
      await page.getByTestId('feature-star').and(page.locator('[aria-pressed="false"]')).waitFor({ timeout: 5000 });
      await page.locator('body').press('f');
      await page.getByTestId('feature-star').and(page.locator('[aria-pressed="true"]')).waitFor({ timeout: 5000 });
      // the two quick presses reached the server in order: still the one favourite
      await expect.poll(async () => (await list('favourite=true')).items.map((f) => f.id), { timeout: 10_000 }).toEqual([feature.id]);
      await page.locator('body').press('/');
      await page.waitForURL((u) => u.pathname === '/features', { timeout: 10_000 });
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid')), { timeout: 5000 }).toBe('feature-search');

      // Inspector (its own checks are in its test): it fits and passes axe.
      await go(page, `/inspector?sae=${sae.id}`, '[data-testid="inspector-text"]');
      await check(page, 'inspector', w);

      // System: DATA_DIR's own size, below the file system's use; totals; the band's legend.
      await go(page, '/system', '[data-testid="latest-disk.data_dir"]');
      const metrics = systemMetricsSchema.parse(await api('/api/system/metrics?window=15m&points=10'));
      const last = (m: string) => metrics.series[m]?.last.at(-1);
      await expect.poll(async () => (await page.getByTestId('latest-disk.data_dir').textContent()) !== '–', { timeout: 90_000 }).toBe(true);
      expect(last('disk.data_dir') ?? 0).toBeGreaterThan(0);
      expect(last('disk.data_dir')!).toBeLessThan(last('disk.used')!);
      expect(await page.getByTestId('memory-total').textContent()).toMatch(/^memory: [\d.]+ [KMGT]?i?B used of [\d.]+ [KMGT]iB/);
      expect(await page.getByTestId('disk-total').textContent()).toMatch(/its file system: [\d.]+ [KMGT]?i?B used of [\d.]+ [KMGT]iB$/);
      for (const chart of await page.locator('.chart').all()) {
        const banded = await chart.locator('.bands path').evaluateAll((ps) => ps.some((p) => (p.getAttribute('d') ?? '') !== ''));
        if (banded) expect(await chart.getByTestId('band-legend').count()).toBe(1);
      }
      await check(page, 'system', w);

      // Settings: a bad URL, checked in the browser: its message once, beside the field; nothing saved or tried.
      await go(page, '/settings', '[data-testid="llm-form"]');
      await page.getByTestId('llm-state').filter({ hasText: /Not set/ }).waitFor({ timeout: 10_000 });
      await page.getByTestId('llm-url').fill('not a url');
      await page.getByTestId('llm-model').fill('tiny-model');
      await page.getByTestId('llm-save').click();
      expect(await page.getByTestId('error-url').textContent()).toBe('expected an http(s) URL such as http://localhost:11434/v1');
      await page.getByTestId('llm-test').click();
      expect(await page.getByTestId('error-url').textContent()).toBe('expected an http(s) URL such as http://localhost:11434/v1');
      expect(await page.getByTestId('llm-test-result').count()).toBe(0);
      expect(await page.getByTestId('llm-note').textContent()).toMatch(/^Not tested/);
      await page.getByTestId('llm-url').fill('');
      await page.getByTestId('llm-model').fill('');
      await check(page, 'settings', w);

      // nothing was sent for the invalid forms, and no console error on the whole walk
      expect(sent.filter((s) => /^(POST|PUT) \/api\/(models|discoveries|settings)/.test(s))).toEqual([]);
      expect(errors).toEqual([]);
      console.log(`pages: the walk at ${w.name} px in ${seconds(t0)}`);

      // Bad feature addresses: a plain answer and sensible links, never "#NaN", "#-1" or past the last feature.
      for (const [address, says] of [
        [`${D_SAE * 50}`, `No feature #${(D_SAE * 50).toLocaleString('en-US')} in this SAE`],
        ['abc', 'No feature "abc": a feature\'s index is a whole number'],
        ['-1', 'No feature "-1": feature indices start at #0'],
        ['', 'This address names no feature'],
      ] as const) {
        await go(page, `/features/${sae.id}${address ? `/${address}` : ''}`, '[data-testid="not-found-last"]');
        expect(await page.getByTestId('feature-error').textContent()).toContain(says);
        expect(await page.getByTestId('not-found-first').getAttribute('href')).toMatch(new RegExp(`/features/${sae.id}/0$`));
        expect(await page.getByTestId('not-found-last').getAttribute('href')).toMatch(new RegExp(`/features/${sae.id}/${D_SAE - 1}$`));
        const text = (await page.locator('main').textContent()) ?? '';
        for (const bad of ['#NaN', '#-1', `#${D_SAE * 50 + 1}`, `#${D_SAE * 50 - 1}`]) expect(text).not.toContain(bad);
      }
      await page.close();
    }, 240_000);
  }

  it('shows the host\'s CPU and memory on the first paint, from the server\'s last sample, with no live sample yet', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      // the WebSocket is a stand-in that never sends anything: only the server's stored sample can fill the figures
      await page.routeWebSocket(/\/ws/, () => undefined);
      await page.goto(`${stack.base}/models`);
      await page.getByTestId('nav-cpu').waitFor({ timeout: 5000 });
      expect(await page.getByTestId('nav-cpu').textContent()).toMatch(/^CPU [\d.]+ %$/);
      expect(await page.getByTestId('nav-mem').textContent()).toMatch(/^MEM [\d.]+ %$/);
    } finally {
      await page.close();
    }
  });

  it('counts a running job in the top bar and names it', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await page.goto(`${stack.base}/system`);
      await page.getByTestId('jobs-indicator').waitFor();
      const d = discoverySchema.parse(await api('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId: sae.id }) }));
      await expect.poll(async () => Number(await page.getByTestId('jobs-indicator').getAttribute('data-count')), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
      await page.getByTestId('jobs-button').click();
      await page.getByTestId('jobs-menu').locator('[data-kind="features.discover"]').waitFor({ timeout: 5000 });
      expect(await page.getByTestId('jobs-menu').textContent()).toMatch(/feature discovery/);
      const jobId = d.jobId ?? discoverySchema.parse(await api(`/api/discoveries/${d.id}`)).jobId;
      await api(`/api/jobs/${jobId}/cancel`, { method: 'POST' });
      await expect.poll(async () => Number(await page.getByTestId('jobs-indicator').getAttribute('data-count')), { timeout: 15_000 }).toBe(0);
    } finally {
      await page.close();
    }
  });
});
}
