import { Match, Switch, type JSX } from 'solid-js';
import type { AnalysisState } from '../../../data/features.ts';

/** The common frame of an analysis: spinner while it loads (and says when the server computes it), error with a retry. */
export function AnalysisBody<T>(props: { state: AnalysisState<T>; what: string; children: (data: T) => JSX.Element }) {
  return (
    <Switch>
      <Match when={props.state.error()}>
        {(err) => (
          <div class="analysis-error" role="alert" data-testid="analysis-error">
            <span class="field-error">
              Could not compute the {props.what}: {err().message}
            </span>{' '}
            <button type="button" onClick={() => props.state.retry()}>
              Retry
            </button>
          </div>
        )}
      </Match>
      <Match when={props.state.data()}>{(d) => props.children(d())}</Match>
      <Match when={props.state.loading()}>
        <p class="muted loading-line" data-testid="analysis-loading">
          <span class="spinner" /> {props.state.jobId() ? `computing the ${props.what} on a worker…` : `loading the ${props.what}…`}
        </p>
      </Match>
    </Switch>
  );
}

/** When an analysis was computed, and whether it came from the cache. */
export function computedNote(d: { cached: boolean; computedAt: number }): string {
  return `${d.cached ? 'cached' : 'computed'} ${new Date(d.computedAt).toLocaleString()}`;
}
