/**
 * The System page in a real Chromium against the real stack (`npm start`'s
 * launcher): charts move with live data from the WebSocket, GPU panels sit
 * side by side, and the page falls back to polling while the socket is down.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../scripts/testing/browser.ts';
import { fakeNvidiaSmi, launch, tempDataDir, type Launched } from '../../scripts/testing/launcher.ts';
import { ROOT } from '../../scripts/testing/processes.ts';

describe('System page', () => {
  const dataDir = tempDataDir('loupe-system-page-');
  let stack: Launched;
  let browser: Browser;

  beforeAll(async () => {
    const smi = fakeNvidiaSmi(dataDir, 2);
    [stack, browser] = await Promise.all([launch(dataDir, { SYSTEM_SAMPLE_MS: '500', NVIDIA_SMI: smi }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows live values that change, with two GPU panels side by side', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.base}/system`);
    await page.getByTestId('conn-status').filter({ hasText: /live/i }).waitFor({ timeout: 30_000 });

    // The fake nvidia-smi reports a new random utilisation on every sample; the CPU total moves too.
    const cpu = page.getByTestId('latest-cpu.total');
    await cpu.waitFor({ timeout: 30_000 });
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 3; i++) {
      const text = (await cpu.textContent())?.trim() ?? '';
      if (/\d/.test(text)) seen.add(text);
      await page.waitForTimeout(250);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);

    const gpu0 = page.getByTestId('gpu-panel-0');
    const gpu1 = page.getByTestId('gpu-panel-1');
    await gpu1.waitFor({ timeout: 30_000 });
    const [a, b] = [await gpu0.boundingBox(), await gpu1.boundingBox()];
    expect(a && b).toBeTruthy();
    expect(Math.abs(a!.y - b!.y)).toBeLessThan(2);
    expect(b!.x).toBeGreaterThan(a!.x + a!.width - 2);

    // the launcher's worker, its device setting and what its probe of WebGPU adapters found (or why it found none)
    const worker = page.getByTestId('workers').locator('li');
    await worker.first().waitFor({ timeout: 30_000 });
    expect(await worker.count()).toBe(1);
    expect(await worker.first().textContent()).toMatch(/^\S+ pid \d+ · LOUPE_DEVICE=(auto|cpu|webgpu) · WebGPU: \S/);

    mkdirSync(path.join(ROOT, '.vitest-data'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.vitest-data', 'system-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('polls the API while the WebSocket is down and goes live again when it is back', async () => {
    const page = await browser.newPage();
    // WebSocket connections are refused while `blocked`, then passed through to the hub.
    let blocked = true;
    await page.routeWebSocket(/\/ws/, (ws) => {
      if (blocked) ws.close();
      else ws.connectToServer();
    });
    await page.goto(`${stack.base}/system`);
    const status = page.getByTestId('conn-status');
    await status.filter({ hasText: /polling|reconnecting/i }).waitFor({ timeout: 30_000 });
    const polled = page.waitForRequest((r) => r.url().includes('/api/system/metrics'), { timeout: 30_000 });
    await polled;
    const cpu = page.getByTestId('latest-cpu.total');
    const before = await cpu.textContent();
    let changed = false;
    for (let i = 0; i < 40 && !changed; i++) {
      await page.waitForTimeout(250);
      changed = (await cpu.textContent()) !== before;
    }
    expect(changed).toBe(true);
    blocked = false;
    await status.filter({ hasText: /live/i }).waitFor({ timeout: 45_000 });
    await page.close();
  });
});
