/**
 * The browser suites that run on the first-start demo, on one Loupe: the
 * real `npm start` launcher on a fresh DATA_DIR with LOUPE_DEMO=1, whose
 * demo (tokenization, extraction, training, discovery) is built once for
 * them all instead of once a file. In this order: the Features page first
 * (it opens the page before the demo has made anything), then the
 * Inspector, then every page at 1280 and 390 px (pages.suite.ts: layout,
 * axe, console errors, the screenshots of docs/screens/). Each suite
 * launches its own Chromium.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { launch, tempDataDir, type Launched } from '../../scripts/testing/launcher.ts';
import { featuresSuite } from './features/features.suite.ts';
import { inspectorSuite } from './inspector/inspector.suite.ts';
import { pagesSuite } from './pages.suite.ts';

const dataDir = tempDataDir('loupe-demo-pages-');
let demo: { stack: Launched; t0: number } | null = null;

beforeAll(async () => {
  const t0 = Date.now();
  demo = { stack: await launch(dataDir, { LOUPE_DEMO: '1', LOUPE_DEVICE: 'cpu' }), t0 };
  console.log(`demo pages: Loupe started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  await demo?.stack.proc.stop('SIGINT', 30_000);
  rmSync(dataDir, { recursive: true, force: true });
});

const get = () => {
  if (!demo) throw new Error('the demo Loupe did not start');
  return demo;
};
featuresSuite(get);
inspectorSuite(get);
// last: it imports a second SAE, and discovers the demo SAE's features again
pagesSuite(get);
