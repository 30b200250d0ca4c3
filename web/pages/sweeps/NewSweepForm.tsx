import { createEffect, createMemo, createSignal, For, Index, on, onCleanup, Show } from 'solid-js';
import type { Extraction } from '../../../models/contracts/extractions.ts';
import { METRIC_TIERS, METRICS, type MetricKey } from '../../../models/contracts/metrics.ts';
import { SWEEP_LIMITS, type Sweep } from '../../../models/contracts/sweeps.ts';
import { SAE_ARCHITECTURE_NAMES, TRAIN_DEFAULTS, trainingTemplateListSchema, trainingTemplateSchema, type TrainingTemplate } from '../../../models/contracts/trainings.ts';
import { describeObjective, MAX_CONSTRAINTS } from '../../../models/sweep/objective.ts';
import { SWEEP_METHODS, type SweepMethod } from '../../../models/sweep/propose.ts';
import { errorMessage } from '../../api.ts';
import { parseNumber } from '../../data/training-form.ts';
import { formatInt } from '../../data/training-view.ts';
import { defaultDirection, formGridSize, initialSweepForm, pruneOn, sweepErrorFor, sweepFormBody, unplacedErrors, type BaseForm, type ConstraintRow, type SweepForm } from '../../data/sweep-view.ts';
import { loadCompletedExtractions } from '../../data/trainings.ts';
import type { SweepsStore } from '../../data/sweeps.ts';
import { createTemplatesStore } from '../../data/templates.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';
import { SpaceRows } from './SpaceRows.tsx';

const METHOD_LABEL: Record<SweepMethod, string> = { grid: 'grid (every point)', random: 'random', tpe: 'TPE (learns from the trials)' };
const extractionLabel = (e: Extraction) => `${e.modelName ?? 'deleted model'} on ${e.datasetName ?? 'deleted dataset'} · ${new Date(e.createdAt).toLocaleString()}`;

/** A numeric field of the base config: its label, and the trainer's default as placeholder. */
const BASE_FIELDS: { field: Exclude<keyof BaseForm, 'architecture'>; label: string; placeholder: string }[] = [
  { field: 'totalTokens', label: 'total tokens a trial', placeholder: 'one pass over the rows' },
  { field: 'batchSize', label: 'batch (tokens a step)', placeholder: String(TRAIN_DEFAULTS.batchSize) },
  { field: 'dSae', label: 'd_sae (features)', placeholder: `${TRAIN_DEFAULTS.expansionFactor} × d_in` },
  { field: 'k', label: 'k', placeholder: String(TRAIN_DEFAULTS.k) },
  { field: 'lr', label: 'learning rate', placeholder: String(TRAIN_DEFAULTS.lr) },
  { field: 'metricsEvery', label: 'metrics every (steps)', placeholder: String(TRAIN_DEFAULTS.metricsEvery) },
  { field: 'evalWindows', label: 'CE-loss windows (0: none)', placeholder: '4' },
];

/**
 * The new-sweep form: the extraction and hook point, the search method,
 * budget and parallelism, the objective (a metric of the registry, its
 * direction from it, constraints), the search space as rows, the base config
 * (a training template, and a few common fields over it) and the pruner. The
 * form's own checks and then the server's messages appear beside the fields
 * they name; any other above the button.
 */
