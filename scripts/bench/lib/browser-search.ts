/**
 * The decoder searches of models/sae/gpu/search.ts on a synthetic decoder, in
 * the page (bundled by scripts/bench/browser.ts and run in Chromium): puts
 * `loupeSearchBench(o)` on `window`, which uploads d_sae × d_in random rows (a
 * random block of 1 Mi values repeated: timing, not results) to the browser's
 * WebGPU or holds them for the CPU search, then times the similar-features,
 * token-effect and text searches.
 */
import { createCpuDecoderSearch, createGpuDecoderSearch, featuresByTokenEffect, featuresInText, similarFeatures, type DecoderSearch } from '../../../models/sae/gpu/search.ts';

export interface SearchBenchOptions {
  dSae: number;
  dIn: number;
  impl: 'webgpu' | 'cpu';
  type: 'f32' | 'f16';
  runs: number;
  /** tokens of the text search's activations */
  tokens: number;
}

const BLOCK = 1 << 20;

function randomBlock(): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: BLOCK }, () => {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    return ((s >>> 8) / 2 ** 24 - 0.5) * 0.2;
  });
}

function toHalf(x: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from(x, (v) => {
    f[0] = v;
    const b = u[0]!;
    const e = ((b >>> 23) & 0xff) - 112;
    return ((b >>> 16) & 0x8000) | (e <= 0 ? 0 : e >= 31 ? 0x7c00 : (e << 10) | ((b >>> 13) & 0x3ff));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(o: SearchBenchOptions) {
  const block = randomBlock();
  const bytesOf = o.type === 'f16' ? new Uint8Array(toHalf(block).buffer) : new Uint8Array(block.buffer);
  const total = o.dSae * o.dIn * (o.type === 'f16' ? 2 : 4);
  let adapter: { description: string; fallback: boolean } | null = null;
  const t0 = performance.now();
  let search: DecoderSearch;
  if (o.impl === 'cpu') {
    const rows = new Float32Array(o.dSae * o.dIn);
    for (let at = 0; at < rows.length; at += BLOCK) rows.set(block.subarray(0, Math.min(BLOCK, rows.length - at)), at);
    search = createCpuDecoderSearch(rows, o.dSae, o.dIn);
  } else {
    const a = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) throw new Error('no WebGPU adapter');
    const info = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    adapter = { description: info.description || `${info.vendor} ${info.architecture}`, fallback: info.isFallbackAdapter === true };
    const device = await a.requestDevice({ requiredLimits: { maxBufferSize: a.limits.maxBufferSize, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize } });
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= total) return c.close();
        const n = Math.min(bytesOf.length, total - sent);
        c.enqueue(bytesOf.subarray(0, n));
        sent += n;
      },
    });
    search = await createGpuDecoderSearch(device, { dSae: o.dSae, dIn: o.dIn, type: o.type }, stream);
  }
  const uploadMs = performance.now() - t0;
  const t1 = performance.now();
  await similarFeatures(search, 0, 10); // compiles the kernels, computes the norms once
  const firstMs = performance.now() - t1;
  const time = async (f: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const s = performance.now();
      await f();
      ms.push(performance.now() - s);
    }
    return { ms_median: Math.round(median(ms) * 10) / 10, ms_max: Math.round(Math.max(...ms) * 10) / 10 };
  };
  const similar = await time(() => similarFeatures(search, Math.floor(Math.random() * o.dSae), 10));
  const column = block.subarray(0, o.dIn);
  const lens = { norm: 'layer' as const, gain: new Float32Array(o.dIn).fill(1) };
  const sums = { rowSums: null as Float32Array | null };
  await featuresByTokenEffect(search, column, lens, 'weight', 10, sums);
  const effect = await time(() => featuresByTokenEffect(search, column, lens, 'weight', 10, sums));
  const acts = new Float32Array(o.tokens * o.dSae);
  for (let i = 0; i < acts.length; i += 97) acts[i] = block[i % BLOCK]! + 0.1;
  const text = await time(() => featuresInText(search, acts, o.tokens, 10));
  search.release();
  return { adapter, upload_ms: Math.round(uploadMs), first_similar_ms: Math.round(firstMs), similar, effect, text };
}

(globalThis as unknown as { loupeSearchBench: typeof bench }).loupeSearchBench = bench;
