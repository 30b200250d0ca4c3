/**
 * Where a job ran, in words: a placement (models/contracts/device.ts) as a
 * short label ("WebGPU · NVIDIA H200", "CPU") and a sentence for its
 * tooltip that says what was asked for and why the GPU was not used, and a
 * job's parts in a fixed order. Kept apart from the badge so it is tested
 * without a browser.
 */
import type { AdapterInfo, JobDevice, PlacementInfo } from '../../models/contracts/device.ts';

/** The order parts are shown in: the model's forward, then the SAE's steps or encoder. */
const PART_ORDER = ['model', 'sae'];

/** What a part is called on the page. */
const PART_LABEL: Record<string, string> = { model: 'model', sae: 'SAE' };

/** A placement in a few words: the provider, and the adapter when it is known ("(software)" for SwiftShader and the like). */
export function placementLabel(p: PlacementInfo): string {
  if (p.provider === 'cpu') return 'CPU';
  return ['WebGPU', p.adapter ? `${p.adapter}${p.fallbackAdapter ? ' (software)' : ''}` : null].filter(Boolean).join(' · ');
}

/** A placement in a sentence: what ran it, what was asked for, and why not the GPU when it fell back. */
export function placementTitle(p: PlacementInfo): string {
  const engine = p.engine === 'wgsl' ? "Loupe's WGSL kernels" : 'ONNX Runtime';
  const where = p.provider === 'cpu' ? 'the CPU' : `WebGPU${p.adapter ? ` (${p.adapter})` : ''}`;
  const soft = p.fallbackAdapter ? '; a software adapter: its results count, its speed does not' : '';
  const why = p.fallbackReason ? ` — ${p.provider === 'cpu' ? 'WebGPU unavailable' : 'not the GPU-resident path'}: ${p.fallbackReason}` : '';
  return `${engine} on ${where}, LOUPE_DEVICE=${p.requested}${soft}${why}`;
}

/** One part of a job's device, ready to show. */
export interface DevicePart {
  part: string;
  label: string;
  title: string;
  /** the GPU was asked for (or auto) and not used, or only a software adapter ran it */
  degraded: boolean;
}

/** A job's parts ({model, sae}) in the order shown, each labelled; empty for none. */
export function deviceParts(device: JobDevice | null | undefined): DevicePart[] {
  if (!device) return [];
  const rank = (k: string) => (PART_ORDER.includes(k) ? PART_ORDER.indexOf(k) : PART_ORDER.length);
  return Object.keys(device)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((part) => {
      const p = device[part]!;
      return { part: PART_LABEL[part] ?? part, label: placementLabel(p), title: placementTitle(p), degraded: p.fallbackReason !== null || p.fallbackAdapter };
    });
}

/** A worker's adapters in one line: "NVIDIA H200, SwiftShader (software)", or why there are none. */
export function adaptersLine(adapters: AdapterInfo[] | null, note: string | null): string {
  if (adapters === null) return 'adapters not probed yet';
  if (adapters.length === 0) return note ?? 'no WebGPU adapter';
  return adapters.map((a) => `${a.name}${a.fallback ? ' (software)' : ''}`).join(', ');
}
