/**
 * The Sweeps page in a real Chromium against the real stack, on a Loupe the
 * caller started with a small completed extraction (`ctx()`: its address,
 * the extraction and its hook point; web/pages/training/Training.e2e.test.ts
 * runs it). From the form: a client-side message beside the field it names
 * with nothing sent, the server's 400 beside the field it names (a corner of
 * the space the activations cannot satisfy), then a grid over k ∈ {8, 16} ×
 * two learning rates of tiny trials (150 steps of 32 tokens), two at a time.
 * Followed live on its page to completed: the trials table fills, the
 * parallel-coordinates chart has one line per ended trial at every moment,
 * the order chosen and the row hovered survive every update (the rows are
 * never re-created), the best trial is the API's; a line hovered names its
 * trial; the best trial becomes a training template, listed by
 * `GET /api/training-templates` and on the Training page. The page fits at
 * 390 px (the table scrolls in its own box), passes axe at both widths, logs
 * no console error, and is saved as docs/screens/sweep-1280.png.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepDetailSchema, type SweepDetail } from '../../../models/contracts/sweeps.ts';
import { trainingTemplateListSchema } from '../../../models/contracts/trainings.ts';
import { FREEZE_CSS, launchChromium } from '../../../scripts/testing/browser.ts';
import { ROOT, waitFor } from '../../../scripts/testing/processes.ts';

/** Steps of a trial and its batch: a few seconds of training each on a loaded CPU. */
const STEPS = 150;
const BATCH = 32;
/** The whole sweep: four tiny trials, two at a time (well under a minute; room for a loaded machine). */
const SWEEP_MS = 180_000;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** No serious or critical axe-core violation on the page. */
async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    const run = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await run.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

