/**
 * Forward-pass throughput at each weight dtype, on CPU (and on the GPU
 * through WebGPU when this host has one), for the demo model and a random
 * GPT-2-small-sized model (12 layers, 768 wide, 50257 tokens), batch 8 × 128
 * tokens of the demo dataset. Each line also reports the model's size in
 * memory (serialised weights, and the growth of the process's resident
 * memory when the session was created) and its agreement with fp32 (top-1
 * agreement and mean KL of the next-token distributions).
 *
 *   npm run bench -- forward [--batch 8] [--seq 128] [--runs 3] [--models demo,gpt2-small] [--dtypes fp32,fp16,q8,q4] [--device cpu|webgpu|auto]
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../models/model.ts';
import { logitAgreement, MODEL_DTYPES, type ModelDtype } from '../../models/quantize.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import type { Device } from '../../models/runtime.ts';
import { randomGpt2Small } from './lib/models.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = path.join(ROOT, 'demo/models/tiny-gpt2-debian-6l');
const DATASET = path.join(ROOT, 'demo/datasets/debian-english-mix-heldout.jsonl');

async function demoTokens(n: number): Promise<BigInt64Array> {
  const tok = await loadTokenizer(DEMO);
  const out: number[] = [];
  for (const line of (await readFile(DATASET, 'utf8')).split('\n')) {
    if (!line) continue;
    out.push(...tok.encode(JSON.parse(line).text as string));
    if (out.length >= n) break;
  }
  return BigInt64Array.from(out.slice(0, n), BigInt);
}

function rssMb(): number {
  return process.memoryUsage().rss / 1048576;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      batch: { type: 'string', default: '8' },
      seq: { type: 'string', default: '128' },
      runs: { type: 'string', default: '3' },
      models: { type: 'string', default: 'demo,gpt2-small' },
      dtypes: { type: 'string', default: MODEL_DTYPES.join(',') },
      device: { type: 'string', default: 'cpu' },
    },
  });
  const B = Number(values.batch);
  const T = Number(values.seq);
  const runs = Number(values.runs);
  const dtypes = values.dtypes!.split(',') as ModelDtype[];
  const devices = (values.device === 'auto' ? ['cpu', 'webgpu'] : [values.device!]) as Device[];
  const ids = await demoTokens(B * T);
  for (const name of values.models!.split(',')) {
    const dir = name === 'demo' ? DEMO : name === 'gpt2-small' ? await randomGpt2Small() : path.resolve(name);
    for (const device of devices) {
      let reference: Float32Array | null = null;
      for (const dtype of dtypes) {
        const rss0 = rssMb();
        const loadStart = performance.now();
        let model;
        try {
          model = await loadModel(dir, { dtype, device });
          await model.session(['logits']);
        } catch (err) {
          console.log(JSON.stringify({ bench: 'forward', case: `${name}/${dtype}`, device, error: (err as Error).message.split('\n')[0] }));
          continue;
        }
        const loadS = (performance.now() - loadStart) / 1000;
        const session = await model.session(['logits']);
        const graphMb = model.graphBytes(['logits']) / 1048576;
        // warm-up run, then timed runs
        let logits = (await model.forward(ids, [B, T], ['logits'])).logits!.data;
        const times: number[] = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          logits = (await model.forward(ids, [B, T], ['logits'])).logits!.data;
          times.push(performance.now() - t0);
        }
        times.sort((a, b) => a - b);
        const median = times[Math.floor(times.length / 2)]!;
        const memMb = rssMb() - rss0;
        if (dtype === 'fp32') reference = logits.slice();
        const agreement = reference && dtype !== 'fp32' ? logitAgreement(reference, logits, model.spec.vocabSize) : null;
        console.log(
          JSON.stringify({
            bench: 'forward',
            case: `${name}/${dtype}`,
            impl: 'loupe',
            device: session.provider,
            model: name,
            dtype,
            batch: B,
            seq: T,
            tokens_per_s: Math.round((B * T) / (median / 1000)),
            ms_median: Math.round(median),
            load_s: Math.round(loadS * 10) / 10,
            weights_mb: Math.round(graphMb * 10) / 10,
            rss_growth_mb: Math.round(memMb),
            top1_vs_fp32: agreement ? Math.round(agreement.top1 * 10000) / 10000 : dtype === 'fp32' ? 1 : null,
            mean_kl_vs_fp32: agreement ? Number(agreement.meanKl.toPrecision(3)) : dtype === 'fp32' ? 0 : null,
            threads: os.availableParallelism(),
          }),
        );
        await model.close();
        model = undefined;
        (globalThis as { gc?: () => void }).gc?.();
      }
    }
  }
}
