/**
 * `system.maintenance`, every minute on one worker of the cluster: rolls raw
 * system samples up into one-minute buckets and prunes old history, old
 * job progress and expired feature analyses.
 */
import { POLICY } from '../models/config.ts';
import { pruneAnalysisCache } from '../db/queries/analysis.ts';
import { pruneJobProgress } from '../db/queries/jobs.ts';
import { pruneSystemMetrics, rollupSystemMetrics } from '../db/queries/system.ts';
import type { JobKind } from './job.ts';

export const systemMaintenance: JobKind = {
  name: 'system.maintenance',
  // One at a time across the cluster; a missed minute is made up by the 5-minute look-back.
  queue: { policy: 'singleton', retryLimit: 0, expireInSeconds: 120 },
  schedule: '* * * * *',
  concurrency: 1,
  async handler(_job, { database, config }) {
    const now = Date.now();
    await rollupSystemMetrics(database.db, now);
    await pruneSystemMetrics(database.db, now, config.systemRetentionH);
    await pruneJobProgress(database.db, POLICY.JOB_PROGRESS_RETENTION_H, now);
    await pruneAnalysisCache(database.db, new Date(now));
  },
};
