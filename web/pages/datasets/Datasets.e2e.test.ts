/**
 * The Datasets page in a real Chromium against the real stack (`npm start`'s
 * launcher: server, worker, embedded PostgreSQL): the demo dataset becomes
 * ready by itself; the hub form shows the server's field errors; a file over
 * the upload limit is refused before it is sent;
 * a JSON Lines file uploaded through the page (on a throttled connection, so
 * the upload bar is seen moving) becomes ready with live progress; its
 * statistics show a length histogram and the top tokens, and the sample
 * browser shows documents token by token; the delete dialog removes it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DATASET_FILE, DEMO_DATASET_NAME } from '../../../models/dataset-files.ts';
import { launchChromium } from '../../../scripts/testing/browser.ts';
import { launch, tempDataDir, type Launched } from '../../../scripts/testing/launcher.ts';
import { ROOT } from '../../../scripts/testing/processes.ts';

const LIMIT = 1_000_000;
const lines = readFileSync(DEMO_DATASET_FILE, 'utf8').split('\n').filter((l) => l.trim() !== '');

describe('Datasets page', () => {
  const dataDir = tempDataDir('loupe-datasets-page-');
  let stack: Launched;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([launch(dataDir, { UPLOAD_MAX_BYTES: String(LIMIT) }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the demo dataset ready, uploads a file with progress, shows its statistics and token boundaries, deletes it', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.base}/datasets`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });

    // The demo dataset, tokenized at start by the worker: listed first, ready within seconds, not deletable.
    const demo = page.locator(`[data-name="${DEMO_DATASET_NAME}"]`);
    await demo.getByTestId('dataset-status').and(page.locator('[data-status="completed"]')).waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid^="dataset-"][data-name]').first().getAttribute('data-name')).toBe(DEMO_DATASET_NAME);
    expect(await demo.getByTestId('dataset-documents').textContent()).toBe('1,272');
    expect(await demo.getByTestId('dataset-tokens').textContent()).toBe('716,294');
    expect(await demo.getByTestId('delete-dataset').count()).toBe(0);

    // The hub form shows the server's message beside the field it is about.
    await page.getByTestId('hub-repo').fill('not a repo!');
    await page.getByTestId('hub-submit').click();
    const repoError = page.getByTestId('error-source.repo');
    await repoError.waitFor({ timeout: 10_000 });
    expect(await repoError.textContent()).toMatch(/invalid repository id/);

    // Over the limit: refused in the page, before a byte is sent.
    await page.getByTestId('upload-file').setInputFiles({ name: 'big.jsonl', mimeType: 'application/jsonl', buffer: Buffer.alloc(LIMIT + 1, 0x20) });
    expect(await page.getByTestId('upload-problem').textContent()).toMatch(/larger than the server's upload limit of 977 KiB/);
    expect(await page.getByTestId('upload-submit').isDisabled()).toBe(true);

    // A 380 kB file on a 150 kB/s connection: the upload bar moves, then the import runs live.
    const body = lines.slice(0, 200).join('\n') + '\n';
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 150 * 1024 });
    await page.getByTestId('upload-file').setInputFiles({ name: 'small sample.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(body) });
    expect(await page.getByTestId('upload-problem').count()).toBe(0);
    await page.getByTestId('upload-submit').click();
    const bar = page.getByTestId('upload-progress');
    await bar.waitFor({ timeout: 5000 });
    const seen = new Set<number>();
    for (let i = 0; i < 100 && (await bar.count()) > 0; i++) {
      seen.add(Number((await bar.getAttribute('data-value').catch(() => null)) ?? 0));
      await page.waitForTimeout(50);
    }
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    expect([...seen].filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(2);

    const card = page.locator('[data-name="small_sample.jsonl"]');
    await card.getByTestId('dataset-status').and(page.locator('[data-status="completed"]')).waitFor({ timeout: 20_000 });
    await card.getByTestId('import-progress').and(page.locator('[data-value="100"]')).waitFor({ timeout: 5000 });
    expect(await card.getByTestId('dataset-documents').textContent()).toBe('200');
    const id = (await card.getAttribute('data-testid'))!.replace(/^dataset-/, '');
    expect(existsSync(path.join(dataDir, 'datasets', id, 'tokens.bin'))).toBe(true);

    // Statistics: counts, a bar per length bin, the top tokens.
    await card.getByTestId('toggle-details').click();
    const details = card.getByTestId('dataset-details');
    await details.getByTestId('dataset-stats').waitFor({ timeout: 10_000 });
    expect(await details.getByTestId('stat-documents').textContent()).toBe('200');
    expect(await details.getByTestId('histogram-bar').count()).toBeGreaterThan(5);
    expect(await details.getByTestId('top-tokens').locator('tbody tr').count()).toBe(50);

    // The sample browser: tokens on alternating backgrounds, whitespace visible, id in the tooltip.
    const first = details.getByTestId('sample-doc-0');
    await first.waitFor({ timeout: 10_000 });
    const tokens = first.getByTestId('token');
    expect(await tokens.count()).toBeGreaterThan(20);
    expect(await tokens.nth(0).getAttribute('class')).toMatch(/\btok-a\b/);
    expect(await tokens.nth(1).getAttribute('class')).toMatch(/\btok-b\b/);
    expect(await tokens.nth(1).getAttribute('title')).toMatch(/^token 1 · id \d+ · "/);
    const shown = (await first.getByTestId('token-text').textContent())!;
    const text = (JSON.parse(lines[0]!) as { text: string }).text;
    expect(shown.replace(/·/g, ' ').replace(/↵/g, '')).toBe(`${text}<|endoftext|>`);
    expect(await details.getByTestId('sample-range').textContent()).toBe('documents 1–10 of 200');
    await details.getByTestId('sample-next').click();
    await details.getByTestId('sample-doc-10').waitFor({ timeout: 10_000 });
    expect(await details.getByTestId('sample-range').textContent()).toBe('documents 11–20 of 200');

    mkdirSync(path.join(ROOT, '.vitest-data'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.vitest-data', 'datasets-page.png'), fullPage: true });

    // Delete through the confirmation dialog: the card and the folder go.
    await card.getByTestId('delete-dataset').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.textContent()).toMatch(/small_sample\.jsonl/);
    await dialog.getByTestId('confirm-ok').click();
    await card.waitFor({ state: 'detached', timeout: 10_000 });
    expect(existsSync(path.join(dataDir, 'datasets', id))).toBe(false);

    expect(errors).toEqual([]);
    await page.close();
  });
});
