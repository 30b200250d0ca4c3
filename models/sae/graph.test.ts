/**
 * The hand-derived backward pass of every SAE architecture against central
 * finite differences of an independent float64 forward pass in JavaScript,
 * and the Adam update against torch.optim.Adam's formula.
 */
import { describe, expect, it } from 'vitest';
import { createSession, ort } from '../runtime.ts';
import { adamScalars, buildSaeStep, paramShapes, saeParams, toAdamU, type SaeArchitecture, type SaeParam } from './graph.ts';

const D_IN = 6;
const D_SAE = 10;
const B = 5;
const K = 3;
const L1 = 0.3;
const BANDWIDTH = 0.4; // wide, so that the threshold's pseudo-derivative is non-zero somewhere in this small batch

function rand(n: number, seed: number, scale = 1): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

type Params = Partial<Record<SaeParam, Float64Array>> & Record<'W_enc' | 'b_enc' | 'W_dec' | 'b_dec', Float64Array>;

/** pre-activations [B][D_SAE] in float64 */
function preOf(x: Float64Array, p: Params): Float64Array[] {
  return Array.from({ length: B }, (_, b) => {
    const pre = new Float64Array(D_SAE);
    for (let s = 0; s < D_SAE; s++) {
      let a = p.b_enc[s]!;
      for (let i = 0; i < D_IN; i++) a += (x[b * D_IN + i]! - p.b_dec[i]!) * p.W_enc[i * D_SAE + s]!;
      pre[s] = a;
    }
    return pre;
  });
}

/** The loss in float64, written directly from the definition. */
function lossOf(arch: SaeArchitecture, x: Float64Array, p: Params): number {
  const pres = preOf(x, p);
  const fs = pres.map(() => new Float64Array(D_SAE));
  if (arch === 'batchtopk') {
    const all = pres.flatMap((pre, b) => Array.from(pre, (v, s) => ({ v, b, s }))).sort((a, c) => c.v - a.v).slice(0, K * B);
    for (const { v, b, s } of all) fs[b]![s] = Math.max(0, v);
  }
  let total = 0;
  for (let b = 0; b < B; b++) {
    const pre = pres[b]!;
    const f = fs[b]!;
    if (arch === 'relu') for (let s = 0; s < D_SAE; s++) f[s] = Math.max(0, pre[s]!);
    else if (arch === 'jumprelu') for (let s = 0; s < D_SAE; s++) f[s] = pre[s]! > Math.exp(p.log_threshold![s]!) ? pre[s]! : 0;
    else if (arch === 'topk') {
      const order = [...pre.keys()].sort((a, c) => pre[c]! - pre[a]!).slice(0, K);
      for (const s of order) f[s] = Math.max(0, pre[s]!);
    }
    for (let i = 0; i < D_IN; i++) {
      let xh = p.b_dec[i]!;
      for (let s = 0; s < D_SAE; s++) xh += f[s]! * p.W_dec[s * D_IN + i]!;
      total += (xh - x[b * D_IN + i]!) ** 2;
    }
    for (let s = 0; s < D_SAE; s++) {
      if (arch === 'relu') {
        let n = 0;
        for (let i = 0; i < D_IN; i++) n += p.W_dec[s * D_IN + i]! ** 2;
        total += L1 * f[s]! * Math.sqrt(n);
      } else if (arch === 'jumprelu' && pre[s]! > Math.exp(p.log_threshold![s]!)) total += L1;
    }
  }
  return total / B;
}

function setup(arch: SaeArchitecture): { x: Float64Array; p: Params } {
  const shapes = paramShapes(D_IN, D_SAE);
  const p = Object.fromEntries(saeParams(arch).map((n, i) => [n, rand(shapes[n].reduce((a, b) => a * b, 1), 11 + i * 7, n.startsWith('b') ? 0.2 : 0.5)])) as Params;
  if (p.log_threshold) p.log_threshold = p.log_threshold.map((v) => Math.log(0.3 + 0.2 * v));
  return { x: rand(B * D_IN, 3), p };
}

function feeds(x: Float64Array, p: Params, arch: SaeArchitecture): Record<string, ort.Tensor> {
  const shapes = paramShapes(D_IN, D_SAE);
  const f: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', Float32Array.from(x), [B, D_IN]) };
  for (const n of saeParams(arch)) f[n] = new ort.Tensor('float32', Float32Array.from(p[n]!), shapes[n]);
  if (arch === 'relu' || arch === 'jumprelu') f.l1 = new ort.Tensor('float32', Float32Array.of(L1), []);
  return f;
}

