/**
 * The shape of a job kind: one file per kind in workers/, each exporting a
 * {@link JobKind}. The worker entry registers every kind listed in index.ts.
 */
import type PgBoss from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { Events } from '../db/events.ts';
import type { Config } from '../models/config.ts';
import type { Logger } from '../models/log.ts';

/** What a handler gets besides its job. */
export interface JobContext {
  database: Database;
  events: Events;
  config: Config;
  log: Logger;
}

/** One job kind: its pg-boss queue, options and handler. */
export interface JobKind<Data extends object = object> {
  /** queue name, e.g. `model.download` */
  name: string;
  queue?: Omit<PgBoss.Queue, 'name'>;
  /** cron expression (UTC) when the job runs on a schedule, once per cluster */
  schedule?: string;
  /** jobs one worker runs at once; defaults to WORKER_CONCURRENCY */
  concurrency?: number;
  handler(job: PgBoss.Job<Data>, ctx: JobContext): Promise<unknown>;
}
