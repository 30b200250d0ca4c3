/**
 * The Sweeps page's stores.
 *
 * `createSweepsStore`: the sweeps from `GET /api/sweeps` (newest first),
 * reconciled by id so that a card survives every update, kept live by the
 * `sweep/{id}` topic of every sweep that may still change (its status and
 * progress), reloaded when one changes status, and re-polled on live.ts's
 * cadence (every 2 s while one is active and the WebSocket is down; every
 * 10 s otherwise, for sweeps started elsewhere). Start, cancel and delete.
 *
 * `createSweepDetailStore`: one sweep with its trials and each param's
 * importance (`GET /api/sweeps/{id}`), reconciled in place (trials keyed by
 * number: a table row, its hover and the chart's lines survive an update).
 * While the sweep may change, its `sweep/{id}` events are applied at once and
 * each brings one fetch of the detail (a trial ended or began: the event
 * carries counts, not trials); the running trials' `training/{id}` progress
 * moves their steps; the detail is re-fetched every 5 s while the socket is
 * up (the running trials' latest objective) and every 2 s while it is down,
 * and once more when it comes back. The trial actions: a training template
 * of a trial, and a full-length training of it.
 */
import { createEffect, createMemo, createSignal, on, onCleanup, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import {
  createdSweepSchema,
  createSweepSchema,
  sweepDetailSchema,
  sweepListSchema,
  sweepSchema,
  trialTemplateSchema,
  trialTrainSchema,
  type CreateSweep,
  type Sweep,
  type SweepDetail,
  type SweepEvent,
} from '../../models/contracts/sweeps.ts';
import { createdTrainingSchema, trainingTemplateSchema, type Training, type TrainingTemplate } from '../../models/contracts/trainings.ts';
import { ApiError, checkInput, errorMessage, getJson, sendJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { watchActiveRows } from './live.ts';
import { asApiError, type ListStore } from './rows.ts';
import { applySweepEvent, isSweepActive } from './sweep-view.ts';

/** Re-fetch interval of an active sweep's detail while the socket is up (running trials' latest objective), ms. */
const DETAIL_ONLINE_MS = 5000;
/** Re-fetch interval of an active sweep's detail while the socket is down, ms. */
const DETAIL_OFFLINE_MS = 2000;
/** List reload interval while a sweep is active and the socket is up, ms. */
const LIST_ACTIVE_ONLINE_MS = 5000;

export interface SweepsStore extends ListStore {
  sweeps: Accessor<Sweep[]>;
  /** POSTs a new sweep (checked with the contract first); rejects with an ApiError whose details name bad fields */
  start(body: CreateSweep): Promise<Sweep>;
  cancel(s: Sweep): Promise<Sweep>;
  remove(s: Sweep): Promise<void>;
}

/** Creates the sweeps' list store; call inside a component (it owns subscriptions and timers). */
export function createSweepsStore(): SweepsStore {
  const [state, setState] = createStore<{ list: Sweep[] }>({ list: [] });
  const sweeps = () => state.list;
  const setList = (next: Sweep[]) => setState('list', reconcile(next, { key: 'id', merge: true }));
  const replace = (s: Sweep) => setList(state.list.some((x) => x.id === s.id) ? state.list.map((x) => (x.id === s.id ? s : x)) : [s, ...state.list]);
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<ApiError>();
  /** the newest live event of each sweep: a listing older than it keeps it (the event may have raced the request) */
  const live = new Map<string, SweepEvent>();

  let request = 0;
  async function reload(): Promise<void> {
    const n = ++request;
    try {
      const res = await getJson('/api/sweeps', sweepListSchema);
      if (n !== request) return;
      setList(
        res.sweeps.map((s) => {
          const e = live.get(s.id);
          return e && e.ts > s.updatedAt ? applySweepEvent(s, e) : s;
        }),
      );
      setError(undefined);
    } catch (err) {
      if (n === request) setError(asApiError(err));
    } finally {
      if (n === request) setLoading(false);
    }
  }
  void reload();

  const onEvent = (e: SweepEvent) => {
    const before = state.list.find((s) => s.id === e.id);
    if (!before || (live.get(e.id)?.ts ?? 0) > e.ts) return;
    live.set(e.id, e);
    replace(applySweepEvent(before, e));
    // a finished sweep has its final row (finishedAt); a started one its startedAt
    if (e.status !== before.status) void reload();
  };
  watchActiveRows({ rows: sweeps, isActive: (s) => isSweepActive(s.status), topic: (id) => `sweep/${id}`, onEvent, reload, activeOnlineMs: LIST_ACTIVE_ONLINE_MS });

  return {
    sweeps,
    loading,
    error,
    reload,
    async start(body) {
      checkInput(createSweepSchema, body);
      const { sweep } = await sendJson('POST', '/api/sweeps', body, createdSweepSchema);
      replace(sweep);
      return sweep;
    },
    async cancel(s) {
      try {
        const after = await sendJson('POST', `/api/sweeps/${s.id}/cancel`, undefined, sweepSchema);
        replace(after);
        return after;
      } catch (err) {
        // a 409: it finished meanwhile; show what the server has now
        if (err instanceof ApiError && err.status === 409) void reload();
        throw err;
      }
    },
    async remove(s) {
      await sendJson('DELETE', `/api/sweeps/${s.id}`);
      setList(state.list.filter((x) => x.id !== s.id));
    },
  };
}

export interface SweepDetailStore {
  /** the sweep with its trials (by number) and importance; undefined until the first answer */
  detail: Accessor<SweepDetail | undefined>;
  /** why the last fetch failed (the page keeps what it had) */
  error: Accessor<string | undefined>;
  /** the server has no such sweep (404) */
  missing: Accessor<boolean>;
  reload(): Promise<void>;
  cancel(): Promise<void>;
  remove(): Promise<void>;
  /** saves a training template of trial `number`'s config under `name` */
  toTemplate(number: number, name: string): Promise<TrainingTemplate>;
  /** starts a full-length training of trial `number`'s config */
  train(number: number, body: { totalTokens?: number; name?: string }): Promise<Training>;
}

/** Creates the store of sweep `id`; call inside a component (one per sweep: it owns subscriptions and timers). */
export function createSweepDetailStore(id: string): SweepDetailStore {
  const [state, setState] = createStore<{ detail: SweepDetail | undefined }>({ detail: undefined });
  const detail = () => state.detail;
  const [error, setError] = createSignal<string>();
  const [missing, setMissing] = createSignal(false);
  const ac = new AbortController();
  onCleanup(() => ac.abort());

  const set = (next: SweepDetail) => setState('detail', reconcile(next, { key: 'number', merge: true }));
  /** one fetch at a time; a call during one asks for another after it (the answer may predate what the call was for) */
  let running: Promise<void> | undefined;
  let again = false;
  const fetchOnce = async () => {
    try {
      set(await getJson(`/api/sweeps/${id}`, sweepDetailSchema, { signal: ac.signal }));
      setError(undefined);
      setMissing(false);
    } catch (err) {
      if (ac.signal.aborted) return;
      if (err instanceof ApiError && err.status === 404) setMissing(true);
      else setError(`Could not load the sweep: ${errorMessage(err)}`);
    }
  };
  const reload = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fetchOnce();
      } while (again && !ac.signal.aborted);
      running = undefined;
    })();
    return running;
  };
  void reload();

  const active = createMemo(() => {
    const d = detail();
    return d ? isSweepActive(d.status) : false;
  });
  const online = createMemo(() => realtime.status().status === 'open');

  // The sweep's events while it may change: status and counts at once, then its trials fetched.
  let lastTs = 0;
  createEffect(
    on(active, (isActive) => {
      if (!isActive) return;
      const unsubscribe = realtime.subscribe(`sweep/${id}`, (e) => {
        if (e.id !== id || e.ts < lastTs) return;
        lastTs = e.ts;
        if (state.detail) setState('detail', { status: e.status, progress: e.progress, error: e.error });
        void reload();
      });
      onCleanup(unsubscribe);
    }),
  );

  // The running trials' steps, from their trainings' progress.
  const runningTrainings = createMemo(
    () =>
      (detail()?.trials ?? [])
        .filter((t) => t.status === 'running' && t.trainingId)
        .map((t) => t.trainingId!)
        .join(','),
  );
  const trainingSubs = new Map<string, () => void>();
  createEffect(
    on(runningTrainings, (list) => {
      const ids = new Set(list ? list.split(',') : []);
      for (const trainingId of ids) {
        if (trainingSubs.has(trainingId)) continue;
        const unsubscribe = realtime.subscribe(`training/${trainingId}`, (e) => {
          if (e.type !== 'progress' || e.id !== trainingId || !state.detail) return;
          setState('detail', 'trials', (t) => t.trainingId === trainingId, 'training', { status: e.status, step: e.step, totalSteps: e.totalSteps, stopped: e.stopped });
        });
        trainingSubs.set(trainingId, unsubscribe);
      }
      for (const [trainingId, unsubscribe] of trainingSubs) {
        if (ids.has(trainingId)) continue;
        unsubscribe();
        trainingSubs.delete(trainingId);
      }
    }),
  );
  onCleanup(() => {
    for (const unsubscribe of trainingSubs.values()) unsubscribe();
    trainingSubs.clear();
  });

  // Re-fetched while it may change: a safety net while the socket is up, the only source while it is down; once more on reconnect.
  createEffect(
    on([active, online], ([isActive, isOnline], prev) => {
      if (prev && isOnline && !prev[1]) void reload();
      if (!isActive) return;
      if (!isOnline) onCleanup(realtime.startPolling());
      // (a hidden tab waits: the socket's events, or the next visible tick, bring it up to date)
      const timer = setInterval(() => document.visibilityState !== 'hidden' && void reload(), isOnline ? DETAIL_ONLINE_MS : DETAIL_OFFLINE_MS);
      onCleanup(() => clearInterval(timer));
    }),
  );

  return {
    detail,
    error,
    missing,
    reload,
    async cancel() {
      try {
        const s = await sendJson('POST', `/api/sweeps/${id}/cancel`, undefined, sweepSchema);
        if (state.detail) setState('detail', s);
      } finally {
        // the trials cancelled with it (or, on a 409, what the server has now)
        void reload();
      }
    },
    async remove() {
      await sendJson('DELETE', `/api/sweeps/${id}`);
    },
    async toTemplate(number, name) {
      const body = checkInput(trialTemplateSchema, { name });
      return sendJson('POST', `/api/sweeps/${id}/trials/${number}/template`, body, trainingTemplateSchema);
    },
    async train(number, body) {
      const checked = checkInput(trialTrainSchema, body);
      const { training } = await sendJson('POST', `/api/sweeps/${id}/trials/${number}/train`, checked, createdTrainingSchema);
      return training;
    },
  };
}
