/**
 * A model loaded for inference: config.json + safetensors → the decoder graph
 * in the chosen dtype → ONNX Runtime sessions, one per set of requested
 * outputs (hook points and/or logits), built on first use and cached. A
 * session computes only what its outputs need: a graph whose deepest output
 * is blocks.3.hook_resid_post runs no later block and no unembedding.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDecoder, hookPoints, type HookPoint, type Intervention } from './architectures/decoder.ts';
import { familyOf } from './architectures/index.ts';
import type { ArchSpec } from './architectures/spec.ts';
import { openWeights } from './architectures/weights.ts';
import { readModelConfig } from './model-files.ts';
import type { Graph } from './onnx/graph.ts';
import type { ModelDtype } from './quantize.ts';
import { createSession, isOutOfMemory, ort, type Device, type Placement, type Provider, type Session } from './runtime.ts';

export interface LoadOptions {
  dtype?: ModelDtype;
  device?: Device;
  interventions?: Record<string, Intervention>;
  threads?: number;
  /**
   * Weights above this many bytes go to ONNX external data in a temporary
   * folder (protobuf caps a model at 2 GiB); default 1.5 GiB.
   */
  externalDataAbove?: number;
  /**
   * Where the model runs, each time that changes: when its first session is
   * made, when a session lands elsewhere, and when an out-of-memory moves it
   * to the CPU (forwardChunks; the placement's fallbackReason says so).
   */
  onPlacement?(p: Placement): void;
}

const EXTERNAL_DATA_ABOVE = 1.5 * 1024 ** 3;

/**
 * Writes the graph with external data to a temporary folder, opens a session
 * from it, and removes the folder (ONNX Runtime has read or mapped the data
 * by then).
 */
