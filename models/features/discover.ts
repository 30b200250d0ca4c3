/**
 * Feature discovery: an SAE over the activations of its hook — read from an
 * extraction's store, or computed from text on the fly (sources.ts) — in one
 * streaming pass over the source's units (shards; batches of windows),
 * keeping per feature its activation count, sum, max, a histogram of its
 * non-zero values and its top-k activating positions (at most one per
 * context window); then a second pass reads back the activations of every
 * token in each top example's window, and of the windows of a few examples
 * sampled from each quantile band of the feature's values (quantiles.ts;
 * their positions from one more read of a sample of the source's rows).
 * Memory: O(d_sae · k · window) plus two units, never O(tokens).
 *
 * Resumable: the state after a unit is handed to `checkpoint.save` every
 * `everyUnits` units or `everyMs`, whichever comes later, and a run given
 * that state as `resume` goes on from the next unit and returns exactly what
 * an uninterrupted run returns (units are read and encoded in the same
 * chunks either way, and the state holds every accumulator as it was).
 */
import { documentAt, type TokenStore } from '../datasets/format.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';
import type { Device, Placement } from '../runtime.ts';
import { bandCuts, sampleQuantiles } from './quantiles.ts';
import { createScanner, HISTOGRAM_EDGES, type ScanState } from './scan.ts';
import { openStoredSource, type ActivationRows, type ActivationSource } from './sources.ts';

export { HISTOGRAM_EDGES };

export interface Example {
  rank: number;
  /** activation at the peak token */
  maxValue: number;
  /** dataset offset (in tokens.bin) of the peak token */
  position: number;
  /** dataset offset of the first token of the window */
  start: number;
  tokens: number[];
  /** the feature's activation on each token of the window (0 where not stored, e.g. BOS) */
  values: number[];
  /** a sample of a quantile band (its index in quantiles.ts's QUANTILE_BANDS); absent for a top example */
  band?: number;
}

export interface FeatureSummary {
  index: number;
  /** fraction of stored tokens on which the feature is active */
  frequency: number;
  maxActivation: number;
  /** mean over the tokens where it is active */
  meanActivation: number;
  histogram: { edges: number[]; counts: number[] };
  examples: Example[];
  /** examples sampled from the quantile bands of its values, by band (lowest first) then value; rank counts within a band */
  quantiles: Example[];
}

/** When a run hands its state to `checkpoint.save`: after this many units and this many ms since the last save, both. */
export const CHECKPOINT_DEFAULTS = { everyUnits: 1, everyMs: 30_000 } as const;

/**
 * The state of a discovery after a unit of one pass: enough to go on from
 * the next unit. The arrays are the run's own (live): `save` must copy or
 * write them before it returns.
 */
export interface DiscoverCheckpoint extends ScanState {
  /** the pass: statistics and top positions ('scan'), or the examples' windows ('examples') */
  phase: 'scan' | 'examples';
  /** the next unit to read in that pass (units: the whole pass is done) */
  unit: number;
  /** units of the source, a check that the state fits it */
  units: number;
  /** rows encoded by the scan so far (all of them in the examples pass) */
  rows: number;
  /** progress done in this pass (rows of the store; tokens through the model) */
  done: number;
  /** examples pass: every example window's values so far, windows in feature then rank order, back to back; null in the scan */
  values: Float32Array | null;
}

interface CommonOptions {
  cfg: SaeConfig;
  weights: SaeWeights;
  tokens: TokenStore;
  docOffsets: ArrayLike<number>;
  topK?: number;
  /** tokens shown before and after the peak */
  left?: number;
  right?: number;
  /** rows encoded at once */
  chunkRows?: number;
  /** where the SAE's encoder and the scan run (scan.ts); default LOUPE_DEVICE */
  device?: Device;
  /** called once the scanner is made, with where it runs */
  onPlacement?(p: Placement): void;
  signal?: AbortSignal;
  /** done / total in the source's unit of progress (rows of the store; tokens through the model) */
  onProgress?(done: number, total: number, phase: 'scan' | 'examples'): void;
  /** sample examples from the quantile bands of each feature's values too (default true) */
  quantiles?: boolean;
  /** a state saved by an earlier run with the same SAE, source and settings: go on from it */
  resume?: DiscoverCheckpoint | null;
  checkpoint?: { everyUnits?: number; everyMs?: number; save(state: DiscoverCheckpoint): Promise<void> };
}

/** An SAE over stored activations (`activations`: an extraction's folder, `hook`: its hook point), or over any {@link ActivationSource}. */
export type DiscoverOptions = CommonOptions & ({ activations: string; hook: string } | { source: ActivationSource });

