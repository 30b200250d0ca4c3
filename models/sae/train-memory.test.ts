/**
 * A training that is cancelled gives its memory back: the SAE's parameters,
 * Adam's moments and every other large array are dropped, and the ONNX
 * Runtime sessions released, once trainSaes has thrown (issue 11: a
 * cancelled giant training left its worker holding gigabytes). Measured as
 * the process's ArrayBuffer bytes after a full garbage collection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openActivationWriter } from '../activations/store.ts';
import { trainSaes } from './train.ts';

const D = 32;
const D_SAE = 32_768;
/** float32 bytes of one copy of the SAE's parameters: W_enc, W_dec, b_enc, b_dec */
const PARAM_BYTES = (2 * D * D_SAE + D_SAE + D) * 4;

// A full collection on demand (test only): the flag is set before the function is fetched.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const arrayBuffers = () => {
  gc();
  return process.memoryUsage().arrayBuffers;
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-train-memory-'));
  const acts = path.join(dir, 'acts');
  const writer = await openActivationWriter(acts, { hooks: [{ hook: 'h', rowShape: [D] }], dtype: 'f32', windowsTotal: 64, windowsPerShard: 16, settings: { test: true } });
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let w = 0; w < 64; w += 4) {
    const rows = 4 * 16;
    await writer.append(4, { h: { data: Float32Array.from({ length: rows * D }, rand), rows } }, BigInt64Array.from({ length: rows }, (_, i) => BigInt(w * 16 + i)));
  }
  await writer.finish();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a cancelled training', () => {
  it('drops its parameters, moments and buffers', async () => {
    const before = arrayBuffers();
    let during = 0;
    const ac = new AbortController();
    const run = trainSaes({
      activations: path.join(dir, 'acts'),
      hooks: [{ hook: 'h', out: path.join(dir, 'sae') }],
      config: { architecture: 'topk', k: 8, dSae: D_SAE, batchSize: 128, totalTokens: 128 * 10_000, lr: 1e-3, metricsEvery: 1, checkpointEvery: 1_000_000, mixingShards: 2 },
      device: 'cpu',
      signal: ac.signal,
      onProgress: (p) => {
        if (p.step < 2 || ac.signal.aborted) return;
        during = process.memoryUsage().arrayBuffers;
        ac.abort(new Error('cancelled by the test'));
      },
    });
    await expect(run).rejects.toThrow('cancelled by the test');
    // while it ran: the stepper's two sets of weights and moments at least
    expect(during - before).toBeGreaterThan(6 * PARAM_BYTES);
    // after: less than one copy of the parameters is left (V8 frees the collected buffers' memory in the
    // background, so the count is read again for a while; held arrays would never leave it)
    let after = Infinity;
    for (let i = 0; i < 40 && after - before >= PARAM_BYTES / 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = arrayBuffers();
    }
    expect(after - before).toBeLessThan(PARAM_BYTES / 2);
  }, 60_000);
});
