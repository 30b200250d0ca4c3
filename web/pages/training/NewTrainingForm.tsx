import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import type { Extraction, ExtractionDetail } from '../../../models/contracts/extractions.ts';
import type { Training } from '../../../models/contracts/trainings.ts';
import { errorMessage, fieldErrors } from '../../api.ts';
import { applyTrainingTemplate, errorFor, formBody, formDSae, formTemplate, initialTrainingForm, parseNumber, type TrainingForm } from '../../data/training-form.ts';
import { loadCompletedExtractions, loadExtraction, type TrainingsStore } from '../../data/trainings.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';
import { createTemplateBar, TemplatePicker, TemplateSave } from '../../ui/TemplateBar.tsx';
import { ConfigFields } from './ConfigFields.tsx';
import { HookChoice } from './HookChoice.tsx';

const extractionLabel = (e: Extraction) => `${e.modelName ?? 'deleted model'} on ${e.datasetName ?? 'deleted dataset'} · ${e.hookPoints.length} hook${e.hookPoints.length === 1 ? '' : 's'} · ${new Date(e.createdAt).toLocaleString()}`;

/** The new-training form; the server validates, and its messages appear beside their fields. */
export function NewTrainingForm(props: { store: TrainingsStore; onStarted: (t: Training) => void }) {
  const [form, setForm] = createSignal<TrainingForm>(initialTrainingForm());
  const set = <K extends keyof TrainingForm>(k: K, v: TrainingForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const [extractions, setExtractions] = createSignal<Extraction[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const [stored, setStored] = createSignal<ExtractionDetail>();
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

  const submit = server.submit(async () => props.onStarted(await props.store.start(formBody(form()))));

  const templates = createTemplateBar({
    store: props.store.templates,
    settings: () => formTemplate(form()),
    apply: (t) => setForm((f) => applyTrainingTemplate(f, t)),
    beforeSave: () => setErrors({}),
    saveFailed: (err) => {
      const fields = fieldErrors(err);
      // config errors sit beside their fields; the rest (name taken, too many) in the note
      setErrors(fields);
      const other = Object.entries(fields).filter(([k]) => !k.startsWith('settings.'));
      return other.length ? other.map(([, v]) => v).join('; ') : Object.keys(fields).length ? 'The template was not saved: see the messages above.' : errorMessage(err);
    },
  });

  return (
    <form class="card training-form" onSubmit={(e) => void submit(e)} data-testid="training-form" novalidate>
      <h2>New training</h2>
      <FormFailure form={server} testId="training-error" />

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
          <FieldError errors={errors()} field="extractionId" lookup={errorFor} />
          <Show when={loaded() && extractions().length === 0}>
            <span class="field-error" data-testid="no-extractions">
              No completed extraction yet: record activations on the <a href="/extractions">Extractions</a> page.
            </span>
          </Show>
        </label>
        <label class="field grow">
          <span>Name</span>
          <input placeholder="from the architecture, size and hooks" value={form().name} onInput={(e) => set('name', e.currentTarget.value)} data-testid="input-name" />
          <FieldError errors={errors()} field="name" lookup={errorFor} />
        </label>
        <label class="field" title="SAEs of one model, hook point and purpose form a family, versioned v1, v2, …; one version is the family's active SAE">
          <span>Purpose</span>
          <input placeholder="default" value={form().purpose} onInput={(e) => set('purpose', e.currentTarget.value)} data-testid="input-purpose" />
          <FieldError errors={errors()} field="purpose" lookup={errorFor} />
        </label>
        <TemplatePicker bar={templates} />
      </div>

      <HookChoice
        extraction={extraction()}
        chosen={form().hookPoints}
        hookInfo={hookInfo}
        dSae={(dIn) => formDSae(form(), dIn)}
        onToggle={toggleHook}
        errors={errors()}
      />

      <ConfigFields form={form()} set={set} errors={errors()} onePass={onePass()} steps={steps()} />

      <div class="form-row submit-row">
        <button type="submit" class="primary" disabled={busy() || !form().extractionId} data-testid="training-submit">
          {busy() ? 'Starting…' : 'Train'}
        </button>
        <TemplateSave bar={templates}>
          <FieldError errors={errors()} field="name" lookup={errorFor} />
        </TemplateSave>
      </div>
    </form>
  );
}
