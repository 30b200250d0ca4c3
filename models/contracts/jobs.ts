/**
 * Job kinds that the server sends and workers run: queue names, their pg-boss
 * queue options and the schema of each job's data. Shared by server/ (which
 * creates the queues it sends to) and workers/ (which run them), so the two
 * never disagree on a queue's retry policy or a job's payload.
 */
import { z } from 'zod';

/** Job states, as pg-boss 10 names them (in its own order: created < retry < active < completed < cancelled < failed). */
export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States after which a job never runs again. */
export const FINISHED_JOB_STATES: readonly JobState[] = ['completed', 'cancelled', 'failed'];

/** pg-boss queue options (the subset Loupe uses), in seconds. */
export interface QueueOptions {
  policy?: 'standard' | 'short' | 'singleton' | 'stately';
  /** retries after the first attempt */
  retryLimit?: number;
  /** s before the first retry */
  retryDelay?: number;
  /** doubles the delay on each retry, with jitter */
  retryBackoff?: boolean;
  /** s a job may stay active before pg-boss fails it (and retries it) */
  expireInSeconds?: number;
}

/** Data of a `model.download` job: the `models` row it fills. */
export const modelDownloadDataSchema = z.object({ modelId: z.string().uuid() });
export type ModelDownloadData = z.infer<typeof modelDownloadDataSchema>;

/** Data of a `dataset.import` job: the `datasets` row it fills. */
export const datasetImportDataSchema = z.object({ datasetId: z.string().uuid() });
export type DatasetImportData = z.infer<typeof datasetImportDataSchema>;

/** Queues the server sends to, with their options. */
export const JOB_QUEUES = {
  'model.download': {
    // Network failures are retried with backoff; the hub client resumes .part files.
    retryLimit: 3,
    retryDelay: 10,
    retryBackoff: true,
    // A worker that died mid-download leaves its job active until this expires; pg-boss then retries it.
    expireInSeconds: 6 * 3600,
  },
  'dataset.import': {
    // Hub downloads resume their .part files on a retry; reader and tokenizer errors are permanent (no retry).
    retryLimit: 2,
    retryDelay: 10,
    retryBackoff: true,
    expireInSeconds: 12 * 3600,
  },
  'activations.extract': {
    // A retry resumes from the store's last complete shard (same bytes); settings errors fail at once.
    retryLimit: 3,
    retryDelay: 5,
    retryBackoff: true,
    // pg-boss's longest expiry is below 24 h; a longer run expires into a retry, which resumes where it was.
    expireInSeconds: 23 * 3600,
  },
  // A retry (a failure, a dead worker, an expiry after 23 h) resumes from each SAE's last checkpoint; bad config fails at once.
  'sae.train': { retryLimit: 3, retryDelay: 5, retryBackoff: true, expireInSeconds: 23 * 3600 },
  // A retry after a crash in the labels phase resumes the labels from the saved scan; one in the scan starts it again.
  'features.discover': { retryLimit: 2, retryDelay: 5, retryBackoff: true, expireInSeconds: 23 * 3600 },
  // One analysis of one feature, keyed by its cache key: stately, so requests for the same key share one job.
  // The server waits for it (or the client polls), so a retry must be quick.
  'features.analyze': { policy: 'stately', retryLimit: 1, retryDelay: 1, expireInSeconds: 3600 },
  // The first-start demo (workers/demo-setup.ts): waits for the jobs it sends; a retry goes on from the artifacts it recorded.
  'demo.setup': { retryLimit: 3, retryDelay: 10, retryBackoff: true, expireInSeconds: 23 * 3600 },
  // A sweep's coordinator (workers/sweep.ts): all its state is in its rows, so a retry (a failure, a dead worker, an expiry) goes on from them.
  'sweep.run': { retryLimit: 5, retryDelay: 5, retryBackoff: true, expireInSeconds: 23 * 3600 },
} as const satisfies Record<string, QueueOptions>;
export type QueueName = keyof typeof JOB_QUEUES;