export function NewSweepForm(props: { store: SweepsStore; onStarted: (s: Sweep) => void }) {
  const [form, setForm] = createSignal<SweepForm>(initialSweepForm());
  const set = <K extends keyof SweepForm>(k: K, v: SweepForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const setBase = <K extends keyof BaseForm>(k: K, v: BaseForm[K]) => setForm((f) => ({ ...f, base: { ...f.base, [k]: v } }));
  const [extractions, setExtractions] = createSignal<Extraction[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const templates = createTemplatesStore<TrainingTemplate>('/api/training-templates', trainingTemplateListSchema, trainingTemplateSchema);
  const server = createServerForm();
  const { errors, setErrors, busy, setFailure } = server;

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

  const extraction = () => extractions().find((e) => e.id === form().extractionId);
  // a new extraction: its first hook point (the API's default); a new metric: the direction it is better in.
  // (Memos: the effects run when that field changes, not at every change of the form, which they make themselves.)
  const extractionId = createMemo(() => form().extractionId);
  const metric = createMemo(() => form().metric);
  createEffect(on(extractionId, () => set('hookPoint', extraction()?.hookPoints[0] ?? '')));
  createEffect(on(metric, (m) => set('direction', defaultDirection(m)), { defer: true }));

  const gridSize = createMemo(() => formGridSize(form()));
  const objectiveText = () => {
    const f = form();
    if (!f.direction) return '';
    const constraints = f.constraints.flatMap((c) => {
      const v = parseNumber(c.value);
      return typeof v === 'number' ? [{ metric: c.metric, op: c.op, value: v }] : [];
    });
    return describeObjective({ metric: f.metric, direction: f.direction, constraints });
  };
  const setConstraint = (i: number, patch: Partial<ConstraintRow>) => set('constraints', form().constraints.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const unplaced = () => unplacedErrors(errors(), form());

  const submit = server.submit(async () => {
    const { body, errors: found } = sweepFormBody(form());
    if (!body) {
      setErrors(found);
      return;
    }
    props.onStarted(await props.store.start(body));
  });

  const MetricOptions = () => (
    <For each={METRIC_TIERS}>
      {(tier) => (
        <optgroup label={tier}>
          <For each={METRICS.filter((m) => m.tier === tier)}>{(m) => <option value={m.key}>{m.name}</option>}</For>
        </optgroup>
      )}
    </For>
  );

  return (
    <form class="card sweep-form" onSubmit={(e) => void submit(e)} data-testid="sweep-form" novalidate>
      <h2>New sweep</h2>
      <FormFailure form={server} testId="sweep-error" />

      <div class="form-row">
        <label class="field grow">
          <span>Extraction (activations the trials train on)</span>
          <span class="inline">
            <select value={form().extractionId} onChange={(e) => set('extractionId', e.currentTarget.value)} data-testid="sweep-extraction">
              <For each={extractions()}>{(e) => <option value={e.id}>{extractionLabel(e)}</option>}</For>
            </select>
            <button type="button" onClick={() => void loadExtractions()} title="Reload the completed extractions" aria-label="reload the completed extractions">
              ↻
            </button>
          </span>
          <FieldError errors={errors()} field="extractionId" />
          <Show when={loaded() && extractions().length === 0}>
            <span class="field-error" data-testid="sweep-no-extractions">
              No completed extraction yet: record activations on the <a href="/extractions">Extractions</a> page.
            </span>
          </Show>
        </label>
        <label class="field">
          <span>Hook point</span>
          <select value={form().hookPoint} onChange={(e) => set('hookPoint', e.currentTarget.value)} data-testid="sweep-hook">
            <For each={extraction()?.hookPoints ?? []}>{(h) => <option value={h}>{h}</option>}</For>
          </select>
          <FieldError errors={errors()} field="hookPoint" />
        </label>
        <label class="field grow">
          <span>Name</span>
          <input value={form().name} placeholder="from the method and the settings swept" onInput={(e) => set('name', e.currentTarget.value)} data-testid="sweep-name" />
          <FieldError errors={errors()} field="name" />
        </label>
      </div>

      <fieldset class="form-group">
        <legend>Search</legend>
        <div class="form-row">
          <label class="field">
            <span>Method</span>
            <select value={form().method} onChange={(e) => set('method', e.currentTarget.value as SweepMethod)} data-testid="sweep-method">
              <For each={SWEEP_METHODS}>{(m) => <option value={m}>{METHOD_LABEL[m]}</option>}</For>
            </select>
            <FieldError errors={errors()} field="method" />
          </label>
          <label class="field narrow">
            <span>Budget (trials)</span>
            <input
              inputmode="numeric"
              value={form().budget}
              placeholder={form().method === 'grid' ? (gridSize() !== undefined ? `the grid: ${formatInt(gridSize()!)}` : 'the grid') : String(SWEEP_LIMITS.DEFAULT_BUDGET)}
              onInput={(e) => set('budget', e.currentTarget.value)}
              data-testid="sweep-budget"
            />
            <FieldError errors={errors()} field="budget" />
          </label>
          <label class="field narrow">
            <span>Parallel trials</span>
            <input inputmode="numeric" value={form().parallelism} onInput={(e) => set('parallelism', e.currentTarget.value)} data-testid="sweep-parallelism" />
            <FieldError errors={errors()} field="parallelism" />
          </label>
          <label class="field narrow">
            <span>Seed</span>
            <input inputmode="numeric" value={form().seed} onInput={(e) => set('seed', e.currentTarget.value)} data-testid="sweep-seed" />
            <FieldError errors={errors()} field="seed" />
          </label>
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Objective</legend>
        <div class="form-row">
          <label class="field">
            <span>Metric</span>
            <select value={form().metric} onChange={(e) => set('metric', e.currentTarget.value as MetricKey)} data-testid="sweep-metric">
              <MetricOptions />
            </select>
            <FieldError errors={errors()} field="objective.metric" />
          </label>
          <label class="field">
            <span>Direction</span>
            <select value={form().direction} onChange={(e) => set('direction', e.currentTarget.value as SweepForm['direction'])} data-testid="sweep-direction">
              <option value="" disabled>
                pick one…
              </option>
              <option value="maximize">maximize</option>
              <option value="minimize">minimize</option>
            </select>
            <FieldError errors={errors()} field="objective.direction" />
          </label>
          <p class="muted objective-preview" data-testid="objective-preview">
            {objectiveText()}
          </p>
        </div>
        <Index each={form().constraints}>
          {(c, i) => (
            <div class="form-row constraint-row" data-testid="constraint-row">
              <label class="field">
                <span>Constraint on</span>
                <select value={c().metric} onChange={(e) => setConstraint(i, { metric: e.currentTarget.value as MetricKey })} data-testid="constraint-metric">
                  <MetricOptions />
                </select>
              </label>
              <label class="field">
                <span>Bound</span>
                <select value={c().op} onChange={(e) => setConstraint(i, { op: e.currentTarget.value as ConstraintRow['op'] })} data-testid="constraint-op">
                  <option value="<=">≤ at most</option>
                  <option value=">=">≥ at least</option>
                </select>
              </label>
              <label class="field narrow">
                <span>Value</span>
                <input inputmode="decimal" value={c().value} onInput={(e) => setConstraint(i, { value: e.currentTarget.value })} data-testid="constraint-value" />
                <FieldError errors={errors()} field={`objective.constraints.${i}`} lookup={sweepErrorFor} />
              </label>
              <button type="button" onClick={() => set('constraints', form().constraints.filter((_, j) => j !== i))} aria-label={`remove constraint ${i + 1}`} data-testid="constraint-remove">
                Remove
              </button>
            </div>
          )}
        </Index>
        <div class="form-row">
          <button
            type="button"
            class="add-constraint"
            onClick={() => set('constraints', [...form().constraints, { metric: 'l0', op: '<=', value: '' }])}
            disabled={form().constraints.length >= MAX_CONSTRAINTS}
            data-testid="constraint-add"
          >
            + Add a constraint
          </button>
          <FieldError errors={errors()} field="objective.constraints" />
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Search space (each trial's settings over the base config)</legend>
        <SpaceRows rows={form().rows} method={form().method} errors={errors()} onChange={(rows) => set('rows', rows)} />
      </fieldset>

      <fieldset class="form-group">
        <legend>Base config</legend>
        <div class="form-row">
          <label class="field">
            <span>Start from</span>
            <select value={form().templateId} onChange={(e) => set('templateId', e.currentTarget.value)} data-testid="sweep-template">
              <option value="">the trainer's defaults</option>
              <For each={templates.list()}>{(t) => <option value={t.id}>template “{t.name}”</option>}</For>
            </select>
            <FieldError errors={errors()} field="templateId" />
          </label>
          <label class="field">
            <span>Architecture</span>
            <select value={form().base.architecture} onChange={(e) => setBase('architecture', e.currentTarget.value as BaseForm['architecture'])} data-testid="base-architecture">
              <option value="">{form().templateId ? "the template's" : `default (${TRAIN_DEFAULTS.architecture})`}</option>
              <For each={SAE_ARCHITECTURE_NAMES}>{(a) => <option value={a}>{a}</option>}</For>
            </select>
            <FieldError errors={errors()} field="base.architecture" />
          </label>
          <For each={BASE_FIELDS}>
            {(b) => (
              <label class={b.field === 'totalTokens' ? 'field' : 'field narrow'}>
                <span>{b.label}</span>
                <input inputmode="decimal" value={form().base[b.field]} placeholder={form().templateId ? "the template's" : b.placeholder} onInput={(e) => setBase(b.field, e.currentTarget.value)} data-testid={`base-${b.field}`} />
                <FieldError errors={errors()} field={`base.${b.field}`} />
              </label>
            )}
          </For>
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Pruning (the median rule)</legend>
        <div class="form-row">
          <div class="field check">
            <span aria-hidden="true">Pruner</span>
            <label class="inline" title="stop a trial whose objective, past the warm-up, is worse than the median of the completed trials at the same step">
              <input type="checkbox" checked={pruneOn(form())} onChange={(e) => set('prune', e.currentTarget.checked)} data-testid="sweep-prune" /> prune trials that fall behind
            </label>
            <FieldError errors={errors()} field="pruner.enabled" />
          </div>
          <Show when={pruneOn(form())}>
            <label class="field narrow">
              <span>Warm-up (steps)</span>
              <input inputmode="numeric" value={form().warmupSteps} placeholder="a third" onInput={(e) => set('warmupSteps', e.currentTarget.value)} data-testid="sweep-warmup" />
              <FieldError errors={errors()} field="pruner.warmupSteps" />
            </label>
            <label class="field narrow">
              <span>After (trials done)</span>
              <input inputmode="numeric" value={form().minTrials} placeholder={String(SWEEP_LIMITS.DEFAULT_MIN_TRIALS)} onInput={(e) => set('minTrials', e.currentTarget.value)} data-testid="sweep-min-trials" />
              <FieldError errors={errors()} field="pruner.minTrials" />
            </label>
          </Show>
        </div>
      </fieldset>

      <Show when={unplaced().length > 0}>
        <ul class="field-error unplaced-errors" role="alert" data-testid="sweep-other-errors">
          <For each={unplaced()}>
            {([field, message]) => (
              <li>
                <code>{field}</code>: {message}
              </li>
            )}
          </For>
        </ul>
      </Show>
      <div class="form-row submit-row">
        <button type="submit" class="primary" disabled={busy() || !form().extractionId} data-testid="sweep-submit">
          {busy() ? 'Starting…' : 'Start the sweep'}
        </button>
      </div>
    </form>
  );
}
