/**
 * The device contracts against what they describe: a placement as
 * models/runtime.ts makes it, an adapter as the probe lists it, and the
 * payloads that carry them.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Placement } from '../runtime.ts';
import { listAdapters } from '../system/adapters.ts';
import { adapterProbeSchema, jobDeviceSchema, placementSchema, type AdapterInfo, type PlacementInfo } from './device.ts';
import { extractionProgressSchema } from './topics.ts';

describe('device contracts', () => {
  it('describe the core\'s placement and adapters, field for field', () => {
    expectTypeOf<PlacementInfo>().toEqualTypeOf<Placement>();
    expectTypeOf<Awaited<ReturnType<typeof listAdapters>>>().toEqualTypeOf<AdapterInfo[]>();
  });

  it('accept a job\'s placements by part and refuse a malformed one', () => {
    const gpu: Placement = { requested: 'auto', provider: 'webgpu', engine: 'wgsl', adapter: 'NVIDIA H200', fallbackAdapter: false, fallbackReason: null };
    const cpu: Placement = { requested: 'webgpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: 'out of memory on webgpu at 1 row × 512 tokens' };
    expect(jobDeviceSchema.parse({ sae: gpu, model: cpu })).toEqual({ sae: gpu, model: cpu });
    expect(placementSchema.safeParse({ ...gpu, provider: 'cuda' }).success).toBe(false);
    expect(placementSchema.safeParse({ ...gpu, fallbackReason: undefined }).success).toBe(false);
    expect(adapterProbeSchema.safeParse({ adapters: [{ name: 'x', vendor: 'v', architecture: 'a' }], note: null }).success).toBe(false);
    // progress without a device (before the session exists, or written by an older worker) still parses
    const progress = { id: 'e', status: 'running', phase: 'loading', tokensDone: 0, tokensTotal: 1, windowsDone: 0, windowsTotal: 1, rows: 0, shards: 0, tokensPerSecond: 0, etaSeconds: null, fallbacks: [], error: null, ts: 1 };
    expect(extractionProgressSchema.safeParse(progress).success).toBe(true);
    expect(extractionProgressSchema.parse({ ...progress, device: { model: cpu } }).device).toEqual({ model: cpu });
  });
});
