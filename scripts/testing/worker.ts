/**
 * The worker harness of the end-to-end tests: real worker processes
 * (`workers/main.ts`) started with an environment and awaited until their
 * `[worker] ready id=…` line, killed with SIGKILL as a crash kills them (no
 * handler runs, their jobs stay active in pg-boss), and stopped with SIGTERM
 * at the end with every exit checked; and pg-boss driven as the server drives
 * it, for tests that run no server process (a queue created with its options
 * from models/contracts/jobs.ts, a job sent with a short retry delay, a job
 * awaited until it completes). stack.ts beside this file adds a server.
 *
 * @example
 * const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_TEST_HEARTBEAT_MS: '500' }));
 * const queue = await startQueue(db.url, 'sae.train');
 * const first = await workers.start();
 * const jobId = await queue.send({ trainingId });
 * expect(await workers.kill(first)).toBe('SIGKILL');
 * await workers.start(); // takes the first for dead; the retry resumes
 * await queue.completed(jobId, 60_000);
 * // afterAll: await workers.stop(); await queue.stop();
 */
import PgBoss from 'pg-boss';
import { expect } from 'vitest';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import { startProcess, waitFor, type RunningProcess } from './processes.ts';

/** A worker process that has logged `ready`, with the id it logged (the id its heartbeats and recovered jobs name). */
export interface RunningWorker extends RunningProcess {
  id: string;
}

/** Default wait for a worker's ready line, ms (tsx compiles it, then it registers the demo rows and subscribes). */
export const WORKER_READY_MS = 60_000;

/** Whether a process has ended (by an exit code or by a signal). */
const ended = (p: RunningProcess) => p.child.exitCode !== null || p.child.signalCode !== null;

/**
 * Waits until `proc` (a workers/main.ts process) logs its ready line and
 * returns the worker id it logged; fails with the process's output when it
 * ends before, or after `timeoutMs`.
 */
export function workerReady(proc: RunningProcess, timeoutMs = WORKER_READY_MS): Promise<string> {
  return waitFor(
    'the worker to be ready',
    () => {
      if (ended(proc)) throw new Error(`the worker exited (${proc.child.exitCode ?? proc.child.signalCode}):\n${proc.output()}`);
      return /\[worker\] ready id=(\S+)/.exec(proc.output())?.[1];
    },
    timeoutMs,
    50,
  );
}

/**
 * Starts one worker with `env` (over processes.ts's defaults: no demo, info
 * logs) and waits until it is ready; a worker that never gets ready is
 * stopped before the error is thrown. For a worker a test stops itself; use
 * {@link Workers} where exits are checked.
 */
export async function startWorker(env: Record<string, string | undefined>, timeoutMs = WORKER_READY_MS): Promise<RunningWorker> {
  const proc = startProcess('workers/main.ts', env);
  try {
    return Object.assign(proc, { id: await workerReady(proc, timeoutMs) });
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}

/** How a set of processes ended, against how each should have ended. */
export interface Exits {
  names: string[];
  /** exit codes, or the name of the signal that ended a process */
  got: (number | string)[];
  want: (number | string)[];
  outputs: string[];
}

/** Expects every process to have ended as it should; prints every process's output first when one did not. */
export function expectExits(e: Exits): void {
  if (e.got.some((code, i) => code !== e.want[i])) for (const [i, name] of e.names.entries()) console.error(`--- ${name} (exit ${e.got[i]}):\n${e.outputs[i]}`);
  expect(e.got).toEqual(e.want);
}

/**
 * The workers of one test file, all started with the same environment
 * (`env` is called at each start, so it may read what `beforeAll` set).
 * Every worker started is remembered, even one that never got ready, so
 * that {@link stop} ends them all.
 */
export class Workers {
  /** every worker started, in order */
  readonly all: RunningProcess[] = [];
  private readonly killed = new Set<RunningProcess>();

  constructor(private readonly env: () => Record<string, string | undefined>) {}

  /** Starts a worker and waits until it is ready. */
  async start(timeoutMs = WORKER_READY_MS): Promise<RunningWorker> {
    return (await this.startTogether(1, timeoutMs))[0]!;
  }

  /** Starts `n` workers at the same moment (racing for the same start-up work) and waits until each is ready. */
  async startTogether(n: number, timeoutMs = WORKER_READY_MS): Promise<RunningWorker[]> {
    const procs = Array.from({ length: n }, () => startProcess('workers/main.ts', this.env()));
    this.all.push(...procs);
    const ids = await Promise.all(procs.map((p) => workerReady(p, timeoutMs)));
    return procs.map((p, i) => Object.assign(p, { id: ids[i]! }));
  }

  /** Kills `worker` with SIGKILL, as a crash would, and resolves with how it ended (`'SIGKILL'`). */
  kill(worker: RunningProcess): Promise<number | string> {
    this.killed.add(worker);
    worker.child.kill('SIGKILL');
    return worker.exited;
  }

  /**
   * Stops every worker with SIGTERM, all at once (SIGKILL after the grace
   * period), and says how each ended against how it should: by SIGKILL when
   * {@link kill} killed it, else 0 (a clean shutdown).
   */
  async terminate(): Promise<Exits> {
    const got = await Promise.all(this.all.map((w) => w.stop('SIGTERM')));
    return {
      names: this.all.map((_, i) => `worker ${i}`),
      got,
      want: this.all.map((w) => (this.killed.has(w) ? 'SIGKILL' : 0)),
      outputs: this.all.map((w) => w.output()),
    };
  }

  /** {@link terminate}, then expects every exit to be as it should ({@link expectExits}). */
  async stop(): Promise<void> {
    expectExits(await this.terminate());
  }
}

/** A queue name of models/contracts/jobs.ts. */
export type QueueName = keyof typeof JOB_QUEUES;

/** pg-boss on a test database, sending to one queue as the server does. */
export interface TestQueue {
  boss: PgBoss;
  name: QueueName;
  /**
   * Sends a job with `data` and the queue's options, but a retry 1 s after a
   * failure without backoff (instead of 5–20 s), to keep a test that kills
   * its worker short; resolves with the job id.
   */
  send(data: object): Promise<string>;
  /** The job's pg-boss state (`created`, `active`, `completed` …), undefined when there is no such job. */
  state(jobId: string): Promise<string | undefined>;
  /**
   * Waits until the job has completed and returns it, polling every 50 ms
   * (after `each`, when given); a failed job fails the wait with its output.
   */
  completed(jobId: string, timeoutMs: number, each?: () => Promise<void>): Promise<PgBoss.JobWithMetadata<unknown>>;
  /** Stops pg-boss (the caller drops the database). */
  stop(): Promise<void>;
}

/** Starts pg-boss on the database at `url` and creates queue `name` with its options. */
export async function startQueue(url: string, name: QueueName): Promise<TestQueue> {
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, max: 2 });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.createQueue(name, { name, ...JOB_QUEUES[name] });
  return {
    boss,
    name,
    send: async (data) => (await boss.send(name, data, { ...JOB_QUEUES[name], retryDelay: 1, retryBackoff: false }))!,
    state: async (jobId) => (await boss.getJobById(name, jobId))?.state,
    completed: (jobId, timeoutMs, each) =>
      waitFor(
        'the job to complete',
        async () => {
          await each?.();
          const j = await boss.getJobById(name, jobId);
          if (j?.state === 'failed') throw new Error(`the job failed: ${JSON.stringify(j.output)}`);
          return j?.state === 'completed' ? j : undefined;
        },
        timeoutMs,
        50,
      ),
    stop: () => boss.stop({ graceful: false, wait: true }),
  };
}
