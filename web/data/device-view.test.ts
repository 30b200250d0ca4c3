import { describe, expect, it } from 'vitest';
import type { PlacementInfo } from '../../models/contracts/device.ts';
import { adaptersLine, deviceParts, placementLabel, placementTitle } from './device-view.ts';

const h200: PlacementInfo = { requested: 'auto', provider: 'webgpu', engine: 'wgsl', adapter: 'NVIDIA H200', fallbackAdapter: false, fallbackReason: null };
const swiftshader: PlacementInfo = { requested: 'webgpu', provider: 'webgpu', engine: 'onnxruntime', adapter: 'SwiftShader driver 5.0.0', fallbackAdapter: true, fallbackReason: null };
const noGpu: PlacementInfo = { requested: 'auto', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: 'WebGPU: no GPU device on this host' };
const cpu: PlacementInfo = { requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null };

describe('device view', () => {
  it('labels a placement by provider and adapter', () => {
    expect(placementLabel(h200)).toBe('WebGPU · NVIDIA H200');
    expect(placementLabel(swiftshader)).toBe('WebGPU · SwiftShader driver 5.0.0 (software)');
    expect(placementLabel({ ...swiftshader, adapter: null })).toBe('WebGPU');
    expect(placementLabel(noGpu)).toBe('CPU');
  });

  it('says in the tooltip what was asked for and why the GPU was not used', () => {
    expect(placementTitle(noGpu)).toBe('ONNX Runtime on the CPU, LOUPE_DEVICE=auto — WebGPU unavailable: WebGPU: no GPU device on this host');
    expect(placementTitle(h200)).toBe("Loupe's WGSL kernels on WebGPU (NVIDIA H200), LOUPE_DEVICE=auto");
    expect(placementTitle(swiftshader)).toMatch(/software adapter/);
    expect(placementTitle(cpu)).toBe('ONNX Runtime on the CPU, LOUPE_DEVICE=cpu');
  });

  it('lists a job\'s parts model first, marking the ones that fell back', () => {
    expect(deviceParts(null)).toEqual([]);
    expect(deviceParts({})).toEqual([]);
    const parts = deviceParts({ sae: h200, model: noGpu });
    expect(parts.map((p) => [p.part, p.label, p.degraded])).toEqual([
      ['model', 'CPU', true],
      ['SAE', 'WebGPU · NVIDIA H200', false],
    ]);
    expect(deviceParts({ model: cpu })[0]!.degraded).toBe(false);
    expect(deviceParts({ model: swiftshader })[0]!.degraded).toBe(true);
  });

  it('lists a worker\'s adapters, or why there are none', () => {
    expect(adaptersLine(null, null)).toBe('adapters not probed yet');
    expect(adaptersLine([], 'not probed: LOUPE_DEVICE=cpu')).toBe('not probed: LOUPE_DEVICE=cpu');
    expect(adaptersLine([{ name: 'NVIDIA H200', vendor: 'nvidia', architecture: 'hopper', fallback: false }, { name: 'SwiftShader', vendor: 'google', architecture: 'swiftshader', fallback: true }], null)).toBe('NVIDIA H200, SwiftShader (software)');
  });
});
