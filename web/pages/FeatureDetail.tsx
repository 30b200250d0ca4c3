/**
 * A feature's page (`/features/{saeId}/{index}`, the list's view kept in the
 * query for the way back): its label with where it came from, edited in
 * place (Enter saves, Escape cancels), favourite and notes; the
 * interpretability score and what it means; frequency, max and mean; the
 * activation histogram; the max-activating examples as token strips lit by
 * activation with a tooltip per token; and the three analyses, each loaded
 * on its own with a spinner (the server may answer 202 while it computes):
 * logit-lens bars, correlated features, and an ablation run on request.
 */
import { A, useParams, useSearchParams } from '@solidjs/router';
import { createEffect, createMemo, createSignal, For, Match, on, onCleanup, Show, Switch, type JSX } from 'solid-js';
import { ablationSchema, correlationsSchema, FEATURE_LIMITS, LENS_NORMS, logitLensSchema, type AblationResponse, type FeatureDetail, type LensNorm } from '../../models/contracts/features.ts';
import { ApiError, errorMessage } from '../api.ts';
import { formatInt } from '../data/dataset-view.ts';
import {
  explainScore,
  featureHref,
  featureId,
  formatFrequency,
  formatScore,
  formatValue,
  labelSourceText,
  listSearch,
  parseListQuery,
  quoteToken,
  tokenPieces,
} from '../data/feature-view.ts';
import { createAnalysis, loadFeature, loadSettings, patchFeature, relabelFeature, type AnalysisState } from '../data/features.ts';
import { ActivationHistogram } from '../ui/ActivationHistogram.tsx';
import { LogitBars } from '../ui/LogitBars.tsx';
import { TokenChip } from '../ui/TokenChip.tsx';
import { TokenStrip } from '../ui/TokenStrip.tsx';
import './Features.css';

/** Logit-lens tokens shown on each side. */
const LENS_K = 12;

