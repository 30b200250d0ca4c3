/**
 * The loaded model end to end on the bundled demo model: every hook value
 * against its Hugging Face reference, batching, graphs that stop early,
 * refusals, and the quantized dtypes against fp32.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from './model.ts';
import { logitAgreement } from './quantize.ts';
import { openSafetensors, toFloat32 } from './safetensors.ts';
import { loadTokenizer } from './tokenizer.ts';

const DEMO = path.resolve(import.meta.dirname, '../demo/models/tiny-gpt2-debian-6l');
const DATASET = path.resolve(import.meta.dirname, '../demo/datasets/debian-english-mix-heldout.jsonl');

function maxError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

let fp32: LoadedModel;
beforeAll(async () => {
  fp32 = await loadModel(DEMO, { dtype: 'fp32', device: 'cpu' });
});
afterAll(async () => {
  await fp32?.close();
});

describe('the demo model (fp32)', () => {
  it('reproduces every tensor of its Hugging Face reference within 1e-4', async () => {
    const ref = await openSafetensors(path.join(DEMO, 'reference.safetensors'));
    const L = fp32.spec.nLayers;
    const map: Record<string, string> = { logits: 'logits', final_norm: 'ln_final.hook_normalized', embed: 'blocks.0.hook_resid_pre' };
    for (let l = 0; l < L; l++) {
      map[`resid_post.${l}`] = `blocks.${l}.hook_resid_post`;
      map[`attn_pattern.${l}`] = `blocks.${l}.attn.hook_pattern`;
    }
    let compared = 0;
    for (const prompt of ['prompt0', 'prompt1', 'prompt2']) {
      const ids = (await ref.read(`${prompt}.input_ids`)) as BigInt64Array;
      const got = await fp32.forward(ids, [1, ids.length], Object.values(map));
      for (const [name, hook] of Object.entries(map)) {
        const info = ref.tensors.get(`${prompt}.${name}`);
        if (!info) continue;
        const want = toFloat32(info.dtype, await ref.read(info.name));
        expect(got[hook]!.dims).toEqual(info.shape);
        expect(maxError(got[hook]!.data, want), `${prompt}.${name}`).toBeLessThanOrEqual(1e-4);
        compared++;
      }
    }
    await ref.close();
    expect(compared).toBe(3 * (3 + 2 * L));
  });

  it('gives each row of a batch what it gives that row alone', async () => {
    const T = 16;
    const a = BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 37 + 5) % 8192));
    const b = BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 101 + 11) % 8192));
    const both = new BigInt64Array(2 * T);
    both.set(a, 0);
    both.set(b, T);
    const hooks = ['logits', 'blocks.2.hook_resid_post', 'blocks.1.attn.hook_z', 'blocks.4.mlp.hook_post'];
    const batched = await fp32.forward(both, [2, T], hooks);
    const alone = await fp32.forward(b, [1, T], hooks);
    for (const h of hooks) {
      const per = batched[h]!.data.length / 2;
      expect(batched[h]!.dims[0]).toBe(2);
      expect(maxError(batched[h]!.data.subarray(per), alone[h]!.data)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('hook values are consistent with each other (resid_mid = resid_pre + attn_out, resid_post = resid_mid + mlp_out)', async () => {
    const ids = BigInt64Array.from({ length: 12 }, (_, i) => BigInt(100 + i * 13));
    const o = await fp32.forward(ids, [1, 12], ['blocks.3.hook_resid_pre', 'blocks.3.hook_attn_out', 'blocks.3.hook_resid_mid', 'blocks.3.hook_mlp_out', 'blocks.3.hook_resid_post']);
    const pre = o['blocks.3.hook_resid_pre']!.data;
    const mid = o['blocks.3.hook_resid_mid']!.data;
    const post = o['blocks.3.hook_resid_post']!.data;
    expect(maxError(pre.map((x, i) => x + o['blocks.3.hook_attn_out']!.data[i]!), mid)).toBeLessThanOrEqual(1e-5);
    expect(maxError(mid.map((x, i) => x + o['blocks.3.hook_mlp_out']!.data[i]!), post)).toBeLessThanOrEqual(1e-5);
  });

  it('a graph asked for an early hook stops there (no later block, no unembedding)', async () => {
    const full = fp32.graphBytes(['logits']);
    const early = fp32.graphBytes(['blocks.1.hook_resid_post']);
    const { dModel: d, dMlp, vocabSize: V } = fp32.spec;
    const perBlock = 4 * (4 * d * d + 2 * d * dMlp);
    // two of six blocks: at least four blocks' weights fewer (the embedding stays: it is the lookup table)
    expect(full - early).toBeGreaterThanOrEqual(4 * perBlock);
    expect(early).toBeGreaterThan(4 * V * d); // the embedding is still there
    const out = await fp32.forward(BigInt64Array.of(1n, 2n, 3n), [1, 3], ['blocks.1.hook_resid_post']);
    expect(out['blocks.1.hook_resid_post']!.dims).toEqual([1, 3, d]);
  });

  it('gives the same values when its weights go to ONNX external data (the path of models over 2 GiB)', async () => {
    const external = await loadModel(DEMO, { dtype: 'fp32', device: 'cpu', externalDataAbove: 0 });
    try {
      const ids = BigInt64Array.from({ length: 10 }, (_, i) => BigInt(50 + i * 31));
      const hooks = ['logits', 'blocks.4.hook_resid_post'];
      const a = await fp32.forward(ids, [1, 10], hooks);
      const b = await external.forward(ids, [1, 10], hooks);
      for (const h of hooks) expect(Array.from(b[h]!.data)).toEqual(Array.from(a[h]!.data));
    } finally {
      await external.close();
    }
  });

  it('says where it runs: its placement, reported once when its first session is made and again only when it changes', async () => {
    const seen: unknown[] = [];
    const m = await loadModel(DEMO, { dtype: 'fp32', device: 'cpu', onPlacement: (p) => seen.push(p) });
    try {
      expect(m.placement).toBeNull();
      const ids = BigInt64Array.from({ length: 8 }, (_, i) => BigInt(40 + i));
      await m.forward(ids, [1, 8], ['blocks.1.hook_resid_post']);
      const cpu = { requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null };
      expect(m.placement).toEqual(cpu);
      await m.forward(ids, [1, 8], ['logits']);
      const end = await m.forwardChunks(ids, [2, 4], ['blocks.1.hook_resid_post'], { rows: 1, onChunk: () => undefined });
      expect(end).toEqual({ rows: 1, provider: 'cpu', placement: cpu });
      expect(seen).toEqual([cpu]);
    } finally {
      await m.close();
    }
  });

  it('refuses unknown hook points and ids that do not fill the shape', async () => {
    await expect(fp32.forward(BigInt64Array.of(1n), [1, 1], ['blocks.6.hook_resid_post'])).rejects.toThrow(/unknown hook point "blocks\.6\.hook_resid_post"/);
    await expect(fp32.forward(BigInt64Array.of(1n, 2n), [1, 3], ['logits'])).rejects.toThrow(/do not fill/);
  });
});

describe('refusals', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'loupe-arch-'));
    await cp(DEMO, dir, { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the model_type of an unsupported architecture', async () => {
    const config = JSON.parse(await readFile(path.join(DEMO, 'config.json'), 'utf8'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'bert' }));
    await expect(loadModel(dir)).rejects.toThrow(/model_type "bert"/);
  });

  it('names the parameter whose shape disagrees with config.json', async () => {
    const config = JSON.parse(await readFile(path.join(DEMO, 'config.json'), 'utf8'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, n_inner: 512 }));
    await expect(loadModel(dir)).rejects.toThrow(/h\.0\.mlp\.c_fc\.weight.*expected \[256, 512\]/);
  });

  it('names config.json when it is malformed', async () => {
    await writeFile(path.join(dir, 'config.json'), '{"model_type": ');
    await expect(loadModel(dir)).rejects.toThrow(/config\.json is not valid JSON/);
  });
});

describe('quantized dtypes against fp32 on the demo dataset', () => {
  it('fp16, q8 and q4 keep the next-token distribution close and the graph smaller', async () => {
    const tok = await loadTokenizer(DEMO);
    const lines = (await readFile(DATASET, 'utf8')).split('\n').filter(Boolean).slice(0, 30);
    const ids: number[] = [];
    for (const l of lines) ids.push(...tok.encode(JSON.parse(l).text as string));
    const B = 4;
    const T = 128;
    const x = BigInt64Array.from(ids.slice(0, B * T).map(BigInt));
    const ref = (await fp32.forward(x, [B, T], ['logits'])).logits!.data;
    const sizes: Record<string, number> = { fp32: fp32.graphBytes(['logits']) };
    const results: Record<string, { top1: number; meanKl: number }> = {};
    for (const dtype of ['fp16', 'q8', 'q4'] as const) {
      const m = await loadModel(DEMO, { dtype, device: 'cpu' });
      try {
        results[dtype] = logitAgreement(ref, (await m.forward(x, [B, T], ['logits'])).logits!.data, fp32.spec.vocabSize);
        sizes[dtype] = m.graphBytes(['logits']);
      } finally {
        await m.close();
      }
    }
    // the demo checkpoint is stored in fp16, so fp16 is exact
    expect(results.fp16!.top1).toBe(1);
    expect(results.fp16!.meanKl).toBeLessThan(1e-6);
    expect(results.q8!.top1).toBeGreaterThan(0.95);
    expect(results.q8!.meanKl).toBeLessThan(0.005);
    expect(results.q4!.top1).toBeGreaterThan(0.75);
    expect(results.q4!.meanKl).toBeLessThan(0.1);
    expect(results.q8!.meanKl).toBeLessThan(results.q4!.meanKl);
    expect(sizes.fp16!).toBeLessThan(0.55 * sizes.fp32!);
    expect(sizes.q8!).toBeLessThan(sizes.fp16!);
    expect(sizes.q4!).toBeLessThan(sizes.q8!);
  });
});

describe('out of memory', () => {
  it('halves the chunk until it fits, and still delivers every row (real ONNX Runtime allocation failures under ulimit -v)', async () => {
    const { spawn } = await import('node:child_process');
    const root = path.resolve(import.meta.dirname, '..');
    const child = async (limitKb: number | null) => {
      // 64 rows × 512 tokens: the attention scores of one layer alone are 512 MB
      const cmd = `${limitKb ? `ulimit -v ${limitKb} && ` : ''}exec "$0" --disable-wasm-trap-handler --import tsx scripts/testing/oom-forward.ts 64 512`;
      const p = spawn('bash', ['-c', cmd, process.execPath], { cwd: root });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
      expect(code, stderr.slice(-2000)).toBe(0);
      return JSON.parse(stdout.trim().split('\n').pop()!) as { rows: number; provider: string; seen: number; sum: number; fallbacks: string[] };
    };
    const free = await child(null);
    expect(free).toMatchObject({ rows: 64, seen: 64, fallbacks: [] });
    const tight = await child(3_000_000);
    expect(tight.fallbacks.length).toBeGreaterThanOrEqual(1);
    expect(tight.fallbacks[0]).toMatch(/^out of memory at 64 rows × 512 tokens on cpu .*retrying with 32 rows$/);
    expect(tight.rows).toBeLessThan(64);
    expect(tight.seen).toBe(64);
    expect(Math.abs(tight.sum - free.sum) / free.sum).toBeLessThan(1e-5);
  }, 120_000);
});
