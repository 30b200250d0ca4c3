/**
 * The inspector's pure logic: each token's active features from the
 * encoder's output (the rule of `POST /api/saes/{id}/encode`: activations
 * above 0, largest first, ties to the lower index), the dense activations
 * [tokens, d_sae] the "features in this text" search reads, one feature's
 * value on each token (to light the text), and the figures the page shows.
 */
import type { EncoderOutput } from '../engine/inspector-model.ts';

/** A feature active on a token. */
export interface ActiveFeature {
  index: number;
  value: number;
}

/** Each of `tokens` rows' active features, largest first (ties: the lower index first). */
export function tokenFeatures(out: EncoderOutput, tokens: number, dSae: number): ActiveFeature[][] {
  const rows: ActiveFeature[][] = Array.from({ length: tokens }, () => []);
  if (out.kind === 'sparse') {
    for (let t = 0; t < tokens; t++) {
      for (let j = 0; j < out.k; j++) {
        const value = out.values[t * out.k + j]!;
        if (value > 0) rows[t]!.push({ index: out.indices[t * out.k + j]!, value });
      }
    }
  } else {
    for (let t = 0; t < tokens; t++) {
      for (let f = 0; f < dSae; f++) {
        const value = out.acts[t * dSae + f]!;
        if (value > 0) rows[t]!.push({ index: f, value });
      }
    }
  }
  for (const r of rows) r.sort((a, b) => b.value - a.value || a.index - b.index);
  return rows;
}

/** The activations as [tokens, d_sae] (TopK's kept values scattered, the rest 0). */
export function denseActivations(out: EncoderOutput, tokens: number, dSae: number): Float32Array {
  if (out.kind === 'dense') return out.acts;
  const acts = new Float32Array(tokens * dSae);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < out.k; j++) {
      const v = out.values[t * out.k + j]!;
      if (v > 0) acts[t * dSae + out.indices[t * out.k + j]!] = v;
    }
  }
  return acts;
}

/** Feature `f`'s activation on each token (0 where it is not active). */
export function featureOnTokens(features: readonly ActiveFeature[][], f: number): number[] {
  return features.map((row) => row.find((x) => x.index === f)?.value ?? 0);
}

/** A duration for people: `0.4 ms`, `12 ms`, `1.2 s`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Bytes for people: `512 B`, `3.4 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
