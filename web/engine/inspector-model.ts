/**
 * An SAE's model and encoder running in the browser: the model's
 * tokenizer.json through @huggingface/tokenizers (models/tokenizer-core.ts,
 * the server's own construction, so the ids are the server's), the model's
 * ONNX graph up to the SAE's hook and the SAE's encoder graph (the bytes the
 * server runs: models/features/inspector-bundle.ts) through onnxruntime-web,
 * on its WebGPU provider, or its WASM one with the reason why not.
 *
 * onnxruntime-web's WebAssembly runtime is served by Loupe itself at /ort/
 * (vite.config.ts copies it into the build): nothing is fetched from
 * elsewhere. Without cross-origin isolation (SharedArrayBuffer) WASM runs one
 * thread.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { InspectorFile, InspectorManifest } from '../../models/contracts/inspector.ts';
import { tokenizerFromJson, type Tokenizer } from '../../models/tokenizer-core.ts';
import { fetchCached, type FileProgress } from './files.ts';
import { requestAdapter } from './gpu.ts';

/** Where the model and encoder run: WebGPU on a named adapter, or WASM and why not WebGPU (null: WASM was asked for). */
export type Backend = { kind: 'webgpu'; adapter: string; fallbackAdapter: boolean } | { kind: 'wasm'; reason: string | null };

/** The encoder's output for T tokens: TopK's (values, indices) [T, k], or the dense activations [T, d_sae]. */
export type EncoderOutput = { kind: 'sparse'; k: number; values: Float32Array; indices: Int32Array } | { kind: 'dense'; acts: Float32Array };

/** One run of a text: its tokens (after the BOS, which is run but not listed), the encoder's output, and how long each part took, ms. */
export interface InspectorRun {
  ids: number[];
  texts: string[];
  /** the BOS run before the tokens, or null */
  bos: number | null;
  /** tokens left out past the model's context */
  dropped: number;
  output: EncoderOutput;
  timings: { tokenizeMs: number; forwardMs: number; encodeMs: number };
}

export interface InspectorModel {
  readonly backend: Backend;
  readonly tokenizer: Tokenizer;
  /** Runs a text; null for a text without tokens. */
  run(text: string): Promise<InspectorRun | null>;
  release(): Promise<void>;
}

/** URL of a file of SAE `saeId`'s inspector. */
export const inspectorFileUrl = (saeId: string, name: InspectorFile) => `/api/saes/${saeId}/inspector/files/${name}`;

