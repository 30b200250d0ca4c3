/**
 * Training page: start an SAE training on a completed extraction (hook
 * points, architecture with the fields it uses, size, optimiser, schedule;
 * defaults as the API applies them; load or save a template; the server's
 * messages beside their fields), follow every run live from `training/{id}`
 * (status with queue position, steps, tokens, tokens/s, ETA) with pause,
 * resume, stop, retry and delete, and open a run: d3 charts of every training
 * metric (one line per hook; history from the API merged with the live
 * batches), the latest feature-density histogram and CE-loss recovered per
 * hook, the checkpoints and the SAEs it produced, with their files.
 */
import { createEffect, createMemo, createSignal, For, on, onCleanup, Show, type JSX } from 'solid-js';
import { B_DEC_INITS, SAE_ARCHITECTURE_NAMES, type Training, type TrainingTemplate } from '../../models/contracts/trainings.ts';
import type { Extraction, ExtractionDetail } from '../../models/contracts/extractions.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import { formatEta } from '../data/model-view.ts';
import {
  applyTrainingTemplate,
  ceRecoveredSeries,
  configLabel,
  controlsOf,
  errorFor,
  formatFraction,
  formatInt,
  formatStat,
  formBody,
  formDSae,
  formTemplate,
  initialTrainingForm,
  isActive,
  latestEval,
  latestTrain,
  metricSeries,
  parseNumber,
  statusLabel,
  stepsPercent,
  totalStepsOfRun,
  TRAIN_FORM_DEFAULTS,
  TRAIN_METRICS,
  usesK,
  usesSparsityPenalty,
  usesThreshold,
  type NumberField,
  type SaeArchitectureName,
  type StepSeries,
  type TrainingForm,
} from '../data/training-view.ts';
import { createRunDetailStore, createTrainingsStore, loadCompletedExtractions, loadExtraction, saeFileUrl, type TrainingAction, type TrainingsStore } from '../data/trainings.ts';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { DensityHistogram } from '../ui/DensityHistogram.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { TimeSeriesChart } from '../ui/TimeSeriesChart.tsx';
import './Training.css';

/** Points a chart line is downsampled to (about one per pixel of a chart). */
const CHART_POINTS = 600;

const ARCH_LABEL: Record<SaeArchitectureName, string> = {
  relu: 'ReLU (L1 penalty)',
  topk: 'TopK',
  batchtopk: 'BatchTopK',
  jumprelu: 'JumpReLU (L0 penalty)',
};

function FieldError(props: { errors: Record<string, string>; field: string }) {
  const message = () => errorFor(props.errors, props.field);
  return (
    <Show when={message()}>
      <span class="field-error" data-testid={`error-${props.field}`}>
        {message()}
      </span>
    </Show>
  );
}

const extractionLabel = (e: Extraction) => `${e.modelName ?? 'deleted model'} on ${e.datasetName ?? 'deleted dataset'} · ${e.hookPoints.length} hook${e.hookPoints.length === 1 ? '' : 's'} · ${new Date(e.createdAt).toLocaleString()}`;

