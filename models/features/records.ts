/**
 * What a discovery stores per feature, built from discoverFeatures' summary:
 * the statistics, the top examples, the heuristic label and score, and the
 * peak tokens of the top examples (each example's token at its peak) — all of
 * them, most common first, for the search by token, and the first three with
 * their counts and display strings for the list.
 */
import { FEATURE_LIMITS } from '../contracts/features.ts';
import type { Example, FeatureSummary } from './discover.ts';
import { heuristicLabel } from './label.ts';

/** A peak token of a feature's top examples (text: the tokenizer's display string). */
export interface TopToken {
  token: number;
  text: string;
  count: number;
}

/** One top example (or quantile sample, with its `band`), as stored: as discovery finds it. */
export type ExampleRecord = Example;

/**
 * Ranks of the quantile samples among a feature's stored examples
 * (`feature_examples.rank`): 1000 + 100 × band + rank in the band, so that
 * they sit in the same table after the top examples (ranks 0…49) and are told
 * apart by rank alone.
 */
export const QUANTILE_RANK_BASE = 1000;

/** The stored rank of a quantile sample. */
export function quantileRank(band: number, rank: number): number {
  return QUANTILE_RANK_BASE + 100 * band + rank;
}

/** A feature as a discovery writes it. */
export interface FeatureRecord {
  index: number;
  frequency: number;
  maxActivation: number;
  meanActivation: number;
  histogram: { edges: number[]; counts: number[] };
  heuristicLabel: string;
  heuristicScore: number;
  heuristicKind: 'token' | 'after' | 'none';
  /** the LLM's label, when there is one */
  llmLabel: string | null;
  /** distinct peak tokens of the examples, most common first (ties: the higher-ranked example's first) */
  peakTokens: number[];
  /** the first {@link FEATURE_LIMITS.TOP_TOKENS} of them with their counts */
  topTokens: TopToken[];
  examples: ExampleRecord[];
  /** examples sampled from the quantile bands of its values (each with its `band`); absent in features staged before they were sampled */
  quantiles?: ExampleRecord[];
}

/** Peak tokens of examples, most common first; ties keep the order of first appearance (examples come by rank). */
export function peakTokens(examples: readonly Pick<ExampleRecord, 'tokens' | 'position' | 'start'>[]): { token: number; count: number }[] {
  const counts = new Map<number, number>();
  for (const e of examples) {
    const t = e.tokens[e.position - e.start];
    if (t !== undefined) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  // Map keeps insertion order and sort is stable: equal counts stay in order of first appearance
  return [...counts].map(([token, count]) => ({ token, count })).sort((a, b) => b.count - a.count);
}

/** The stored record of a discovered feature; `show` gives a token's display string. */
export function toFeatureRecord(f: FeatureSummary, show: (id: number) => string): FeatureRecord {
  const h = heuristicLabel(f.examples, show);
  const peaks = peakTokens(f.examples);
  return {
    index: f.index,
    frequency: f.frequency,
    maxActivation: f.maxActivation,
    meanActivation: f.meanActivation,
    histogram: f.histogram,
    heuristicLabel: h.label,
    heuristicScore: h.score,
    heuristicKind: h.kind,
    llmLabel: null,
    peakTokens: peaks.map((p) => p.token),
    topTokens: peaks.slice(0, FEATURE_LIMITS.TOP_TOKENS).map((p) => ({ ...p, text: show(p.token) })),
    examples: f.examples.map((e) => ({ rank: e.rank, maxValue: e.maxValue, position: e.position, start: e.start, tokens: e.tokens, values: e.values })),
    quantiles: f.quantiles.map((e) => ({ rank: e.rank, maxValue: e.maxValue, position: e.position, start: e.start, tokens: e.tokens, values: e.values, band: e.band ?? 0 })),
  };
}
