import { createEffect, createSignal, For, on, Show } from 'solid-js';
import { ablationSchema, FEATURE_LIMITS, type AblationResponse } from '../../../../models/contracts/features.ts';
import { formatValue, quoteToken, tokenPieces } from '../../../data/feature-view.ts';
import { createAnalysis } from '../../../data/features.ts';
import { TokenStrip } from '../../../ui/TokenStrip.tsx';
import { AnalysisBody } from './AnalysisBody.tsx';

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

/** Runs an ablation of the feature on request (zero, or clamp to a value) and shows what changed. */
export function AblationPanel(props: { id: string; max: number }) {
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
