/**
 * The first-start demo and the browser suites that run on it, on one Loupe:
 * the real `npm start` launcher on a fresh DATA_DIR with LOUPE_DEMO=1, plus a
 * second worker, whose demo (tokenization, extraction, training, discovery)
 * is built once for them all instead of once a file. While the demo builds,
 * demo-setup.suite.ts's watcher follows it through the API. In this
 * order: the Features page first (it opens the page before the demo has
 * made anything), then the Inspector, the demo's own checks (one of each
 * artifact with two workers, each seen running), every page at 1280 and
 * 390 px (pages.suite.ts: layout, axe, console errors, the screenshots of
 * docs/screens/), and last a restart that must make nothing again. Each
 * browser suite launches its own Chromium.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { launch, tempDataDir, type Launched } from '../../scripts/testing/launcher.ts';
import { demoSetupSuite, watchDemo } from './demo-setup.suite.ts';
import { featuresSuite } from './features/features.suite.ts';
import { inspectorSuite } from './inspector/inspector.suite.ts';
import { pagesSuite } from './pages.suite.ts';

const dataDir = tempDataDir('loupe-demo-pages-');
let demo: { stack: Launched; t0: number; watch: ReturnType<typeof watchDemo> } | null = null;

beforeAll(async () => {
  const t0 = Date.now();
  const stack = await launch(dataDir, { LOUPE_DEMO: '1', LOUPE_DEVICE: 'cpu' });
  demo = { stack, t0, watch: watchDemo(stack, t0) };
  console.log(`demo pages: Loupe started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  await (await demo?.watch.second.catch(() => undefined))?.stop();
  await demo?.stack.proc.stop('SIGINT', 30_000);
  rmSync(dataDir, { recursive: true, force: true });
});

const get = () => {
  if (!demo) throw new Error('the demo Loupe did not start');
  return demo;
};
featuresSuite(get);
inspectorSuite(get);
const demoChecks = demoSetupSuite(get);
// after the demo's checks: it imports a second SAE, and discovers the demo SAE's features again
pagesSuite(get);
demoChecks.restart();
