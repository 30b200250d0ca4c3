/**
 * The browser: the Inspector's latency and the decoder searches' in a real
 * Chromium (Debian's, through playwright-core) with WebGPU (SwiftShader's
 * flags, shared/gpu/README.md; a GPU's own adapter where Chromium finds one)
 * and without it.
 *
 * - `inspector_<T>`: a real Loupe (`npm start`'s launcher, no demo) with a
 *   seeded random TopK SAE of the demo's shape (256 → 2,048, k 32) imported
 *   on the demo model at blocks.3.hook_resid_post; the Inspector page runs a
 *   text of --tokens tokens --runs times (each a different text): median
 *   tokenize, forward and encode ms, on WebGPU and on WASM (`impl` says
 *   which; `load_ms` is opening the page to the first result, downloads and
 *   compiling included).
 * - `search_<d_sae>x<d_in>`: models/sae/gpu/search.ts in the page on a
 *   synthetic decoder (uploaded in chunks): the similar-features search (one
 *   feature's cosine against every row, top 10), the token-effect search, and
 *   the text search over --tokens tokens; median and max ms of --runs, the
 *   upload and the first search (kernel compiling, row norms) apart. On the
 *   CPU fallback too, for decoders up to 24,576 × 768.
 *
 *   npm run bench -- browser [--sizes 2048x256,24576x768,131072x2304] [--tokens 128] [--runs 5] [--type f32|f16] [--no-inspector]
 *
 * SwiftShader is a CPU emulation of a GPU: its figures are a smoke check
 * (the kernels run and agree), never a speed. There, a decoder over 256 MiB
 * (131072 × 2304: 1.1 GiB as float32) is skipped unless --sizes names it,
 * and its line says so. On a GPU host, run it there: the goal is under 20 ms
 * for the similar-features search over 131072 × 2304.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { inspectorResponseSchema } from '../../models/contracts/inspector.ts';
import { saeSchema } from '../../models/contracts/trainings.ts';
import { DEMO_HOOK } from '../../models/demo.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { saveSae } from '../../models/sae/saelens.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { launchChromium } from '../testing/browser.ts';
import { launch, tempDataDir } from '../testing/launcher.ts';
import { waitFor } from '../testing/processes.ts';
import type { SearchBenchOptions } from './lib/browser-search.ts';

const line = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'browser', ...o }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;
/** Decoders above this many bytes are skipped on a software adapter unless --sizes names them. */
const SWIFTSHADER_MAX_BYTES = 256 * 1024 ** 2;
const DEFAULT_SIZES = '2048x256,24576x768,131072x2304';
/** The CPU fallback is timed up to this many decoder values. */
const CPU_MAX_VALUES = 24576 * 768;

/** The page script of lib/browser-search.ts, bundled. */
async function searchScript(): Promise<string> {
  const out = (await build({
    configFile: false,
    logLevel: 'silent',
    build: { write: false, minify: false, lib: { entry: path.join(import.meta.dirname, 'lib', 'browser-search.ts'), formats: ['es'], fileName: 'search' } },
  })) as { output: { type: string; code?: string }[] }[] | { output: { type: string; code?: string }[] };
  const outputs = Array.isArray(out) ? out : [out];
  return outputs.flatMap((o) => o.output).find((c) => c.type === 'chunk')!.code!;
}

/** A seeded random TopK SAE of the demo's shape, in a SAELens folder. */
async function randomDemoSae(dir: string): Promise<void> {
  let s = 7;
  const normal = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1103515245) + 12345) | 0;
      const u = (s >>> 8) / 2 ** 24;
      s = (Math.imul(s, 1103515245) + 12345) | 0;
      const v = (s >>> 8) / 2 ** 24;
      return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v) * scale;
    });
  const dIn = 256;
  const dSae = 2048;
  await saveSae(
    dir,
    { architecture: 'topk', dIn, dSae, k: 32, hookName: DEMO_HOOK, hookLayer: 3, modelName: 'tiny-gpt2-debian-6l', contextSize: 128, prependBos: false, normalizeActivations: 'none', extra: {} },
    { W_enc: normal(dIn * dSae, 1 / 16), b_enc: new Float32Array(dSae), W_dec: normal(dSae * dIn, 1 / 16), b_dec: new Float32Array(dIn) },
  );
}

