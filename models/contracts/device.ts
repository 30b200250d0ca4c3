/**
 * Where work ran, as jobs record it and the API shows it: a part's placement
 * (models/runtime.ts `Placement`), a job's placements by part, and the WebGPU
 * adapters a worker found at start.
 */
import { z } from 'zod';

/** Where one part of a job ran (models/runtime.ts `Placement`). */
export const placementSchema = z.object({
  /** the device asked for (LOUPE_DEVICE or the caller's) */
  requested: z.enum(['auto', 'cpu', 'webgpu']),
  /** where it ran */
  provider: z.enum(['cpu', 'webgpu']),
  /** ONNX Runtime's session, or Loupe's WGSL kernels through Dawn */
  engine: z.enum(['onnxruntime', 'wgsl']),
  /** the WebGPU adapter's description, when known */
  adapter: z.string().nullable(),
  /** a software adapter (SwiftShader): results count, speed does not */
  fallbackAdapter: z.boolean(),
  /** why the GPU was not used, when one was asked for (or `auto` found none) */
  fallbackReason: z.string().nullable(),
});
export type PlacementInfo = z.infer<typeof placementSchema>;

/**
 * A job's placements by part: an extraction `{model}`, a training `{sae,
 * model}` (model: the CE-loss evaluator's, once it loads), a discovery
 * `{sae, model}` (model only over text), an analysis `{sae}` or `{model}`.
 */
export const jobDeviceSchema = z.record(z.string(), placementSchema);
export type JobDevice = z.infer<typeof jobDeviceSchema>;

/** A WebGPU adapter a worker found (models/sae/gpu/device.ts `listAdapters`). */
export const adapterSchema = z.object({
  /** Dawn's description of it, or its device name when that is empty */
  name: z.string(),
  vendor: z.string(),
  architecture: z.string(),
  /** a software adapter (SwiftShader) */
  fallback: z.boolean(),
});
export type AdapterInfo = z.infer<typeof adapterSchema>;

/** What a worker's probe of WebGPU adapters found: the adapters, and why the list is empty when it is. */
export const adapterProbeSchema = z.object({
  adapters: z.array(adapterSchema),
  /** why no adapter is listed (LOUPE_DEVICE=cpu, no GPU device, the probe failed or timed out); null when some are */
  note: z.string().nullable(),
});
export type AdapterProbe = z.infer<typeof adapterProbeSchema>;