describe.each(['relu', 'topk', 'batchtopk', 'jumprelu'] as const)('%s SAE step', (arch) => {
  it('gradients equal central finite differences of the float64 loss', async () => {
    const { x, p } = setup(arch);
    const graph = buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, bandwidth: BANDWIDTH, mode: 'grad' });
    const session = await createSession(graph.toModel(), { device: 'cpu' });
    const out = await session.run(feeds(x, p, arch));
    expect(Number((out.loss!.data as Float32Array)[0])).toBeCloseTo(lossOf(arch, x, p), 4);
    const h = 1e-6;
    let checked = 0;
    // the threshold is a step: its pseudo-derivative is checked on its own below
    for (const n of saeParams(arch).filter((q) => q !== 'log_threshold')) {
      const grad = out[`grad_${n}`]!.data as Float32Array;
      const v = p[n]!;
      expect(grad.length).toBe(v.length);
      for (let i = 0; i < v.length; i++) {
        const save = v[i]!;
        v[i] = save + h;
        const up = lossOf(arch, x, p);
        v[i] = save - h;
        const down = lossOf(arch, x, p);
        v[i] = save;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grad[i]! - fd), `${n}[${i}]: ${grad[i]} vs ${fd}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(fd)));
        checked++;
      }
    }
    expect(checked).toBe(D_IN * D_SAE * 2 + D_SAE + D_IN);
    await session.release();
  });

  it('the train step applies Adam as torch.optim.Adam does', async () => {
    const { x, p } = setup(arch);
    const gradSession = await createSession(buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, bandwidth: BANDWIDTH, mode: 'grad' }).toModel(), { device: 'cpu' });
    const grads = await gradSession.run(feeds(x, p, arch));
    const train = await createSession(buildSaeStep({ architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, bandwidth: BANDWIDTH, mode: 'train' }).toModel(), { device: 'cpu' });
    const shapes = paramShapes(D_IN, D_SAE);
    const f = feeds(x, p, arch);
    const t = 3;
    const lr = 0.01;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const names = saeParams(arch);
    const m0 = Object.fromEntries(names.map((n, i) => [n, rand(p[n]!.length, 100 + i, 0.01)]));
    const v0 = Object.fromEntries(names.map((n, i) => [n, rand(p[n]!.length, 200 + i, 0.01).map(Math.abs)]));
    for (const n of names) {
      f[`m_${n}`] = new ort.Tensor('float32', Float32Array.from(m0[n]!), shapes[n]);
      f[`u_${n}`] = new ort.Tensor('float32', toAdamU(Float32Array.from(v0[n]!), b1, b2), shapes[n]);
    }
    const scalars = adamScalars(t, lr, b1, b2, eps);
    f.adam_step = new ort.Tensor('float32', Float32Array.of(scalars.adam_step), []);
    f.adam_eps = new ort.Tensor('float32', Float32Array.of(scalars.adam_eps), []);
    const out = await train.run(f);
    for (const n of names) {
      const g = grads[`grad_${n}`]!.data as Float32Array;
      const got = out[`new_${n}`]!.data as Float32Array;
      const gotM = out[`new_m_${n}`]!.data as Float32Array;
      const gotU = out[`new_u_${n}`]!.data as Float32Array;
      for (let i = 0; i < p[n]!.length; i++) {
        const m = b1 * m0[n]![i]! + (1 - b1) * g[i]!;
        const v = b2 * v0[n]![i]! + (1 - b2) * g[i]! ** 2;
        const want = p[n]![i]! - (lr / (1 - b1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps));
        expect(got[i]).toBeCloseTo(want, 5);
        expect(Math.abs(gotM[i]! - m)).toBeLessThan(1e-6 * Math.max(1, Math.abs(m)));
        const gotV = (gotU[i]! * (1 - b2)) / (1 - b1) ** 2; // u = v (1-β1)² / (1-β2)
        expect(Math.abs(gotV - v)).toBeLessThan(1e-5 * Math.max(1e-3, v));
      }
    }
    await gradSession.release();
    await train.release();
  });
});

describe('JumpReLU threshold', () => {
  it("has the straight-through pseudo-derivative: θ · Σ_b [g_f · -(θ/ε) K + (λ/B) · -(1/ε) K], K = 1{|pre - θ| < ε/2}", async () => {
    const { x, p } = setup('jumprelu');
    const session = await createSession(buildSaeStep({ architecture: 'jumprelu', dIn: D_IN, dSae: D_SAE, bandwidth: BANDWIDTH, mode: 'grad' }).toModel(), { device: 'cpu' });
    const got = (await session.run(feeds(x, p, 'jumprelu'))).grad_log_threshold!.data as Float32Array;
    const pres = preOf(x, p);
    let nonZero = 0;
    for (let s = 0; s < D_SAE; s++) {
      const theta = Math.exp(p.log_threshold![s]!);
      let g = 0;
      for (let b = 0; b < B; b++) {
        const pre = pres[b]!;
        // g_f = 2 (x̂ - x) / B · W_decᵀ
        let gf = 0;
        for (let i = 0; i < D_IN; i++) {
          let xh = p.b_dec[i]!;
          for (let t = 0; t < D_SAE; t++) xh += (pre[t]! > Math.exp(p.log_threshold![t]!) ? pre[t]! : 0) * p.W_dec[t * D_IN + i]!;
          gf += ((2 * (xh - x[b * D_IN + i]!)) / B) * p.W_dec[s * D_IN + i]!;
        }
        const k = Math.abs(pre[s]! - theta) < BANDWIDTH / 2 ? 1 : 0;
        g += gf * (-(theta / BANDWIDTH) * k) + (L1 / B) * (-(1 / BANDWIDTH) * k);
      }
      const want = g * theta;
      if (want !== 0) nonZero++;
      expect(got[s]).toBeCloseTo(want, 4);
    }
    expect(nonZero).toBeGreaterThan(2);
    await session.release();
  });
});

describe('sparse TopK', () => {
  it('gives the dense formulation’s loss and gradients', async () => {
    const [dIn, dSae, b, k] = [32, 256, 64, 8];
    const shapes = paramShapes(dIn, dSae);
    const feedsOf = (): Record<string, ort.Tensor> => ({
      x: new ort.Tensor('float32', Float32Array.from(rand(b * dIn, 5)), [b, dIn]),
      W_enc: new ort.Tensor('float32', Float32Array.from(rand(dIn * dSae, 6, 0.3)), shapes.W_enc),
      b_enc: new ort.Tensor('float32', Float32Array.from(rand(dSae, 7, 0.1)), shapes.b_enc),
      W_dec: new ort.Tensor('float32', Float32Array.from(rand(dSae * dIn, 8, 0.3)), shapes.W_dec),
      b_dec: new ort.Tensor('float32', Float32Array.from(rand(dIn, 9, 0.1)), shapes.b_dec),
    });
    const run = async (sparse: boolean) => {
      const s = await createSession(buildSaeStep({ architecture: 'topk', dIn, dSae, k, mode: 'grad', sparse }).toModel(), { device: 'cpu' });
      const out = await s.run(feedsOf());
      await s.release();
      return out;
    };
    const dense = await run(false);
    const sparse = await run(true);
    for (const name of ['loss', 'l0', 'sse', 'fired', 'grad_W_enc', 'grad_b_enc', 'grad_W_dec', 'grad_b_dec']) {
      const a = dense[name]!.data as Float32Array;
      const c = sparse[name]!.data as Float32Array;
      expect(c.length, name).toBe(a.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - c[i]!) / Math.max(1, Math.abs(a[i]!)));
      expect(worst, name).toBeLessThan(1e-4);
    }
  });
});

describe('determinism', () => {
  it('two identical steps on several threads give identical outputs (sparse TopK included)', async () => {
    const [dIn, dSae, b] = [64, 1024, 512];
    const shapes = paramShapes(dIn, dSae);
    for (const arch of ['topk', 'relu'] as const) {
      const f: Record<string, ort.Tensor> = {
        x: new ort.Tensor('float32', Float32Array.from(rand(b * dIn, 5)), [b, dIn]),
        W_enc: new ort.Tensor('float32', Float32Array.from(rand(dIn * dSae, 6, 0.3)), shapes.W_enc),
        b_enc: new ort.Tensor('float32', Float32Array.from(rand(dSae, 7, 0.1)), shapes.b_enc),
        W_dec: new ort.Tensor('float32', Float32Array.from(rand(dSae * dIn, 8, 0.3)), shapes.W_dec),
        b_dec: new ort.Tensor('float32', Float32Array.from(rand(dIn, 9, 0.1)), shapes.b_dec),
      };
      if (arch === 'relu') f.l1 = new ort.Tensor('float32', Float32Array.of(0.1), []);
      const s = await createSession(buildSaeStep({ architecture: arch, dIn, dSae, k: 8, mode: 'grad' }).toModel(), { device: 'cpu', threads: 2 });
      const one = await s.run(f);
      const two = await s.run(f);
      for (const n of ['grad_W_enc', 'grad_W_dec', 'grad_b_enc', 'grad_b_dec', 'loss']) {
        expect(Buffer.from((two[n]!.data as Float32Array).buffer).equals(Buffer.from((one[n]!.data as Float32Array).buffer)), `${arch} ${n}`).toBe(true);
      }
      await s.release();
    }
  });
});
