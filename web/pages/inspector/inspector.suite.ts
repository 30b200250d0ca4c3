/**
 * The Inspector and the browser's decoder searches in a real Chromium
 * against the real stack (`npm start`'s launcher) with the first-start demo
 * (LOUPE_DEMO=1; web/pages/demo.e2e.test.ts starts it for the demo suites),
 * two browsers: one with WebGPU on SwiftShader (shared/gpu/README.md's flags,
 * `launchChromium({ webgpu: true })`), one without (`--disable-gpu`).
 *
 * - WebGPU: the page runs the demo SAE's model and encoder in the browser on
 *   onnxruntime-web's WebGPU provider; each token's features equal
 *   `POST /api/saes/{id}/encode`'s (the same ids, the same active sets,
 *   values within 1e-4), again after typing another text; a picked feature
 *   lights the text by its values; the README's screenshot, docs/inspector.png.
 * - The searches: the features of the text, by token effect (weighted and
 *   raw) and the similar features of a feature (on its page, opened from a
 *   chip's link) equal independent computations from the SAE's safetensors,
 *   the model's head (models/features/lens.ts) and the encode's activations,
 *   on WebGPU and on the page's CPU fallback.
 * - Without WebGPU: the page says why and runs on WASM (and the searches on
 *   the CPU), with the same features.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeResponseSchema, type EncodeResponse } from '../../../models/contracts/encode.ts';
import { discoveryListSchema } from '../../../models/contracts/features.ts';
import { inspectorResponseSchema, type InspectorResponse } from '../../../models/contracts/inspector.ts';
import { saeListSchema, type Sae } from '../../../models/contracts/trainings.ts';
import { DEMO_HOOK } from '../../../models/demo.ts';
import { lensVector, readUnembedding, type Unembedding } from '../../../models/features/lens.ts';
import { DEMO_MODEL_DIR } from '../../../models/model-files.ts';
import { openSafetensors, toFloat32 } from '../../../models/safetensors.ts';
import { loadTokenizer } from '../../../models/tokenizer.ts';
import { launchChromium } from '../../../scripts/testing/browser.ts';
import type { Launched } from '../../../scripts/testing/launcher.ts';
import { ROOT, waitFor } from '../../../scripts/testing/processes.ts';

/** The demo (tokenization, extraction, training, discovery) takes ~1.5 min on two idle cores, ~4 on two loaded ones. */
const DEMO_MS = 10 * 60_000;
/** A page's model on SwiftShader's WebGPU: ~1 min to compile its shaders and run the first text. */
const WEBGPU_PAGE_MS = 240_000;
const TEXT = 'The Debian installer copies the packages to the disk.';
const TYPED = 'Then it asks for a password';
/** What changes from one run to the next without the page changing: live host figures, timings. */
const FREEZE_CSS =
  '.nav-status > span:not([data-testid="conn-status"]) { display: none !important; } [data-testid="latency"] span, [data-testid="search-ms"] { visibility: hidden !important; }';

const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** One token as the page shows it. */
interface PageToken {
  id: number;
  features: { index: number; value: number }[];
}

async function pageTokens(page: Page): Promise<PageToken[]> {
  return page.getByTestId('token-row').evaluateAll((rows) =>
    rows.map((r) => ({
      id: Number(r.getAttribute('data-id')),
      features: Array.from(r.querySelectorAll('[data-testid="tok-feature"]'), (f) => ({ index: Number(f.getAttribute('data-index')), value: Number(f.getAttribute('data-value')) })),
    })),
  );
}

async function rows(page: Page, list: string): Promise<{ index: number; value: number }[]> {
  return page
    .getByTestId(list)
    .getByTestId('search-row')
    .evaluateAll((els) => els.map((e) => ({ index: Number(e.getAttribute('data-index')), value: Number(e.getAttribute('data-value')) })));
}

/** The page's tokens equal the encode's: the same ids, each with the same active features, values within 1e-4. */
function expectSameFeatures(got: PageToken[], want: EncodeResponse) {
  expect(got.map((t) => t.id)).toEqual(want.tokens.map((t) => t.id));
  let worst = 0;
  got.forEach((t, i) => {
    const w = want.tokens[i]!.features;
    expect(t.features.map((f) => f.index).sort((a, b) => a - b), `token ${i}`).toEqual(w.map((f) => f.index).sort((a, b) => a - b));
    const byIndex = new Map(w.map((f) => [f.index, f.value]));
    for (const f of t.features) worst = Math.max(worst, Math.abs(f.value - byIndex.get(f.index)!));
  });
  expect(worst).toBeLessThan(1e-4);
  return worst;
}

