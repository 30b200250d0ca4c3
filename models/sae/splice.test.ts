import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../model.ts';
import { openSafetensors, toFloat32 } from '../safetensors.ts';
import { loadTokenizer } from '../tokenizer.ts';
import { ceLossRecovered, saeSplice, spliceFeeds } from './splice.ts';

const DEMO = path.resolve(import.meta.dirname, '../../demo/models/tiny-gpt2-debian-6l');
const HOOK = 'blocks.2.hook_resid_post';
const D = 256;

/** relu(x) - relu(-x) = x: a 2d-wide ReLU SAE that reconstructs exactly. */
function exactSae() {
  const dSae = 2 * D;
  const W_enc = new Float32Array(D * dSae);
  const W_dec = new Float32Array(dSae * D);
  for (let i = 0; i < D; i++) {
    W_enc[i * dSae + i] = 1;
    W_enc[i * dSae + D + i] = -1;
    W_dec[i * D + i] = 1;
    W_dec[(D + i) * D + i] = -1;
  }
  return { spec: { architecture: 'relu' as const, dIn: D, dSae }, w: { W_enc, b_enc: new Float32Array(dSae), W_dec, b_dec: new Float32Array(D) } };
}

let plain: LoadedModel;
let spliced: LoadedModel;
const { spec, w } = exactSae();
beforeAll(async () => {
  plain = await loadModel(DEMO, { device: 'cpu' });
  spliced = await loadModel(DEMO, { device: 'cpu', interventions: { [HOOK]: saeSplice(spec) } });
});
afterAll(async () => {
  await plain.close();
  await spliced.close();
});

describe('token_nll', () => {
  it('equals -log softmax(logits)[next token], computed from the HF reference logits', async () => {
    const ref = await openSafetensors(path.join(DEMO, 'reference.safetensors'));
    const ids = (await ref.read('prompt0.input_ids')) as BigInt64Array;
    const info = ref.tensors.get('prompt0.logits')!;
    const logits = toFloat32(info.dtype, await ref.read('prompt0.logits'));
    const V = info.shape[2]!;
    const got = (await plain.forward(ids, [1, ids.length], ['token_nll'])).token_nll!;
    expect(got.dims).toEqual([1, ids.length - 1]);
    for (let t = 0; t < ids.length - 1; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
      const lse = max + Math.log(row.reduce((a, b) => a + Math.exp(b - max), 0));
      expect(got.data[t]).toBeCloseTo(lse - row[Number(ids[t + 1])]!, 3);
    }
    await ref.close();
  });
});

describe('SAE splicing', () => {
  let ids: BigInt64Array;
  beforeAll(async () => {
    // real text: the first 48 tokens of the demo dataset
    const tok = await loadTokenizer(DEMO);
    const line = (await readFile(path.resolve(DEMO, '../../datasets/debian-english-mix-heldout.jsonl'), 'utf8')).split('\n')[0]!;
    ids = BigInt64Array.from(tok.encode(JSON.parse(line).text as string).slice(0, 48), BigInt);
  });
  it('mix (1, 0) is the clean model and an exact SAE spliced in changes nothing', async () => {
    const clean = (await plain.forward(ids, [2, 24], ['token_nll'])).token_nll!.data;
    for (const mix of [[1, 0], [0, 1]] as const) {
      const got = (await spliced.forward(ids, [2, 24], ['token_nll'], spliceFeeds(w, spec, mix))).token_nll!.data;
      for (let i = 0; i < clean.length; i++) expect(Math.abs(got[i]! - clean[i]!)).toBeLessThan(1e-4);
    }
  });

  it('mix (0, 0) is the zero ablation of the hook: later hooks see only what follows', async () => {
    const out = await spliced.forward(ids, [2, 24], ['blocks.2.hook_resid_post', 'blocks.3.hook_resid_pre'], spliceFeeds(w, spec, [0, 0]));
    // the hook value itself is the model's own; what flows on is zero
    expect(out['blocks.2.hook_resid_post']!.data.some((v) => v !== 0)).toBe(true);
    expect(out['blocks.3.hook_resid_pre']!.data.every((v) => v === 0)).toBe(true);
  });

  it('CE-loss recovered is 1 for an exact SAE and lower for a damaged one', async () => {
    const exact = await ceLossRecovered(spliced, spec, w, ids, [2, 24]);
    expect(exact.zero).toBeGreaterThan(exact.clean + 0.5);
    expect(Math.abs(exact.recovered - 1)).toBeLessThan(1e-3);
    const damaged = { ...w, W_dec: w.W_dec.map((v, i) => (i < (D * D) / 2 ? 0 : v)) };
    const r = await ceLossRecovered(spliced, spec, damaged, ids, [2, 24]);
    expect(r.recovered).toBeLessThan(0.99);
    expect(r.spliced).toBeGreaterThan(r.clean);
  });
});
