/**
 * Features page: pick an SAE, discover its features (a `features.discover`
 * run over the stored activations of an extraction — by default the one the
 * SAE was trained on — or over fresh text from a dataset run through the
 * SAE's model, followed live from `discovery/{id}`: phase, rows, ETA,
 * cancel; each run says what it ran over), and
 * browse them in a table searched, filtered, sorted and paged by the server
 * (`GET /api/features`): label substring, peak token, activation frequency
 * range (log scale, in %), favourites. The whole view lives in the URL, so a
 * link reproduces it and back/forward step through it; typing is debounced.
 * A row opens the feature's page (detail/index.tsx). The SAE picker and the
 * discoveries reload every 10 s while the tab is visible: an SAE or a
 * discovery made elsewhere (the first-start demo, the API) appears.
 */
import { A, useSearchParams } from '@solidjs/router';
import { createEffect, createMemo, createSignal, For, Show } from 'solid-js';
import { defaultSae, saeLabel } from '../../data/feature-view.ts';
import { listSearchParams, parseListQuery, type FeatureListQuery } from '../../data/feature-query.ts';
import { errorMessage } from '../../api.ts';
import { createDiscoveriesStore, createFeatureListStore, createSaesStore, makeSaeActive } from '../../data/features.ts';
import { DiscoveryPanel } from './DiscoveryPanel.tsx';
import { FeatureTable } from './FeatureTable.tsx';
import { Filters } from './Filters.tsx';
import './Features.css';

/** An SAE as the picker names it; the hook once, when the name does not already say it. */

export default function FeaturesPage() {
  const [params, setParams] = useSearchParams();
  const query = createMemo(() => parseListQuery({ ...params }), undefined, { equals: (a, b) => JSON.stringify(a) === JSON.stringify(b) });
  /** a new view in the URL (a history entry); any change but paging goes back to page 1 */
  const set = (patch: Partial<FeatureListQuery>, opts: { keepPage?: boolean; replace?: boolean } = {}) => {
    const next = { ...query(), ...patch };
    if (!opts.keepPage && patch.page === undefined) next.page = 1;
    setParams(listSearchParams(next), { replace: opts.replace ?? false });
  };

  // Reloaded every 10 s while the tab is visible: an SAE trained meanwhile (by the first-start demo, say) appears.
  const saeStore = createSaesStore();
  const saes = saeStore.list;
  const saeError = saeStore.error;
  const reloadSaes = saeStore.reload;
  // No SAE in the URL: the newest family's active one, without a history entry of its own.
  createEffect(() => {
    const pick = defaultSae(saes() ?? []);
    if (pick && !query().sae) set({ sae: pick.id }, { replace: true });
  });
  const sae = () => saes()?.find((s) => s.id === query().sae);
  const [activating, setActivating] = createSignal(false);
  const [activateError, setActivateError] = createSignal<string>();
  const activate = async (id: string) => {
    setActivating(true);
    setActivateError(undefined);
    try {
      await makeSaeActive(id);
      await reloadSaes();
    } catch (err) {
      setActivateError(errorMessage(err));
    } finally {
      setActivating(false);
    }
  };

  const list = createFeatureListStore(query);
  const discoveries = createDiscoveriesStore(
    () => query().sae,
    () => list.reload(),
  );
  const noFeatures = () => list.data()?.total === 0 && !query().q && !query().token && query().minFreq === null && query().maxFreq === null && !query().favourite;

  return (
    <div class="page features-page">
      <header class="page-head">
        <h1>Features</h1>
        <label class="inline sae-picker">
          <span class="muted">SAE</span>
          <select value={query().sae ?? ''} onChange={(e) => set({ sae: e.currentTarget.value, q: '', token: '', minFreq: null, maxFreq: null, favourite: false })} data-testid="sae-select">
            <Show when={query().sae && saes() && !sae()}>
              <option value={query().sae!} selected>
                unknown SAE {query().sae}
              </option>
            </Show>
            {/* each option says whether it is the URL's SAE: the select's own value is set before its options exist on a direct open */}
            <For each={saes()}>
              {(s) => (
                <option value={s.id} selected={s.id === query().sae}>
                  {saeLabel(s)}
                </option>
              )}
            </For>
          </select>
        </label>
        <Show when={sae()}>
          {(s) => (
            <>
              <Show when={s().family && !s().family!.active}>
                <button type="button" onClick={() => void activate(s().id)} disabled={activating()} title="Make this version the one the Features page, the inspector and the API use by default for its family" data-testid="make-active">
                  Make v{s().family!.version} active
                </button>
              </Show>
              <A href={`/inspector?sae=${s().id}`} data-testid="inspect-sae" title="Run text through this SAE in the browser">
                Inspect text
              </A>
            </>
          )}
        </Show>
      </header>
      <Show when={activateError()}>
        <div class="error" role="alert">
          <b>Could not make it active:</b> {activateError()}
        </div>
      </Show>
      <Show when={saeError()}>
        <div class="error" role="alert">
          <b>Could not load the SAEs:</b> {saeError()} <button onClick={() => void reloadSaes()}>Retry</button>
        </div>
      </Show>
      <Show when={saes()} fallback={<p class="muted">{saeError() ? '' : 'Loading…'}</p>}>
        <Show
          when={saes()!.length > 0}
          fallback={
            <p class="muted" data-testid="no-saes">
              No SAE yet: train one on the <A href="/training">Training</A> page (or import one with <code>loupe sae import</code>); its features are discovered here.
            </p>
          }
        >
          <Show
            when={sae()}
            fallback={
              <div class="error" role="alert" data-testid="unknown-sae">
                No SAE {query().sae}: it may have been deleted. Pick another above.
              </div>
            }
          >
            {(s) => (
              <>
                <DiscoveryPanel store={discoveries} sae={s()} />
                <Filters query={query()} set={set} />
                <Show when={!noFeatures()} fallback={<p class="muted" data-testid="no-features">No features yet for this SAE: run a discovery above.</p>}>
                  <FeatureTable store={list} query={query()} set={set} />
                </Show>
              </>
            )}
          </Show>
        </Show>
      </Show>
    </div>
  );
}
