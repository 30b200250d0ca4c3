/**
 * Activation extraction throughput: the demo dataset's tokens through the
 * model up to a hook (the graph stops there) into the activation store, f16
 * and f32 storage, batch 8 × 128, on --device (default cpu); for the demo model and a random
 * GPT-2-small-sized model at block 6 and at the last block. When Debian's
 * python3-torch is installed, ../shared/bench/torch_gpt2_forward.py runs the
 * same shape to the same depth in the same run (at the last block it also
 * unembeds: it has no way to stop before), and the ratio is printed (with
 * --device cpu only: the reference runs on the CPU).
 *
 *   npm run bench -- extract [--batches 6] [--models demo,gpt2-small] [--storage f16,f32] [--device cpu|webgpu|auto]
 *
 * Each line names where the forward ran: `device` (the provider), `engine`,
 * `fallback_reason` (auto without a GPU, or an out-of-memory move to the CPU)
 * and, off the CPU, `webgpu_adapters`, the adapters Dawn offers (ONNX Runtime
 * does not say which one it took; SwiftShader's speed means nothing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { extractActivations, type WindowSource } from '../../models/activations/extract.ts';
import { openActivationWriter, type StorageDtype } from '../../models/activations/store.ts';
import { loadModel } from '../../models/model.ts';
import type { Device } from '../../models/runtime.ts';
import { listAdapters } from '../../models/system/adapters.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { randomGpt2Small } from './lib/models.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = path.join(ROOT, 'demo/models/tiny-gpt2-debian-6l');
const DATASET = path.join(ROOT, 'demo/datasets/debian-english-mix-heldout.jsonl');
const TORCH_BENCH = path.resolve(ROOT, '../shared/bench/torch_gpt2_forward.py');
const B = 8;
const T = 128;

async function demoWindows(count: number): Promise<WindowSource> {
  const tok = await loadTokenizer(DEMO);
  const ids: number[] = [];
  for (const line of (await readFile(DATASET, 'utf8')).split('\n')) {
    if (!line) continue;
    ids.push(...tok.encode(JSON.parse(line).text as string), tok.eosId ?? 0);
    if (ids.length >= count * T) break;
  }
  const tokens = BigInt64Array.from(ids.slice(0, count * T), BigInt);
  return {
    count,
    length: T,
    read: async (first, n) => ({ ids: tokens.slice(first * T, (first + n) * T), starts: BigInt64Array.from({ length: n }, (_, k) => BigInt((first + k) * T)) }),
  };
}

function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1048576);
}

function torchReference(blocks: number): { tokens_per_s: number } | { error: string } {
  if (!existsSync(TORCH_BENCH)) return { error: `${TORCH_BENCH} not found` };
  const r = spawnSync('/usr/bin/python3', [TORCH_BENCH, String(os.availableParallelism()), String(blocks)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop()! };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens_per_s: number };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { batches: { type: 'string', default: '6' }, models: { type: 'string', default: 'demo,gpt2-small' }, storage: { type: 'string', default: 'f16,f32' }, device: { type: 'string', default: 'cpu' } } });
  const device = values.device as Device;
  if (!['cpu', 'webgpu', 'auto'].includes(device)) throw new Error(`--device must be cpu, webgpu or auto (got "${values.device}")`);
  const adapters = device === 'cpu' ? {} : { webgpu_adapters: (await listAdapters().catch(() => [])).map((a) => `${a.name}${a.fallback ? ' (software)' : ''}`) };
  const batches = Number(values.batches);
  const windows = await demoWindows(batches * B);
  for (const name of values.models!.split(',')) {
    const dir = name === 'demo' ? DEMO : await randomGpt2Small();
    const model = await loadModel(dir, { dtype: 'fp32', device });
    const L = model.spec.nLayers;
    // GPT-2-small: block 6 and the last; the 6-layer demo: the middle one and the last
    for (const block of L > 6 ? [6, L] : [Math.ceil(L / 2), L]) {
      const hook = `blocks.${block - 1}.hook_resid_post`;
      await model.session([hook]); // built before timing, as a job does once
      let best = 0;
      for (const storage of values.storage!.split(',') as StorageDtype[]) {
        const out = await mkdtemp(path.join(os.tmpdir(), 'loupe-bench-extract-'));
        try {
          const writer = await openActivationWriter(out, { hooks: [{ hook, rowShape: [model.spec.dModel] }], dtype: storage, windowsTotal: windows.count, windowsPerShard: B * 4, settings: {} });
          let peak = rssMb();
          const t0 = performance.now();
          const end = await extractActivations({ model, hooks: [hook], windows, windowsTotal: windows.count, batchSize: B, writer, onProgress: () => (peak = Math.max(peak, rssMb())) });
          await writer.finish();
          const s = (performance.now() - t0) / 1000;
          best = Math.max(best, Math.round(end.tokensDone / s));
          const p = model.placement!;
          console.log(JSON.stringify({ bench: 'extract', case: `${name}/${hook}/${storage}`, impl: 'loupe', device: p.provider, engine: p.engine, fallback_reason: p.fallbackReason, ...adapters, model: name, hook, storage, batch: B, seq: T, tokens: end.tokensDone, tokens_per_s: Math.round(end.tokensDone / s), peak_rss_mb: peak }));
        } finally {
          await rm(out, { recursive: true, force: true });
        }
      }
      if (name === 'gpt2-small' && device === 'cpu') {
        const ref = torchReference(block);
        const ratio = 'tokens_per_s' in ref ? Math.round((best / ref.tokens_per_s) * 100) / 100 : null;
        const torch = 'tokens_per_s' in ref ? { tokens_per_s: ref.tokens_per_s, loupe_over_torch: ratio } : ref;
        console.log(JSON.stringify({ bench: 'extract', case: `${name}/${hook}/forward-only`, impl: 'torch', device: 'cpu', model: name, hook, batch: B, seq: T, ...torch }));
      }
    }
    await model.close();
  }
}
