/**
 * Debian's Chromium driven by playwright-core, for the browser tests
 * (`npm test` installs chromium when missing; CHROMIUM_PATH overrides).
 */
import { chromium, type Browser } from 'playwright-core';

/**
 * A style that hides what changes from one run of a test to the next without
 * the page changing (the host's live figures, times of analyses and searches,
 * throughput), added before a screenshot of docs/screens/ so that the file
 * changes only when the page does.
 */
export const FREEZE_CSS =
  '.nav-status .host-figure, [data-testid="computed-note"], [data-testid="search-ms"], [data-testid="latency"], [data-testid="final-tokensPerSecond"] { visibility: hidden !important; }';

/** Launches headless Chromium without a GPU (WebGPU pages: pass `webgpu: true` for SwiftShader). */
export function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  const gpu = opts.webgpu
    ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader']
    : ['--disable-gpu'];
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', ...gpu],
  });
}
