/**
 * Activation extraction: token windows → the model (a graph that stops at
 * the deepest requested hook) → the activation store. Reading the next batch
 * of tokens, running the model and writing shards overlap: while the model
 * runs batch k, batch k+1 is read and batch k-1 is written. Memory stays
 * bounded by two batches of outputs and one shard.
 */
import type { LoadedModel } from '../model.ts';
import type { ActivationWriter, HookRows } from './store.ts';

/** Fixed-length token windows of a dataset. */
export interface WindowSource {
  /** windows available */
  count: number;
  /** tokens a window */
  length: number;
  /** ids [n, length] of windows [first, first + n) and each window's first token offset in tokens.bin */
  read(first: number, n: number): Promise<{ ids: BigInt64Array; starts: BigInt64Array }>;
}

export interface ExtractProgress {
  windowsDone: number;
  windowsTotal: number;
  tokensDone: number;
  /** rows stored per hook so far */
  rows: number;
  tokensPerSecond: number;
  etaSeconds: number | null;
}

export interface ExtractOptions {
  model: LoadedModel;
  hooks: readonly string[];
  windows: WindowSource;
  /** windows to extract in all (the token budget / window length, at most windows.count) */
  windowsTotal: number;
  batchSize: number;
  writer: ActivationWriter;
  /** token ids whose positions are not stored (BOS, padding); empty to store every position */
  skipTokenIds?: readonly number[];
  signal?: AbortSignal;
  onProgress?(p: ExtractProgress): void;
  onFallback?(message: string): void;
}

/** Runs (or resumes) an extraction; returns when every window is stored or the signal aborts. */
export async function extractActivations(o: ExtractOptions): Promise<ExtractProgress> {
  const { model, hooks, windows, writer, batchSize } = o;
  const T = windows.length;
  for (const h of hooks) {
    const hp = model.hookPoints.find((x) => x.name === h);
    if (!hp) throw new Error(`unknown hook point "${h}"`);
    if (hp.shape[1] !== 'pos' || hp.shape.slice(2).some((x) => typeof x !== 'number')) {
      throw new Error(`${h} is not one row per token (shape [${hp.shape.join(', ')}]); extract hooks shaped [batch, pos, ...]`);
    }
  }
  const skip = new Set(o.skipTokenIds ?? []);
  const total = Math.min(o.windowsTotal, windows.count);
  const started = performance.now();
  const firstWindow = writer.windowsDone;
  let done = firstWindow;
  let rowsStored = Object.values(writer.manifest.hooks)[0]?.rows ?? 0;
  const progress = (): ExtractProgress => {
    const s = (performance.now() - started) / 1000;
    const rate = s > 0 ? ((done - firstWindow) * T) / s : 0;
    return { windowsDone: done, windowsTotal: total, tokensDone: done * T, rows: rowsStored, tokensPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round(((total - done) * T) / rate) : null };
  };
  const read = (first: number) => (first < total ? windows.read(first, Math.min(batchSize, total - first)) : null);

  let next = read(done);
  let writing: Promise<void> = Promise.resolve();
  while (done < total) {
    o.signal?.throwIfAborted();
    const { ids, starts } = (await next)!;
    const n = starts.length;
    next = read(done + n);
    const parts: Record<string, Float32Array[]> = Object.fromEntries(hooks.map((h) => [h, []]));
    await model.forwardChunks(ids, [n, T], hooks, {
      rows: n,
      onChunk: (_first, out) => {
        for (const h of hooks) parts[h]!.push(out[h]!.data);
      },
      onFallback: o.onFallback,
    });
    // the rows to keep and where they come from
    const keep = new Uint8Array(n * T);
    let kept = 0;
    for (let i = 0; i < n * T; i++) if (!skip.has(Number(ids[i]))) (keep[i] = 1), kept++;
    const positions = new BigInt64Array(kept);
    for (let w = 0, k = 0; w < n; w++) for (let t = 0; t < T; t++) if (keep[w * T + t]) positions[k++] = starts[w]! + BigInt(t);
    const perHook: Record<string, HookRows> = {};
    for (const h of hooks) {
      const all = concat(parts[h]!);
      const d = all.length / (n * T);
      if (kept === n * T) {
        perHook[h] = { data: all, rows: kept };
        continue;
      }
      const data = new Float32Array(kept * d);
      for (let i = 0, k = 0; i < n * T; i++) if (keep[i]) data.set(all.subarray(i * d, (i + 1) * d), (k++) * d);
      perHook[h] = { data, rows: kept };
    }
    await writing;
    writing = writer.append(n, perHook, positions);
    done += n;
    rowsStored += kept;
    o.onProgress?.(progress());
  }
  await writing;
  return progress();
}

/** The parts one after another (the part itself when there is one). */
export function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
