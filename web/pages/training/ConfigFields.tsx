import { For, Show, type JSX } from 'solid-js';
import { B_DEC_INITS, SAE_ARCHITECTURE_NAMES } from '../../../models/contracts/trainings.ts';
import { errorFor, TRAIN_FORM_DEFAULTS, usesK, usesSparsityPenalty, usesThreshold, type NumberField, type SaeArchitectureName, type TrainingForm } from '../../data/training-form.ts';
import { formatInt } from '../../data/training-view.ts';
import { FieldError } from '../../ui/FieldError.tsx';

const ARCH_LABEL: Record<SaeArchitectureName, string> = {
  relu: 'ReLU (L1 penalty)',
  topk: 'TopK',
  batchtopk: 'BatchTopK',
  jumprelu: 'JumpReLU (L0 penalty)',
};

/** Sets one field of the form. */
export type SetField = <K extends keyof TrainingForm>(k: K, v: TrainingForm[K]) => void;

/**
 * The hyperparameters of the new-training form: the SAE, optimisation,
 * schedule and more settings, each numeric field with the API's default as
 * placeholder and the server's message below.
 */
export function ConfigFields(props: {
  form: TrainingForm;
  set: SetField;
  errors: Record<string, string>;
  /** tokens of one pass over the chosen hooks' rows (the API's default budget), when known */
  onePass: number | undefined;
  /** steps the form's budget and batch give, when known */
  steps: number | undefined;
}) {
  /**
   * A numeric field of the config: typed text, the default as placeholder, the server's message below. A
   * component (its props read lazily), so that a label that follows the architecture does not re-create the input.
   */
  const Num = (p: { field: NumberField; label: JSX.Element; wide?: boolean; title?: string; placeholder?: string }) => (
    <label class={p.wide ? 'field' : 'field narrow'} title={p.title}>
      <span>{p.label}</span>
      <input
        inputmode="decimal"
        value={props.form[p.field]}
        placeholder={p.placeholder ?? (p.field === 'totalTokens' ? '' : String(TRAIN_FORM_DEFAULTS[p.field]))}
        onInput={(e) => props.set(p.field, e.currentTarget.value)}
        data-testid={`input-${p.field}`}
      />
      <FieldError errors={props.errors} field={`config.${p.field}`} lookup={errorFor} />
    </label>
  );
  const jump = () => props.form.architecture === 'jumprelu';

  return (
    <>
      <fieldset class="form-group">
        <legend>SAE</legend>
        <div class="form-row">
          <label class="field">
            <span>Architecture</span>
            <select value={props.form.architecture} onChange={(e) => props.set('architecture', e.currentTarget.value as SaeArchitectureName)} data-testid="input-architecture">
              <For each={SAE_ARCHITECTURE_NAMES}>{(a) => <option value={a}>{ARCH_LABEL[a]}</option>}</For>
            </select>
            <FieldError errors={props.errors} field="config.architecture" lookup={errorFor} />
          </label>
          <label class="field">
            <span>Size</span>
            <span class="inline">
              <select value={props.form.sizeMode} onChange={(e) => props.set('sizeMode', e.currentTarget.value as TrainingForm['sizeMode'])} aria-label="size given as" data-testid="input-sizeMode">
                <option value="expansionFactor">expansion ×</option>
                <option value="dSae">d_sae</option>
              </select>
              <Show
                when={props.form.sizeMode === 'dSae'}
                fallback={
                  <input class="narrow-input" inputmode="decimal" placeholder={String(TRAIN_FORM_DEFAULTS.expansionFactor)} value={props.form.expansionFactor} onInput={(e) => props.set('expansionFactor', e.currentTarget.value)} aria-label="expansion factor (d_sae ÷ d_in)" data-testid="input-expansionFactor" />
                }
              >
                <input class="narrow-input" inputmode="numeric" placeholder="features" value={props.form.dSae} onInput={(e) => props.set('dSae', e.currentTarget.value)} aria-label="d_sae (features)" data-testid="input-dSae" />
              </Show>
            </span>
            <FieldError errors={props.errors} field="config.dSae" lookup={errorFor} />
            <FieldError errors={props.errors} field="config.expansionFactor" lookup={errorFor} />
          </label>
          <Show when={usesK(props.form.architecture)}><Num field="k" label={props.form.architecture === 'batchtopk' ? 'k (mean a token)' : 'k (active a token)'} title="features active a token" /></Show>
          <Show when={usesSparsityPenalty(props.form.architecture)}>
            <Num field="l1Coefficient" label={jump() ? 'L0 coefficient' : 'L1 coefficient'} />
            <Num field="l1WarmupSteps" label={jump() ? 'L0 warm-up steps' : 'L1 warm-up steps'} />
          </Show>
          <Show when={usesThreshold(props.form.architecture)}>
            <Num field="initThreshold" label="initial threshold" />
            <Num field="bandwidth" label="bandwidth" />
          </Show>
          <label class="field">
            <span>b_dec init</span>
            <select value={props.form.bDecInit} onChange={(e) => props.set('bDecInit', e.currentTarget.value as TrainingForm['bDecInit'])} data-testid="input-bDecInit">
              <For each={B_DEC_INITS}>{(b) => <option value={b}>{b.replace('_', ' ')}</option>}</For>
            </select>
            <FieldError errors={props.errors} field="config.bDecInit" lookup={errorFor} />
          </label>
          <div class="field check" role="group" aria-labelledby="normalisation-label">
            <span id="normalisation-label">Normalisation</span>
            <span class="inline">
              <label class="inline">
                <input type="checkbox" checked={props.form.normalizeInputs} onChange={(e) => props.set('normalizeInputs', e.currentTarget.checked)} data-testid="input-normalizeInputs" /> inputs
              </label>
              <label class="inline">
                <input type="checkbox" checked={props.form.normalizeDecoder} onChange={(e) => props.set('normalizeDecoder', e.currentTarget.checked)} data-testid="input-normalizeDecoder" /> decoder rows
              </label>
            </span>
          </div>
        </div>
      </fieldset>

      <fieldset class="form-group">
        <legend>Optimisation</legend>
        <div class="form-row">
          <Num field="lr" label="learning rate" />
          <Num field="lrWarmupSteps" label="lr warm-up steps" />
          <Num field="lrDecayFraction" label="lr decay (fraction at the end)" />
          <Num field="batchSize" label="batch (tokens a step)" />
          <Num field="totalTokens" label="total tokens" wide placeholder={props.onePass !== undefined ? `one pass: ${formatInt(props.onePass!)}` : 'one pass over the rows'} />
          <Num field="seed" label="seed" />
          <p class="muted steps-note" data-testid="steps-note">
            {props.steps !== undefined ? `${formatInt(props.steps!)} steps` : ''}
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
    </>
  );
}