/**
 * A ranked list equals the reference ranking by `score`: each row's value is its reference score, and is
 * the reference's k-th best (so near-ties may swap, nothing else).
 */
function expectRanking(got: { index: number; value: number }[], score: (i: number) => number, n: number, k: number, largest = true, skip?: number) {
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => i !== skip)
    .sort((a, b) => (largest ? score(b) - score(a) : score(a) - score(b)) || a - b);
  expect(got).toHaveLength(Math.min(k, order.length));
  got.forEach((r, i) => {
    expect(Math.abs(r.value - score(r.index)), `row ${i} (#${r.index})`).toBeLessThan(1e-4);
    expect(Math.abs(score(r.index) - score(order[i]!)), `row ${i}: #${r.index} for #${order[i]}`).toBeLessThan(1e-5);
  });
}

/** The Inspector's tests, on `demo()`'s Loupe (the demo may still be building). */
export function inspectorSuite(demo: () => { stack: Launched; t0: number }): void {
describe('Inspector page and WebGPU searches, on the first-start demo', () => {
  let stack: Launched;
  let t0: number;
  let gpuBrowser: Browser;
  let plainBrowser: Browser;
  let sae: Sae;
  let manifest: InspectorResponse;
  let gpuPage: Page;
  const errors: string[] = [];
  /** the SAE's decoder rows [d_sae, d_in] from its safetensors, and the model's head */
  let W: Float32Array;
  let head: Unembedding;

  const api = async (p: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${stack.base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const encode = async (text: string) => encodeResponseSchema.parse(await api(`/api/saes/${sae.id}/encode`, { method: 'POST', body: JSON.stringify({ text, topK: sae.dSae }) }));
  const inspectorUrl = (query = '') => `${stack.base}/inspector?sae=${sae.id}&text=${encodeURIComponent(TEXT)}${query}`;

  beforeAll(async () => {
    ({ stack, t0 } = demo());
    [gpuBrowser, plainBrowser] = await Promise.all([launchChromium({ webgpu: true }), launchChromium()]);
    sae = await waitFor('the demo\'s SAE', async () => saeListSchema.parse(await api('/api/saes')).saes[0], DEMO_MS, 1000);
    expect(sae.hookPoint).toBe(DEMO_HOOK);
    // the feature pages need the discovery
    await waitFor(
      'the demo\'s discovery',
      async () => {
        const [d] = discoveryListSchema.parse(await api(`/api/discoveries?sae=${sae.id}`)).discoveries;
        if (d?.status === 'failed' || d?.status === 'cancelled') throw new Error(`the demo's discovery ${d.status}: ${d.error}`);
        return d?.status === 'completed' ? d : undefined;
      },
      DEMO_MS,
      1000,
    );
    manifest = inspectorResponseSchema.parse(await api(`/api/saes/${sae.id}/inspector`));
    const file = await openSafetensors(path.join(sae.path, 'sae_weights.safetensors'));
    W = toFloat32(file.tensors.get('W_dec')!.dtype, await file.read('W_dec'));
    await file.close();
    head = await readUnembedding(DEMO_MODEL_DIR);
    console.log(`inspector page: the demo's SAE and discovery ${seconds(t0)} after the start`);
  }, DEMO_MS + 180_000);
  afterAll(async () => {
    await gpuBrowser?.close();
    await plainBrowser?.close();
    expect(errors).toEqual([]);
  });

  it("runs the demo SAE in the browser on WebGPU: each token's features are POST /encode's, also after typing", async () => {
    const t1 = Date.now();
    gpuPage = await gpuBrowser.newPage({ viewport: { width: 1280, height: 900 } });
    gpuPage.on('pageerror', (e) => errors.push(e.message));
    // the Features page's SAE header links here (followed on the WASM page below, where it is cheap)
    await gpuPage.goto(`${stack.base}/features?sae=${sae.id}`);
    expect(await gpuPage.getByTestId('inspect-sae').getAttribute('href')).toBe(`/inspector?sae=${sae.id}`);
    await gpuPage.goto(inspectorUrl());
    await gpuPage.getByTestId('token-row').first().waitFor({ timeout: WEBGPU_PAGE_MS });
    expect(await gpuPage.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
    expect(await gpuPage.getByTestId('backend').textContent()).toContain('swiftshader');
    const worst = expectSameFeatures(await pageTokens(gpuPage), await encode(TEXT));
    expect(await gpuPage.getByTestId('latency').textContent()).toMatch(/tokenize [\d.]+ m?s · forward [\d.]+ m?s · encode [\d.]+ m?s/);
    console.log(`inspector page: WebGPU run ${seconds(t1)} after opening (max |Δ| vs encode ${worst.toExponential(1)})`);

    // a pause in typing runs the new text
    await gpuPage.getByTestId('inspector-text').fill(TYPED);
    const typed = await encode(TYPED);
    await waitFor('the typed text\'s run', async () => ((await pageTokens(gpuPage)).map((t) => t.id).join() === typed.tokens.map((t) => t.id).join() ? true : undefined), 120_000, 250);
    expectSameFeatures(await pageTokens(gpuPage), typed);

    // back to the first text; a feature picked lights the text by its values
    await gpuPage.getByTestId('inspector-text').fill(TEXT);
    const first = await encode(TEXT);
    await waitFor('the first text again', async () => ((await pageTokens(gpuPage)).length === first.tokens.length ? true : undefined), 120_000, 250);
    const chip = gpuPage.getByTestId('token-row').nth(2).getByTestId('tok-feature').first();
    const f = Number(await chip.getAttribute('data-index'));
    await chip.locator('.chip-pick').click();
    await expect.poll(() => gpuPage.getByTestId('lit-by').textContent()).toContain(`#${f}`);
    const lit = await gpuPage.getByTestId('lit-text').getByTestId('act-token').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    const want = first.tokens.map((t) => t.features.find((x) => x.index === f)?.value ?? 0);
    lit.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));

    // the README's screenshot, without what changes on every run
    await gpuPage.getByTestId('text-features-list').waitFor();
    await gpuPage.getByTestId('effect-raises').waitFor();
    const frozen = await gpuPage.addStyleTag({ content: FREEZE_CSS });
    await gpuPage.screenshot({ path: path.join(ROOT, 'docs', 'inspector.png') });
    await frozen.evaluate((el) => (el as Element).remove());
  }, WEBGPU_PAGE_MS + 240_000);

  /** W_dec[f]·v for every feature, in float64 from the safetensors file. */
  const dots = (v: ArrayLike<number>) =>
    Float64Array.from({ length: sae.dSae }, (_, f) => {
      let s = 0;
      for (let i = 0; i < sae.dIn; i++) s += W[f * sae.dIn + i]! * v[i]!;
      return s;
    });

  /** The three searches on a page showing TEXT, against the reference computations. */
  async function checkSearches(page: Page, engine: 'webgpu' | 'cpu') {
    expect(await page.getByTestId('search-engine').first().getAttribute('data-engine')).toBe(engine);
    // features in this text: each feature's largest activation over the tokens, from the encode
    const enc = await encode(TEXT);
    const best = new Float64Array(sae.dSae);
    for (const t of enc.tokens) for (const x of t.features) best[x.index] = Math.max(best[x.index]!, x.value);
    await page.getByTestId('text-features-list').waitFor();
    expectRanking(await rows(page, 'text-features-list'), (i) => best[i]!, sae.dSae, 12);

    // by token effect: the lens's own vector (models/features/lens.ts) of each decoder row, dotted with W_U[:, t]
    const [token] = Array.from((await loadTokenizer(DEMO_MODEL_DIR)).encode(' disk', { addBos: false }));
    await page.getByTestId('effect-token').fill(' disk');
    await page.getByTestId('token-effect').getByRole('button', { name: 'Search' }).click();
    await page.locator(`[data-testid="effect-result"][data-token="${token}"]`).waitFor({ timeout: 60_000 });
    const column = head.unembed.w.subarray(token! * sae.dIn, (token! + 1) * sae.dIn);
    for (const convention of ['weight', 'none'] as const) {
      await page.getByTestId('effect-convention').getByRole('button', { name: convention === 'weight' ? 'weighted' : 'raw' }).click();
      const score = Float64Array.from({ length: sae.dSae }, (_, f) => {
        const v = lensVector(head, W.subarray(f * sae.dIn, (f + 1) * sae.dIn), convention);
        return v.reduce((a, x, i) => a + x * column[i]!, 0);
      });
      // the panel shows this convention's values once its search ran
      await waitFor(`the ${convention} token effects`, async () => ((await rows(page, 'effect-raises')).every((r) => Math.abs(r.value - score[r.index]!) < 1e-4) ? true : undefined), 60_000, 250);
      expectRanking(await rows(page, 'effect-raises'), (i) => score[i]!, sae.dSae, 12);
      expectRanking(await rows(page, 'effect-lowers'), (i) => score[i]!, sae.dSae, 12, false);
    }
    // the demo model is GPT-2: LayerNorm, so `weighted` centres the direction
    expect(manifest.lens.norm).toBe('layer');
  }

  it('searches the features of the text and by token effect on WebGPU, as computed from the weights', async () => {
    await checkSearches(gpuPage, 'webgpu');
  }, 180_000);

  it("opens a feature's page from a chip: its similar features on WebGPU are the float64 cosines'", async () => {
    const chip = gpuPage.getByTestId('token-row').first().getByTestId('tok-feature').first();
    const f = Number(await chip.getAttribute('data-index'));
    await chip.getByTestId('open-feature').click();
    await gpuPage.waitForURL((u) => u.pathname === `/features/${sae.id}/${f}`);
    await gpuPage.getByTestId('similar-list').waitFor({ timeout: 120_000 });
    expect(await gpuPage.getByTestId('similar-features').getByTestId('search-engine').getAttribute('data-engine')).toBe('webgpu');
    const norms = Float64Array.from({ length: sae.dSae }, (_, g) => Math.sqrt(dots(W.subarray(g * sae.dIn, (g + 1) * sae.dIn))[g]!));
    const cos = dots(W.subarray(f * sae.dIn, (f + 1) * sae.dIn)).map((d, g) => d / (norms[g]! * norms[f]!));
    expectRanking(await rows(gpuPage, 'similar-list'), (i) => cos[i]!, sae.dSae, 12, true, f);
  }, 180_000);

  it('without WebGPU runs the model on WASM and the searches on the CPU, saying why, with the same results', async () => {
    const t1 = Date.now();
    const page = await plainBrowser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    // as a user: the nav's Inspector, then the SAE from the Features page's header
    await page.goto(stack.base);
    await page.locator('nav.nav').getByRole('link', { name: 'Inspector', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/inspector' && u.searchParams.get('sae') === sae.id);
    await page.goto(`${stack.base}/features?sae=${sae.id}`);
    await page.getByTestId('inspect-sae').click();
    await page.waitForURL((u) => u.pathname === '/inspector' && u.searchParams.get('sae') === sae.id);
    await page.getByTestId('token-row').first().waitFor({ timeout: 120_000 });
    await page.goto(inspectorUrl());
    await page.getByTestId('token-row').first().waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('backend').getAttribute('data-backend')).toBe('wasm');
    expect(await page.getByTestId('backend-reason').textContent()).toMatch(/not WebGPU: .*(no usable GPU adapter|no WebGPU)/);
    expect(await page.getByTestId('search-engine').textContent()).toMatch(/CPU — not WebGPU/);
    expectSameFeatures(await pageTokens(page), await encode(TEXT));
    await checkSearches(page, 'cpu');
    // the feature page's similar features on the CPU fallback
    const f = (await pageTokens(page))[0]!.features[0]!.index;
    await page.goto(`${stack.base}/features/${sae.id}/${f}`);
    await page.getByTestId('similar-list').waitFor({ timeout: 60_000 });
    const gpuRows = await (async () => {
      await gpuPage.goto(`${stack.base}/features/${sae.id}/${f}`);
      await gpuPage.getByTestId('similar-list').waitFor({ timeout: 60_000 });
      return rows(gpuPage, 'similar-list');
    })();
    const cpuRows = await rows(page, 'similar-list');
    expect(cpuRows.map((r) => r.index)).toEqual(gpuRows.map((r) => r.index));
    cpuRows.forEach((r, i) => expect(Math.abs(r.value - gpuRows[i]!.value)).toBeLessThan(1e-5));
    console.log(`inspector page: WASM page and its checks in ${seconds(t1)}`);
    await page.close();
  }, 240_000);
});
}
