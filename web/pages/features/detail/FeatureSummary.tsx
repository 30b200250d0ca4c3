import { For, Show } from 'solid-js';
import type { FeatureDetail } from '../../../../models/contracts/features.ts';
import { explainScore, formatFrequency, formatScore, formatValue } from '../../../data/feature-view.ts';
import { TokenChip } from '../../../ui/TokenChip.tsx';
import { LabelEditor } from './LabelEditor.tsx';

/** The feature's head: favourite star, label (edited in place), score with what it means, frequency, max, mean and peak tokens. */
export function FeatureSummary(props: {
  feature: FeatureDetail;
  /** whether an LLM endpoint is set up (a new label can be asked for) */
  llm: boolean;
  onSaved: (patch: Partial<FeatureDetail>) => void;
  onStar: () => void;
  /** why the last star or unstar failed */
  starError: string | undefined;
}) {
  const score = () => explainScore(props.feature.score, props.feature.examples.length, props.feature.heuristic.kind);
  return (
        <section class="card feature-summary" data-testid="feature-summary">
          <div class="summary-top">
            <button type="button" class="star big" classList={{ on: props.feature.favourite }} aria-pressed={props.feature.favourite} title={props.feature.favourite ? 'remove from favourites' : 'add to favourites'} onClick={() => props.onStar()} data-testid="feature-star">
              {props.feature.favourite ? '★' : '☆'}
            </button>
            <LabelEditor feature={props.feature} llm={props.llm} onSaved={props.onSaved} />
          </div>
          <Show when={props.starError}>
            <p class="field-error">{props.starError}</p>
          </Show>
          <dl class="feature-facts">
            <div class="score-fact">
              <dt>interpretability score</dt>
              <dd>
                <b data-testid="feature-score">{formatScore(props.feature.score)}</b>
                <span class="info" tabIndex={0} title={score().text} aria-label={score().text} data-testid="score-info">
                  ?
                </span>
              </dd>
            </div>
            <div>
              <dt>frequency</dt>
              <dd data-testid="feature-frequency" title="share of the scanned tokens on which it is active">
                {formatFrequency(props.feature.frequency)}
              </dd>
            </div>
            <div>
              <dt>max</dt>
              <dd data-testid="feature-max">{formatValue(props.feature.maxActivation)}</dd>
            </div>
            <div>
              <dt>mean (when active)</dt>
              <dd>{formatValue(props.feature.meanActivation)}</dd>
            </div>
            <div>
              <dt>peak tokens</dt>
              <dd class="chips">
                <For each={props.feature.topTokens} fallback={<span class="muted">–</span>}>
                  {(t) => <TokenChip text={t.text} count={t.count} />}
                </For>
              </dd>
            </div>
          </dl>
          <p class="score-explain muted" data-testid="score-explain">
            {score().text}
          </p>
        </section>
  );
}
