/**
 * A worker's probe of WebGPU adapters without a GPU: not probed under
 * LOUPE_DEVICE=cpu, nor on a host with no GPU device and no VK_DRIVER_FILES;
 * a probe that hangs or fails is reported, never thrown. Dawn's own answer
 * (SwiftShader) is checked in the GPU lane, adapters.gpu.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { gpuDevicePresent } from '../runtime.ts';
import { probeAdapters } from './adapters.ts';

const swiftshader = { name: 'SwiftShader driver 5.0.0', vendor: 'google', architecture: 'swiftshader', fallback: true };

describe('probeAdapters', () => {
  it('does not probe under LOUPE_DEVICE=cpu', async () => {
    const asked: string[] = [];
    const list = async () => (asked.push('list'), [swiftshader]);
    expect(await probeAdapters('cpu', { list, env: { VK_DRIVER_FILES: '/x.json' } })).toEqual({ adapters: [], note: 'not probed: LOUPE_DEVICE=cpu' });
    expect(asked).toEqual([]);
  });

  it.skipIf(gpuDevicePresent())('does not probe on a host with no GPU device unless VK_DRIVER_FILES names a driver', async () => {
    const list = async () => [swiftshader];
    expect(await probeAdapters('auto', { list, env: {} })).toEqual({ adapters: [], note: expect.stringMatching(/no GPU device on this host.*VK_DRIVER_FILES is not set/) });
    expect(await probeAdapters('auto', { list, env: { VK_DRIVER_FILES: '/usr/lib/chromium/vk_swiftshader_icd.json' } })).toEqual({ adapters: [swiftshader], note: null });
  });

  it('reports a probe that hangs, fails or finds nothing, and never throws', async () => {
    const env = { VK_DRIVER_FILES: '/x.json' };
    const t0 = performance.now();
    expect(await probeAdapters('webgpu', { env, timeoutMs: 50, list: () => new Promise(() => undefined) })).toEqual({ adapters: [], note: 'the probe of WebGPU adapters did not answer within 50 ms' });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await probeAdapters('webgpu', { env, list: async () => Promise.reject(new Error('vkCreateInstance failed\nat somewhere.cpp')) })).toEqual({ adapters: [], note: 'the probe of WebGPU adapters failed: vkCreateInstance failed' });
    expect(await probeAdapters('webgpu', { env, list: async () => [] })).toEqual({ adapters: [], note: expect.stringMatching(/found no WebGPU adapter/) });
  });
});
