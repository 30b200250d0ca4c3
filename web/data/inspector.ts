/**
 * The inspector's store: an SAE's inspector manifest (the server builds its
 * files on first request and may answer 202 meanwhile: asked again until
 * ready), its model running in the browser (web/engine/inspector-model.ts)
 * with the download's progress, a run of the text after each pause in typing,
 * and the decoder searches (web/engine/decoder.ts), each with where it ran.
 */
import { createEffect, createSignal, on, onCleanup, type Accessor } from 'solid-js';
import { analysisPendingSchema } from '../../models/contracts/features.ts';
import { inspectorResponseSchema, inspectorTokenSchema, type InspectorFile, type InspectorManifest } from '../../models/contracts/inspector.ts';
import { featuresByTokenEffect, featuresInText, similarFeatures, type Scored } from '../../models/sae/gpu/search.ts';
import { errorMessage, getJson, getJsonOrAccepted } from '../api.ts';
import { loadDecoder, type DecoderOptions, type LoadedDecoder } from '../engine/decoder.ts';
import type { FileProgress } from '../engine/files.ts';
import { loadInspectorModel, type InspectorModel, type InspectorRun } from '../engine/inspector-model.ts';
import { denseActivations, tokenFeatures, type ActiveFeature } from './inspector-view.ts';

/** Wait after the last keystroke before a run, ms. */
export const TYPING_PAUSE_MS = 300;
/** Between two asks of a manifest still being built, ms. */
const MANIFEST_POLL_MS = 1000;
/** Features listed by the searches. */
export const SEARCH_K = 12;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** The manifest of SAE `saeId`'s inspector, waiting while the server builds it (`onWaiting` once when it must). */
export async function loadManifest(saeId: string, signal: AbortSignal, onWaiting?: () => void): Promise<InspectorManifest> {
  for (;;) {
    const r = await getJsonOrAccepted(`/api/saes/${saeId}/inspector`, inspectorResponseSchema, analysisPendingSchema, { signal });
    if ('value' in r) return r.value;
    onWaiting?.();
    await sleep(MANIFEST_POLL_MS, signal);
  }
}

/** W_U[:, token] of the SAE's model (the server reads one row of the unembedding). */
export async function loadTokenColumn(saeId: string, token: number, signal?: AbortSignal): Promise<Float32Array> {
  const r = await getJson(`/api/saes/${saeId}/inspector/unembedding/${token}`, inspectorTokenSchema, { signal });
  return Float32Array.from(r.column);
}

/** One run's result as the page shows it. */
export interface InspectorResult extends InspectorRun {
  /** each token's active features, largest first */
  features: ActiveFeature[][];
  /** the activations [tokens, d_sae], for the text search */
  acts: Float32Array;
  /** when it ran (performance.now()), to tell runs apart */
  at: number;
}

export type Phase = 'manifest' | 'building' | 'downloading' | 'starting' | 'ready' | 'error';

export interface InspectorStore {
  phase: Accessor<Phase>;
  manifest: Accessor<InspectorManifest | undefined>;
  /** download progress per file */
  progress: Accessor<Partial<Record<InspectorFile, FileProgress>>>;
  model: Accessor<InspectorModel | undefined>;
  error: Accessor<string | undefined>;
  result: Accessor<InspectorResult | undefined>;
  running: Accessor<boolean>;
  runError: Accessor<string | undefined>;
  /** the text changed: runs after a pause in typing */
  setText(text: string): void;
  /** runs the current text now */
  runNow(): Promise<void>;
  /** the decoder searches, loaded on first use */
  decoder(): Promise<LoadedDecoder>;
}

export interface InspectorOptions {
  /** `wasm`: never onnxruntime-web's WebGPU provider */
  backend?: 'auto' | 'wasm';
  decoder?: Pick<DecoderOptions, 'engine' | 'precision'>;
}

