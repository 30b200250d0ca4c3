/**
 * Settings page: the OpenAI-compatible endpoint that labels features (base
 * URL, model, API key). The key is write-only: the server says only whether
 * one is stored; an empty key field keeps it. Save, test one chat completion
 * (with the form's values, or the stored ones), or clear the settings
 * (labels go back to heuristic only).
 */
import { createSignal, onCleanup, Show } from 'solid-js';
import type { LlmSettingsInput, Settings } from '../../models/contracts/features.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import { loadSettings, saveSettings, testLlm } from '../data/features.ts';
import { FieldError } from '../ui/FieldError.tsx';
import './features/Features.css';

export default function SettingsPage() {
  const [stored, setStored] = createSignal<Settings>();
  const [loadError, setLoadError] = createSignal<string>();
  const [url, setUrl] = createSignal('');
  const [model, setModel] = createSignal('');
  const [apiKey, setApiKey] = createSignal('');
  const [removeKey, setRemoveKey] = createSignal(false);
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [note, setNote] = createSignal<{ ok: boolean; text: string }>();
  const [busy, setBusy] = createSignal<'save' | 'test' | 'clear'>();
  const [test, setTest] = createSignal<{ ok: true; model: string; sample: string } | { ok: false; message: string }>();

  const ac = new AbortController();
  onCleanup(() => ac.abort());
  const fill = (s: Settings) => {
    setStored(s);
    setUrl(s.llm?.url ?? '');
    setModel(s.llm?.model ?? '');
    setApiKey('');
    setRemoveKey(false);
  };
  const load = () =>
    loadSettings(ac.signal).then(
      (s) => {
        fill(s);
        setLoadError(undefined);
      },
      (err) => !ac.signal.aborted && setLoadError(errorMessage(err)),
    );
  void load();

  const keySet = () => stored()?.llm?.apiKeySet === true;
  /** the form as the API takes it: a typed key replaces the stored one, an empty field keeps it (or removes it when asked) */
  const body = (): LlmSettingsInput => ({ url: url().trim(), model: model().trim(), ...(apiKey() ? { apiKey: apiKey() } : removeKey() ? { apiKey: null } : {}) });
  const changed = () => {
    const s = stored()?.llm;
    return url().trim() !== (s?.url ?? '') || model().trim() !== (s?.model ?? '') || apiKey() !== '' || removeKey();
  };

  const save = async (e?: SubmitEvent) => {
    e?.preventDefault();
    setBusy('save');
    setErrors({});
    setNote(undefined);
    try {
      fill(await saveSettings(body()));
      setNote({ ok: true, text: 'Saved. New discoveries label features with this endpoint.' });
    } catch (err) {
      const fields = Object.fromEntries(Object.entries(fieldErrors(err)).map(([k, v]) => [k.replace(/^llm\./, ''), v]));
      setErrors(fields);
      setNote({ ok: false, text: Object.keys(fields).length ? 'Not saved: see the messages beside the fields.' : errorMessage(err) });
    } finally {
      setBusy(undefined);
    }
  };
  const clear = async () => {
    setBusy('clear');
    setErrors({});
    setNote(undefined);
    setTest(undefined);
    try {
      fill(await saveSettings(null));
      setNote({ ok: true, text: 'Cleared: labels are heuristic only.' });
    } catch (err) {
      setNote({ ok: false, text: errorMessage(err) });
    } finally {
      setBusy(undefined);
    }
  };
  const runTest = async () => {
    setBusy('test');
    setTest(undefined);
    setNote(undefined);
    setErrors({});
    try {
      // unsaved changes are what is tried; otherwise the stored settings
      const r = await testLlm(changed() && url().trim() ? body() : undefined);
      setTest(r);
    } catch (err) {
      const fields = Object.fromEntries(Object.entries(fieldErrors(err)).map(([k, v]) => [k.replace(/^llm\./, ''), v]));
      setErrors(fields);
      // a message about a field is shown beside it, once; the result says only why nothing was tried
      if (Object.keys(fields).length) setNote({ ok: false, text: 'Not tested: see the messages beside the fields.' });
      else setTest({ ok: false, message: errorMessage(err) });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <div class="page settings-page">
      <header class="page-head">
        <h1>Settings</h1>
      </header>
      <Show when={loadError()}>
        <div class="error" role="alert">
          <b>Could not load the settings:</b> {loadError()} <button onClick={() => void load()}>Retry</button>
        </div>
      </Show>
      <form class="card settings-card" onSubmit={(e) => void save(e)} novalidate data-testid="llm-form">
        <h2>LLM for feature labels</h2>
        <p class="muted settings-intro">
          Any OpenAI-compatible chat endpoint (OpenAI, a local Ollama, vLLM or llama.cpp server…). When set, a discovery ends by asking it for a short label of every feature that fired. <b>Without it, labels are heuristic only</b>: the token the top examples peak on (or follow), which is often enough; nothing fails.
        </p>
        <p class="muted small" data-testid="llm-state">
          {stored() === undefined ? 'Loading…' : stored()!.llm ? `In use: ${stored()!.llm!.model} at ${stored()!.llm!.url}${stored()!.llm!.apiKeySet ? ', with an API key' : ', no API key'}.` : 'Not set: heuristic labels only.'}
        </p>
        <div class="form-row">
          <label class="field grow">
            <span>Base URL (…/v1)</span>
            <input type="url" placeholder="http://localhost:11434/v1" value={url()} onInput={(e) => setUrl(e.currentTarget.value)} data-testid="llm-url" />
            <FieldError errors={errors()} field="url" />
          </label>
          <label class="field">
            <span>Model</span>
            <input placeholder="gpt-4o-mini, llama3.1…" value={model()} onInput={(e) => setModel(e.currentTarget.value)} data-testid="llm-model" />
            <FieldError errors={errors()} field="model" />
          </label>
          <label class="field">
            <span>
              API key{' '}
              <Show when={keySet()}>
                <span class="badge" data-testid="key-set">
                  set
                </span>
              </Show>
            </span>
            <input type="password" autocomplete="off" placeholder={keySet() ? 'stored for this URL only; type to replace' : 'none (optional)'} value={apiKey()} onInput={(e) => setApiKey(e.currentTarget.value)} data-testid="llm-key" />
            <FieldError errors={errors()} field="apiKey" />
            <Show when={keySet()}>
              <span class="inline small">
                <input type="checkbox" checked={removeKey()} onChange={(e) => setRemoveKey(e.currentTarget.checked)} data-testid="llm-remove-key" /> remove the stored key
              </span>
            </Show>
          </label>
        </div>
        <div class="form-row settings-actions">
          <button type="submit" class="primary" disabled={busy() !== undefined} data-testid="llm-save">
            {busy() === 'save' ? 'Saving…' : 'Save'}
          </button>
          <button type="button" disabled={busy() !== undefined || (!stored()?.llm && !url().trim())} onClick={() => void runTest()} data-testid="llm-test">
            {busy() === 'test' ? 'Testing…' : 'Test'}
          </button>
          <button type="button" class="danger-outline" disabled={busy() !== undefined || !stored()?.llm} onClick={() => void clear()} data-testid="llm-clear">
            {busy() === 'clear' ? 'Clearing…' : 'Clear'}
          </button>
          <Show when={note()}>
            {(n) => (
              <span class={n().ok ? 'muted small' : 'field-error'} role={n().ok ? 'status' : 'alert'} data-testid="llm-note">
                {n().text}
              </span>
            )}
          </Show>
        </div>
        <Show when={test()}>
          {(t) => (
            <div class={t().ok ? 'test-ok' : 'error'} role="status" data-testid="llm-test-result" data-ok={String(t().ok)}>
              <Show when={t().ok ? (t() as { ok: true; model: string; sample: string }) : undefined} fallback={<>Test failed: {(t() as { message: string }).message}</>}>
                {(ok) => (
                  <>
                    <b>It works.</b> {ok().model} answered: <q data-testid="llm-test-sample">{ok().sample}</q>
                  </>
                )}
              </Show>
            </div>
          )}
        </Show>
      </form>
    </div>
  );
}
