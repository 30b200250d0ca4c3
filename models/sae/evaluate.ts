/**
 * CE-loss recovered of SAEs during training, on a few windows of the dataset
 * their activations came from, cut as the extraction cut them (same context
 * length, stride and BOS): held-out windows after the extracted ones when the
 * dataset has them, else windows spread over the extracted ones. One model
 * with the SAE spliced in (splice.ts) per hook point, loaded at its first
 * evaluation and kept until {@link CeEvaluator.close}.
 */
import { planWindows, windowStart } from '../activations/plan.ts';
import type { ExtractionSettings } from '../contracts/extractions.ts';
import { openTokenStore } from '../datasets/format.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import type { Device, Placement } from '../runtime.ts';
import { ceLossRecovered, saeSplice, type CeLossRecovered, type SpliceSpec } from './splice.ts';
import type { SaeWeights } from './stepper.ts';

export interface CeEvalOptions {
  modelDir: string;
  /** the tokenized dataset folder the activations were extracted from */
  datasetDir: string;
  /** the extraction's settings: dtype, window length, stride, BOS, token budget */
  settings: Pick<ExtractionSettings, 'dtype' | 'contextLength' | 'stride' | 'prependBos' | 'tokenBudget'>;
  /** windows to evaluate on (each contextLength tokens) */
  windows: number;
  device?: Device;
  /** where the models run, once the first loads (and when that changes) */
  onPlacement?(p: Placement): void;
}

export interface CeEvaluator {
  /** token ids [windows, contextLength] the losses are measured on */
  readonly ids: BigInt64Array;
  readonly dims: readonly [number, number];
  /** Which windows: held out (after the extracted ones) or among the extracted ones. */
  readonly heldOut: boolean;
  /** CE-loss recovered by an SAE (weights for raw activations) at its hook. */
  evaluate(hook: string, spec: SpliceSpec, weights: SaeWeights): Promise<CeLossRecovered>;
  close(): Promise<void>;
}

/** Reads the evaluation windows and returns an evaluator; models load on first use. */
export async function openCeEvaluator(o: CeEvalOptions): Promise<CeEvaluator> {
  const store = await openTokenStore(o.datasetDir);
  let ids: BigInt64Array;
  let n: number;
  let T: number;
  let heldOut: boolean;
  try {
    const settings = { ...o.settings, storage: 'f32' as const, batchSize: 1, keepBos: false, windowsPerShard: 1 };
    const plan = planWindows(settings, store.tokens, store.meta.settings.addBos);
    T = plan.length;
    n = Math.max(1, Math.min(o.windows, plan.available));
    heldOut = plan.available - plan.total >= n;
    // held out: the n windows after the extracted ones; else n windows spread evenly over the dataset's
    const pick = (i: number) => (heldOut ? plan.total + i : Math.floor((i * plan.available) / n));
    const bos = store.meta.tokenizer.bosId;
    ids = new BigInt64Array(n * T);
    for (let i = 0; i < n; i++) {
      const tokens = await store.readTokens(windowStart(plan, pick(i)), plan.span);
      const off = plan.prependBos ? 1 : 0;
      if (off) ids[i * T] = BigInt(bos ?? 0);
      for (let t = 0; t < plan.span; t++) ids[i * T + off + t] = BigInt(tokens[t]!);
    }
  } finally {
    await store.close();
  }
  const models = new Map<string, Promise<LoadedModel>>();
  const dims = [n, T] as const;
  return {
    ids,
    dims,
    heldOut,
    async evaluate(hook, spec, weights) {
      let model = models.get(hook);
      if (!model) {
        model = loadModel(o.modelDir, { dtype: o.settings.dtype, interventions: { [hook]: saeSplice(spec) }, ...(o.device ? { device: o.device } : {}), ...(o.onPlacement ? { onPlacement: o.onPlacement } : {}) });
        models.set(hook, model);
      }
      return ceLossRecovered(await model, spec, weights, ids, dims);
    },
    async close() {
      const all = [...models.values()];
      models.clear();
      await Promise.all(all.map((m) => m.then((x) => x.close(), () => undefined)));
    },
  };
}
