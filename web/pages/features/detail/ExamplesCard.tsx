import { For, Show } from 'solid-js';
import type { FeatureDetail } from '../../../../models/contracts/features.ts';
import { formatValue } from '../../../data/feature-view.ts';
import { TokenStrip } from '../../../ui/TokenStrip.tsx';

/** One top example as a lit strip, with its rank and peak value. */
function Example(props: { e: FeatureDetail['examples'][number]; max: number }) {
  const peak = () => props.e.position - props.e.start;
  return (
    <li class="example" data-testid="example" data-rank={props.e.rank}>
      <span class="example-rank muted">#{props.e.rank + 1}</span>
      <TokenStrip tokens={props.e.tokens} max={props.max} peak={peak()} />
      <span class="example-max num" title="activation at the peak">
        {formatValue(props.e.maxValue)}
      </span>
    </li>
  );
}

/** The feature's top activating examples, each lit by activation. */
export function ExamplesCard(props: { feature: FeatureDetail }) {
  return (
        <section class="card examples-card" data-testid="examples">
          <div class="chart-head">
            <h3 class="card-title">Top activating examples</h3>
            <span class="muted small">lit by activation relative to the max ({formatValue(props.feature.maxActivation)}); the peak outlined; hover a token for its value</span>
          </div>
          <Show when={props.feature.examples.length > 0} fallback={<p class="muted">None: the feature never fired on the scanned activations.</p>}>
            <ol class="examples">
              <For each={props.feature.examples}>{(e) => <Example e={e} max={props.feature.maxActivation} />}</For>
            </ol>
          </Show>
        </section>
  );
}