/** The new-training form; the server validates, and its messages appear beside their fields. */
function NewTrainingForm(props: { store: TrainingsStore; onStarted: (t: Training) => void }) {
  const [form, setForm] = createSignal<TrainingForm>(initialTrainingForm());
  const set = <K extends keyof TrainingForm>(k: K, v: TrainingForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const [extractions, setExtractions] = createSignal<Extraction[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const [stored, setStored] = createSignal<ExtractionDetail>();
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [templateName, setTemplateName] = createSignal('');
  const [templateNote, setTemplateNote] = createSignal<{ ok: boolean; text: string }>();
  const [chosenTemplate, setChosenTemplate] = createSignal('');

  const ac = new AbortController();
  onCleanup(() => ac.abort());
  const loadExtractions = () =>
    loadCompletedExtractions(ac.signal).then(
      (list) => {
        setExtractions(list);
        setLoaded(true);
        setForm((f) => (list.some((e) => e.id === f.extractionId) ? f : { ...f, extractionId: list[0]?.id ?? '' }));
      },
      (err) => !ac.signal.aborted && setFailure(`Could not load the extractions: ${errorMessage(err)}`),
    );
  void loadExtractions();

  // A new extraction: every one of its hooks (the API's default), and its store's row widths and rows.
  const extractionId = createMemo(() => form().extractionId);
  createEffect(
    on(extractionId, (id) => {
      setStored(undefined);
      const e = extractions().find((x) => x.id === id);
      set('hookPoints', e ? [...e.hookPoints] : []);
      if (!id) return;
      loadExtraction(id, ac.signal).then(
        (d) => form().extractionId === id && setStored(d),
        () => undefined, // the picker still works from the list; the server checks the rest
      );
    }),
  );
  const extraction = () => extractions().find((e) => e.id === form().extractionId);
  const hookInfo = (hook: string) => stored()?.manifest?.hooks.find((h) => h.hook === hook);
  /** one pass over the chosen hooks' stored rows: the API's default token budget */
  const onePass = () => {
    const rows = form().hookPoints.map((h) => hookInfo(h)?.rows ?? extraction()?.stats?.[h]?.count);
    return rows.length && rows.every((r) => r !== undefined) ? Math.min(...(rows as number[])) : undefined;
  };
  const steps = () => {
    const tokens = parseNumber(form().totalTokens) ?? onePass();
    const batch = parseNumber(form().batchSize);
    return typeof tokens === 'number' && typeof batch === 'number' && batch > 0 ? Math.max(1, Math.floor(tokens / batch)) : undefined;
  };
  const toggleHook = (hook: string, on: boolean) => set('hookPoints', on ? [...form().hookPoints, hook] : form().hookPoints.filter((h) => h !== hook));
  /** hooks of the form that the extraction lacks (from a template): listed, so the server's message has something to sit by */
  const strangers = () => form().hookPoints.filter((h) => !extraction()?.hookPoints.includes(h));

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFailure(undefined);
    try {
      props.onStarted(await props.store.start(formBody(form())));
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      // A message with no field to sit beside (server down, queue unavailable) goes above the form.
      if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const loadTemplate = (id: string) => {
    const t = props.store.templates().find((x) => x.id === id);
    if (!t) return;
    setForm((f) => applyTrainingTemplate(f, t.settings));
    setTemplateNote({ ok: true, text: `Loaded “${t.name}”.` });
  };
  const saveTemplate = async () => {
    setTemplateNote(undefined);
    setErrors({});
    try {
      const t = await props.store.saveTemplate(templateName().trim(), formTemplate(form()));
      setTemplateName('');
      setTemplateNote({ ok: true, text: `Saved “${t.name}”.` });
    } catch (err) {
      const fields = fieldErrors(err);
      // config errors sit beside their fields; the rest (name taken, too many) in the note
      setErrors(fields);
      const other = Object.entries(fields).filter(([k]) => !k.startsWith('settings.'));
      setTemplateNote({ ok: false, text: other.length ? other.map(([, v]) => v).join('; ') : Object.keys(fields).length ? 'The template was not saved: see the messages above.' : errorMessage(err) });
    }
  };
  const deleteTemplate = async (t: TrainingTemplate) => {
    try {
      await props.store.removeTemplate(t);
      setChosenTemplate('');
      setTemplateNote({ ok: true, text: `Deleted “${t.name}”.` });
    } catch (err) {
      setTemplateNote({ ok: false, text: errorMessage(err) });
    }
  };

  /**
   * A numeric field of the config: typed text, the default as placeholder, the server's message below. A
   * component (its props read lazily), so that a label that follows the architecture does not re-create the input.
   */
  const Num = (p: { field: NumberField; label: JSX.Element; wide?: boolean; title?: string; placeholder?: string }) => (
    <label class={p.wide ? 'field' : 'field narrow'} title={p.title}>
      <span>{p.label}</span>
      <input
        inputmode="decimal"
        value={form()[p.field]}
        placeholder={p.placeholder ?? (p.field === 'totalTokens' ? '' : String(TRAIN_FORM_DEFAULTS[p.field]))}
        onInput={(e) => set(p.field, e.currentTarget.value)}
        data-testid={`input-${p.field}`}
      />
      <FieldError errors={errors()} field={`config.${p.field}`} />
    </label>
  );
  const jump = () => form().architecture === 'jumprelu';

  return (
    <form class="card training-form" onSubmit={(e) => void submit(e)} data-testid="training-form" novalidate>
      <h2>New training</h2>
      <Show when={failure()}>
        <div class="error" role="alert" data-testid="training-error">
          {failure()}
        </div>
      </Show>

      <div class="form-row">
        <label class="field grow">
          <span>Extraction (activations to train on)</span>
          <span class="inline">
            <select value={form().extractionId} onChange={(e) => set('extractionId', e.currentTarget.value)} data-testid="extraction-select">
              <For each={extractions()}>{(e) => <option value={e.id}>{extractionLabel(e)}</option>}</For>
            </select>
            <button type="button" onClick={() => void loadExtractions()} title="Reload the completed extractions" data-testid="extractions-reload">
              ↻
            </button>
          </span>
          <FieldError errors={errors()} field="extractionId" />
          <Show when={loaded() && extractions().length === 0}>
            <span class="field-error" data-testid="no-extractions">
              No completed extraction yet: record activations on the <a href="/extractions">Extractions</a> page.
            </span>
          </Show>
        </label>
        <label class="field grow">
          <span>Name</span>
          <input placeholder="from the architecture, size and hooks" value={form().name} onInput={(e) => set('name', e.currentTarget.value)} data-testid="input-name" />
          <FieldError errors={errors()} field="name" />
        </label>
        <label class="field">
          <span>Template</span>
          <span class="inline">
            <select value={chosenTemplate()} onChange={(e) => setChosenTemplate(e.currentTarget.value)} data-testid="template-select">
              <option value="">—</option>
              <For each={props.store.templates()}>{(t) => <option value={t.id}>{t.name}</option>}</For>
            </select>
            <button type="button" disabled={!chosenTemplate()} onClick={() => loadTemplate(chosenTemplate())} data-testid="template-load">
              Load
            </button>
            <button
              type="button"
              class="danger-outline"
              disabled={!chosenTemplate()}
              onClick={() => {
                const t = props.store.templates().find((x) => x.id === chosenTemplate());
                if (t) void deleteTemplate(t);
              }}
              data-testid="template-delete"
            >
              Delete
            </button>
          </span>
        </label>
      </div>

      <div class="hook-section">
        <div class="hook-head">
          <b>Hook points</b>
          <span class="muted">one SAE each, trained in one pass; {form().hookPoints.length} chosen</span>
        </div>
        <Show when={extraction()} fallback={<p class="muted">Pick an extraction.</p>}>
          {(e) => (
            <div class="train-hooks" data-testid="hook-list">
              <For each={[...e().hookPoints, ...strangers()]}>
                {(hook) => {
                  const info = () => hookInfo(hook);
                  const dSae = () => (info() ? formDSae(form(), info()!.d) : undefined);
                  return (
                    <label class="hook-option" classList={{ stranger: !e().hookPoints.includes(hook) }}>
                      <input type="checkbox" checked={form().hookPoints.includes(hook)} onChange={(ev) => toggleHook(hook, ev.currentTarget.checked)} data-testid={`hook-${hook}`} />
                      <code>{hook}</code>
                      <Show when={!e().hookPoints.includes(hook)}>
                        <span class="field-error">not in this extraction</span>
                      </Show>
                      <Show when={info()}>
                        {(i) => (
                          <span class="muted">
                            d_in {i().d} → d_sae {dSae() !== undefined ? formatInt(dSae()!) : '?'} · {formatInt(i().rows)} rows
                          </span>
                        )}
                      </Show>
                    </label>
                  );
                }}
              </For>
            </div>
          )}
        </Show>
        <FieldError errors={errors()} field="hookPoints" />
      </div>

      <fieldset class="form-group">
        <legend>SAE</legend>
        <div class="form-row">
          <label class="field">
            <span>Architecture</span>
            <select value={form().architecture} onChange={(e) => set('architecture', e.currentTarget.value as SaeArchitectureName)} data-testid="input-architecture">
              <For each={SAE_ARCHITECTURE_NAMES}>{(a) => <option value={a}>{ARCH_LABEL[a]}</option>}</For>
            </select>
            <FieldError errors={errors()} field="config.architecture" />
          </label>
          <label class="field">
            <span>Size</span>
            <span class="inline">
              <select value={form().sizeMode} onChange={(e) => set('sizeMode', e.currentTarget.value as TrainingForm['sizeMode'])} data-testid="input-sizeMode">
                <option value="expansionFactor">expansion ×</option>
                <option value="dSae">d_sae</option>
              </select>
              <Show
                when={form().sizeMode === 'dSae'}
                fallback={
                  <input class="narrow-input" inputmode="decimal" placeholder={String(TRAIN_FORM_DEFAULTS.expansionFactor)} value={form().expansionFactor} onInput={(e) => set('expansionFactor', e.currentTarget.value)} data-testid="input-expansionFactor" />
                }
              >
                <input class="narrow-input" inputmode="numeric" placeholder="features" value={form().dSae} onInput={(e) => set('dSae', e.currentTarget.value)} data-testid="input-dSae" />
              </Show>
            </span>
            <FieldError errors={errors()} field="config.dSae" />
            <FieldError errors={errors()} field="config.expansionFactor" />
          </label>
          <Show when={usesK(form().architecture)}><Num field="k" label={form().architecture === 'batchtopk' ? 'k (mean a token)' : 'k (active a token)'} title="features active a token" /></Show>
          <Show when={usesSparsityPenalty(form().architecture)}>
            <Num field="l1Coefficient" label={jump() ? 'L0 coefficient' : 'L1 coefficient'} />
            <Num field="l1WarmupSteps" label={jump() ? 'L0 warm-up steps' : 'L1 warm-up steps'} />
          </Show>
          <Show when={usesThreshold(form().architecture)}>
            <Num field="initThreshold" label="initial threshold" />
            <Num field="bandwidth" label="bandwidth" />
          </Show>
          <label class="field">
            <span>b_dec init</span>
            <select value={form().bDecInit} onChange={(e) => set('bDecInit', e.currentTarget.value as TrainingForm['bDecInit'])} data-testid="input-bDecInit">
              <For each={B_DEC_INITS}>{(b) => <option value={b}>{b.replace('_', ' ')}</option>}</For>
            </select>
            <FieldError errors={errors()} field="config.bDecInit" />
          </label>
          <label class="field check">
            <span>Normalisation</span>
            <span class="inline">
              <input type="checkbox" checked={form().normalizeInputs} onChange={(e) => set('normalizeInputs', e.currentTarget.checked)} data-testid="input-normalizeInputs" /> inputs
              <input type="checkbox" checked={form().normalizeDecoder} onChange={(e) => set('normalizeDecoder', e.currentTarget.checked)} data-testid="input-normalizeDecoder" /> decoder rows
            </span>
          </label>
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Optimisation</legend>
        <div class="form-row">
          <Num field="lr" label="learning rate" />
          <Num field="lrWarmupSteps" label="lr warm-up steps" />
          <Num field="lrDecayFraction" label="lr decay (fraction at the end)" />
          <Num field="batchSize" label="batch (tokens a step)" />
          <Num field="totalTokens" label="total tokens" wide placeholder={onePass() !== undefined ? `one pass: ${formatInt(onePass()!)}` : 'one pass over the rows'} />
          <Num field="seed" label="seed" />
          <p class="muted steps-note" data-testid="steps-note">
            {steps() !== undefined ? `${formatInt(steps()!)} steps` : ''}
          </p>
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Schedule</legend>
        <div class="form-row">
          <Num field="metricsEvery" label="metrics every (steps)" />
          <Num field="checkpointEvery" label="checkpoint every" />
          <Num field="evalEvery" label="evaluate every (0: at the end)" />
          <Num field="evalWindows" label="CE-loss windows (0: none)" />
        </div>
      </fieldset>

      <details class="form-group advanced">
        <summary>More settings</summary>
        <div class="form-row">
          <Num field="beta1" label="Adam β1" />
          <Num field="beta2" label="Adam β2" />
          <Num field="deadFeatureWindow" label="dead after (tokens without firing)" wide />
          <Num field="denseThreshold" label="dense above (fraction of a batch)" />
          <Num field="mixingShards" label="shards shuffled together" />
        </div>
      </details>

      <div class="form-row submit-row">
        <button type="submit" class="primary" disabled={busy() || !form().extractionId} data-testid="training-submit">
          {busy() ? 'Starting…' : 'Train'}
        </button>
        <label class="field grow">
          <span>Save these settings as a template</span>
          <span class="inline">
            <input placeholder="template name" value={templateName()} onInput={(e) => setTemplateName(e.currentTarget.value)} data-testid="template-name" />
            <button type="button" disabled={!templateName().trim()} onClick={() => void saveTemplate()} data-testid="template-save">
              Save template
            </button>
          </span>
          <FieldError errors={errors()} field="name" />
        </label>
        <Show when={templateNote()}>
          {(n) => (
            <p class={n().ok ? 'muted template-note' : 'field-error template-note'} data-testid="template-note">
              {n().text}
            </p>
          )}
        </Show>
      </div>
    </form>
  );
}

/** One chart of a training metric: a line per hook, x in steps over the whole run. */
function MetricChart(props: { title: string; metricKey: string; series: () => StepSeries[]; totalSteps: number; format: (n: number) => string; yDomain?: [number, number]; version: number }) {
  return (
    <TimeSeriesChart
      testKey={`train-${props.metricKey}`}
      testId={`chart-${props.metricKey}`}
      title={props.title}
      series={props.series()}
      xKind="linear"
      xDomain={[0, props.totalSteps]}
      xFormat={(n) => `step ${formatInt(n)}`}
      yFormat={props.format}
      yDomain={props.yDomain}
      version={props.version}
      height={150}
    />
  );
}

/** A run opened: its hooks, live metric charts, density histograms, checkpoints and SAEs. */
function RunDetail(props: { run: Training }) {
  const store = createRunDetailStore(() => props.run);
  const hooks = () => props.run.hookPoints;
  const totalSteps = () => Math.max(1, totalStepsOfRun(props.run));
  // One memo per chart: the downsampled series are computed once per change of the history.
  const charts = TRAIN_METRICS.map((m) => ({
    ...m,
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

      <table class="run-hooks" data-testid="run-hooks">
        <thead>
          <tr>
            <th>hook</th>
            <th>d_in → d_sae</th>
            <th>step</th>
            <th>loss</th>
            <th>MSE</th>
            <th>L0</th>
            <th>expl. var.</th>
            <th>dead</th>
            <th>CE-loss recovered</th>
            <th>checkpoint</th>
          </tr>
        </thead>
        <tbody>
          <For each={hooks()}>
            {(hook) => {
              const train = () => row(hook).train()?.train;
              const info = () => row(hook).info();
              const ce = () => row(hook).eval()?.eval.ceLossRecovered;
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
                  <td>{train() ? formatFraction(train()!.deadFraction) : '–'}</td>
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
                      {formatInt(ev().eval.density.dead)} dead over {formatInt(ev().eval.density.tokens)} tokens
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
            <table class="run-hooks checkpoint-list" data-testid="checkpoint-list">
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

const CONTROL_LABEL: Record<TrainingAction, string> = { pause: 'Pause', resume: 'Resume', stop: 'Stop', retry: 'Retry' };

function RunCard(props: { run: Training; store: TrainingsStore; open: boolean; onToggle: () => void; onDelete: (r: Training) => void }) {
  const r = () => props.run;
  const p = () => r().progress;
  const [busy, setBusy] = createSignal<TrainingAction>();
  const [actionError, setActionError] = createSignal<string>();
  const act = async (action: TrainingAction) => {
    setBusy(action);
    setActionError(undefined);
    try {
      await props.store.control(r(), action);
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setBusy(undefined);
    }
  };
  const tone = () => (r().status === 'failed' ? 'bad' : r().status === 'cancelled' || r().status === 'paused' ? 'muted' : 'normal');
  return (
    <article class="card run-card" data-testid={`training-${r().id}`} data-status={r().status}>
      <header class="model-head">
        <h3>{r().name}</h3>
        <span class={`status status-${r().status}`} data-testid="run-status" data-status={r().status}>
          {statusLabel(r())}
        </span>
        <span class="muted run-time">{new Date(r().createdAt).toLocaleString()}</span>
        <div class="spacer" />
        <button type="button" onClick={() => props.onToggle()} data-testid="toggle-detail">
          {props.open ? 'Hide charts' : 'Charts'}
        </button>
        <For each={controlsOf(r())}>
          {(a) => (
            <button type="button" onClick={() => void act(a)} disabled={busy() !== undefined} data-testid={`control-${a}`}>
              {busy() === a ? `${CONTROL_LABEL[a]}…` : CONTROL_LABEL[a]}
            </button>
          )}
        </For>
        <button type="button" class="danger-outline" onClick={() => props.onDelete(r())} data-testid="delete-run">
          Delete
        </button>
      </header>
      <p class="run-hooks-line">
        <span class="muted">
          {r().modelName ?? 'deleted model'} on {r().datasetName ?? 'deleted dataset'}
        </span>
        <For each={r().hookPoints}>{(h) => <code class="hook-chip">{h}</code>}</For>
      </p>
      <p class="muted run-settings" data-testid="run-config">
        {configLabel(r().config)}
      </p>
      <div class="progress-line">
        <ProgressBar value={stepsPercent(r())} label="steps" testId="run-progress" tone={tone()} />
        <span class="progress-text" data-testid="run-progress-text">
          <Show when={p()} fallback={r().status === 'queued' ? 'waiting for a worker…' : ''}>
            {(q) => (
              <>
                step {formatInt(q().step)} / {formatInt(q().totalSteps)} · {formatInt(q().tokens)} / {formatInt(q().totalTokens)} tokens
                <Show when={r().status === 'running'}>
                  {' '}
                  · {q().phase === 'training' ? `${formatInt(q().tokensPerSecond)} tokens/s · ETA ${formatEta(q().etaSeconds)}` : `${q().phase}…`}
                </Show>
                <Show when={q().resumedAt > 0}> · resumed at step {formatInt(q().resumedAt)}</Show>
              </>
            )}
          </Show>
        </span>
      </div>
      <Show when={r().error}>
        <p class={r().status === 'failed' ? 'field-error' : 'muted'} data-testid="run-error">
          {r().error}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="field-error" role="alert" data-testid="action-error">
          {actionError()}
        </p>
      </Show>
      <Show when={props.open}>
        <RunDetail run={r()} />
      </Show>
    </article>
  );
}

export default function TrainingPage() {
  const store = createTrainingsStore();
  const [toDelete, setToDelete] = createSignal<Training>();
  const [open, setOpen] = createSignal<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  // The newest run is open when the page opens with nothing open (its charts are what one comes for).
  let opened = false;
  createEffect(() => {
    const first = store.runs()[0];
    if (opened || !first) return;
    opened = true;
    setOpen((s) => (s.size ? s : new Set([first.id])));
  });
  return (
    <div class="page training-page">
      <header class="page-head">
        <h1>Training</h1>
        <span class="muted">{store.runs().length || ''}</span>
      </header>
      <NewTrainingForm store={store} onStarted={(t) => setOpen((s) => new Set([...s, t.id]))} />
      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the trainings:</b> {err().message} <button onClick={() => void store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <h2 class="section-title">Runs</h2>
      <Show when={!store.loading() || store.runs().length > 0} fallback={<p class="muted">Loading…</p>}>
        <Show when={store.runs().length > 0} fallback={<p class="muted" data-testid="no-runs">No trainings yet: start one above.</p>}>
          <div class="model-list" data-testid="run-list">
            <For each={store.runs()}>{(r) => <RunCard run={r} store={store} open={open().has(r.id)} onToggle={() => toggle(r.id)} onDelete={setToDelete} />}</For>
          </div>
        </Show>
      </Show>
      <ConfirmDialog
        open={toDelete() !== undefined}
        title="Delete this training?"
        confirmLabel="Delete"
        danger
        onConfirm={async () => {
          const r = toDelete();
          if (r) await store.remove(r);
        }}
        onClose={() => setToDelete(undefined)}
      >
        <p>
          <b>{toDelete()?.name}</b>: its metric history and checkpoints will be removed{toDelete() && isActive(toDelete()!.status) ? ', and the run cancelled' : ''}. The SAEs it produced stay. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}