/** The label, edited in place; `llm`: whether an LLM endpoint is set up (then a new label can be asked for). */
function LabelEditor(props: { feature: FeatureDetail; llm: boolean; onSaved: (f: Partial<FeatureDetail>) => void }) {
  const [editing, setEditing] = createSignal(false);
  const [text, setText] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  let input: HTMLInputElement | undefined;
  const begin = () => {
    setText(props.feature.label ?? '');
    setError(undefined);
    setEditing(true);
    queueMicrotask(() => input?.select());
  };
  const save = async (label: string | null) => {
    setBusy(true);
    setError(undefined);
    try {
      const after = await patchFeature(props.feature.id, { label });
      props.onSaved(after ?? { label, labelSource: label === null ? 'heuristic' : 'user' });
      setEditing(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const relabel = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const after = await relabelFeature(props.feature.id);
      if (after) props.onSaved(after);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      const t = text().trim();
      void save(t === '' ? null : t);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      setEditing(false);
      setError(undefined);
    }
  };
  return (
    <div class="label-editor">
      <Show
        when={editing()}
        fallback={
          <h2 class="feature-title">
            <button type="button" class="label-text" onClick={begin} title="click to edit the label" data-testid="feature-label">
              {props.feature.label ?? '(no label)'}
            </button>
            <span class={`badge source-${props.feature.labelSource ?? 'none'}`} data-testid="label-source" title="where the label comes from">
              {labelSourceText(props.feature.labelSource)}
            </span>
            <button type="button" class="icon-button" onClick={begin} title="edit the label" data-testid="label-edit">
              ✎
            </button>
          </h2>
        }
      >
        <div class="label-input-row">
          <input
            ref={input}
            class="label-input"
            value={text()}
            maxLength={FEATURE_LIMITS.MAX_LABEL}
            disabled={busy()}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={onKey}
            placeholder="a short description; empty goes back to the heuristic label"
            aria-label="label"
            data-testid="label-input"
          />
          <span class="muted hint-inline">Enter saves · Escape cancels</span>
        </div>
      </Show>
      <div class="label-meta muted">
        <Show when={props.feature.labelSource !== 'heuristic'}>
          <span>
            heuristic: <span data-testid="heuristic-label">{props.feature.heuristic.label}</span>
          </span>
        </Show>
        <Show when={props.feature.labelSource === 'user'}>
          <button type="button" class="link-button" disabled={busy()} onClick={() => void save(null)} data-testid="label-reset">
            use the heuristic label
          </button>
        </Show>
        <Show when={props.llm}>
          <button type="button" class="link-button" disabled={busy()} onClick={() => void relabel()} title="ask the LLM endpoint of the Settings for a label now" data-testid="label-llm">
            label with the LLM
          </button>
        </Show>
      </div>
      <Show when={error()}>
        <p class="field-error" role="alert" data-testid="label-error">
          {error()}
        </p>
      </Show>
    </div>
  );
}

/** Notes, saved when the field loses focus. */
function Notes(props: { feature: FeatureDetail; onSaved: (notes: string | null) => void }) {
  const [text, setText] = createSignal(props.feature.notes ?? '');
  const [state, setState] = createSignal<{ kind: 'saving' | 'saved' | 'error'; text?: string }>();
  createEffect(on(() => props.feature.id, () => setText(props.feature.notes ?? '')));
  const save = async () => {
    const notes = text().trim() === '' ? null : text();
    if (notes === (props.feature.notes ?? null)) return;
    setState({ kind: 'saving' });
    try {
      await patchFeature(props.feature.id, { notes });
      props.onSaved(notes);
      setState({ kind: 'saved' });
    } catch (err) {
      setState({ kind: 'error', text: errorMessage(err) });
    }
  };
  return (
    <section class="card notes-card">
      <div class="chart-head">
        <h3 class="card-title">Notes</h3>
        <span class="muted notes-state" data-testid="notes-state">
          {state()?.kind === 'saving' ? 'saving…' : state()?.kind === 'saved' ? 'saved' : ''}
        </span>
      </div>
      <textarea class="notes" rows={3} maxLength={FEATURE_LIMITS.MAX_NOTES} placeholder="What you found; saved when you leave the field." value={text()} onInput={(e) => setText(e.currentTarget.value)} onBlur={() => void save()} data-testid="feature-notes" />
      <Show when={state()?.kind === 'error'}>
        <p class="field-error" role="alert">
          Not saved: {state()!.text}
        </p>
      </Show>
    </section>
  );
}

/** The common frame of an analysis: spinner while it loads (and says when the server computes it), error with a retry. */
function AnalysisBody<T>(props: { state: AnalysisState<T>; what: string; children: (data: T) => JSX.Element }) {
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

function computedNote(d: { cached: boolean; computedAt: number }): string {
  return `${d.cached ? 'cached' : 'computed'} ${new Date(d.computedAt).toLocaleString()}`;
}

/** What each lens convention computes, as the panel says it. */
const LENS_EXPLAIN: Record<LensNorm, { button: string; text: string }> = {
  weight: { button: 'weighted', text: "W_dec[f], centred for a LayerNorm model, times the final norm's gain γ, times W_U" },
  none: { button: 'raw', text: 'W_dec[f] · W_U exactly' },
};

function LogitLensPanel(props: { id: string; norm: LensNorm; onNorm: (n: LensNorm) => void }) {
  const state = createAnalysis(() => `/api/features/${props.id}/logit-lens?k=${LENS_K}&norm=${props.norm}`, logitLensSchema);
  return (
    <section class="card" data-testid="logit-lens">
      <div class="chart-head">
        <h3 class="card-title">Logit lens</h3>
        <Show when={state.data()}>{(d) => <span class="muted small" data-testid="computed-note">{computedNote(d())}</span>}</Show>
        <div class="segmented" role="group" aria-label="Logit lens convention" data-testid="lens-norm">
          <For each={LENS_NORMS}>
            {(n) => (
              <button type="button" classList={{ active: props.norm === n }} aria-pressed={props.norm === n} title={LENS_EXPLAIN[n].text} onClick={() => props.onNorm(n)}>
                {LENS_EXPLAIN[n].button}
              </button>
            )}
          </For>
        </div>
      </div>
      <p class="muted small explain" data-testid="lens-convention">
        The next tokens this feature promotes and suppresses: {LENS_EXPLAIN[props.norm].text}. No bias is added (the final norm's would give every feature the same tokens) and the direction is not normalised.
      </p>
      <AnalysisBody state={state} what="logit lens">
        {(d) => {
          const max = Math.max(1e-9, ...d.top.map((r) => Math.abs(r.value)), ...d.bottom.map((r) => Math.abs(r.value)));
          return (
            <div class="lens-columns">
              <div>
                <h4 class="lens-head pos">promoted</h4>
                <LogitBars rows={d.top} max={max} tone="pos" testId="lens-top" />
              </div>
              <div>
                <h4 class="lens-head neg">suppressed</h4>
                <LogitBars rows={d.bottom} max={max} tone="neg" testId="lens-bottom" />
              </div>
            </div>
          );
        }}
      </AnalysisBody>
    </section>
  );
}

function CorrelationsPanel(props: { saeId: string; id: string; list: string }) {
  const state = createAnalysis(() => `/api/features/${props.id}/correlations?k=8`, correlationsSchema);
  const Row = (p: { feature: number; r: number; label: string | null }) => (
    <li data-testid="correlation">
      <A href={`/features/${props.saeId}/${p.feature}${props.list}`} data-testid="correlation-link">
        #{p.feature}
      </A>
      <span class="corr-label">{p.label ?? '—'}</span>
      <span class="corr-bar" classList={{ neg: p.r < 0 }}>
        <i style={{ width: `${Math.min(100, Math.abs(p.r) * 100)}%` }} />
      </span>
      <span class="num corr-r">{p.r.toFixed(2)}</span>
    </li>
  );
  return (
    <section class="card" data-testid="correlations">
      <div class="chart-head">
        <h3 class="card-title">Correlated features</h3>
        <Show when={state.data()}>{(d) => <span class="muted small" data-testid="computed-note">{computedNote(d())}</span>}</Show>
      </div>
      <AnalysisBody state={state} what="correlations">
        {(d) => (
          <>
            <p class="muted small explain">Pearson correlation of activations over {formatInt(d.rows)} stored activation rows.</p>
            <div class="corr-columns">
              <div>
                <h4 class="lens-head pos">most positive</h4>
                <ul class="corr-list">
                  <For each={d.positive} fallback={<li class="muted">none</li>}>
                    {(c) => <Row {...c} />}
                  </For>
                </ul>
              </div>
              <div>
                <h4 class="lens-head neg">most negative</h4>
                <ul class="corr-list">
                  <For each={d.negative} fallback={<li class="muted">none</li>}>
                    {(c) => <Row {...c} />}
                  </For>
                </ul>
              </div>
            </div>
          </>
        )}
      </AnalysisBody>
    </section>
  );
}

const pct = (p: number) => `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)} %`;
const shown = (text: string) => tokenPieces(text).map((p) => p.text).join('');
/** Loss change colour: red where the loss rose, blue where it fell, by magnitude against `max`. */
const deltaColor = (max: number) => (v: number) => {
  const a = max > 0 ? Math.min(1, Math.abs(v) / max) : 0;
  return v >= 0 ? `rgba(220, 38, 38, ${(a * 0.8).toFixed(2)})` : `rgba(37, 99, 235, ${(a * 0.8).toFixed(2)})`;
};

function AblationResult(props: { d: AblationResponse }) {
  const d = () => props.d;
  const maxDelta = () => Math.max(1e-9, ...d().deltaLoss.flat().map((v) => Math.abs(v)));
  const context = (row: number, pos: number) => {
    const toks = d().contexts[row]?.tokens ?? [];
    return toks
      .slice(Math.max(0, pos - 5), pos + 1)
      .map((t) => shown(t.text))
      .join('');
  };
  const deltaLoss = () => d().lossAfter - d().lossBefore;
  return (
    <div data-testid="ablation-result">
      <dl class="feature-facts ablation-facts">
        <div>
          <dt>loss</dt>
          <dd data-testid="ablation-loss">
            {d().lossBefore.toFixed(4)} → {d().lossAfter.toFixed(4)}{' '}
            <span classList={{ up: deltaLoss() > 0, down: deltaLoss() < 0 }}>
              ({deltaLoss() >= 0 ? '+' : ''}
              {deltaLoss().toFixed(4)})
            </span>
          </dd>
        </div>
        <div>
          <dt>perplexity</dt>
          <dd data-testid="ablation-ppl">
            {d().perplexityBefore.toFixed(3)} → {d().perplexityAfter.toFixed(3)}
          </dd>
        </div>
        <div>
          <dt>contexts</dt>
          <dd>{d().contexts.length}</dd>
        </div>
      </dl>
      <Show when={d().moved.length > 0} fallback={<p class="muted small">No next-token probability moved.</p>}>
        <h4 class="lens-head">Next-token probabilities that moved most</h4>
        <table class="run-hooks moved-table" data-testid="ablation-moved">
          <thead>
            <tr>
              <th>context</th>
              <th>next token</th>
              <th class="num">before</th>
              <th class="num">after</th>
              <th class="num">change</th>
            </tr>
          </thead>
          <tbody>
            <For each={d().moved}>
              {(m) => (
                <tr>
                  <td>
                    <code class="ctx">…{context(m.row, m.pos)}</code>
                  </td>
                  <td>
                    <code title={`${quoteToken(m.text)} · id ${m.token}`}>{shown(m.text)}</code>
                  </td>
                  <td class="num">{pct(m.before)}</td>
                  <td class="num">{pct(m.after)}</td>
                  <td class="num">
                    {m.after >= m.before ? '+' : ''}
                    {((m.after - m.before) * 100).toFixed(2)} pt
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <h4 class="lens-head">Loss change per position</h4>
      <p class="muted small explain">Each token lit by how much the loss of predicting the token after it changed: red rose, blue fell.</p>
      <div class="examples compact-examples">
        <For each={d().contexts}>
          {(c, row) => (
            <TokenStrip
              tokens={c.tokens.map((t, i) => ({ id: t.id, text: t.text, value: d().deltaLoss[row()]?.[i] ?? 0 }))}
              max={maxDelta()}
              color={deltaColor(maxDelta())}
              valueLabel="Δ loss (next token)"
              testId="ablation-strip"
            />
          )}
        </For>
      </div>
    </div>
  );
}

function AblationPanel(props: { id: string; max: number }) {
  const [mode, setMode] = createSignal<'zero' | 'clamp'>('zero');
  const [value, setValue] = createSignal('');
  const [examples, setExamples] = createSignal(String(FEATURE_LIMITS.DEFAULT_ABLATION_EXAMPLES));
  const [path, setPath] = createSignal<string | null>(null);
  const state = createAnalysis(path, ablationSchema);
  // another feature: nothing run for it yet
  createEffect(on(() => props.id, () => setPath(null), { defer: true }));
  const run = () => {
    const q = new URLSearchParams({ mode: mode(), examples: examples().trim() || String(FEATURE_LIMITS.DEFAULT_ABLATION_EXAMPLES) });
    if (mode() === 'clamp') q.set('value', value().trim());
    const next = `/api/features/${props.id}/ablation?${q}`;
    if (next === path()) state.retry();
    else setPath(next);
  };
  return (
    <section class="card" data-testid="ablation">
      <h3 class="card-title">Ablation</h3>
      <p class="muted small explain">Zero the feature (or clamp it to a value) inside the forward pass at its hook, on its top contexts, with the SAE's error term kept so only this feature changes; then compare the next-token loss.</p>
      <div class="form-row ablation-form">
        <label class="field">
          <span>Mode</span>
          <select value={mode()} onChange={(e) => setMode(e.currentTarget.value as 'zero' | 'clamp')} data-testid="ablation-mode">
            <option value="zero">zero</option>
            <option value="clamp">clamp to</option>
          </select>
        </label>
        <Show when={mode() === 'clamp'}>
          <label class="field narrow">
            <span>Value</span>
            <input inputmode="decimal" value={value()} placeholder={formatValue(props.max)} onInput={(e) => setValue(e.currentTarget.value)} data-testid="ablation-value" />
          </label>
        </Show>
        <label class="field narrow">
          <span>Contexts</span>
          <input inputmode="numeric" value={examples()} onInput={(e) => setExamples(e.currentTarget.value)} data-testid="ablation-examples" />
        </label>
        <button type="button" class="primary" disabled={state.loading()} onClick={run} data-testid="ablation-run">
          {state.loading() ? 'Running…' : 'Run ablation'}
        </button>
      </div>
      <Show when={path()}>
        <AnalysisBody state={state} what="ablation">
          {(d) => <AblationResult d={d} />}
        </AnalysisBody>
      </Show>
    </section>
  );
}

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
  const score = () => {
    const f = feature()!;
    return explainScore(f.score, f.examples.length, f.heuristic.kind);
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
            <section class="card feature-summary" data-testid="feature-summary">
              <div class="summary-top">
                <button type="button" class="star big" classList={{ on: f().favourite }} aria-pressed={f().favourite} title={f().favourite ? 'remove from favourites' : 'add to favourites'} onClick={() => void star()} data-testid="feature-star">
                  {f().favourite ? '★' : '☆'}
                </button>
                <LabelEditor feature={f()} llm={llm()} onSaved={merge} />
              </div>
              <Show when={starError()}>
                <p class="field-error">{starError()}</p>
              </Show>
              <dl class="feature-facts">
                <div class="score-fact">
                  <dt>interpretability score</dt>
                  <dd>
                    <b data-testid="feature-score">{formatScore(f().score)}</b>
                    <span class="info" tabIndex={0} title={score().text} aria-label={score().text} data-testid="score-info">
                      ?
                    </span>
                  </dd>
                </div>
                <div>
                  <dt>frequency</dt>
                  <dd data-testid="feature-frequency" title="share of the scanned tokens on which it is active">
                    {formatFrequency(f().frequency)}
                  </dd>
                </div>
                <div>
                  <dt>max</dt>
                  <dd data-testid="feature-max">{formatValue(f().maxActivation)}</dd>
                </div>
                <div>
                  <dt>mean (when active)</dt>
                  <dd>{formatValue(f().meanActivation)}</dd>
                </div>
                <div>
                  <dt>peak tokens</dt>
                  <dd class="chips">
                    <For each={f().topTokens} fallback={<span class="muted">–</span>}>
                      {(t) => <TokenChip text={t.text} count={t.count} />}
                    </For>
                  </dd>
                </div>
              </dl>
              <p class="score-explain muted" data-testid="score-explain">
                {score().text}
              </p>
            </section>

            <div class="feature-grid">
              <section class="card examples-card" data-testid="examples">
                <div class="chart-head">
                  <h3 class="card-title">Top activating examples</h3>
                  <span class="muted small">lit by activation relative to the max ({formatValue(f().maxActivation)}); the peak outlined; hover a token for its value</span>
                </div>
                <Show when={f().examples.length > 0} fallback={<p class="muted">None: the feature never fired on the scanned activations.</p>}>
                  <ol class="examples">
                    <For each={f().examples}>{(e) => <Example e={e} max={f().maxActivation} />}</For>
                  </ol>
                </Show>
              </section>
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
              <Notes feature={f()} onSaved={(notes) => merge({ notes, hasNotes: notes !== null })} />
            </div>
            <AblationPanel id={f().id} max={f().maxActivation} />
          </>
        )}
      </Show>
    </div>
  );
}
