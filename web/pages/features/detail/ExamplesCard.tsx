import { For, Show } from 'solid-js';
import type { FeatureDetail } from '../../../../models/contracts/features.ts';
import { formatValue } from '../../../data/feature-view.ts';
import { TokenStrip } from '../../../ui/TokenStrip.tsx';

/** One example as a lit strip, with its rank (a top example's) and peak value. */
function Example(props: { e: FeatureDetail['examples'][number]; max: number; testId?: string; showRank?: boolean }) {
  const peak = () => props.e.position - props.e.start;
  return (
    <li class="example" data-testid={props.testId ?? 'example'} data-rank={props.e.rank}>
      <span class="example-rank muted">{props.showRank === false ? '' : `#${props.e.rank + 1}`}</span>
      <TokenStrip tokens={props.e.tokens} max={props.max} peak={peak()} />
      <span class="example-max num" title="activation at the peak">
        {formatValue(props.e.maxValue)}
      </span>
    </li>
  );
}

/** A band's name: "top quartile (75–100 %)", "25–50 % quantile". */
export function bandName(band: { from: number; to: number }): string {
  const pct = (x: number) => Math.round(x * 100);
  return `${pct(band.from)}–${pct(band.to)} % quantile`;
}

/**
 * The feature's top activating examples, each lit by activation, then
 * examples sampled from each quantile band of its values (highest band
 * first), on the same scale, so that weak activations are seen too.
 */
export function ExamplesCard(props: { feature: FeatureDetail }) {
  // bands as they come (lowest first), shown highest first, each with its examples and their value range
  const bands = () => {
    const by = new Map<string, { band: { from: number; to: number }; examples: FeatureDetail['quantiles'] }>();
    for (const q of props.feature.quantiles) {
      const key = `${q.band.from}-${q.band.to}`;
      const b = by.get(key) ?? { band: q.band, examples: [] };
      b.examples.push(q);
      by.set(key, b);
    }
    return [...by.values()].sort((a, b) => b.band.from - a.band.from);
  };
  return (
        <section class="card examples-card" data-testid="examples">
          <div class="chart-head">
            <h3 class="card-title">Top activating examples</h3>
            <span class="muted small">lit by activation relative to the max ({formatValue(props.feature.maxActivation)}); the peak outlined; hover a token for its value</span>
          </div>
          <Show when={props.feature.examples.length > 0} fallback={<p class="muted">None: the feature never fired on the scanned activations.</p>}>
            <ol class="examples" data-testid="top-examples">
              <For each={props.feature.examples}>{(e) => <Example e={e} max={props.feature.maxActivation} />}</For>
            </ol>
          </Show>
          <Show when={bands().length > 0}>
            <h4 class="quantile-title">Sampled across its activations</h4>
            <p class="muted small quantile-explain">A few examples from each quarter of the tokens it fires on, ordered by value: what it does when it fires weakly, not only at its peak.</p>
            <For each={bands()}>
              {(b) => (
                <div class="quantile-band" data-testid="quantile-band" data-from={b.band.from} data-to={b.band.to}>
                  <h5 class="quantile-head">
                    {bandName(b.band)}{' '}
                    <span class="muted">
                      · peaks {formatValue(Math.min(...b.examples.map((e) => e.maxValue)))}–{formatValue(Math.max(...b.examples.map((e) => e.maxValue)))}
                    </span>
                  </h5>
                  <ol class="examples">
                    <For each={b.examples}>{(e) => <Example e={e} max={props.feature.maxActivation} testId="quantile-example" showRank={false} />}</For>
                  </ol>
                </div>
              )}
            </For>
          </Show>
        </section>
  );
}
