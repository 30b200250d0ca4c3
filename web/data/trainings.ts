/**
 * The Training page's stores.
 *
 * `createTrainingsStore`: the runs from `GET /api/trainings`, kept live by
 * the `training/{id}` topic of every run that may still change, re-polled
 * from the API while the WebSocket is down (and now and then while a run is
 * active or queued, for missed events and queue positions; every 10 s while
 * the tab is visible, for runs started elsewhere); its templates
 * (templates.ts); the actions (start, pause, resume, stop, retry, delete).
 *
 * `createRunDetailStore`: one run's metric history, drawn by the charts. The
 * topic is subscribed before the history is fetched (`GET …/metrics`, paged),
 * and both go through {@link mergePoints}, which keys points by hook and step:
 * a point that arrives twice is kept once, whatever came first. Points missed
 * while the socket was down are fetched from the newest step every hook has
 * (polling while it stays down, once more when it reopens), so the curve has
 * no gap. Also the run's detail (per-hook SAE size), the SAEs it produced and
 * the checkpoints seen.
 */
import { createEffect, createMemo, createSignal, on, onCleanup, type Accessor } from 'solid-js';
import { extractionDetailSchema, extractionListSchema, type Extraction, type ExtractionDetail } from '../../models/contracts/extractions.ts';
import {
  createTrainingSchema,
  createdTrainingSchema,
  metricsPageSchema,
  saeListSchema,
  trainingControlResultSchema,
  trainingDetailSchema,
  trainingListSchema,
  trainingTemplateListSchema,
  trainingTemplateSchema,
  TRAINING_LIMITS,
  type CreateTraining,
  type Sae,
  type Training,
  type TrainingDetail,
  type TrainingEvent,
  type TrainingProgress,
  type TrainingTemplate,
} from '../../models/contracts/trainings.ts';
import { ApiError, checkInput, getJson, sendJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { watchActiveRows } from './live.ts';
import { createRowList, type ListStore } from './rows.ts';
import { createTemplatesStore, type TemplatesStore } from './templates.ts';
import { catchUpAfter, createHistory, mergeCheckpoints, mergePoints, type CheckpointEntry, type TrainingHistory } from './training-history.ts';
import { applyTrainingProgress, isActive } from './training-view.ts';

/** Poll interval of a run's metric history while it is active and the socket is down, ms. */
const POLL_OFFLINE_MS = 2000;
/** Poll interval while a run is active and the socket is up (a safety net for a missed event; queue positions), ms. */
const POLL_ONLINE_MS = 5000;
/** Metric points a history request asks for. */
const METRICS_PAGE = TRAINING_LIMITS.DEFAULT_METRICS_PAGE;

export type TrainingAction = 'pause' | 'resume' | 'stop' | 'retry';

export interface TrainingsStore extends ListStore {
  runs: Accessor<Training[]>;
  templates: TemplatesStore<TrainingTemplate>;
  /** POSTs a new training; rejects with the server's ApiError (its details name bad fields) */
  start(body: CreateTraining): Promise<Training>;
  /** pause, resume, stop or retry; the run as the server has it afterwards */
  control(run: Training, action: TrainingAction): Promise<Training>;
  remove(run: Training): Promise<void>;
}

/** Creates the runs store; call inside a component (it owns subscriptions and timers). */
export function createTrainingsStore(): TrainingsStore {
  // a run's card (and an open detail with its charts) survives every event
  const list = createRowList<Training, TrainingProgress, { trainings: Training[] }>({
    load: () => getJson('/api/trainings', trainingListSchema),
    rowsOf: (res) => res.trainings,
    apply: applyTrainingProgress,
  });
  const { rows: runs, replace, reload } = list;
  const templates = createTemplatesStore('/api/training-templates', trainingTemplateListSchema, trainingTemplateSchema);

  // One subscription per run that may still change; a status change reloads the list (queue positions move, a finished run has its final row).
  const onEvent = (e: TrainingEvent) => {
    if (e.type !== 'progress') return;
    const { type: _, ...p } = e;
    const changed = list.applyLive(p);
    if (changed && changed.after.status !== changed.before.status) void reload();
  };
  // Reloads: fast while a run is active and the socket is down, every 5 s while it is up (queue positions move),
  // every 10 s otherwise while the tab is visible (runs started elsewhere).
  watchActiveRows({ rows: runs, isActive: (r) => isActive(r.status), topic: (id) => `training/${id}`, onEvent, reload, activeOnlineMs: POLL_ONLINE_MS });

  return {
    runs,
    loading: list.loading,
    error: list.error,
    templates,
    reload,
    async start(body) {
      checkInput(createTrainingSchema, body);
      const { training } = await sendJson('POST', '/api/trainings', body, createdTrainingSchema);
      replace(training);
      return training;
    },
    async control(run, action) {
      try {
        const { training } = await sendJson('POST', `/api/trainings/${run.id}/${action}`, undefined, trainingControlResultSchema);
        replace(training);
        return training;
      } catch (err) {
        // A 409: its status changed meanwhile; show what the server has now.
        if (err instanceof ApiError && err.status === 409) void reload();
        throw err;
      }
    },
    async remove(run) {
      await sendJson('DELETE', `/api/trainings/${run.id}`);
      list.remove(run.id);
    },
  };
}

export interface RunDetailStore {
  /** the run's metric history; read {@link version} to track its changes (it is mutated in place) */
  history: TrainingHistory;
  /** changes whenever the history did */
  version: Accessor<number>;
  /** true once the stored history has been read (the charts are complete up to the live points) */
  historyLoaded: Accessor<boolean>;
  /** the run's detail: per hook its d_in, d_sae, checkpoint, latest metrics and SAE */
  detail: Accessor<TrainingDetail | undefined>;
  /** the SAEs it produced */
  saes: Accessor<Sae[]>;
  /** checkpoints written (each hook's latest from the server, and those seen while the page watched), newest first */
  checkpoints: Accessor<CheckpointEntry[]>;
  error: Accessor<string | undefined>;
}

/** Creates the store of one run's detail; call inside a component. `run` is the run as the list store keeps it (live). */
export function createRunDetailStore(run: Accessor<Training>): RunDetailStore {
  const id = run().id;
  const history = createHistory();
  const [version, setVersion] = createSignal(0);
  const bump = () => setVersion((v) => v + 1);
  const [historyLoaded, setHistoryLoaded] = createSignal(false);
  const [detail, setDetail] = createSignal<TrainingDetail>();
  const [saes, setSaes] = createSignal<Sae[]>([]);
  const [checkpoints, setCheckpoints] = createSignal<CheckpointEntry[]>([]);
  const [error, setError] = createSignal<string>();
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  const opts = { signal: ac.signal };

  /**
   * Reads the stored points after the newest step every hook has now (taken
   * when asked, before any later live point moves it), in pages. One request
   * chain at a time: a call during one extends it from the lowest step asked.
   */
  let syncing: Promise<void> | undefined;
  let pending: number | null = null;
  const sync = (): Promise<void> => {
    const from = catchUpAfter(history, run().hookPoints);
    pending = pending === null ? from : Math.min(pending, from);
    syncing ??= (async () => {
      while (pending !== null) {
        let after = pending;
        pending = null;
        try {
          for (;;) {
            const page = await getJson(`/api/trainings/${id}/metrics?after=${after}&limit=${METRICS_PAGE}`, metricsPageSchema, opts);
            if (mergePoints(history, page.points)) bump();
            if (page.next === null) break;
            after = page.next;
          }
          setHistoryLoaded(true);
          setError(undefined);
        } catch (err) {
          // the next call starts where this one stopped
          pending = pending === null ? after : Math.min(pending, after);
          if (!ac.signal.aborted) setError(`Could not load the metric history: ${err instanceof Error ? err.message : String(err)}`);
          break;
        }
      }
      syncing = undefined;
    })();
    return syncing;
  };

  const loadDetail = async () => {
    try {
      const [d, s] = await Promise.all([getJson(`/api/trainings/${id}`, trainingDetailSchema, opts), getJson(`/api/saes?trainingId=${id}`, saeListSchema, opts)]);
      setDetail(d);
      setSaes(s.saes);
      setCheckpoints((seen) => mergeCheckpoints(seen, d.progress?.checkpoints ?? []));
    } catch (err) {
      if (!ac.signal.aborted) setError(`Could not load the run: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  // Live metric batches while the run may produce them. Subscribed before the history is read: nothing falls between the two.
  const active = createMemo(() => isActive(run().status));
  createEffect(
    on(active, (live) => {
      if (!live) return;
      const unsubscribe = realtime.subscribe(`training/${id}`, (e) => {
        if (e.type === 'metrics' && e.id === id && mergePoints(history, e.points)) bump();
      });
      onCleanup(unsubscribe);
    }),
  );

  // The history: read on open; read again (from where every hook is) when the run becomes active again (a resume),
  // when it ends (points published after its last live batch), and when the socket reopens after missing some.
  const online = createMemo(() => realtime.status().status === 'open');
  createEffect(on([active, online], () => void sync()));

  // While the socket is down and the run active, the history is polled.
  createEffect(() => {
    if (!active() || online()) return;
    const stopPolling = realtime.startPolling();
    const timer = setInterval(() => void sync(), POLL_OFFLINE_MS);
    onCleanup(() => {
      clearInterval(timer);
      stopPolling();
    });
  });

  // Checkpoints from the live progress; the detail and SAEs on open and at every status change.
  createEffect(() => {
    // Read field by field: the list store reconciles a run's progress in place, so the array itself may stay the same object.
    const latest = (run().progress?.checkpoints ?? []).map((c) => ({ hook: c.hook, step: c.step, at: c.at }));
    setCheckpoints((seen) => mergeCheckpoints(seen, latest));
  });
  createEffect(on(() => run().status, () => void loadDetail()));

  return { history, version, historyLoaded, detail, saes, checkpoints, error };
}

/** Completed extractions (newest first), for the form's picker. */
export async function loadCompletedExtractions(signal?: AbortSignal): Promise<Extraction[]> {
  const res = await getJson('/api/extractions?status=completed', extractionListSchema, signal ? { signal } : {});
  return res.extractions;
}

/** An extraction with what its store holds (row width and rows per hook). */
export function loadExtraction(id: string, signal?: AbortSignal): Promise<ExtractionDetail> {
  return getJson(`/api/extractions/${id}`, extractionDetailSchema, signal ? { signal } : {});
}

/** The download address of a file of an SAE's SAELens folder. */
export function saeFileUrl(sae: Pick<Sae, 'id'>, name: 'cfg.json' | 'sae_weights.safetensors'): string {
  return `/api/saes/${sae.id}/files/${name}`;
}
