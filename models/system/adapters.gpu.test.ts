/**
 * The device is visible, on WebGPU (the GPU lane: SwiftShader where there is
 * no GPU): Dawn's adapters as a worker's probe lists them, and the placement
 * an ONNX Runtime session, a loaded model and the GPU-resident SAE stepper
 * report when they run there.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../model.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/proto.ts';
import { createSession, type Placement } from '../runtime.ts';
import { releaseGpus } from '../sae/gpu/device.ts';
import { createTrainingStepper } from '../sae/stepper.ts';
import { listAdapters, probeAdapters } from './adapters.ts';

const DEMO = path.resolve(import.meta.dirname, '../../demo/models/tiny-gpt2-debian-6l');
/** the lane runs on SwiftShader unless the host has a GPU (vitest.config.ts) */
const SWIFTSHADER = process.env.VK_DRIVER_FILES?.includes('swiftshader') ?? false;

afterAll(() => releaseGpus());

describe('on WebGPU', () => {
  it('lists the adapters Dawn offers, each once: SwiftShader as a software adapter', async () => {
    const adapters = await listAdapters();
    expect(adapters.length).toBeGreaterThan(0);
    expect(new Set(adapters.map((a) => JSON.stringify(a))).size).toBe(adapters.length);
    if (SWIFTSHADER) expect(adapters).toEqual([{ name: expect.stringMatching(/SwiftShader/), vendor: 'google', architecture: 'swiftshader', fallback: true }]);
    expect(await probeAdapters('webgpu')).toEqual({ adapters, note: null });
  });

  it('an ONNX Runtime session and a loaded model say they run on webgpu', async () => {
    const g = new Graph('tiny');
    g.output(g.hook(g.op('Relu', [g.input('x', DataType.FLOAT, ['n'])]), 'y'));
    const s = await createSession(g.toModel(), { device: 'webgpu' });
    expect(s.placement).toEqual({ requested: 'webgpu', provider: 'webgpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null });
    await s.release();

    const seen: Placement[] = [];
    const m = await loadModel(DEMO, { device: 'webgpu', onPlacement: (p) => seen.push(p) });
    try {
      const end = await m.forwardChunks(BigInt64Array.from({ length: 16 }, (_, i) => BigInt(30 + i)), [2, 8], ['blocks.0.hook_resid_post'], { rows: 2, onChunk: () => undefined });
      expect(end.placement).toMatchObject({ requested: 'webgpu', provider: 'webgpu', fallbackReason: null });
      expect(seen).toEqual([end.placement]);
    } finally {
      await m.close();
    }
  });

  it('the GPU-resident SAE stepper says it runs on webgpu, on which adapter', async () => {
    const D = 8;
    const S = 16;
    const s = await createTrainingStepper({ architecture: 'relu', dIn: D, dSae: S, device: 'webgpu' }, { W_enc: new Float32Array(D * S), b_enc: new Float32Array(S), W_dec: new Float32Array(S * D), b_dec: new Float32Array(D) });
    try {
      expect(s.placement).toMatchObject({ requested: 'webgpu', provider: 'webgpu', engine: 'wgsl', fallbackReason: null, fallbackAdapter: SWIFTSHADER });
      const listed = (await listAdapters()).map((a) => a.name);
      expect(listed).toContain(s.placement.adapter);
    } finally {
      await s.release();
    }
  });
});