/** The inspector of the SAE `saeId()` names, starting over when it changes. */
export function createInspector(saeId: Accessor<string | undefined>, initialText: string, opts: InspectorOptions = {}): InspectorStore {
  const [phase, setPhase] = createSignal<Phase>('manifest');
  const [manifest, setManifest] = createSignal<InspectorManifest>();
  const [progress, setProgress] = createSignal<Partial<Record<InspectorFile, FileProgress>>>({});
  const [model, setModel] = createSignal<InspectorModel>();
  const [error, setError] = createSignal<string>();
  const [result, setResult] = createSignal<InspectorResult>();
  const [running, setRunning] = createSignal(false);
  const [runError, setRunError] = createSignal<string>();
  let text = initialText;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const runNow = async () => {
    const m = model();
    const man = manifest();
    if (!m || !man) return;
    clearTimeout(timer);
    setRunning(true);
    try {
      const r = await m.run(text);
      if (model() !== m) return;
      setRunError(undefined);
      if (!r) {
        setResult(undefined);
        return;
      }
      setResult({ ...r, features: tokenFeatures(r.output, r.ids.length, man.dSae), acts: denseActivations(r.output, r.ids.length, man.dSae), at: performance.now() });
    } catch (err) {
      setRunError(errorMessage(err));
    } finally {
      setRunning(false);
    }
  };

  createEffect(
    on(saeId, (id) => {
      setManifest(undefined);
      setModel(undefined);
      setResult(undefined);
      setError(undefined);
      setProgress({});
      if (!id) return;
      const ac = new AbortController();
      let loaded: InspectorModel | undefined;
      onCleanup(() => {
        ac.abort();
        void loaded?.release();
      });
      setPhase('manifest');
      void (async () => {
        try {
          const man = await loadManifest(id, ac.signal, () => setPhase('building'));
          setManifest(man);
          if (!man.browser.runnable) throw new Error(`This SAE's model does not run in the browser: ${man.browser.reason}. The decoder searches below still work.`);
          setPhase('downloading');
          loaded = await loadInspectorModel(id, man, {
            backend: opts.backend,
            onProgress: (name, p) => {
              setProgress((all) => ({ ...all, [name]: p }));
              if (Object.values({ ...progress(), [name]: p }).every((x) => x && x.loaded === x.total)) setPhase('starting');
            },
          });
          if (ac.signal.aborted) return void loaded.release();
          setModel(loaded);
          setPhase('ready');
          await runNow();
        } catch (err) {
          if (ac.signal.aborted) return;
          setError(errorMessage(err));
          setPhase('error');
        }
      })();
    }),
  );
  onCleanup(() => clearTimeout(timer));

  return {
    phase,
    manifest,
    progress,
    model,
    error,
    result,
    running,
    runError,
    setText(t) {
      text = t;
      clearTimeout(timer);
      timer = setTimeout(() => void runNow(), TYPING_PAUSE_MS);
    },
    runNow,
    decoder() {
      const id = saeId();
      const man = manifest();
      if (!id || !man) return Promise.reject(new Error('the SAE is not loaded yet'));
      return loadDecoder(id, man, { ...opts.decoder, onProgress: (p) => setProgress((all) => ({ ...all, [p.url.slice(p.url.lastIndexOf('/') + 1) as InspectorFile]: p })) });
    },
  };
}

/** Runs a search with its timing: what the search panels show. */
export async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
}

/** The three searches, on a loaded decoder. */
export const searches = {
  similar: (d: LoadedDecoder, f: number, k = SEARCH_K): Promise<Scored[]> => similarFeatures(d.search, f, k),
  byToken: (d: LoadedDecoder, column: Float32Array, convention: 'weight' | 'none', k = SEARCH_K) => featuresByTokenEffect(d.search, column, d.lens, convention, k, d.sums),
  inText: (d: LoadedDecoder, r: InspectorResult, k = SEARCH_K) => featuresInText(d.search, r.acts, r.ids.length, k),
};
