/**
 * An SAE's decoder rows in the browser, for the searches of
 * models/sae/gpu/search.ts: uploaded once a page (and kept while the page
 * lives) to a WebGPU device in chunks, as halves where the adapter has
 * `shader-f16` (else float32), or held on the CPU when there is no WebGPU or
 * the upload fails, with the reason. The rows come from the inspector's
 * `decoder.f32` / `decoder.f16` files (Cache Storage keeps them).
 */
import type { InspectorManifest } from '../../models/contracts/inspector.ts';
import { createCpuDecoderSearch, createGpuDecoderSearch, halfToFloat, type DecoderSearch, type LensNormInfo } from '../../models/sae/gpu/search.ts';
import type { FileProgress } from './files.ts';
import { streamOf } from './files.ts';
import { requestSearchDevice } from './gpu.ts';
import { inspectorFile } from './inspector-model.ts';

/** Where the searches run: a WebGPU adapter, or the CPU and why (null: the CPU was asked for). */
export type SearchEngine = { kind: 'webgpu'; adapter: string; fallbackAdapter: boolean } | { kind: 'cpu'; reason: string | null };

export interface LoadedDecoder {
  search: DecoderSearch;
  engine: SearchEngine;
  /** the final norm the token-effect search folds in, from the manifest */
  lens: LensNormInfo;
  /** Σ_i W_dec[f, i], kept after the first LayerNorm token-effect search */
  sums: { rowSums: Float32Array | null };
}

export interface DecoderOptions {
  /** `cpu` never uses WebGPU (the fallback, for comparing); default auto */
  engine?: 'auto' | 'cpu';
  /** row storage: default halves where the adapter has shader-f16, else float32 (and float32 on the CPU) */
  precision?: 'auto' | 'f32' | 'f16';
  onProgress?: (p: FileProgress) => void;
}

const loaded = new Map<string, Promise<LoadedDecoder>>();

/** The decoder of SAE `saeId`, loaded once a page for each choice of options. */
export function loadDecoder(saeId: string, manifest: InspectorManifest, opts: DecoderOptions = {}): Promise<LoadedDecoder> {
  const key = `${saeId}:${manifest.files['decoder.f32']?.sha256}:${opts.engine ?? 'auto'}:${opts.precision ?? 'auto'}`;
  let p = loaded.get(key);
  if (!p) {
    p = load(saeId, manifest, opts);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function load(saeId: string, manifest: InspectorManifest, opts: DecoderOptions): Promise<LoadedDecoder> {
  const { dSae, dIn } = manifest;
  const lens: LensNormInfo = { norm: manifest.lens.norm, gain: manifest.lens.gain ? Float32Array.from(manifest.lens.gain) : null };
  const progress = (_: unknown, p: FileProgress) => opts.onProgress?.(p);
  const cpu = async (reason: string | null): Promise<LoadedDecoder> => {
    const type = opts.precision === 'f16' ? 'f16' : 'f32';
    const data = await inspectorFile(saeId, manifest, type === 'f16' ? 'decoder.f16' : 'decoder.f32', progress);
    const rows = type === 'f16' ? halfToFloat(new Uint16Array(data)) : new Float32Array(data);
    return { search: createCpuDecoderSearch(rows, dSae, dIn, type), engine: { kind: 'cpu', reason }, lens, sums: { rowSums: null } };
  };
  if (opts.engine === 'cpu') return cpu(null);
  const gpu = await requestSearchDevice();
  if (!gpu.device) return cpu(gpu.reason);
  const type = opts.precision === 'f16' || opts.precision === 'f32' ? opts.precision : gpu.info.f16 ? 'f16' : 'f32';
  const data = await inspectorFile(saeId, manifest, type === 'f16' ? 'decoder.f16' : 'decoder.f32', progress);
  try {
    const search = await createGpuDecoderSearch(gpu.device, { dSae, dIn, type }, streamOf(data));
    return { search, engine: { kind: 'webgpu', adapter: gpu.info.description, fallbackAdapter: gpu.info.fallback }, lens, sums: { rowSums: null } };
  } catch (err) {
    gpu.device.destroy();
    return cpu(`the decoder could not go to the GPU (${gpu.info.description}): ${err instanceof Error ? err.message : String(err)}`);
  }
}
