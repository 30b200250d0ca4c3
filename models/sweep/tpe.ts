/**
 * Tree-structured Parzen estimator (Bergstra et al. 2011, "Algorithms for
 * hyper-parameter optimization"), as Optuna's TPESampler does it by default
 * (univariate: every parameter on its own). The finished trials split into
 * the best γ fraction and the rest; for each parameter a Parzen estimator
 * l(x) is fitted to the good trials' values and g(x) to the others'
 * (parzen.ts); of candidates drawn from l, the one that maximises
 * l(x)/g(x) is proposed. A range is fitted on its line (space.ts `rangeScale`:
 * log scale for log ranges, an int range widened by half a step at each end)
 * and the chosen candidate mapped back (rounded for ints).
 */
import { categorical, drawIndex, mixtureDensity, parzen, sampleMixture } from './parzen.ts';
import { rangeScale, sampleRandom, type ParamSpec, type ParamValue, type Params, type SearchSpace } from './space.ts';

/** TPE's settings (Optuna's names: n_startup_trials, gamma, n_ei_candidates, prior_weight). */
export interface TpeOptions {
  /** finished trials before TPE takes over from uniform draws */
  nStartup: number;
  /** fraction of the finished trials that count as good (at least one trial) */
  gamma: number;
  /** candidates drawn from l(x) per parameter */
  nCandidates: number;
  /** weight of the prior component of each estimator */
  priorWeight: number;
}

export const TPE_DEFAULTS: TpeOptions = { nStartup: 10, gamma: 0.25, nCandidates: 24, priorWeight: 1 };

/** A finished trial as TPE reads it: its params and score (higher is better). */
export interface Observation {
  params: Params;
  score: number;
}

/**
 * TPE's proposal from the finished trials `observations` (in trial order:
 * older ones weigh less), a uniform draw while there are fewer than
 * `nStartup`. Deterministic in its arguments and the stream of `random`
 * (uniform in [0, 1)).
 */
export function sampleTpe(space: SearchSpace, observations: readonly Observation[], random: () => number, options: Partial<TpeOptions> = {}): Params {
  const opts = { ...TPE_DEFAULTS, ...options };
  if (observations.length < opts.nStartup) return sampleRandom(space, random);
  const { good, bad } = splitObservations(observations, opts.gamma);
  return Object.fromEntries(
    Object.entries(space).map(([key, spec]) => [key, proposeParam(spec, valuesOf(good, key), valuesOf(bad, key), random, opts)]),
  );
}

/**
 * The best max(1, ⌈γ·n⌉) observations by score (ties: the earlier trial) and
 * the rest, each in the order given.
 */
export function splitObservations(observations: readonly Observation[], gamma: number): { good: Observation[]; bad: Observation[] } {
  const nGood = Math.max(1, Math.ceil(gamma * observations.length));
  const ranked = observations.map((_, i) => i).sort((a, b) => observations[b]!.score - observations[a]!.score || a - b);
  const isGood = new Set(ranked.slice(0, nGood));
  return { good: observations.filter((_, i) => isGood.has(i)), bad: observations.filter((_, i) => !isGood.has(i)) };
}

const valuesOf = (obs: readonly Observation[], key: string): ParamValue[] => obs.map((o) => o.params[key]).filter((v) => v !== undefined);

/** One parameter's proposal: of `nCandidates` draws from l, the one maximising l/g. */
function proposeParam(spec: ParamSpec, good: ParamValue[], bad: ParamValue[], random: () => number, opts: TpeOptions): ParamValue {
  if (spec.type === 'choice') {
    // values no longer among the choices (an edited space) are left out
    const indices = (vs: ParamValue[]) => vs.map((v) => spec.values.indexOf(v)).filter((i) => i >= 0);
    const l = categorical(indices(good), spec.values.length, opts.priorWeight);
    const g = categorical(indices(bad), spec.values.length, opts.priorWeight);
    const best = argmaxRatio(opts.nCandidates, () => drawIndex(l, random), (c) => Math.log(l[c]!) - Math.log(g[c]!));
    return spec.values[best]!;
  }
  const scale = rangeScale(spec);
  const inRange = (vs: ParamValue[]) => vs.filter((v): v is number => typeof v === 'number' && v >= spec.min && v <= spec.max).map(scale.toLine);
  const l = parzen(inRange(good), scale.low, scale.high, opts.priorWeight);
  const g = parzen(inRange(bad), scale.low, scale.high, opts.priorWeight);
  return scale.toValue(argmaxRatio(opts.nCandidates, () => sampleMixture(l, random), (x) => Math.log(mixtureDensity(l, x)) - Math.log(mixtureDensity(g, x))));
}

/** Of `n` candidates from `draw`, the first with the largest `logRatio`. */
function argmaxRatio<T>(n: number, draw: () => T, logRatio: (c: T) => number): T {
  let best = draw();
  let bestRatio = logRatio(best);
  for (let i = 1; i < n; i++) {
    const c = draw();
    const r = logRatio(c);
    if (r > bestRatio) [best, bestRatio] = [c, r];
  }
  return best;
}

