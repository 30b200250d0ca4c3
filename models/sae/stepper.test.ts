/**
 * Where the training steps run when `auto` finds no GPU: the ONNX graph on
 * the CPU, its placement naming the reason createTrainingStepper logs. The
 * GPU-resident stepper's placement is checked in the GPU lane
 * (gpu/stepper.gpu.test.ts, ../system/adapters.gpu.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { gpuDevicePresent } from '../runtime.ts';
import { createTrainingStepper } from './stepper.ts';

const D = 8;
const S = 16;
const init = () => ({ W_enc: new Float32Array(D * S).fill(0.01), b_enc: new Float32Array(S), W_dec: new Float32Array(S * D).fill(0.01), b_dec: new Float32Array(D) });

describe('createTrainingStepper placement', () => {
  it('cpu: the ONNX graph on the CPU, no fallback', async () => {
    const s = await createTrainingStepper({ architecture: 'relu', dIn: D, dSae: S, device: 'cpu' }, init());
    expect(s.placement).toEqual({ requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null });
    await s.release();
  });

  it.skipIf(gpuDevicePresent())('auto without a GPU: the ONNX graph on the CPU, with the reason it logged', async () => {
    const s = await createTrainingStepper({ architecture: 'topk', k: 4, dIn: D, dSae: S, device: 'auto' }, init());
    expect(s.placement).toMatchObject({ requested: 'auto', provider: 'cpu', engine: 'onnxruntime', fallbackReason: 'no GPU device on this host' });
    // and it steps
    const m = await s.step(new Float32Array(4 * D).fill(1), 4, { lr: 1e-3 });
    expect(Number.isFinite(m.loss)).toBe(true);
    await s.release();
  });
});
