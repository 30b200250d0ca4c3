/**
 * The browser's WebGPU, for the inspector: whether there is an adapter, what
 * it is, and why not when there is none (the reasons the page shows next to
 * its WASM or CPU fallback).
 */

/** What the page says of an adapter: its name, whether it is a software one (SwiftShader), whether it has `shader-f16`. */
export interface AdapterInfo {
  description: string;
  fallback: boolean;
  f16: boolean;
}

/** An adapter, or why there is none. */
export type AdapterChoice = { adapter: GPUAdapter; info: AdapterInfo } | { adapter: null; reason: string };

/** Names an adapter for a person: its description, else vendor and architecture. */
export function describeAdapter(adapter: GPUAdapter): AdapterInfo {
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unnamed adapter';
  const fallback = i.isFallbackAdapter === true || (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return { description: name, fallback, f16: adapter.features.has('shader-f16') };
}

/**
 * A fresh WebGPU adapter (each device needs its own: an adapter gives one),
 * or the reason there is none: no `navigator.gpu` (WebGPU is missing or off),
 * or `requestAdapter()` finding no usable GPU.
 */
export async function requestAdapter(): Promise<AdapterChoice> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    return { adapter: null, reason: 'this browser has no WebGPU (navigator.gpu is missing: it is off, or the page is not a secure context)' };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { adapter: null, reason: 'WebGPU found no usable GPU adapter (requestAdapter() returned null: no GPU, or its driver is blocked)' };
    return { adapter, info: describeAdapter(adapter) };
  } catch (err) {
    return { adapter: null, reason: `WebGPU's requestAdapter() failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * A device for the decoder searches, asking the adapter's own buffer limits
 * (a decoder passes the default 128 MiB binding limit at real sizes).
 */
export async function requestSearchDevice(): Promise<{ device: GPUDevice; info: AdapterInfo } | { device: null; reason: string }> {
  const choice = await requestAdapter();
  if (!choice.adapter) return { device: null, reason: choice.reason };
  try {
    const l = choice.adapter.limits;
    const device = await choice.adapter.requestDevice({ requiredLimits: { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize } });
    return { device, info: choice.info };
  } catch (err) {
    return { device: null, reason: `the WebGPU adapter (${choice.info.description}) gave no device: ${err instanceof Error ? err.message : String(err)}` };
  }
}
