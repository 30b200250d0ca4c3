/**
 * The top bar's running jobs: the unfinished jobs of every kind
 * (`GET /api/jobs`, states active, created and retry), reloaded every few
 * seconds while the tab is visible, so that a job started anywhere (this
 * tab, another, the API, the first-start demo) shows within that time.
 */
import { createSignal, onCleanup, type Accessor } from 'solid-js';
import { jobListSchema, type Job } from '../../models/contracts/api.ts';
import { getJson } from '../api.ts';
import { runningJobs, type RunningJob } from './jobs-view.ts';

/** Reload period while the tab is visible, ms. */
const RELOAD_MS = 4000;
/** Jobs asked for a state: the indicator lists a few, and says how many. */
const LIMIT = 50;

export interface RunningJobsStore {
  jobs: Accessor<RunningJob[]>;
  /** false until the first load answered */
  loaded: Accessor<boolean>;
}

/** Creates the store; call inside a component (it owns its timer). */
export function createRunningJobsStore(): RunningJobsStore {
  const [jobs, setJobs] = createSignal<RunningJob[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const ac = new AbortController();
  let busy = false;
  const load = async () => {
    if (busy || document.visibilityState === 'hidden') return;
    busy = true;
    try {
      const lists = await Promise.all((['active', 'created', 'retry'] as const).map((state) => getJson(`/api/jobs?state=${state}&limit=${LIMIT}`, jobListSchema, { signal: ac.signal })));
      setJobs(runningJobs(lists.flatMap((l): Job[] => l.jobs)));
      setLoaded(true);
    } catch {
      // the connection indicator beside it says when the server is away; keep the last list
    } finally {
      busy = false;
    }
  };
  void load();
  const timer = setInterval(() => void load(), RELOAD_MS);
  const onShow = () => document.visibilityState === 'visible' && void load();
  document.addEventListener('visibilitychange', onShow);
  onCleanup(() => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onShow);
    ac.abort();
  });
  return { jobs, loaded };
}