/** Texts of exactly `tokens` tokens of the demo model, each different. */
async function texts(tokens: number, n: number): Promise<string[]> {
  const tok = await loadTokenizer(DEMO_MODEL_DIR);
  const words = 'the system installs packages from the archive and then configures each of them before the boot loader runs with a kernel that the user chose'.split(' ');
  return Array.from({ length: n }, (_, r) => {
    let text = '';
    for (let i = 0; tok.encode(text, { addBos: false }).length < tokens; i++) text += `${i ? ' ' : ''}${words[(i * 7 + r * 3) % words.length]}`;
    return tok.decode(tok.encode(text, { addBos: false }).slice(0, tokens));
  });
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { sizes: { type: 'string' }, tokens: { type: 'string', default: '128' }, runs: { type: 'string', default: '5' }, type: { type: 'string', default: 'f32' }, 'no-inspector': { type: 'boolean', default: false } },
  });
  const tokens = Number(values.tokens);
  const runs = Number(values.runs);
  const type = values.type === 'f16' ? 'f16' : 'f32';
  const sizes = (values.sizes ?? DEFAULT_SIZES).split(',').map((s) => s.split('x').map(Number) as [number, number]);
  const dataDir = tempDataDir('loupe-bench-browser-');
  const saeDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-sae-'));
  const app = await launch(dataDir, { LOUPE_DEMO: '0', LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOG_LEVEL: 'warn' });
  const browsers: Browser[] = [];
  try {
    const [gpu, plain] = await Promise.all([launchChromium({ webgpu: true }), launchChromium()]);
    browsers.push(gpu, plain);

    if (!values['no-inspector']) {
      await randomDemoSae(saeDir);
      const res = await fetch(`${app.base}/api/saes/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: saeDir, modelId: DEMO_MODEL_ID, name: 'bench: random topk 2048' }) });
      if (!res.ok) throw new Error(`importing the SAE: ${res.status} ${await res.text()}`);
      const sae = saeSchema.parse(await res.json());
      await waitFor('the inspector files', async () => {
        const r = await fetch(`${app.base}/api/saes/${sae.id}/inspector`);
        return r.status === 200 ? inspectorResponseSchema.parse(await r.json()) : undefined;
      }, 300_000, 500);
      const inputs = await texts(tokens, runs + 1);
      for (const [browser, backend] of [[gpu, 'auto'], [plain, 'wasm']] as const) {
        const page = await browser.newPage();
        const t0 = Date.now();
        await page.goto(`${app.base}/inspector?sae=${sae.id}&backend=${backend}&text=${encodeURIComponent(inputs[0]!)}`);
        await page.getByTestId('latency').waitFor({ timeout: 600_000 });
        const loadMs = Date.now() - t0;
        const used = await page.getByTestId('backend').getAttribute('data-backend');
        const adapter = (await page.getByTestId('backend').textContent())?.replace(/^Model:\s*/, '').trim();
        const ms: Record<'tokenize' | 'forward' | 'encode', number[]> = { tokenize: [], forward: [], encode: [] };
        let count = 0;
        for (const text of inputs.slice(1)) {
          const before = await page.getByTestId('latency').getAttribute('data-at');
          await page.getByTestId('inspector-text').fill(text);
          await waitFor('the run', async () => ((await page.getByTestId('latency').getAttribute('data-at')) !== before ? true : undefined), 600_000, 50);
          for (const k of ['tokenize', 'forward', 'encode'] as const) ms[k].push(Number(await page.getByTestId(`ms-${k}`).getAttribute('data-ms')));
          count = Number(await page.getByTestId('latency').getAttribute('data-tokens'));
        }
        line({
          case: `inspector_${tokens}`,
          impl: 'loupe',
          device: used === 'webgpu' ? 'webgpu' : 'wasm',
          adapter,
          tokens: count,
          runs,
          tokenize_ms: round(median(ms.tokenize)),
          forward_ms: round(median(ms.forward)),
          encode_ms: round(median(ms.encode)),
          total_ms: round(median(ms.tokenize) + median(ms.forward) + median(ms.encode)),
          load_ms: loadMs,
        });
        await page.close();
      }
    }

    const script = await searchScript();
    const named = values.sizes !== undefined;
    for (const [impl, browser] of [['webgpu', gpu], ['cpu', plain]] as const) {
      const page = await browser.newPage();
      await page.goto(`${app.base}/system`); // a secure context (WebGPU needs one) of the same origin
      await page.addScriptTag({ content: script, type: 'module' });
      await page.waitForFunction(() => 'loupeSearchBench' in globalThis);
      const fallback = impl === 'webgpu' ? await page.evaluate(async () => ((await navigator.gpu?.requestAdapter())?.info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true) : false;
      for (const [dSae, dIn] of sizes) {
        const kase = `search_${dSae}x${dIn}`;
        const bytes = dSae * dIn * (type === 'f16' ? 2 : 4);
        if (impl === 'cpu' && dSae * dIn > CPU_MAX_VALUES) continue;
        if (impl === 'webgpu' && fallback && bytes > SWIFTSHADER_MAX_BYTES && !named) {
          line({ case: kase, impl: 'loupe', device: 'webgpu', skipped: `a ${(bytes / 1024 ** 3).toFixed(2)} GiB decoder on SwiftShader (a CPU emulation of a GPU) takes too long to mean anything: name it in --sizes to run it anyway, or run this on a GPU` });
          continue;
        }
        const o: SearchBenchOptions = { dSae, dIn, impl, type: impl === 'cpu' ? 'f32' : type, runs, tokens };
        try {
          const r = await page.evaluate((opts) => (globalThis as unknown as { loupeSearchBench(o: SearchBenchOptions): Promise<Record<string, unknown>> }).loupeSearchBench(opts), o);
          line({ case: kase, impl: 'loupe', device: impl, type: o.type, d_sae: dSae, d_in: dIn, runs, ...r, note: fallback ? 'SwiftShader: a smoke check, not a speed' : undefined });
        } catch (err) {
          line({ case: kase, impl: 'loupe', device: impl, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
        }
      }
      await page.close();
    }
  } finally {
    for (const b of browsers) await b.close();
    await app.proc.stop('SIGINT', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(saeDir, { recursive: true, force: true });
  }
}
