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
import { A, useNavigate, useParams, useSearchParams } from '@solidjs/router';
import { createEffect, createMemo, createSignal, on, onCleanup, Show } from 'solid-js';
import type { FeatureDetail, LensNorm } from '../../../../models/contracts/features.ts';
import type { Sae } from '../../../../models/contracts/trainings.ts';
import { ApiError, errorMessage } from '../../../api.ts';
import { formatInt } from '../../../data/dataset-view.ts';
import { featureHref, featureId, listSearch, parseListQuery } from '../../../data/feature-query.ts';
import { featureKeyAction, parseFeatureIndex } from '../../../data/feature-view.ts';
import { loadFeature, loadSae, loadSettings, patchFeature } from '../../../data/features.ts';
import { ActivationHistogram } from '../../../ui/ActivationHistogram.tsx';
import { AblationPanel } from './AblationPanel.tsx';
import { CorrelationsPanel } from './CorrelationsPanel.tsx';
import { ExamplesCard } from './ExamplesCard.tsx';
import { FeatureNotFound } from './FeatureNotFound.tsx';
import { FeatureSummary } from './FeatureSummary.tsx';
import { LogitLensPanel } from './LogitLensPanel.tsx';
import { Notes } from './Notes.tsx';
import { SimilarPanel } from './SimilarPanel.tsx';
import '../Features.css';

export default function FeatureDetailPage() {
  const params = useParams<{ saeId: string; index?: string }>();
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const lensNorm = (): LensNorm => (search.lens === 'none' ? 'none' : 'weight');
  const list = createMemo(() => parseListQuery({ ...search, sae: params.saeId }));
  const listLink = () => `/features${listSearch(list())}`;
  const keep = () => listSearch({ ...list(), sae: null });
  /** the address's index, or why it names none (`/abc`, `/-1`, none at all) */
  const part = createMemo(() => parseFeatureIndex(params.index));
  const index = () => {
    const p = part();
    return 'index' in p ? p.index : -1;
  };
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
      if (index() < 0) {
        setFeature(undefined);
        setError(new Error('not a feature index'));
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
  // No feature at this address: its SAE says why (none such, an index past its features, no discovery yet) and where to go.
  const notFound = () => index() < 0 || (error() instanceof ApiError && (error() as ApiError).status === 404);
  const [sae, setSae] = createSignal<Sae | null>();
  createEffect(
    on(
      () => [params.saeId, notFound()] as const,
      ([saeId, missing]) => {
        setSae(undefined);
        if (!missing) return;
        const ac = new AbortController();
        onCleanup(() => ac.abort());
        loadSae(saeId, ac.signal).then(setSae, () => undefined);
      },
    ),
  );
  // the neighbours of the feature shown (not of one still loading, nor of an address with none)
  const shown = () => (feature()?.index === index() ? feature() : undefined);
  const prevHref = () => (shown() && index() > 0 ? featureHref(params.saeId, index() - 1, list()) : undefined);
  const nextHref = () => (shown() && index() + 1 < shown()!.sae.dSae ? featureHref(params.saeId, index() + 1, list()) : undefined);

  // ←/→ the previous and next feature, f the favourite star, / the list's search (as on Neuronpedia)
  const onKey = (e: KeyboardEvent) => {
    const action = featureKeyAction({ key: e.key, altKey: e.altKey, ctrlKey: e.ctrlKey, metaKey: e.metaKey, target: e.target as HTMLElement | null });
    if (!action) return;
    if (action === 'prev' || action === 'next') {
      const href = action === 'prev' ? prevHref() : nextHref();
      if (!href) return;
      e.preventDefault();
      navigate(href);
    } else if (action === 'star') {
      if (!feature()) return;
      e.preventDefault();
      void star();
    } else {
      e.preventDefault();
      navigate(listLink(), { state: { focusSearch: true } });
    }
  };
  window.addEventListener('keydown', onKey);
  onCleanup(() => window.removeEventListener('keydown', onKey));

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
        <h1 data-testid="feature-heading">{index() < 0 ? 'No such feature' : `Feature #${index()}`}</h1>
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
        <Show when={feature()}>
          <span class="muted small key-hints" data-testid="key-hints">
            <kbd>←</kbd> <kbd>→</kbd> previous / next · <kbd>f</kbd> favourite · <kbd>/</kbd> search
          </span>
        </Show>
        <Show when={prevHref()}>
          {(href) => (
            <A href={href()} data-testid="prev-feature" aria-keyshortcuts="ArrowLeft">
              ‹ #{index() - 1}
            </A>
          )}
        </Show>
        <Show when={nextHref()}>
          {(href) => (
            <A href={href()} data-testid="next-feature" aria-keyshortcuts="ArrowRight">
              #{index() + 1} ›
            </A>
          )}
        </Show>
      </header>

      <Show when={error()}>
        {(err) => (
          <Show
            when={notFound()}
            fallback={
              <div class="error" role="alert" data-testid="feature-error">
                Could not load the feature: {err().message}
              </div>
            }
          >
            <FeatureNotFound raw={params.index} part={part()} sae={sae()} listLink={listLink()} featureLink={(i) => featureHref(params.saeId, i, list())} />
          </Show>
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
                <SimilarPanel saeId={params.saeId} index={index()} />
              </div>
            </div>
            <div class="feature-grid lower">
              <CorrelationsPanel saeId={params.saeId} id={f().id} list={keep()} />
              <Notes feature={f()} onSaved={(notes) => merge({ notes, hasNotes: notes !== null })} />
            </div>
            <AblationPanel id={f().id} max={f().maxActivation} />
          </>
        )}
      </Show>
    </div>
  );
}
