/**
 * The live workers as `GET /api/health` lists them (host, LOUPE_DEVICE, the
 * WebGPU adapters each found), for the System page: loaded on creation and
 * every heartbeat period while the page is open.
 */
import { createSignal, onCleanup, type Accessor } from 'solid-js';
import { healthSchema, type Health } from '../../models/contracts/api.ts';
import { errorMessage, getJson } from '../api.ts';

/** Reload period, ms: a worker's heartbeat (and its probe's answer) lands this often. */
const RELOAD_MS = 10_000;

export type WorkerEntry = Health['workers']['list'][number];

export interface WorkersStore {
  workers: Accessor<WorkerEntry[]>;
  /** why the last load failed, until one succeeds */
  error: Accessor<string | undefined>;
}

/** Creates the store; call inside a component (it owns its timer). */
export function createWorkersStore(): WorkersStore {
  const [workers, setWorkers] = createSignal<WorkerEntry[]>([]);
  const [error, setError] = createSignal<string>();
  const ac = new AbortController();
  const load = () =>
    getJson('/api/health', healthSchema, { signal: ac.signal }).then(
      (h) => (setWorkers(h.workers.list), setError(undefined)),
      (err) => !ac.signal.aborted && setError(errorMessage(err)),
    );
  void load();
  const timer = setInterval(() => void load(), RELOAD_MS);
  onCleanup(() => {
    clearInterval(timer);
    ac.abort();
  });
  return { workers, error };
}