/** The Sweeps page's suite, on the Loupe `ctx()` names (a completed extraction of `hook` with the demo model). */
export function sweepsSuite(ctx: () => { base: string; extractionId: string; hook: string }): void {
  describe('Sweeps page', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('starts a grid sweep from the form, follows it live to completed, and makes its best trial a template', async () => {
      const { base, extractionId, hook } = ctx();
      const t0 = Date.now();
      const api = async (p: string): Promise<unknown> => {
        const res = await fetch(`${base}${p}`);
        if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
        return res.json();
      };
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`));
      page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
      const posts: string[] = [];
      page.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));

      await page.goto(`${base}/sweeps`);
      await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Sweeps' }).waitFor();
      // the completed extraction and its hook point, picked
      await expect.poll(() => page.getByTestId('sweep-extraction').inputValue(), { timeout: 15_000 }).toBe(extractionId);
      await expect.poll(() => page.getByTestId('sweep-hook').inputValue(), { timeout: 5000 }).toBe(hook);

      // The grid: k ∈ {8, 16} (choices) × lr from 1e-3 to 3e-3 on a log scale, 2 points.
      await page.getByTestId('sweep-name').fill('tiny grid');
      await page.getByTestId('sweep-method').selectOption('grid');
      const rows = page.getByTestId('space-row');
      expect(await rows.count()).toBe(2);
      const k = rows.nth(0);
      const lr = rows.nth(1);
      expect(await k.getByTestId('space-key').inputValue()).toBe('k');
      await k.getByTestId('space-type').selectOption('choice');
      await k.getByTestId('space-values').fill('8, 512');
      expect(await lr.getByTestId('space-key').inputValue()).toBe('lr');
      expect(await lr.getByTestId('space-log').isChecked()).toBe(true);
      await lr.getByTestId('space-points').fill('2');
      // the base: tiny TopK trials
      await page.getByTestId('base-architecture').selectOption('topk');
      await page.getByTestId('base-dSae').fill('256');
      await page.getByTestId('base-batchSize').fill(String(BATCH));
      await page.getByTestId('base-totalTokens').fill(String(STEPS * BATCH));
      await page.getByTestId('base-metricsEvery').fill('10');
      await page.getByTestId('base-evalWindows').fill('0');
      // the objective: explained variance (its direction from the registry), under L0 ≤ 64
      expect(await page.getByTestId('sweep-metric').inputValue()).toBe('explainedVariance');
      expect(await page.getByTestId('sweep-direction').inputValue()).toBe('maximize');
      await page.getByTestId('constraint-add').click();
      await page.getByTestId('constraint-value').fill('64');
      expect(await page.getByTestId('objective-preview').textContent()).toBe('max explained variance with L0 ≤ 64');
      // no pruning by default for a grid; the budget's placeholder is the grid's size
      expect(await page.getByTestId('sweep-prune').isChecked()).toBe(false);

      // The form's own check: an lr range upside down, said beside its max, nothing sent.
      await lr.getByTestId('space-min').fill('0.003');
      await lr.getByTestId('space-max').fill('0.001');
      await page.getByTestId('sweep-submit').click();
      await page.getByTestId('error-space.lr.max').filter({ hasText: 'must be above min (0.003)' }).waitFor({ timeout: 5000 });
      expect(posts).toEqual([]);
      await lr.getByTestId('space-min').fill('0.001');
      await lr.getByTestId('space-max').fill('0.003');
      expect(await page.getByTestId('sweep-budget').getAttribute('placeholder')).toBe('the grid: 4');

      // The server's check: k = 512 is not below d_sae 256, said beside the choices.
      await page.getByTestId('sweep-submit').click();
      const kError = page.getByTestId('error-space.k.values');
      await kError.waitFor({ timeout: 15_000 });
      expect(await kError.textContent()).toMatch(/d_sae/);
      expect(posts).toEqual(['/api/sweeps']);
      expect(new URL(page.url()).searchParams.get('id')).toBeNull();

      // Fixed, and started: the sweep's own page.
      await k.getByTestId('space-values').fill('8, 16');
      await page.getByTestId('sweep-submit').click();
      await page.waitForURL((u) => u.pathname === '/sweeps' && !!u.searchParams.get('id'), { timeout: 15_000 });
      const id = new URL(page.url()).searchParams.get('id')!;
      const tStarted = Date.now();
      await page.getByTestId('sweep-page').waitFor();
      expect(await page.getByTestId('sweep-name').textContent()).toBe('tiny grid');
      expect(await page.getByTestId('sweep-objective').textContent()).toBe('max explained variance with L0 ≤ 64');
      const detail = async () => sweepDetailSchema.parse(await api(`/api/sweeps/${id}`));
      expect((await detail()).spec).toMatchObject({ method: 'grid', budget: 4, parallelism: 2, hookPoint: hook, pruner: { enabled: false } });

      // Sorted by the objective (best first) while it runs: the order must hold through every update.
      const table = page.getByTestId('trials-table');
      await table.waitFor({ timeout: 30_000 });
      await page.getByTestId('sort-objective').click();
      expect(await table.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');

      // Followed live: at every look, one line per ended trial with a value; the rows are never re-created.
      const status = page.getByTestId('sweep-status');
      const seenRows = new Set<number>();
      const seenEnded = new Set<number>();
      let marked = 0;
      let hoveredKept = false;
      for (let i = 0; ; i++) {
        const look = await page.evaluate(() => {
          const trs = [...document.querySelectorAll<HTMLTableRowElement>('[data-testid="trial-row"]')];
          const ended = trs.filter((tr) => tr.dataset.status !== 'running' && tr.querySelector<HTMLElement>('[data-testid="trial-objective"]')!.dataset.value !== '');
          const lines = document.querySelectorAll('[data-testid="pc-line"]').length;
          // a mark on each row element: a row drawn again would lose it
          let kept = 0;
          for (const tr of trs) {
            const el = tr as HTMLElement & { __mark?: boolean };
            if (el.__mark) kept++;
            el.__mark = true;
          }
          return { rows: trs.length, ended: ended.length, lines, kept, status: document.querySelector('[data-testid="sweep-status"]')!.getAttribute('data-status') };
        });
        expect(look.lines, `lines at look ${i}`).toBe(look.ended);
        expect(look.kept).toBeGreaterThanOrEqual(marked);
        marked = look.rows;
        seenRows.add(look.rows);
        seenEnded.add(look.ended);
        if (look.status === 'failed' || look.status === 'cancelled') throw new Error(`the sweep ${look.status}: ${await page.getByTestId('sweep-job-error').textContent().catch(() => '')}`);
        // hover the first row once it has a sibling to move past it: the hover must survive the next updates
        if (!hoveredKept && look.rows >= 2) {
          await table.getByTestId('trial-row').first().hover();
          hoveredKept = true;
        }
        if (look.status === 'completed') break;
        if (Date.now() - tStarted > SWEEP_MS) throw new Error(`the sweep did not complete in ${SWEEP_MS / 1000} s`);
        await page.waitForTimeout(150);
      }
      const tDone = Date.now();
      expect(await status.getAttribute('data-status')).toBe('completed');
      // the table filled as trials began (not all at once), and trials ended one or two at a time
      expect(seenRows.size).toBeGreaterThanOrEqual(2);
      expect(seenEnded.size).toBeGreaterThanOrEqual(3);
      expect(await table.getByTestId('trial-row').count()).toBe(4);
      expect(await page.locator('[data-testid="trial-row"].hovered').count()).toBe(1);
      await page.mouse.move(0, 0);
      expect(await page.getByTestId('sweep-progress').getAttribute('data-value')).toBe('100');
      expect(await page.getByTestId('sweep-progress-text').textContent()).toBe('4 / 4 trials');

      // The final state is the API's: four completed trials, the best marked, the order best first.
      const final: SweepDetail = await waitFor('the final detail', async () => {
        const d = await detail();
        return d.trials.every((t) => t.status === 'completed' && t.objective !== null) ? d : undefined;
      }, 10_000, 200);
      expect(final.trials.map((t) => t.params)).toEqual([
        { k: 8, lr: 0.001 },
        { k: 8, lr: 0.003 },
        { k: 16, lr: 0.001 },
        { k: 16, lr: 0.003 },
      ]);
      const best = final.trials.find((t) => t.best)!;
      expect(best.number).toBe(final.progress.best!.number);
      const byScore = [...final.trials].sort((a, b) => b.score! - a.score! || a.number - b.number).map((t) => String(t.number));
      await expect.poll(() => table.getByTestId('trial-row').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-number'))), { timeout: 10_000 }).toEqual(byScore);
      expect(await table.locator('[data-testid="trial-row"][data-best="true"]').getAttribute('data-number')).toBe(String(best.number));
      expect(await table.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
      expect(await page.getByTestId('best-number').textContent()).toBe(`#${best.number}`);
      // a training link per trial, to its run on the Training page
      expect(await table.getByTestId('trial-training').first().getAttribute('href')).toMatch(/^\/training\?run=[0-9a-f-]{36}$/);

      // The charts: a point per trial, the best-so-far line, a line per trial; a line hovered names its trial.
      expect(await page.getByTestId('objective-point').count()).toBe(4);
      expect(await page.getByTestId('best-line').getAttribute('d')).toMatch(/^M[\d.,-]+/);
      const lines = page.getByTestId('pc-line');
      expect(await lines.count()).toBe(4);
      expect(await page.getByTestId('pc-axis').evaluateAll((gs) => gs.map((g) => g.querySelector('.pc-axis-label')!.textContent))).toEqual(['k', 'lr', 'explained variance']);
      const target = best.number;
      const spot = await page.locator(`.pc-hit[data-number="${target}"]`).evaluate((p) => {
        const path = p as SVGPathElement;
        const pt = path.getPointAtLength(path.getTotalLength() * 0.25);
        const m = path.getScreenCTM()!;
        return { x: pt.x * m.a + pt.y * m.c + m.e, y: pt.x * m.b + pt.y * m.d + m.f };
      });
      await page.mouse.move(spot.x, spot.y);
      await page.getByTestId('pc-tip').filter({ hasText: `trial #${target}` }).waitFor({ timeout: 5000 });
      expect(await page.locator(`[data-testid="pc-line"].active`).getAttribute('data-number')).toBe(String(target));
      expect(await page.locator(`[data-testid="trial-row"].hovered`).getAttribute('data-number')).toBe(String(target));
      await page.mouse.move(0, 0);
      // importance: a bar per setting once three trials completed
      expect(await page.getByTestId('importance-row').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-key')).sort())).toEqual(['k', 'lr']);

      // The screenshot: no job under way (the coordinator's job ends just after the sweep), frozen live figures, top of the page.
      await page.locator('[data-testid="jobs-indicator"][data-count="0"]').waitFor({ timeout: 30_000 });
      await page.evaluate(() => window.scrollTo(0, 0));
      const frozen = await page.addStyleTag({ content: FREEZE_CSS });
      mkdirSync(path.join(ROOT, 'docs', 'screens'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'docs', 'screens', 'sweep-1280.png') });
      await frozen.evaluate((el) => (el as Element).remove());
      expect(await axe(page), 'axe on the sweep page at 1280 px').toEqual([]);

      // "→ train at full length" asks the total tokens, prefilled with one pass over the stored rows (or the trials' length
      // when that is longer); cancelled here.
      await page.getByTestId('best-to-train').click();
      const dialog = page.getByTestId('trial-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(Number(await dialog.getByTestId('trial-total-tokens').inputValue())).toBeGreaterThanOrEqual(STEPS * BATCH);
      await dialog.getByTestId('trial-dialog-cancel').click();
      await dialog.waitFor({ state: 'hidden' });

      // The best trial becomes a training template: its hook point and its config, the trial's params over the base.
      await page.getByTestId('best-to-template').click();
      await dialog.waitFor({ state: 'visible' });
      expect(await dialog.getByTestId('trial-template-name').inputValue()).toBe(`tiny grid #${best.number}`);
      const templateName = `best of tiny grid ${id.slice(0, 8)}`;
      await dialog.getByTestId('trial-template-name').fill(templateName);
      await dialog.getByTestId('trial-dialog-ok').click();
      await page.getByTestId('trial-note').filter({ hasText: templateName }).waitFor({ timeout: 10_000 });
      await dialog.waitFor({ state: 'hidden' });
      const templates = trainingTemplateListSchema.parse(await api('/api/training-templates')).templates;
      const made = templates.find((t) => t.name === templateName);
      expect(made?.settings.hookPoints).toEqual([hook]);
      expect(made?.settings.config).toMatchObject({ ...best.params, architecture: 'topk', dSae: 256, batchSize: BATCH, totalTokens: STEPS * BATCH });

      // At a phone's width the page still fits (the table scrolls in its own box) and passes axe.
      await page.setViewportSize({ width: 390, height: 844 });
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), { timeout: 5000 }).toBeLessThanOrEqual(0);
      expect(await page.locator('.sweep-table-scroll').evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
      expect(await lines.count()).toBe(4);
      expect(await axe(page), 'axe on the sweep page at 390 px').toEqual([]);

      // The list: the sweep with its progress and best; the template on the Training page.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.getByRole('link', { name: '← All sweeps' }).click();
      const card = page.getByTestId(`sweep-${id}`);
      await card.waitFor({ timeout: 10_000 });
      expect(await card.getByTestId('sweep-status').textContent()).toBe('completed');
      expect(await card.getByTestId('sweep-progress-text').textContent()).toBe('4 / 4 trials');
      expect(await card.getByTestId('sweep-best').textContent()).toContain(`trial #${best.number}`);
      expect(await axe(page), 'axe on the sweeps list at 1280 px').toEqual([]);
      await page.goto(`${base}/training`);
      await page.getByTestId('template-select').locator('option', { hasText: templateName }).waitFor({ state: 'attached', timeout: 10_000 });

      // the one console error is the browser's note of the server's 400 asked for above
      const refused = (e: string) => /\/sweeps: Failed to load resource: the server responded with a status of 400/.test(e);
      expect(errors.filter(refused)).toHaveLength(1);
      expect(errors.filter((e) => !refused(e))).toEqual([]);
      await page.close();
      console.log(`sweeps page: form ${((tStarted - t0) / 1000).toFixed(1)} s, the sweep ${((tDone - tStarted) / 1000).toFixed(1)} s, the rest ${seconds(tDone)}`);
    }, SWEEP_MS + 120_000);
  });
}
