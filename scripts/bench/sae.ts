/**
 * SAE training-step throughput: the step training runs on for --device
 * (models/sae/stepper.ts createTrainingStepper: the ONNX step on the CPU, the
 * GPU-resident WGSL step for webgpu) beside the PyTorch reference (../shared/bench/
 * torch_sae_bench.py, Debian's python3-torch) on the same machine in the same
 * run, with the same setup: W_enc ~ N(0, 0.01²), W_dec = W_encᵀ, zero biases,
 * Adam lr 4e-4, L1 coefficient 5 (ReLU), k 32 (TopK), 8 random batches
 * cycled, 3 warm-up steps, then timed steps.
 *
 *   npm run bench -- sae [--d-in 768] [--d-sae 4096] [--batch 1024] [--steps 10] [--arch relu,topk] [--device cpu|webgpu]
 *
 * On a GPU host (as shared/gpu/README.md packs it): `. .gpu/env.sh; npm run
 * bench -- sae --device webgpu --d-sae 24576 --batch 4096`, to read against
 * PyTorch's fp32 figures for that shape. Without a GPU, webgpu runs on
 * SwiftShader: a smoke check, its speed means nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createTrainingStepper } from '../../models/sae/stepper.ts';
import type { SaeArchitecture } from '../../models/sae/graph.ts';
import type { Device } from '../../models/runtime.ts';

const TORCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/bench/torch_sae_bench.py');

function gaussian(n: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 4294967296;
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())) * std;
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'd-in': { type: 'string', default: '768' },
      'd-sae': { type: 'string', default: '4096' },
      batch: { type: 'string', default: '1024' },
      steps: { type: 'string', default: '10' },
      arch: { type: 'string', default: 'relu,topk' },
      device: { type: 'string', default: 'cpu' },
    },
  });
  const dIn = Number(values['d-in']);
  const dSae = Number(values['d-sae']);
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const threads = os.availableParallelism();
  const xs = Array.from({ length: 8 }, (_, i) => gaussian(batch * dIn, 1, 1000 + i));
  const ours: Record<string, number> = {};
  for (const arch of values.arch!.split(',') as SaeArchitecture[]) {
    const wEnc = gaussian(dIn * dSae, 0.01, 7);
    const wDec = new Float32Array(dSae * dIn);
    for (let i = 0; i < dIn; i++) for (let s = 0; s < dSae; s++) wDec[s * dIn + i] = wEnc[i * dSae + s]!;
    const stepper = await createTrainingStepper({ architecture: arch, dIn, dSae, k: 32, device: values.device as Device }, { W_enc: wEnc, b_enc: new Float32Array(dSae), W_dec: wDec, b_dec: new Float32Array(dIn) });
    const hp = { lr: 4e-4, l1: 5 };
    for (let i = 0; i < 3; i++) await stepper.step(xs[i % 8]!, batch, hp);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await stepper.step(xs[i % 8]!, batch, hp);
    const dt = (performance.now() - t0) / 1000;
    ours[arch] = Math.round((batch * steps) / dt);
    console.log(JSON.stringify({ bench: 'sae', case: `sae_${arch}`, impl: 'loupe', device: stepper.placement.provider, engine: stepper.placement.engine, adapter: stepper.placement.adapter, fallback_adapter: stepper.placement.fallbackAdapter, fallback_reason: stepper.placement.fallbackReason, dtype: 'float32', d_in: dIn, d_sae: dSae, batch, steps, threads, tokens_per_s: ours[arch], ms_per_step: Math.round((dt / steps) * 1e4) / 10 }));
    await stepper.release();
  }
  if (values.device !== 'cpu') return;
  if (!existsSync(TORCH)) {
    console.log(JSON.stringify({ bench: 'sae', impl: 'torch', error: `${TORCH} not found` }));
    return;
  }
  const r = spawnSync('/usr/bin/python3', [TORCH, 'cpu', String(threads), String(dIn), String(dSae), String(batch), String(steps)], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) {
    console.log(JSON.stringify({ bench: 'sae', impl: 'torch', error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop() }));
    return;
  }
  for (const line of r.stdout.trim().split('\n')) {
    const ref = JSON.parse(line) as { case?: string; tokens_per_s?: number; error?: string };
    const arch = ref.case?.replace('sae_', '') ?? '';
    if (!(arch in ours)) continue;
    console.log(JSON.stringify({ bench: 'sae', ...ref, impl: 'torch', loupe_over_torch: ref.tokens_per_s ? Math.round((ours[arch]! / ref.tokens_per_s) * 100) / 100 : null }));
  }
}
