/**
 * Tokens through a model up to an SAE's hook and through the SAE's encoder,
 * with the same graphs the jobs use (models/model.ts, models/sae/encode.ts):
 * per token, its largest active features. The server's encode
 * (`POST /api/saes/{id}/encode`, run by workers/features-analyze.ts).
 */
import type { LoadedModel } from '../model.ts';
import type { Placement } from '../runtime.ts';
import { forEachActive, type EncodedRows, type SaeEncoder } from '../sae/encode.ts';

/** One active feature of a token: its index in the SAE and its activation. */
export interface TokenFeature {
  index: number;
  value: number;
}

/**
 * Per row, its `topK` largest positive activations, in descending order
 * (ties: the lower index first).
 * @param e the encoder's output for `rows` rows of an SAE of `dSae` features
 */
export function topActive(e: EncodedRows, rows: number, dSae: number, topK: number): TokenFeature[][] {
  const out: TokenFeature[][] = Array.from({ length: rows }, () => []);
  forEachActive(e, rows, dSae, (r, index, value) => {
    out[r]!.push({ index, value });
  });
  for (const row of out) {
    row.sort((a, b) => b.value - a.value || a.index - b.index);
    row.length = Math.min(row.length, topK);
  }
  return out;
}

export interface EncodeTokensOptions {
  model: LoadedModel;
  encoder: SaeEncoder;
  /** the SAE's hook point: one row of d_in values a token */
  hook: string;
  dSae: number;
  /** the caller's token ids */
  ids: readonly number[];
  /** a BOS id run before them (its row is not encoded), or null */
  bos: number | null;
  topK: number;
  signal?: AbortSignal;
}

/**
 * Runs `[bos?, ...ids]` as one sequence [1, T] through the model to `hook`,
 * encodes the rows of `ids` and keeps each one's `topK` largest active
 * features. Returns them per id, with where the forward (`model`) and the
 * encoder (`sae`) ran.
 */
export async function encodeTokens(o: EncodeTokensOptions): Promise<{ features: TokenFeature[][]; device: { model: Placement; sae: Placement } }> {
  const off = o.bos === null ? 0 : 1;
  const T = o.ids.length + off;
  const seq = new BigInt64Array(T);
  if (o.bos !== null) seq[0] = BigInt(o.bos);
  for (let i = 0; i < o.ids.length; i++) seq[off + i] = BigInt(o.ids[i]!);
  const session = await o.model.session([o.hook]);
  o.signal?.throwIfAborted();
  const out = (await o.model.forward(seq, [1, T], [o.hook]))[o.hook]!;
  const d = out.dims.slice(2).reduce((a, b) => a * b, 1);
  o.signal?.throwIfAborted();
  // [1, T, d] → the rows of the caller's tokens, [ids.length, d]
  const enc = await o.encoder.encode(out.data.subarray(off * d, T * d), o.ids.length);
  return { features: topActive(enc, o.ids.length, o.dSae, o.topK), device: { model: session.placement, sae: o.encoder.placement } };
}
