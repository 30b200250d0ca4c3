/** Features as the API shows them: list items, and the detail with its examples' token texts. */
import { featureId, QUANTILE_BANDS, type FeatureDetail, type FeatureListItem } from '../../models/contracts/features.ts';
import { modelDirOfSae } from '../../db/queries/discoveries.ts';
import type { FeatureListRow, FeatureRow, saeOfFeatures } from '../../db/queries/features.ts';
import type { AppDeps } from '../app.ts';

/** The API's view of a row of the list. */
export function toItem(r: FeatureListRow): FeatureListItem {
  return {
    id: featureId(r.saeId, r.index),
    saeId: r.saeId,
    index: r.index,
    label: r.label,
    labelSource: r.labelSource,
    score: r.score,
    frequency: r.frequency,
    maxActivation: r.maxActivation,
    meanActivation: r.meanActivation,
    favourite: r.favourite,
    hasNotes: r.hasNotes,
    topTokens: r.topTokens,
  };
}

/** Display strings of token ids, through the SAE's model's tokenizer (`#id` when there is none). */
export async function textsOf(deps: Pick<AppDeps, 'features'>, modelDir: string | undefined): Promise<(ids: readonly number[]) => string[]> {
  if (!modelDir) return (ids) => ids.map((id) => `#${id}`);
  const tok = await deps.features.tokenizer(modelDir);
  return (ids) => tok.tokenStrings(ids);
}

/** The API's view of a feature of `sae`: its top examples with each token's text (through the SAE's model's tokenizer) and activation. */
export async function toDetail(deps: Pick<AppDeps, 'db' | 'features'>, sae: NonNullable<Awaited<ReturnType<typeof saeOfFeatures>>>, r: FeatureRow): Promise<FeatureDetail> {
  const show = await textsOf(deps, await modelDirOfSae(deps.db, sae.id));
  return {
    ...toItem(r),
    notes: r.notes,
    histogram: r.histogram,
    examples: r.examples.map((e) => {
      const t = show(e.tokens);
      return { rank: e.rank, maxValue: e.maxValue, position: e.position, start: e.start, tokens: e.tokens.map((id, i) => ({ id, text: t[i]!, value: e.values[i] ?? 0 })) };
    }),
    quantiles: r.quantiles.flatMap((e) => {
      const band = QUANTILE_BANDS[e.band ?? -1];
      if (!band) return [];
      const t = show(e.tokens);
      return [{ rank: e.rank, maxValue: e.maxValue, position: e.position, start: e.start, tokens: e.tokens.map((id, i) => ({ id, text: t[i]!, value: e.values[i] ?? 0 })), band: { from: band[0], to: band[1] } }];
    }),
    sae: { id: sae.id, name: sae.name, hookPoint: sae.hookPoint, modelId: sae.modelId, dSae: sae.dSae },
    heuristic: { label: r.heuristicLabel ?? '', score: r.heuristicScore ?? 0, kind: r.heuristicKind ?? 'none' },
  };
}
