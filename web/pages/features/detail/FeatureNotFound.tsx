import { A } from '@solidjs/router';
import { Show } from 'solid-js';
import type { Sae } from '../../../../models/contracts/trainings.ts';
import { featureNotFoundText, type FeatureIndexPart } from '../../../data/feature-view.ts';

/**
 * A feature's page with no feature to show: why, in words (a bad address, no
 * such SAE, an index past its features, no discovery yet), and where to go
 * instead: the SAE's feature list, its first and last features.
 */
export function FeatureNotFound(props: {
  raw: string | undefined;
  part: FeatureIndexPart;
  /** the SAE of the address: undefined while it loads, null when there is none */
  sae: Sae | null | undefined;
  listLink: string;
  featureLink: (index: number) => string;
}) {
  const inRange = () => props.sae && 'index' in props.part && props.part.index < props.sae.dSae;
  return (
    <div class="error not-found" role="alert" data-testid="feature-error">
      <p>{featureNotFoundText(props.raw, props.part, props.sae)}</p>
      <p class="not-found-links">
        <Show when={props.sae !== null} fallback={<A href="/features">Pick an SAE on the Features page</A>}>
          <A href={props.listLink} data-testid="not-found-list">
            {inRange() ? 'Run a discovery on the Features page' : 'This SAE’s features'}
          </A>
          <Show when={props.sae && !inRange() && props.sae.dSae > 0}>
            {' · '}
            <A href={props.featureLink(0)} data-testid="not-found-first">
              first feature #0
            </A>
            {' · '}
            <A href={props.featureLink(props.sae!.dSae - 1)} data-testid="not-found-last">
              last feature #{(props.sae!.dSae - 1).toLocaleString('en-US')}
            </A>
          </Show>
        </Show>
      </p>
    </div>
  );
}
