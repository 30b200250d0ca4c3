/**
 * The Extractions page in a real Chromium against the real stack (`npm
 * start`'s launcher: server, worker, embedded PostgreSQL) with the built-in
 * demo model and demo dataset: a missing hook point is named beside the
 * picker, a template is saved and loaded, an extraction started from the
 * form shows live progress to done and its statistics, the detail view shows
 * each hook's shards and a variance chart, a second run is cancelled (its
 * files go), and the first is deleted through the dialog.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetListSchema } from '../../../models/contracts/datasets.ts';
import { launchChromium } from '../../../scripts/testing/browser.ts';
import { launch, tempDataDir, type Launched } from '../../../scripts/testing/launcher.ts';
import { ROOT, waitFor } from '../../../scripts/testing/processes.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.2.mlp.hook_post'];

describe('Extractions page', () => {
  const dataDir = tempDataDir('loupe-extractions-page-');
  let stack: Launched;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([launch(dataDir, { LOUPE_DEVICE: 'cpu' }), launchChromium()]);
    // The worker tokenizes the demo dataset at its first start (a few seconds).
    await waitFor(
      'the demo dataset',
      async () => datasetListSchema.parse(await (await fetch(`${stack.base}/api/datasets`)).json()).datasets.find((d) => d.builtin && d.status === 'completed'),
      60_000,
      250,
    );
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts an extraction from the form, follows it live to done with its statistics, cancels another and deletes runs', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.base}/extractions`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });
    await page.getByTestId('no-runs').waitFor({ timeout: 10_000 });

    // The hook picker lists the demo model's per-token hooks by block (no attention patterns).
    const picker = page.getByTestId('hook-picker');
    await picker.waitFor({ timeout: 15_000 });
    expect(await picker.getByTestId('hooks-block-5').textContent()).toMatch(/hook_resid_post\s*\[256\]/);
    expect(await picker.getByTestId('hook-blocks.0.attn.hook_pattern').count()).toBe(0);

    // No hook point: the server's message beside the picker.
    await page.getByTestId('extraction-submit').click();
    const hookError = page.getByTestId('error-hookPoints');
    await hookError.waitFor({ timeout: 10_000 });
    expect(await hookError.textContent()).toMatch(/at least one hook point/);

    for (const h of HOOKS) await page.getByTestId(`hook-${h}`).check();
    await page.getByTestId('storage-select').selectOption('f16');
    await page.getByTestId('context-input').fill('64');
    await page.getByTestId('batch-input').fill('8');
    await page.getByTestId('budget-input').fill(String(64 * 400));

    // Saved as a template, then loaded back over other values.
    await page.getByTestId('template-name').fill('two hooks, ctx 64');
    await page.getByTestId('template-save').click();
    await page.getByTestId('template-note').filter({ hasText: /Saved/ }).waitFor({ timeout: 10_000 });
    await page.getByTestId('context-input').fill('32');
    await page.getByTestId(`hook-${HOOKS[0]}`).uncheck();
    await page.getByTestId('template-select').selectOption({ label: 'two hooks, ctx 64' });
    await page.getByTestId('template-load').click();
    expect(await page.getByTestId('context-input').inputValue()).toBe('64');
    expect(await page.getByTestId(`hook-${HOOKS[0]}`).isChecked()).toBe(true);

    await page.getByTestId('extraction-submit').click();
    const newest = page.locator('[data-testid^="extraction-"][data-status]').first();
    await newest.waitFor({ timeout: 10_000 });
    expect(await hookError.count()).toBe(0);
    const id = (await newest.getAttribute('data-testid'))!.replace(/^extraction-/, '');
    const card = page.locator(`[data-testid="extraction-${id}"]`);
    expect(await card.getByTestId('run-settings').textContent()).toMatch(/ctx 64 · batch 8 · 25,600 tokens · fp32 → f16/);

    // The bar moves through intermediate values to 100 %, with a rate while it runs; then the statistics.
    const bar = card.getByTestId('run-progress');
    const seen = new Set<number>();
    let rate = false;
    let status = '';
    for (let i = 0; i < 600 && status !== 'completed'; i++) {
      seen.add(Number(await bar.getAttribute('data-value')));
      rate ||= /tokens\/s · ETA/.test((await card.getByTestId('run-progress-text').textContent()) ?? '');
      status = (await card.getByTestId('run-status').getAttribute('data-status')) ?? '';
      expect(status).not.toBe('failed');
      await page.waitForTimeout(50);
    }
    expect(status).toBe('completed');
    expect([...seen].filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(2);
    expect(rate).toBe(true);
    await bar.and(page.locator('[data-value="100"]')).waitFor({ timeout: 5000 });
    const stats = card.getByTestId('run-stats');
    await stats.waitFor({ timeout: 10_000 });
    for (const h of HOOKS) expect(await stats.textContent()).toMatch(new RegExp(`${h.replace(/\./g, '\\.')}\\s*mean norm \\d`));
    expect(await card.getByTestId('run-progress-text').textContent()).toMatch(/25,600 \/ 25,600 tokens/);
    // where the model ran, with what was asked for in the tooltip
    const device = card.getByTestId('run-device').locator('[data-part="model"]');
    expect(await device.textContent()).toBe('model CPU');
    expect(await device.getAttribute('title')).toBe('ONNX Runtime on the CPU, LOUPE_DEVICE=cpu');

    // The detail: per hook its shape, shards and statistics, and a variance chart with bars.
    await card.getByTestId('toggle-detail').click();
    const table = card.getByTestId('run-hooks');
    await table.waitFor({ timeout: 10_000 });
    expect(await table.locator('tbody tr').count()).toBe(2);
    // 400 windows of 64 tokens, 256 windows a shard by default (64 MiB of float32 rows of 1024); BOS rows excluded
    expect(await card.getByTestId(`hook-row-${HOOKS[1]}`).textContent()).toMatch(/\[1024\]\s*f16\s*2\s*25,[0-5]\d\d/);
    const chart = card.getByTestId(`variance-${HOOKS[1]}`);
    await chart.locator('rect').first().waitFor({ timeout: 10_000 });
    expect(await chart.locator('rect').count()).toBe(256);
    expect(await chart.textContent()).toMatch(/mean of 4 dims/);
    expect(existsSync(path.join(dataDir, 'activations', id, 'manifest.json'))).toBe(true);

    mkdirSync(path.join(ROOT, '.vitest-data'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.vitest-data', 'extractions-page.png'), fullPage: true });

    // A second run, cancelled while it runs: its card says cancelled and its files are gone.
    await page.getByTestId('budget-input').fill('1000000');
    await page.getByTestId('extraction-submit').click();
    const other = page.locator(`[data-testid^="extraction-"][data-status]:not([data-testid="extraction-${id}"])`).first();
    await other.waitFor({ timeout: 10_000 });
    const secondId = (await other.getAttribute('data-testid'))!.replace(/^extraction-/, '');
    const second = page.locator(`[data-testid="extraction-${secondId}"]`);
    await second.getByTestId('run-progress').and(page.locator('[data-value]:not([data-value="0"])')).waitFor({ timeout: 20_000 });
    await second.getByTestId('cancel-run').click();
    await second.getByTestId('run-status').and(page.locator('[data-status="cancelled"]')).waitFor({ timeout: 10_000 });
    await expect.poll(() => existsSync(path.join(dataDir, 'activations', secondId)), { timeout: 10_000 }).toBe(false);
    expect(await second.getByTestId('cancel-run').count()).toBe(0);

    // Delete the first through the dialog: the card and the files go, and stay gone after a reload.
    await card.getByTestId('delete-run').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByTestId('confirm-ok').click();
    await page.locator(`[data-testid="extraction-${id}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(existsSync(path.join(dataDir, 'activations', id))).toBe(false);
    await page.reload();
    await page.locator(`[data-testid="extraction-${secondId}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`[data-testid="extraction-${id}"]`).count()).toBe(0);

    expect(errors).toEqual([]);
    await page.close();
  });
});
