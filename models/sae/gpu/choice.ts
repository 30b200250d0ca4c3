/**
 * Whether work runs on Loupe's WGSL kernels (this folder) or on ONNX
 * Runtime: one rule for SAE training, discovery and the analyses.
 * `webgpu` always does (and fails, saying why, when there is no adapter);
 * `cpu` never does; `auto` does on a real GPU only: not without a GPU
 * device node, not without an adapter, and not on a software fallback
 * adapter (SwiftShader: right, but far slower than the CPU path).
 */
import { gpuDevicePresent, type Device } from '../../runtime.ts';

export type WgslChoice = { wgsl: true } | { wgsl: false; /** why not, when a GPU was asked for or `auto` found none */ reason: string | null };

export async function chooseWgsl(device: Device): Promise<WgslChoice> {
  if (device === 'cpu') return { wgsl: false, reason: null };
  if (device === 'webgpu') return { wgsl: true };
  if (!gpuDevicePresent()) return { wgsl: false, reason: 'no GPU device on this host' };
  try {
    const { requestGpu } = await import('./device.ts'); // loads Dawn only when a GPU may be there
    const { adapter } = await requestGpu();
    if (adapter.isFallbackAdapter) return { wgsl: false, reason: `the WebGPU adapter (${adapter.description || adapter.vendor}) is a software fallback` };
    return { wgsl: true };
  } catch (err) {
    return { wgsl: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** The device LOUPE_DEVICE asks for when the caller does not say (default auto). */
export function requestedDevice(device?: Device): Device {
  return device ?? ((process.env.LOUPE_DEVICE as Device | undefined) || 'auto');
}
