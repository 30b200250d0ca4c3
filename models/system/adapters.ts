/**
 * The WebGPU adapters this process can reach through Dawn (the `webgpu`
 * package), for a worker's heartbeat and `GET /api/health`. A worker probes
 * once at start, in the background and under a timeout, so that a hung
 * driver never holds it up; it does not probe when LOUPE_DEVICE=cpu, nor on
 * a host with no GPU device node and no VK_DRIVER_FILES (Dawn would find no
 * Vulkan driver there, and say so on stderr).
 */
import type { AdapterInfo, AdapterProbe } from '../contracts/device.ts';
import { gpuDevicePresent, type Device } from '../runtime.ts';

/** How long a probe may take before the worker reports it as timed out, ms. */
export const ADAPTER_PROBE_TIMEOUT_MS = 10_000;

/**
 * The distinct adapters Dawn offers: the high-performance one, the low-power
 * one and the software fallback (SwiftShader), each once. Empty when Dawn
 * finds none. Loads the `webgpu` package on first call.
 *
 * @example
 * await listAdapters(); // [{ name: 'SwiftShader driver 5.0.0', vendor: 'google', architecture: 'swiftshader', fallback: true }]
 */
export async function listAdapters(): Promise<AdapterInfo[]> {
  const { create } = await import('webgpu');
  const instance = create([]);
  const found = new Map<string, AdapterInfo>();
  const asks: GPURequestAdapterOptions[] = [{ powerPreference: 'high-performance' }, { powerPreference: 'low-power' }, { forceFallbackAdapter: true }];
  for (const ask of asks) {
    const adapter = await instance.requestAdapter(ask).catch(() => null);
    if (!adapter) continue;
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const a: AdapterInfo = { name: info.description || info.device || info.vendor || 'unknown adapter', vendor: info.vendor, architecture: info.architecture, fallback: info.isFallbackAdapter === true };
    found.set(`${a.vendor}\n${a.architecture}\n${info.device}\n${a.name}`, a);
  }
  return [...found.values()];
}

/**
 * A worker's probe: the adapters under `device` (the LOUPE_DEVICE setting),
 * or an empty list with the reason. Never throws; gives up after `timeoutMs`
 * (default {@link ADAPTER_PROBE_TIMEOUT_MS}). `env` (default process.env) is
 * read for VK_DRIVER_FILES, `list` (default {@link listAdapters}) asks Dawn.
 */
export async function probeAdapters(device: Device, o: { timeoutMs?: number; env?: NodeJS.ProcessEnv; list?: () => Promise<AdapterInfo[]> } = {}): Promise<AdapterProbe> {
  if (device === 'cpu') return { adapters: [], note: 'not probed: LOUPE_DEVICE=cpu' };
  const env = o.env ?? process.env;
  if (!gpuDevicePresent() && !env.VK_DRIVER_FILES) return { adapters: [], note: 'no GPU device on this host (no /dev/nvidia0 or /dev/dri) and VK_DRIVER_FILES is not set' };
  const timeoutMs = o.timeoutMs ?? ADAPTER_PROBE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<AdapterProbe>((resolve) => {
    timer = setTimeout(() => resolve({ adapters: [], note: `the probe of WebGPU adapters did not answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
  });
  const probe = (o.list ?? listAdapters)().then(
    (adapters): AdapterProbe => ({ adapters, note: adapters.length ? null : 'Dawn found no WebGPU adapter (no usable Vulkan driver)' }),
    (err: unknown): AdapterProbe => ({ adapters: [], note: `the probe of WebGPU adapters failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` }),
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
