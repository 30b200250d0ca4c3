/**
 * Where sessions run: a CPU session's placement, `auto` on a host without a
 * GPU (the CPU, with the reason), and the refusals of devices that cannot be.
 * The GPU side is models/system/adapters.gpu.test.ts (the GPU lane).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from './onnx/graph.ts';
import { DataType } from './onnx/proto.ts';
import { createSession, gpuDevicePresent, ort, type Device } from './runtime.ts';

/** y = relu(x), x [n] */
function tinyModel(): Uint8Array {
  const g = new Graph('tiny');
  const x = g.input('x', DataType.FLOAT, ['n']);
  g.output(g.hook(g.op('Relu', [x]), 'y'));
  return g.toModel();
}

describe('createSession placement', () => {
  it('on the CPU: asked for and run there, no fallback', async () => {
    const s = await createSession(tinyModel(), { device: 'cpu' });
    expect(s.placement).toEqual({ requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null });
    expect(Array.from((await s.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) })).y!.data as Float32Array)).toEqual([0, 2]);
    await s.release();
  });

  it.skipIf(gpuDevicePresent())('auto on a host without a GPU: the CPU, with the reason', async () => {
    const s = await createSession(tinyModel(), { device: 'auto' });
    expect(s.placement).toMatchObject({ requested: 'auto', provider: 'cpu', engine: 'onnxruntime', fallbackReason: expect.stringMatching(/^WebGPU: no GPU device on this host/) });
    expect(s.fallbackReason).toBe(s.placement.fallbackReason);
    await s.release();
  });

  it('refuses cuda and unknown devices, saying what to use', async () => {
    await expect(createSession(tinyModel(), { device: 'cuda' as Device })).rejects.toThrow(/no CUDA provider; use LOUPE_DEVICE=webgpu/);
    await expect(createSession(tinyModel(), { device: 'tpu' as Device })).rejects.toThrow(/auto, cpu or webgpu/);
  });
});