let configured = false;
function configure(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.logLevel = 'error';
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/** Downloads one file of the manifest (or the cached copy), reporting progress. */
export async function inspectorFile(saeId: string, manifest: InspectorManifest, name: InspectorFile, onProgress?: (name: InspectorFile, p: FileProgress) => void): Promise<ArrayBuffer> {
  const info = manifest.files[name];
  if (!info) throw new Error(`the inspector of SAE ${saeId} has no ${name}`);
  return fetchCached({ url: inspectorFileUrl(saeId, name), ...info }, (p) => onProgress?.(name, p));
}

/**
 * Loads the tokenizer, the model graph and the encoder of SAE `saeId`'s
 * inspector and starts their sessions: on WebGPU unless `backend` is `wasm`
 * or WebGPU is missing or fails (then WASM, with the reason), checked by one
 * run of a single token.
 */
export async function loadInspectorModel(
  saeId: string,
  manifest: InspectorManifest,
  opts: { backend?: 'auto' | 'wasm'; onProgress?: (name: InspectorFile, p: FileProgress) => void } = {},
): Promise<InspectorModel> {
  configure();
  if (!manifest.browser.runnable) throw new Error(manifest.browser.reason ?? 'this model is not built for the browser');
  const get = (name: InspectorFile) => inspectorFile(saeId, manifest, name, opts.onProgress);
  const decode = (b: ArrayBuffer) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;
  const [tokenizerJson, tokenizerConfig, modelBytes, encoderBytes] = await Promise.all([
    get('tokenizer.json').then(decode),
    manifest.files['tokenizer_config.json'] ? get('tokenizer_config.json').then(decode) : Promise.resolve(null),
    get('model.onnx'),
    get('encoder.onnx'),
  ]);
  const tokenizer = tokenizerFromJson('browser', 'tokenizer.json', { tokenizerJson, tokenizerConfig, specialTokensMap: null, modelConfig: null });

  type Sessions = { model: ort.InferenceSession; encoder: ort.InferenceSession };
  const open = async (ep: 'webgpu' | 'wasm'): Promise<Sessions> => {
    const options: ort.InferenceSession.SessionOptions = { executionProviders: [ep], graphOptimizationLevel: 'all' };
    const model = await ort.InferenceSession.create(new Uint8Array(modelBytes), options);
    try {
      const encoder = await ort.InferenceSession.create(new Uint8Array(encoderBytes), options);
      return { model, encoder };
    } catch (err) {
      await model.release();
      throw err;
    }
  };
  const hook = manifest.hookPoint;
  const forward = async (s: Sessions, ids: readonly number[]) => {
    const out = await s.model.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]) });
    return out[hook]!.data as Float32Array;
  };
  const encode = async (s: Sessions, x: Float32Array, rows: number): Promise<EncoderOutput> => {
    const out = await s.encoder.run({ x: new ort.Tensor('float32', x, [rows, manifest.dIn]) });
    if (out.values && out.indices) {
      const idx = out.indices.data as BigInt64Array;
      return { kind: 'sparse', k: manifest.k ?? idx.length / rows, values: out.values.data as Float32Array, indices: Int32Array.from(idx, (i) => Number(i)) };
    }
    return { kind: 'dense', acts: out.acts!.data as Float32Array };
  };
  /** one token through both graphs: a provider that cannot run them fails here, not on the user's text */
  const check = async (s: Sessions) => {
    const h = await forward(s, [manifest.bos ?? 0]);
    await encode(s, h.slice(0, manifest.dIn), 1);
  };

  let sessions: Sessions | null = null;
  let backend: Backend = { kind: 'wasm', reason: null };
  if (opts.backend !== 'wasm') {
    const choice = await requestAdapter();
    if (!choice.adapter) backend = { kind: 'wasm', reason: choice.reason };
    else {
      try {
        sessions = await open('webgpu');
        await check(sessions);
        backend = { kind: 'webgpu', adapter: choice.info.description, fallbackAdapter: choice.info.fallback };
      } catch (err) {
        if (sessions) await Promise.all([sessions.model.release(), sessions.encoder.release()]).catch(() => undefined);
        sessions = null;
        backend = { kind: 'wasm', reason: `onnxruntime-web's WebGPU provider failed on ${choice.info.description}: ${firstLine(err)}` };
      }
    }
  }
  if (!sessions) {
    sessions = await open('wasm');
    await check(sessions);
  }
  const s = sessions;

  // one run at a time: a session runs one thing at once
  let last: Promise<unknown> = Promise.resolve();
  return {
    backend,
    tokenizer,
    run(text) {
      const r = last.then(async (): Promise<InspectorRun | null> => {
        const t0 = performance.now();
        let ids = Array.from(tokenizer.encode(text, { addBos: false }));
        // POST /api/saes/{id}/encode's rule: the BOS first, unless the tokens start with it
        const bos = manifest.bos !== null && ids[0] !== manifest.bos ? manifest.bos : null;
        const room = manifest.contextLength - (bos === null ? 0 : 1);
        const dropped = Math.max(0, ids.length - room);
        if (dropped) ids = ids.slice(0, room);
        const texts = tokenizer.tokenStrings(ids);
        const t1 = performance.now();
        if (ids.length === 0) return null;
        const seq = bos === null ? ids : [bos, ...ids];
        const h = await forward(s, seq);
        const t2 = performance.now();
        const off = (bos === null ? 0 : 1) * manifest.dIn;
        const output = await encode(s, h.slice(off), ids.length);
        const t3 = performance.now();
        return { ids, texts, bos, dropped, output, timings: { tokenizeMs: t1 - t0, forwardMs: t2 - t1, encodeMs: t3 - t2 } };
      });
      last = r.catch(() => undefined);
      return r;
    },
    async release() {
      await Promise.all([s.model.release(), s.encoder.release()]);
    },
  };
}
