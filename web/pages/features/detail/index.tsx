/**
 * A feature's page (`/features/{saeId}/{index}`, the list's view kept in the
 * query for the way back): its label with where it came from, edited in
 * place (Enter saves, Escape cancels), favourite and notes; the
 * interpretability score and what it means; frequency, max and mean; the
 * activation histogram; the max-activating examples as token strips lit by
 * activation with a tooltip per token; and the three analyses, each loaded
 * on its own with a spinner (the server may answer 202 while it computes):
 * logit-lens bars, correlated features, and an ablation run on request;
 * the features with the most similar decoder directions, searched in the
 * browser (WebGPU, or the CPU).
 */
import { A, useParams, useSearchParams } from '@solidjs/router';
import { createEffect, createMemo, createSignal, on, onCleanup, Show } from 'solid-js';
import type { FeatureDetail, LensNorm } from '../../../../models/contracts/features.ts';
import { ApiError, errorMessage } from '../../../api.ts';
import { formatInt } from '../../../data/dataset-view.ts';
import { featureHref, featureId, listSearch, parseListQuery } from '../../../data/feature-query.ts';
import { loadFeature, loadSettings, patchFeature } from '../../../data/features.ts';
import { ActivationHistogram } from '../../../ui/ActivationHistogram.tsx';
import { AblationPanel } from './AblationPanel.tsx';
import { CorrelationsPanel } from './CorrelationsPanel.tsx';
import { ExamplesCard } from './ExamplesCard.tsx';
import { FeatureSummary } from './FeatureSummary.tsx';
import { LogitLensPanel } from './LogitLensPanel.tsx';
import { Notes } from './Notes.tsx';
import { SimilarPanel } from './SimilarPanel.tsx';
import '../Features.css';

export default function FeatureDetailPage() {
  const params = useParams<{ saeId: string; index: string }>();
  const [search, setSearch] = useSearchParams();
  const lensNorm = (): LensNorm => (search.lens === 'none' ? 'none' : 'weight');
  const list = createMemo(() => parseListQuery({ ...search, sae: params.saeId }));
  const listLink = () => `/features${listSearch(list())}`;
  const keep = () => listSearch({ ...list(), sae: null });
  const index = () => Number(params.index);
  const id = createMemo(() => featureId(params.saeId, index()));

  const [feature, setFeature] = createSignal<FeatureDetail>();
  const [error, setError] = createSignal<ApiError | Error>();
  const [loading, setLoading] = createSignal(true);
  createEffect(
    on(id, (fid) => {
      const ac = new AbortController();
      onCleanup(() => ac.abort());
      setLoading(true);
      setError(undefined);
      if (!Number.isInteger(index()) || index() < 0) {
        setError(new Error(`"${params.index}" is not a feature index`));
        setLoading(false);
        return;
      }
      loadFeature(fid, ac.signal).then(
        (f) => {
          setFeature(f);
          setLoading(false);
        },
        (err) => {
          if (ac.signal.aborted) return;
          setFeature(undefined);
          setError(err instanceof Error ? err : new Error(String(err)));
          setLoading(false);
        },
      );
    }),
  );
  // whether labels can be asked of an LLM now (Settings)
  const [llm, setLlm] = createSignal(false);
  loadSettings().then(
    (s) => setLlm(s.llm !== null),
    () => undefined, // the page works without it
  );
  const merge = (patch: Partial<FeatureDetail>) => setFeature((f) => (f ? { ...f, ...patch } : f));
  const [starError, setStarError] = createSignal<string>();
  const star = async () => {
    const f = feature();
    if (!f) return;
    setStarError(undefined);
    merge({ favourite: !f.favourite });
    try {
      await patchFeature(f.id, { favourite: !f.favourite });
    } catch (err) {
      merge({ favourite: f.favourite });
      setStarError(errorMessage(err));
    }
  };

  return (
    <div class="page feature-page">
      <header class="page-head">
        <A href={listLink()} class="back-link" data-testid="back-to-list">
          ← Features
        </A>
        <h1 data-testid="feature-heading">Feature #{params.index}</h1>
        <Show when={feature()}>
          {(f) => (
            <span class="muted">
              {f().sae.name}
              <Show when={!f().sae.name.includes(f().sae.hookPoint)}>
                {' '}· <code>{f().sae.hookPoint}</code>
              </Show>{' '}
              · of {formatInt(f().sae.dSae)}
            </span>
          )}
        </Show>
        <div class="spacer" />
        <Show when={index() > 0}>
          <A href={featureHref(params.saeId, index() - 1, list())} data-testid="prev-feature">
            ‹ #{index() - 1}
          </A>
        </Show>
        <Show when={!feature() || index() + 1 < feature()!.sae.dSae}>
          <A href={featureHref(params.saeId, index() + 1, list())} data-testid="next-feature">
            #{index() + 1} ›
          </A>
        </Show>
      </header>

      <Show when={error()}>
        {(err) => (
          <div class="error" role="alert" data-testid="feature-error">
            <Show when={err() instanceof ApiError && (err() as ApiError).status === 404} fallback={<>Could not load the feature: {err().message}</>}>
              No feature #{params.index} in this SAE: {err().message}. Features exist once a discovery of the SAE completed (on the <A href={listLink()}>Features</A> page).
            </Show>
          </div>
        )}
      </Show>
      <Show when={loading() && !feature()}>
        <p class="muted loading-line">
          <span class="spinner" /> Loading the feature…
        </p>
      </Show>

      <Show when={feature()}>
        {(f) => (
          <>
            <FeatureSummary feature={f()} llm={llm()} onSaved={merge} onStar={() => void star()} starError={starError()} />

            <div class="feature-grid">
              <ExamplesCard feature={f()} />
              <div class="side-column">
                <section class="card">
                  <h3 class="card-title">Activation histogram</h3>
                  <Show when={f().histogram.counts.some((c) => c > 0)} fallback={<p class="muted">No activation recorded.</p>}>
                    <ActivationHistogram histogram={f().histogram} />
                  </Show>
                </section>
                <LogitLensPanel id={f().id} norm={lensNorm()} onNorm={(n) => setSearch({ lens: n === 'weight' ? undefined : n }, { replace: true })} />
              </div>
            </div>
            <div class="feature-grid lower">
              <CorrelationsPanel saeId={params.saeId} id={f().id} list={keep()} />
              <SimilarPanel saeId={params.saeId} index={index()} />
              <Notes feature={f()} onSaved={(notes) => merge({ notes, hasNotes: notes !== null })} />
            </div>
            <AblationPanel id={f().id} max={f().maxActivation} />
          </>
        )}
      </Show>
    </div>
  );
}
