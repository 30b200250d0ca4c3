/**
 * The hand-derived backward pass of every SAE architecture against central
 * finite differences of an independent float64 forward pass in JavaScript,
 * and the Adam update against torch.optim.Adam's formula.
 */
import { describe, expect, it } from 'vitest';
import { createSession, ort } from '../runtime.ts';
import { buildSaeStep, paramShapes, SAE_PARAMS, type SaeArchitecture, type SaeParam } from './graph.ts';

const D_IN = 6;
const D_SAE = 10;
const B = 5;
const K = 3;
const L1 = 0.3;

function rand(n: number, seed: number, scale = 1): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

type Params = Record<SaeParam, Float64Array>;

/** The loss in float64, written directly from the definition. */
function lossOf(arch: SaeArchitecture, x: Float64Array, p: Params): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    const pre = new Float64Array(D_SAE);
    for (let s = 0; s < D_SAE; s++) {
      let a = p.b_enc[s]!;
      for (let i = 0; i < D_IN; i++) a += (x[b * D_IN + i]! - p.b_dec[i]!) * p.W_enc[i * D_SAE + s]!;
      pre[s] = a;
    }
    const f = new Float64Array(D_SAE);
    if (arch === 'relu') for (let s = 0; s < D_SAE; s++) f[s] = Math.max(0, pre[s]!);
    else {
      const order = [...pre.keys()].sort((a, c) => pre[c]! - pre[a]!).slice(0, K);
      for (const s of order) f[s] = Math.max(0, pre[s]!);
    }
    for (let i = 0; i < D_IN; i++) {
      let xh = p.b_dec[i]!;
      for (let s = 0; s < D_SAE; s++) xh += f[s]! * p.W_dec[s * D_IN + i]!;
      total += (xh - x[b * D_IN + i]!) ** 2;
    }
    if (arch === 'relu') {
      for (let s = 0; s < D_SAE; s++) {
        let n = 0;
        for (let i = 0; i < D_IN; i++) n += p.W_dec[s * D_IN + i]! ** 2;
        total += L1 * f[s]! * Math.sqrt(n);
      }
    }
  }
  return total / B;
}

function setup(): { x: Float64Array; p: Params } {
  const shapes = paramShapes(D_IN, D_SAE);
  const p = Object.fromEntries(SAE_PARAMS.map((n, i) => [n, rand(shapes[n].reduce((a, b) => a * b, 1), 11 + i * 7, n.startsWith('b') ? 0.2 : 0.5)])) as Params;
  return { x: rand(B * D_IN, 3), p };
}

function feeds(x: Float64Array, p: Params, arch: SaeArchitecture): Record<string, ort.Tensor> {
  const shapes = paramShapes(D_IN, D_SAE);
  const f: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', Float32Array.from(x), [B, D_IN]) };
  for (const n of SAE_PARAMS) f[n] = new ort.Tensor('float32', Float32Array.from(p[n]), shapes[n]);
  if (arch === 'relu') f.l1 = new ort.Tensor('float32', Float32Array.of(L1), []);
  return f;
}

describe.each(['relu', 'topk'] as const)('%s SAE step', (arch) => {
  it('gradients equal central finite differences of the float64 loss', async () => {
    const { x, p } = setup();
    const graph = buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, mode: 'grad' });
    const session = await createSession(graph.toModel(), { device: 'cpu' });
    const out = await session.run(feeds(x, p, arch));
    expect(Number((out.loss!.data as Float32Array)[0])).toBeCloseTo(lossOf(arch, x, p), 4);
    const h = 1e-6;
    let checked = 0;
    for (const n of SAE_PARAMS) {
      const grad = out[`grad_${n}`]!.data as Float32Array;
      expect(grad.length).toBe(p[n].length);
      for (let i = 0; i < p[n].length; i++) {
        const save = p[n][i]!;
        p[n][i] = save + h;
        const up = lossOf(arch, x, p);
        p[n][i] = save - h;
        const down = lossOf(arch, x, p);
        p[n][i] = save;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grad[i]! - fd), `${n}[${i}]: ${grad[i]} vs ${fd}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(fd)));
        checked++;
      }
    }
    expect(checked).toBe(D_IN * D_SAE * 2 + D_SAE + D_IN);
    await session.release();
  });

  it('the train step applies Adam as torch.optim.Adam does', async () => {
    const { x, p } = setup();
    const gradSession = await createSession(buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, mode: 'grad' }).toModel(), { device: 'cpu' });
    const grads = await gradSession.run(feeds(x, p, arch));
    const train = await createSession(buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, mode: 'train' }).toModel(), { device: 'cpu' });
    const shapes = paramShapes(D_IN, D_SAE);
    const f = feeds(x, p, arch);
    const t = 3;
    const lr = 0.01;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const m0 = Object.fromEntries(SAE_PARAMS.map((n, i) => [n, rand(p[n].length, 100 + i, 0.01)]));
    const v0 = Object.fromEntries(SAE_PARAMS.map((n, i) => [n, rand(p[n].length, 200 + i, 0.01).map(Math.abs)]));
    for (const n of SAE_PARAMS) {
      f[`m_${n}`] = new ort.Tensor('float32', Float32Array.from(m0[n]!), shapes[n]);
      f[`v_${n}`] = new ort.Tensor('float32', Float32Array.from(v0[n]!), shapes[n]);
    }
    f.step_size = new ort.Tensor('float32', Float32Array.of(lr / (1 - b1 ** t)), []);
    f.inv_sqrt_bc2 = new ort.Tensor('float32', Float32Array.of(1 / Math.sqrt(1 - b2 ** t)), []);
    const out = await train.run(f);
    for (const n of SAE_PARAMS) {
      const g = grads[`grad_${n}`]!.data as Float32Array;
      const got = out[`new_${n}`]!.data as Float32Array;
      for (let i = 0; i < p[n].length; i++) {
        const m = b1 * m0[n]![i]! + (1 - b1) * g[i]!;
        const v = b2 * v0[n]![i]! + (1 - b2) * g[i]! ** 2;
        const want = p[n][i]! - (lr / (1 - b1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps));
        expect(got[i]).toBeCloseTo(want, 5);
      }
    }
    await gradSession.release();
    await train.release();
  });
});
