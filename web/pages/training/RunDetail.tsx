import { createMemo, For, Show } from 'solid-js';
import type { MetricKey } from '../../../models/contracts/metrics.ts';
import type { Training } from '../../../models/contracts/trainings.ts';
import { ceRecoveredSeries, latestEval, latestTrain, metricSeries, TRAIN_METRICS, type StepSeries } from '../../data/training-history.ts';
import { formatFraction, formatInt, formatStat, isActive, totalStepsOfRun } from '../../data/training-view.ts';
import { formatFrequency } from '../../data/feature-view.ts';
import { usesSparsityPenalty } from '../../data/training-form.ts';
import { createRunDetailStore, saeFileUrl } from '../../data/trainings.ts';
import { metricTip } from '../../data/metric-view.ts';
import { DensityHistogram } from '../../ui/DensityHistogram.tsx';
import { fractionTicks, numberTicks } from '../../ui/format.ts';
import { TimeSeriesChart } from '../../ui/TimeSeriesChart.tsx';

/** Points a chart line is downsampled to (about one per pixel of a chart). */
const CHART_POINTS = 600;

/** One chart of a training metric: a line per hook, x in steps over the whole run; the title's tooltip from the metric registry. */
function MetricChart(props: { title: string; metricKey: MetricKey; series: () => StepSeries[]; totalSteps: number; format: (n: number) => string; yDomain?: [number, number]; version: number }) {
  return (
    <TimeSeriesChart
      testKey={`train-${props.metricKey}`}
      testId={`chart-${props.metricKey}`}
      title={props.title}
      titleTip={metricTip(props.metricKey)}
      series={props.series()}
      xKind="linear"
      xDomain={[0, props.totalSteps]}
      xFormat={(n) => `step ${formatInt(n)}`}
      yFormat={props.format}
      yTickFormat={props.format === formatFraction ? fractionTicks : numberTicks()}
      yDomain={props.yDomain}
      version={props.version}
      height={150}
    />
  );
}