async function sessionFromFiles(graph: Graph, outputs: readonly string[], options: Parameters<typeof createSession>[1]): Promise<Session> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'loupe-graph-'));
  try {
    const { model, data } = graph.toModelWithExternalData('weights.data', { outputs: outputs.map((value) => ({ value })) });
    const handle = await fs.open(path.join(dir, 'weights.data'), 'w');
    try {
      for (const chunk of data) await handle.write(chunk.bytes, 0, chunk.bytes.byteLength, chunk.offset);
    } finally {
      await handle.close();
    }
    await fs.writeFile(path.join(dir, 'model.onnx'), model);
    return await createSession(path.join(dir, 'model.onnx'), options);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface TensorOut {
  data: Float32Array;
  dims: number[];
}

export interface LoadedModel {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly spec: ArchSpec;
  readonly dtype: ModelDtype;
  readonly hookPoints: readonly HookPoint[];
  /** the session computing these outputs (hook names or 'logits'), on the load device or the one given */
  session(outputs: readonly string[], device?: Device): Promise<Session>;
  /** where the latest session made or moved to runs (null before the first); after an out-of-memory move, the CPU with the reason */
  readonly placement: Placement | null;
  /**
   * Runs token ids [batch, pos] and returns the requested outputs: hook
   * points, 'logits', or 'token_nll' ([batch, pos - 1], the loss of
   * predicting each next token). `feeds` are the extra inputs interventions
   * declared.
   */
  forward(ids: BigInt64Array, dims: readonly [number, number], outputs: readonly string[], feeds?: Record<string, ort.Tensor>): Promise<Record<string, TensorOut>>;
  /**
   * Runs many rows in chunks of `rows`, handing each chunk's outputs to
   * `onChunk` (nothing is kept). On out-of-memory the chunk is halved and
   * retried; at one row the model moves to the CPU. Each fallback is reported
   * through `onFallback`. Returns the chunk size, provider and placement it
   * ended with.
   */
  forwardChunks(ids: BigInt64Array, dims: readonly [number, number], outputs: readonly string[], opts: ChunkOptions): Promise<{ rows: number; provider: Provider; placement: Placement }>;
  /** size of the serialised graph with every weight, bytes */
  graphBytes(outputs: readonly string[]): number;
  close(): Promise<void>;
}

export interface ChunkOptions {
  /** rows per run to start with */
  rows: number;
  onChunk(firstRow: number, out: Record<string, TensorOut>): void | Promise<void>;
  onFallback?(message: string): void;
}

async function run(s: Session, ids: BigInt64Array, dims: readonly [number, number], outputs: readonly string[], feeds?: Record<string, ort.Tensor>): Promise<Record<string, TensorOut>> {
  if (ids.length !== dims[0] * dims[1]) throw new Error(`${ids.length} ids do not fill [${dims.join(', ')}]`);
  // a graph cut by an intervention may not read input_ids at all (the logit lens)
  const all: Record<string, ort.Tensor> = { ...feeds, input_ids: new ort.Tensor('int64', ids, [...dims]) };
  const res = await s.run(Object.fromEntries(s.inputNames.filter((n) => n in all).map((n) => [n, all[n]!])), outputs);
  const out: Record<string, TensorOut> = {};
  for (const o of outputs) {
    const t = res[o]!;
    out[o] = { data: t.data as Float32Array, dims: t.dims.map(Number) };
  }
  return out;
}

/**
 * The decoder graph of the model folder `dir` (config.json and safetensors
 * read whole), as every session of {@link loadModel} cuts it, with its
 * config and spec. The browser's inspector serialises the same graph up to
 * an SAE's hook (models/features/inspector-bundle.ts).
 */
export async function buildModelGraph(dir: string, opts: Pick<LoadOptions, 'dtype' | 'interventions'> = {}): Promise<{ graph: Graph; config: Record<string, unknown>; spec: ArchSpec }> {
  const config = await readModelConfig(dir);
  const family = familyOf(config);
  const spec = family.spec(config);
  const src = await openWeights(dir);
  try {
    return { graph: buildDecoder(spec, await family.load(src, spec, config), { dtype: opts.dtype ?? 'fp32', interventions: opts.interventions }), config, spec };
  } finally {
    await src.close();
  }
}

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const dtype = opts.dtype ?? 'fp32';
  const { graph, config, spec } = await buildModelGraph(dir, { dtype, interventions: opts.interventions });
  const known = new Set(['logits', 'token_nll', ...hookPoints(spec).map((h) => h.name)]);
  const check = (outputs: readonly string[]) => {
    if (outputs.length === 0) throw new Error('ask for at least one output (a hook point or "logits")');
    for (const o of outputs) if (!known.has(o)) throw new Error(`unknown hook point "${o}" for ${spec.modelType} with ${spec.nLayers} layers`);
  };
  const sessions = new Map<string, Promise<Session>>();
  let placement: Placement | null = null;
  const place = (p: Placement) => {
    const changed = JSON.stringify(p) !== JSON.stringify(placement);
    placement = p;
    if (changed) opts.onPlacement?.(p);
  };
  /** The session for these outputs on `device`, made on first use (model.session() also records where it runs). */
  const open = (outputs: readonly string[], device: Device | undefined): Promise<Session> => {
    check(outputs);
    const key = `${device ?? ''}\n${[...outputs].sort().join('\n')}`;
    let s = sessions.get(key);
    if (!s) {
      const options = { device, keepWeightCasts: dtype !== 'fp32', threads: opts.threads };
      s =
        graph.weightBytes > (opts.externalDataAbove ?? EXTERNAL_DATA_ABOVE)
          ? sessionFromFiles(graph, outputs, options)
          : createSession(graph.toModel({ outputs: outputs.map((value) => ({ value })) }), options);
      sessions.set(key, s);
      s.catch(() => sessions.delete(key));
    }
    return s;
  };
  const model: LoadedModel = {
    dir,
    config,
    spec,
    dtype,
    hookPoints: hookPoints(spec),
    session(outputs, device = opts.device) {
      const s = open(outputs, device);
      // at every use, not only the first: a later forwardChunks starts on the load device again
      s.then((made) => place(made.placement), () => undefined);
      return s;
    },
    get placement() {
      return placement;
    },
    async forward(ids, dims, outputs, feeds) {
      return run(await model.session(outputs), ids, dims, outputs, feeds);
    },
    async forwardChunks(ids, dims, outputs, chunk) {
      if (ids.length !== dims[0] * dims[1]) throw new Error(`${ids.length} ids do not fill [${dims.join(', ')}]`);
      const [total, T] = dims;
      let rows = Math.max(1, Math.min(chunk.rows, total));
      let device = opts.device;
      let session = await model.session(outputs, device);
      let ran = session.placement;
      for (let first = 0; first < total; ) {
        const n = Math.min(rows, total - first);
        let out: Record<string, TensorOut>;
        try {
          out = await run(session, ids.subarray(first * T, (first + n) * T), [n, T], outputs);
        } catch (err) {
          if (!isOutOfMemory(err)) throw err;
          const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
          if (n > 1) {
            rows = Math.max(1, n >> 1);
            chunk.onFallback?.(`out of memory at ${n} rows × ${T} tokens on ${session.provider} (${why}); retrying with ${rows} rows`);
          } else if (session.provider !== 'cpu') {
            device = 'cpu';
            const from = session.placement;
            chunk.onFallback?.(`out of memory at 1 row × ${T} tokens on ${session.provider} (${why}); moving to the CPU`);
            session = await open(outputs, device);
            // the CPU session says the CPU was asked for; the job asked for the GPU and ran out of its memory
            ran = { ...session.placement, requested: from.requested, fallbackReason: `out of memory on ${from.provider} at 1 row × ${T} tokens (${why})` };
            place(ran);
          } else {
            throw err;
          }
          continue;
        }
        await chunk.onChunk(first, out);
        first += n;
      }
      return { rows, provider: session.provider, placement: ran };
    },
    graphBytes(outputs) {
      return graph.toModel({ outputs: outputs.map((value) => ({ value })) }).byteLength;
    },
    async close() {
      const all = await Promise.allSettled([...sessions.values()]);
      sessions.clear();
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
    },
  };
  return model;
}