export async function discoverFeatures(o: DiscoverOptions): Promise<{ rows: number; features: FeatureSummary[] }> {
  const source = 'source' in o ? o.source : await openStoredSource(o.activations, o.hook);
  if (source.d !== o.cfg.dIn) throw new Error(`${source.name}: stored rows have ${source.d} values, the SAE takes ${o.cfg.dIn}`);
  const S = o.cfg.dSae;
  const K = o.topK ?? 10;
  const left = o.left ?? 16;
  const right = o.right ?? 4;
  const span = left + right + 1;
  const chunk = o.chunkRows ?? 512;
  const bins = HISTOGRAM_EDGES.length - 1;
  const units = source.units;
  const r = o.resume ?? null;
  if (r) {
    const fits = r.units === units && r.count.length === S && r.sum.length === S && r.max.length === S && r.hist.length === S * bins && r.topVal.length === S * K && r.topPos.length === S * K && r.topSize.length === S && r.topMin.length === S && r.unit >= 0 && r.unit <= units;
    if (!fits) throw new Error(`${source.name}: the checkpoint does not fit this discovery (another SAE, source or top-k)`);
  }
  // checkpoints: after a unit, once both everyUnits units and everyMs have passed since the last
  const cp = o.checkpoint;
  const everyUnits = Math.max(1, cp?.everyUnits ?? CHECKPOINT_DEFAULTS.everyUnits);
  const everyMs = cp?.everyMs ?? CHECKPOINT_DEFAULTS.everyMs;
  let lastSave = performance.now();
  let unitsSince = 0;
  const maybeSave = async (state: () => Promise<DiscoverCheckpoint>): Promise<void> => {
    unitsSince++;
    if (!cp || unitsSince < everyUnits || performance.now() - lastSave < everyMs) return;
    await cp.save(await state());
    unitsSince = 0;
    lastSave = performance.now();
  };

  /** Reads units from `from` on, one ahead of the one being used; `skip` units are passed over unread (null). */
  async function* units$(from: number, skip?: (u: number) => boolean): AsyncGenerator<[number, ActivationRows | null]> {
    const read = (u: number): Promise<ActivationRows | null> | null => {
      if (u >= units) return null;
      if (skip?.(u)) return Promise.resolve(null);
      const p = source.read(u);
      p.catch(() => undefined); // awaited below; an abort must not leave it unhandled
      return p;
    };
    let next = read(from);
    for (let u = from; u < units; u++) {
      o.signal?.throwIfAborted();
      const unit = await next!;
      next = read(u + 1);
      yield [u, unit];
    }
  }

  const scanner = await createScanner(o.cfg, o.weights, { topK: K, span, capacity: chunk, device: o.device, resume: r });
  o.onPlacement?.(scanner.placement);
  try {
    // pass 1: statistics and top positions
    let rows = r ? r.rows : 0;
    let done = r?.phase === 'scan' ? r.done : 0;
    const scanned = async (next: number): Promise<DiscoverCheckpoint> => ({ phase: 'scan', unit: next, units, rows, done, ...(await scanner.state()), values: null });
    if (!r || r.phase === 'scan') {
      for await (const [u, unit] of units$(r ? r.unit : 0)) {
        const x = unit!;
        const size = source.size(u);
        for (let r0 = 0; r0 < x.rows; r0 += chunk) {
          o.signal?.throwIfAborted();
          const n = Math.min(chunk, x.rows - r0);
          await scanner.scan(x.data.subarray(r0 * source.d, (r0 + n) * source.d), x.positions.subarray(r0, r0 + n), n);
          rows += n;
          o.onProgress?.(done + Math.round((size * (r0 + n)) / x.rows), source.total, 'scan');
        }
        done += size;
        if (x.rows === 0) o.onProgress?.(done, source.total, 'scan');
        await maybeSave(() => scanned(u + 1));
      }
    }
    const { count, sum, max, hist, topVal, topPos, topSize, topMin } = await scanner.state();
    // examples from each quantile band of every feature's values; recomputed the same way on a resume, so the windows line up
    const cuts = Array.from({ length: S }, (_, f) => bandCuts(hist.subarray(f * bins, (f + 1) * bins), HISTOGRAM_EDGES));
    const samples = o.quantiles === false ? [] : await sampleQuantiles({ cfg: o.cfg, weights: o.weights, source, cuts, span, signal: o.signal });

    // the windows of the kept examples, clamped to their documents, their values back to back in one array
    interface Slot { feature: number; start: number; length: number; peak: number; value: number; values: Float32Array; tokens: Uint32Array | null }
    const slots: Slot[] = [];
    const wanted = new Map<number, number[]>(); // position → slot indices
    let valuesLength = 0;
    const addSlot = (feature: number, peak: number, value: number) => {
      const { document } = documentAt(o.docOffsets, peak);
      const docStart = o.docOffsets[document]!;
      const docEnd = o.docOffsets[document + 1]!;
      const start = Math.max(docStart, peak - left);
      const end = Math.min(docEnd, peak + right + 1);
      const slot = slots.push({ feature, start, length: end - start, peak, value, values: new Float32Array(0), tokens: null }) - 1;
      valuesLength += end - start;
      for (let p = start; p < end; p++) {
        const list = wanted.get(p);
        if (list) list.push(slot);
        else wanted.set(p, [slot]);
      }
    };
    for (let f = 0; f < S; f++) {
      const base = f * K;
      const order = Array.from({ length: topSize[f]! }, (_, j) => j).sort((a, b) => topVal[base + b]! - topVal[base + a]!);
      for (const j of order) addSlot(f, topPos[base + j]!, topVal[base + j]!);
    }
    // the quantile samples' windows after every top example's (samples come by feature, then band)
    const firstSample = slots.length;
    for (const q of samples) addSlot(q.feature, q.position, q.value);
    const allValues = new Float32Array(valuesLength);
    for (let i = 0, at = 0; i < slots.length; at += slots[i]!.length, i++) slots[i]!.values = allValues.subarray(at, at + slots[i]!.length);
    if (r?.phase === 'examples') {
      if (r.values?.length !== valuesLength) throw new Error(`${source.name}: the checkpoint's example windows do not fit this discovery`);
      allValues.set(r.values);
    }

    // pass 2: the activations of every token of those windows
    let seen = r?.phase === 'examples' ? r.done : 0;
    const examined = async (next: number): Promise<DiscoverCheckpoint> => ({ phase: 'examples', unit: next, units, rows, done: seen, count, sum, max, hist, topVal, topPos, topSize, topMin, values: allValues });
    const has = (p: number) => wanted.has(p);
    const from = r?.phase === 'examples' ? r.unit : 0;
    for await (const [u, x] of units$(wanted.size > 0 ? from : units, (u) => source.mayHold?.(u, has) === false)) {
      if (x) {
        const picked: number[] = [];
        for (let i = 0; i < x.rows; i++) if (wanted.has(Number(x.positions[i]!))) picked.push(i);
        for (let i = 0; i < picked.length; i += chunk) {
          o.signal?.throwIfAborted();
          const part = picked.slice(i, i + chunk);
          const batch = new Float32Array(part.length * source.d);
          part.forEach((row, k) => batch.set(x.data.subarray(row * source.d, (row + 1) * source.d), k * source.d));
          // every (row, slot's feature) pair of these rows, and where its value goes
          const queries: number[] = [];
          const into: [Float32Array, number][] = [];
          part.forEach((row, k) => {
            const pos = Number(x.positions[row]!);
            for (const si of wanted.get(pos)!) {
              const sl = slots[si]!;
              queries.push(k, sl.feature);
              into.push([sl.values, pos - sl.start]);
            }
          });
          const values = await scanner.pick(batch, part.length, Uint32Array.from(queries));
          into.forEach(([arr, at], q) => (arr[at] = values[q]!));
        }
      }
      seen += source.size(u);
      o.onProgress?.(seen, source.total, 'examples');
      await maybeSave(() => examined(u + 1));
    }
    for (const sl of slots) sl.tokens = await o.tokens.readTokens(sl.start, sl.length);

    const features: FeatureSummary[] = [];
    let si = 0;
    let qi = 0;
    for (let f = 0; f < S; f++) {
      const examples: Example[] = [];
      for (let j = 0; j < topSize[f]!; j++, si++) {
        const sl = slots[si]!;
        examples.push({ rank: j, maxValue: sl.value, position: sl.peak, start: sl.start, tokens: Array.from(sl.tokens!), values: Array.from(sl.values) });
      }
      const quantiles: Example[] = [];
      for (; qi < samples.length && samples[qi]!.feature === f; qi++) {
        const q = samples[qi]!;
        const sl = slots[firstSample + qi]!;
        const rank = quantiles.filter((e) => e.band === q.band).length;
        quantiles.push({ rank, maxValue: sl.value, position: sl.peak, start: sl.start, tokens: Array.from(sl.tokens!), values: Array.from(sl.values), band: q.band });
      }
      features.push({
        index: f,
        frequency: rows ? count[f]! / rows : 0,
        maxActivation: max[f]!,
        meanActivation: count[f]! ? sum[f]! / count[f]! : 0,
        histogram: { edges: HISTOGRAM_EDGES, counts: Array.from(hist.subarray(f * bins, (f + 1) * bins)) },
        examples,
        quantiles,
      });
    }
    return { rows, features };
  } finally {
    await scanner.release();
  }
}
