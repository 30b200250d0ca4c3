/**
 * The WebGPU device of the WGSL kernels: Dawn for Node (the `webgpu`
 * package) over Vulkan, requested once per process and Dawn adapter choice.
 * Dawn finds a GPU through the Vulkan ICD that VK_DRIVER_FILES names (the
 * NVIDIA one on a GPU host, SwiftShader's to test without one:
 * shared/gpu/README.md). The device asks for the adapter's own limits on
 * buffer sizes, since an SAE's [batch, d_sae] activations pass WebGPU's
 * default 128 MiB binding limit at real sizes.
 */
import { create, globals } from 'webgpu';

/** WebGPU's flag constants (GPUBufferUsage, GPUMapMode), which `webgpu` exports without putting them on globalThis. */
export const gpuFlags = globals as { GPUBufferUsage: Record<'MAP_READ' | 'COPY_SRC' | 'COPY_DST' | 'STORAGE' | 'UNIFORM', number>; GPUMapMode: Record<'READ', number> };

/** What Dawn says of the adapter it chose. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  /** e.g. `nvidia-h100-80gb-hbm3`, `swiftshader-device-subzero-` */
  device: string;
  description: string;
  /** a software adapter (SwiftShader): its results count, its speed does not */
  isFallbackAdapter: boolean;
}

export interface Gpu {
  device: GPUDevice;
  adapter: GpuAdapterInfo;
}

export interface GpuRequest {
  /** the adapter to use by name, as Dawn's `adapter=` option takes it; default: Dawn's choice */
  adapter?: string;
}

/**
 * The error message when no WebGPU adapter can be had, with what to do about it.
 * @example noAdapterMessage('requestAdapter() returned null')
 */
export function noAdapterMessage(detail: string): string {
  return (
    `no WebGPU adapter: ${detail}. Dawn reaches a GPU through the Vulkan driver that VK_DRIVER_FILES names: ` +
    `on a GPU host start with \`. .gpu/env.sh\` (shared/gpu/pack-for-gpu-host.sh); without a GPU, ` +
    `XDG_RUNTIME_DIR=/tmp VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json gives SwiftShader (slow, for tests)`
  );
}

/** The first line of an error's message (Dawn appends lists and source locations). */
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}

async function open(o: GpuRequest): Promise<Gpu> {
  // The instance must stay referenced while its devices are in use: the cache below holds it.
  // disable_workgroup_init: every kernel (kernels.ts) writes its workgroup memory before reading
  // it, so Dawn's zero-initialisation is wasted work, and on SwiftShader it made compiling a
  // matmul take ~9 s instead of ~0.2 s.
  const instance = create([...(o.adapter ? [`adapter=${o.adapter}`] : []), 'enable-dawn-features=disable_workgroup_init']);
  let adapter: GPUAdapter | null;
  try {
    adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    // Dawn throws when the named adapter is not among those it found
    throw new Error(noAdapterMessage(o.adapter ? `Dawn has no adapter named "${o.adapter}" (${firstLine(err)})` : firstLine(err)), { cause: err });
  }
  if (!adapter) throw new Error(noAdapterMessage('requestAdapter() returned null, Dawn found no usable Vulkan device'));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const gpu: Gpu & { instance: GPU } = {
    instance,
    device,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, isFallbackAdapter: info.isFallbackAdapter === true },
  };
  return gpu;
}

const opened = new Map<string, Promise<Gpu>>();

/**
 * The process's WebGPU device for `o` (one per adapter choice, made on the
 * first call). Throws an error that says so when there is no adapter. A lost
 * device is dropped, so that the next call makes a new one.
 */
export function requestGpu(o: GpuRequest = {}): Promise<Gpu> {
  const key = o.adapter ?? '';
  let p = opened.get(key);
  if (!p) {
    p = open(o);
    opened.set(key, p);
    p.then(
      (gpu) => void gpu.device.lost.then(() => opened.get(key) === p && opened.delete(key)),
      () => opened.get(key) === p && opened.delete(key),
    );
  }
  return p;
}

/** Destroys the process's devices (their buffers with them): for the end of a process or a test file. */
export async function releaseGpus(): Promise<void> {
  const all = [...opened.values()];
  opened.clear();
  for (const p of all) {
    const gpu = await p.catch(() => null);
    gpu?.device.destroy();
  }
}
