/**
 * The Models page in a real Chromium against the real stack (`npm start`'s
 * launcher: server, worker, embedded PostgreSQL) and a local fake Hugging Face
 * hub serving the demo model at 4 MB/s, so that progress is visible: the form
 * shows the server's validation message beside its field, a download's bar
 * moves live to 100 % and the model becomes ready, the delete dialog removes
 * it with its files, and a running download can be cancelled.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODEL_DIR, DEMO_MODEL_NAME } from '../../models/model-files.ts';
import { launchChromium } from '../../scripts/testing/browser.ts';
import { startHubServer, type HubServer } from '../../scripts/testing/hf-hub-server.ts';
import { launch, tempDataDir, type Launched } from '../../scripts/testing/launcher.ts';
import { ROOT } from '../../scripts/testing/processes.ts';

describe('Models page', () => {
  const dataDir = tempDataDir('loupe-models-page-');
  let hub: HubServer;
  let stack: Launched;
  let browser: Browser;

  beforeAll(async () => {
    hub = await startHubServer({ repos: [{ repo: 'loupe-test/tiny-gpt2', dir: DEMO_MODEL_DIR }], bytesPerSecond: 4 * 1024 * 1024 });
    [stack, browser] = await Promise.all([launch(dataDir, { HF_ENDPOINT: hub.url }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('downloads a model with live progress, deletes it through the dialog, cancels another', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.base}/models`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });

    // The built-in demo model is listed first, ready, and cannot be deleted.
    const demo = page.locator(`[data-name="${DEMO_MODEL_NAME}"]`);
    await demo.waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid^="model-"][data-name]').first().getAttribute('data-name')).toBe(DEMO_MODEL_NAME);
    expect(await demo.getByTestId('model-status').getAttribute('data-status')).toBe('completed');
    expect(await demo.getByTestId('delete-model').count()).toBe(0);

    // The server's message appears beside the field it is about.
    await page.getByTestId('repo-input').fill('not a repo!');
    await page.getByTestId('download-submit').click();
    const repoError = page.getByTestId('error-source.repo');
    await repoError.waitFor({ timeout: 10_000 });
    expect(await repoError.textContent()).toMatch(/invalid repository id/);

    await page.getByTestId('repo-input').fill('loupe-test/tiny-gpt2');
    await page.getByTestId('dtype-select').selectOption('fp16');
    await page.getByTestId('download-submit').click();
    const card = page.locator('[data-name="tiny-gpt2"]');
    await card.waitFor({ timeout: 10_000 });
    expect(await repoError.count()).toBe(0);
    const id = (await card.getAttribute('data-testid'))!.replace(/^model-/, '');

    // Watch the overall bar: it moves through intermediate values to 100 %, and the model becomes ready.
    const bar = card.getByTestId('progress-overall');
    const seen = new Set<number>();
    let status = '';
    for (let i = 0; i < 300 && status !== 'completed'; i++) {
      if (await bar.count()) seen.add(Number(await bar.getAttribute('data-value')));
      status = (await card.getByTestId('model-status').getAttribute('data-status')) ?? '';
      expect(status).not.toBe('failed');
      await page.waitForTimeout(100);
    }
    expect(status).toBe('completed');
    await bar.and(page.locator('[data-value="100"]')).waitFor({ timeout: 5000 });
    const intermediate = [...seen].filter((v) => v > 0 && v < 100);
    expect(intermediate.length).toBeGreaterThanOrEqual(2);
    expect(await card.getByTestId('model-architecture').textContent()).toBe('gpt2');
    expect(await card.getByTestId('model-dtype').textContent()).toBe('fp16');
    expect(await card.getByTestId('model-size').textContent()).toMatch(/MiB/);
    expect(existsSync(path.join(dataDir, 'models', id, 'model.safetensors'))).toBe(true);

    // The architecture: blocks with their hook points and shapes, memory per dtype.
    await card.getByTestId('toggle-architecture').click();
    const arch = card.getByTestId('architecture');
    await arch.waitFor({ timeout: 10_000 });
    expect(await arch.getByTestId('arch-block-5').textContent()).toMatch(/blocks\.5\.hook_resid_post\s*\[batch, pos, 256\]/);
    expect(await arch.getByTestId('arch-embed').textContent()).toMatch(/hook_embed/);
    expect(await arch.getByTestId('architecture-memory').locator('tbody tr').count()).toBe(4);

    mkdirSync(path.join(ROOT, '.vitest-data'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.vitest-data', 'models-page.png'), fullPage: true });

    // Delete through the confirmation dialog.
    await card.getByTestId('delete-model').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.textContent()).toMatch(/tiny-gpt2/);
    await dialog.getByTestId('confirm-ok').click();
    await card.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await dialog.isVisible()).toBe(false);
    expect(existsSync(path.join(dataDir, 'models', id))).toBe(false);
    // Still gone after a reload: the server deleted it.
    await page.reload();
    await demo.waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-name="tiny-gpt2"]').count()).toBe(0);

    // A second download, cancelled while it runs: the card says cancelled and the files are gone.
    await page.getByTestId('repo-input').fill('loupe-test/tiny-gpt2');
    await page.getByTestId('download-submit').click();
    const again = page.locator('[data-name="tiny-gpt2"]');
    await again.getByTestId('progress-overall').and(page.locator('[data-value]:not([data-value="0"])')).waitFor({ timeout: 15_000 });
    const againId = (await again.getAttribute('data-testid'))!.replace(/^model-/, '');
    await again.getByTestId('cancel-download').click();
    await again.getByTestId('model-status').and(page.locator('[data-status="cancelled"]')).waitFor({ timeout: 5000 });
    await expect.poll(() => existsSync(path.join(dataDir, 'models', againId)), { timeout: 5000 }).toBe(false);
    expect(await again.getByTestId('cancel-download').count()).toBe(0);

    expect(errors).toEqual([]);
    await page.close();
  });
});