/** A run opened: its hooks, live metric charts, density histograms, checkpoints and SAEs. */
export function RunDetail(props: { run: Training }) {
  const store = createRunDetailStore(() => props.run);
  const hooks = () => props.run.hookPoints;
  const totalSteps = () => Math.max(1, totalStepsOfRun(props.run));
  // One memo per chart: the downsampled series are computed once per change of the history.
  // the sparsity penalty is a loss term of ReLU (L1) and JumpReLU (L0) only: TopK and BatchTopK have none to chart
  const charts = TRAIN_METRICS.filter((m) => m.key !== 'l1' || usesSparsityPenalty(props.run.config.architecture)).map((m) => ({
    ...m,
    title: m.key === 'l1' && props.run.config.architecture === 'jumprelu' ? 'L0 penalty' : m.title,
    series: createMemo(() => {
      store.version();
      return metricSeries(store.history, hooks(), m.key, CHART_POINTS);
    }),
  }));
  const ce = createMemo(() => {
    store.version();
    return ceRecoveredSeries(store.history, hooks());
  });
  // Per hook, its latest training point and evaluation: memos that change only when those do, so the table rows and
  // density charts (keyed by hook name) update in place rather than being re-created at every batch.
  const latest = (hook: string) => ({
    hook,
    train: createMemo(() => (store.version(), latestTrain(store.history, hook)), undefined, { equals: (a, b) => a?.train === b?.train }),
    eval: createMemo(() => (store.version(), latestEval(store.history, hook)), undefined, { equals: (a, b) => a?.eval === b?.eval }),
    info: () => store.detail()?.hooks.find((h) => h.hook === hook),
  });
  const perHook = createMemo(() => new Map(hooks().map((h) => [h, latest(h)])));
  const row = (hook: string) => perHook().get(hook)!;
  const evaluated = () => hooks().filter((h) => row(h).eval());
  const latestCheckpoint = (hook: string) => props.run.progress?.checkpoints.find((c) => c.hook === hook);

  return (
    <section class="run-detail training-detail" data-testid="run-detail">
      <Show when={store.error()}>
        <p class="error" role="alert" data-testid="detail-error">
          {store.error()}
        </p>
      </Show>

      {/* tabIndex: on a phone the table scrolls sideways, and a keyboard must reach it */}
      <table class="run-hooks" tabIndex={0} aria-label="each hook's latest metrics" data-testid="run-hooks">
        <thead>
          <tr>
            <th>hook</th>
            <th>d_in → d_sae</th>
            <th>step</th>
            <th title={metricTip('loss')}>loss</th>
            <th title={metricTip('mse')}>MSE</th>
            <th title={metricTip('l0')}>L0</th>
            <th title={metricTip('explainedVariance')}>expl. var.</th>
            <th title="features that did not fire: over the latest evaluation's tokens once there is one (as its density card says), else over the training's recent tokens">dead</th>
            <th title={metricTip('ceLossRecovered')}>CE-loss recovered</th>
            <th>checkpoint</th>
          </tr>
        </thead>
        <tbody>
          <For each={hooks()}>
            {(hook) => {
              const train = () => row(hook).train()?.train;
              const info = () => row(hook).info();
              const ce = () => row(hook).eval()?.eval.ceLossRecovered;
              // the evaluation's count of dead features when there is one, so that the table and the density card agree
              const dead = () => {
                const ev = row(hook).eval()?.eval.density;
                const dSae = info()?.dSae;
                if (ev && dSae) return { text: `${formatFrequency(ev.dead / dSae)} (${formatInt(ev.dead)})`, title: `${formatInt(ev.dead)} of ${formatInt(dSae)} features did not fire over the ${formatInt(ev.tokens)} tokens of the latest evaluation` };
                const t = train();
                return t ? { text: formatFraction(t.deadFraction), title: 'features that have not fired within the recent training tokens (no evaluation yet)' } : undefined;
              };
              return (
                <tr data-testid={`hook-row-${hook}`}>
                  <td>
                    <code>{hook}</code>
                  </td>
                  <td>{info()?.dIn != null ? `${info()!.dIn} → ${formatInt(info()!.dSae ?? 0)}` : '–'}</td>
                  <td>{row(hook).train() ? formatInt(row(hook).train()!.step) : '–'}</td>
                  <td data-testid="hook-loss">{train() ? formatStat(train()!.loss) : '–'}</td>
                  <td>{train() ? formatStat(train()!.mse) : '–'}</td>
                  <td>{train() ? formatStat(train()!.l0) : '–'}</td>
                  <td>{train() ? formatStat(train()!.explainedVariance) : '–'}</td>
                  <td data-testid="hook-dead" title={dead()?.title}>
                    {dead()?.text ?? '–'}
                  </td>
                  <td data-testid="hook-ce">{ce() != null ? formatFraction(ce()!) : '–'}</td>
                  <td>{latestCheckpoint(hook) ? `step ${formatInt(latestCheckpoint(hook)!.step)}` : '–'}</td>
                </tr>
              );
            }}
          </For>
        </tbody>
      </table>

      <Show when={store.historyLoaded() || store.version() > 0} fallback={<p class="muted">Loading the metric history…</p>}>
        <Show when={charts[0]!.series().length > 0} fallback={<p class="muted" data-testid="no-metrics">{isActive(props.run.status) ? 'No metric point yet: the first arrives after the first metrics interval.' : 'No metric point was recorded.'}</p>}>
          <div class="train-charts" data-testid="train-charts">
            <For each={charts}>{(c) => <MetricChart title={c.title} metricKey={c.key} series={c.series} totalSteps={totalSteps()} format={c.format} yDomain={c.yDomain} version={store.version()} />}</For>
            <Show when={ce().length > 0}>
              <MetricChart title="CE-loss recovered" metricKey="ceLossRecovered" series={ce} totalSteps={totalSteps()} format={formatFraction} version={store.version()} />
            </Show>
          </div>
        </Show>
      </Show>

      <Show when={evaluated().length > 0}>
        <h4 class="detail-title">Feature density (latest evaluation)</h4>
        <div class="density-grid">
          <For each={evaluated()}>
            {(hook) => {
              const ev = () => row(hook).eval()!;
              return (
                <div class="density-card" data-testid={`density-${hook}`}>
                  <div class="chart-head">
                    <span class="chart-title">
                      <code>{hook}</code> at step {formatInt(ev().step)}
                    </span>
                    <span class="muted" data-testid="density-summary">
                      {formatInt(ev().eval.density.dead)} dead{row(hook).info()?.dSae ? ` (${formatFrequency(ev().eval.density.dead / row(hook).info()!.dSae!)})` : ''} over {formatInt(ev().eval.density.tokens)} tokens
                    </span>
                  </div>
                  <DensityHistogram density={ev().eval.density} />
                  <Show when={ev().eval.ceLossRecovered !== null} fallback={<p class="muted ce-line">CE-loss not measured (0 evaluation windows, or the model could not be loaded).</p>}>
                    <p class="ce-line" data-testid="ce-line">
                      CE-loss recovered <b>{formatFraction(ev().eval.ceLossRecovered!)}</b> · clean {formatStat(ev().eval.ceLossClean!)} · with the SAE {formatStat(ev().eval.ceLossSpliced!)} · zero-ablated {formatStat(ev().eval.ceLossZero!)}
                    </p>
                  </Show>
                </div>
              );
            }}
          </For>
        </div>
      </Show>

      <div class="detail-columns">
        <div>
          <h4 class="detail-title">Checkpoints</h4>
          <Show when={store.checkpoints().length > 0} fallback={<p class="muted">None yet: the first is written after {formatInt(props.run.config.checkpointEvery)} steps (and at a pause or stop).</p>}>
            <table class="run-hooks checkpoint-list" tabIndex={0} aria-label="checkpoints" data-testid="checkpoint-list">
              <thead>
                <tr>
                  <th>hook</th>
                  <th>step</th>
                  <th>written</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                <For each={store.checkpoints()}>
                  {(c) => (
                    <tr data-testid="checkpoint-row" data-step={c.step} data-hook={c.hook}>
                      <td>
                        <code>{c.hook}</code>
                      </td>
                      <td>{formatInt(c.step)}</td>
                      <td>{new Date(c.at).toLocaleTimeString()}</td>
                      <td class="muted">{latestCheckpoint(c.hook)?.step === c.step ? 'kept (resumes from here)' : 'replaced'}</td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
        </div>
        <div>
          <h4 class="detail-title">SAEs</h4>
          <Show when={store.saes().length > 0} fallback={<p class="muted">{props.run.status === 'completed' ? 'Loading…' : 'Saved when the run completes or is stopped.'}</p>}>
            <ul class="sae-list" data-testid="sae-list">
              <For each={store.saes()}>
                {(s) => (
                  <li data-testid={`sae-${s.id}`}>
                    <b>{s.name}</b>
                    <span class="muted">
                      {' '}
                      {s.architecture}
                      {s.k !== null ? ` k=${s.k}` : ''} · {s.dIn} → {formatInt(s.dSae)} · <code>{s.hookPoint}</code>
                      {s.metrics ? ` · step ${formatInt(s.metrics.step)}${s.metrics.stopped ? ' (stopped)' : ''}` : ''}
                    </span>
                    <span class="sae-files">
                      <a href={saeFileUrl(s, 'sae_weights.safetensors')} download="sae_weights.safetensors" data-testid="sae-download">
                        sae_weights.safetensors
                      </a>
                      <a href={saeFileUrl(s, 'cfg.json')} download="cfg.json" data-testid="sae-cfg">
                        cfg.json
                      </a>
                      <a href={`/features?sae=${s.id}`} data-testid="sae-features">
                        features →
                      </a>
                      <a href={`/inspector?sae=${s.id}`} data-testid="sae-inspect">
                        inspect →
                      </a>
                    </span>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </div>
      </div>
    </section>
  );
}
