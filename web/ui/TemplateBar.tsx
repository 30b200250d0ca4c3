/**
 * The template controls of a form (the extraction and training forms): a
 * picker that loads a saved template into the form or deletes it, and a field
 * that saves the form's settings under a name, with a note that says what
 * happened. The two sit in different rows of a form, so their state is made
 * once ({@link createTemplateBar}) and given to both.
 */
import { createSignal, For, Show, type Accessor, type JSX } from 'solid-js';
import { errorMessage, fieldErrors } from '../api.ts';
import type { Template, TemplatesStore } from '../data/templates.ts';

export interface TemplateBarOptions<T extends Template<unknown>> {
  store: TemplatesStore<T>;
  /** the form's settings, as a template holds them */
  settings: () => T['settings'];
  /** puts a template's settings in the form */
  apply: (settings: T['settings']) => void;
  /** runs before a save (e.g. clears the form's messages) */
  beforeSave?: () => void;
  /** the note of a save that failed (default: the server's field messages, `settings.` left off, else its message) */
  saveFailed?: (err: unknown) => string;
}

/** The state the picker and the save field share. */
export interface TemplateBar<T extends Template<unknown>> {
  templates: Accessor<T[]>;
  /** the picked template's id ('' for none) */
  chosen: Accessor<string>;
  choose(id: string): void;
  name: Accessor<string>;
  setName(name: string): void;
  /** what the last load, save or delete did */
  note: Accessor<{ ok: boolean; text: string } | undefined>;
  load(): void;
  save(): Promise<void>;
  remove(): Promise<void>;
}

/** The server's field messages of a refused save, in one line. */
function defaultSaveFailed(err: unknown): string {
  const fields = fieldErrors(err);
  return Object.keys(fields).length
    ? Object.entries(fields)
        .map(([k, v]) => `${k.replace(/^settings\./, '')}: ${v}`)
        .join('; ')
    : errorMessage(err);
}

/** Creates the state of a form's template controls; call inside the form's component. */
export function createTemplateBar<T extends Template<unknown>>(o: TemplateBarOptions<T>): TemplateBar<T> {
  const [chosen, choose] = createSignal('');
  const [name, setName] = createSignal('');
  const [note, setNote] = createSignal<{ ok: boolean; text: string }>();
  const picked = () => o.store.list().find((t) => t.id === chosen());
  return {
    templates: o.store.list,
    chosen,
    choose,
    name,
    setName,
    note,
    load() {
      const t = picked();
      if (!t) return;
      o.apply(t.settings);
      setNote({ ok: true, text: `Loaded “${t.name}”.` });
    },
    async save() {
      setNote(undefined);
      o.beforeSave?.();
      try {
        const t = await o.store.save(name().trim(), o.settings());
        setName('');
        setNote({ ok: true, text: `Saved “${t.name}”.` });
      } catch (err) {
        setNote({ ok: false, text: (o.saveFailed ?? defaultSaveFailed)(err) });
      }
    },
    async remove() {
      const t = picked();
      if (!t) return;
      try {
        await o.store.remove(t);
        choose('');
        setNote({ ok: true, text: `Deleted “${t.name}”.` });
      } catch (err) {
        setNote({ ok: false, text: errorMessage(err) });
      }
    },
  };
}

/** The picker: a template, and buttons that load it into the form or delete it. */
export function TemplatePicker<T extends Template<unknown>>(props: { bar: TemplateBar<T> }) {
  return (
    <label class="field">
      <span>Template</span>
      <span class="inline">
        <select value={props.bar.chosen()} onChange={(e) => props.bar.choose(e.currentTarget.value)} data-testid="template-select">
          <option value="">—</option>
          <For each={props.bar.templates()}>{(t) => <option value={t.id}>{t.name}</option>}</For>
        </select>
        <button type="button" disabled={!props.bar.chosen()} onClick={() => props.bar.load()} data-testid="template-load">
          Load
        </button>
        <button type="button" class="danger-outline" disabled={!props.bar.chosen()} onClick={() => void props.bar.remove()} data-testid="template-delete">
          Delete
        </button>
      </span>
    </label>
  );
}

/** The save field (the form's messages of it as `children`), and the note of the last load, save or delete. */
export function TemplateSave<T extends Template<unknown>>(props: { bar: TemplateBar<T>; children?: JSX.Element }) {
  return (
    <>
      <label class="field grow">
        <span>Save these settings as a template</span>
        <span class="inline">
          <input placeholder="template name" value={props.bar.name()} onInput={(e) => props.bar.setName(e.currentTarget.value)} data-testid="template-name" />
          <button type="button" disabled={!props.bar.name().trim()} onClick={() => void props.bar.save()} data-testid="template-save">
            Save template
          </button>
        </span>
        {props.children}
      </label>
      <Show when={props.bar.note()}>
        {(n) => (
          <p class={n().ok ? 'muted template-note' : 'field-error template-note'} data-testid="template-note">
            {n().text}
          </p>
        )}
      </Show>
    </>
  );
}
