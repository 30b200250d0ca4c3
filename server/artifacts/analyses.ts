/**
 * The analyses of a feature (logit lens, correlations, ablation) and the
 * encode of tokens by an SAE: a fresh cached result at once, otherwise a
 * `features.analyze` job (one per cache key: requests for the same analysis
 * share it) that the request waits for up to ANALYSIS_WAIT_MS.
 */
import { POLICY } from '../../models/config.ts';
import { featureId, type AnalysisKind, type AnalyzeJobData } from '../../models/contracts/features.ts';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import { analysisKey, ANALYZE_QUEUE, getCachedAnalysis, pendingAnalysisJob } from '../../db/queries/analysis.ts';
import { getJob } from '../../db/queries/jobs.ts';
import { AppError } from '../errors.ts';
import type { AppDeps } from '../app.ts';

const ANALYZE = ANALYZE_QUEUE satisfies keyof typeof JOB_QUEUES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A cached analysis, or one computed now by a `features.analyze` job that
 * this request waits for; `{jobId}` when the wait ran out (for a 202).
 * `index` is the feature (null for `encode`); `params` name the result in
 * the cache key, `tokens` (encode) travel in the job's data only.
 */
export async function analysis(
  deps: Pick<AppDeps, 'db' | 'boss' | 'analysisWaitMs'>,
  kind: AnalysisKind,
  saeId: string,
  index: number | null,
  params: Record<string, string | number>,
  tokens?: AnalyzeJobData['tokens'],
): Promise<{ result: Record<string, unknown>; cached: boolean; computedAt: number } | { jobId: string }> {
  const key = analysisKey(kind, saeId, index, params);
  const subject = index === null ? `SAE ${saeId}` : `feature ${featureId(saeId, index)}`;
  const hit = await getCachedAnalysis(deps.db, key);
  if (hit) return { result: hit.result as Record<string, unknown>, cached: true, computedAt: hit.computedAt };
  let jobId = await pendingAnalysisJob(deps.db, key);
  if (!jobId) {
    try {
      jobId = (await deps.boss.send(ANALYZE, { key, saeId, index, kind, params, ...(tokens ? { tokens } : {}) } satisfies AnalyzeJobData, { ...JOB_QUEUES[ANALYZE], singletonKey: key })) ?? (await pendingAnalysisJob(deps.db, key));
    } catch (err) {
      throw new AppError('queue_unavailable', 503, 'Could not queue the analysis job; try again', undefined, { cause: err });
    }
    if (!jobId) throw new AppError('queue_unavailable', 503, 'Could not queue the analysis job; try again');
  }
  const deadline = Date.now() + (deps.analysisWaitMs ?? POLICY.ANALYSIS_WAIT_MS);
  for (;;) {
    const done = await getCachedAnalysis(deps.db, key);
    if (done) return { result: done.result as Record<string, unknown>, cached: false, computedAt: done.computedAt };
    const job = await getJob(deps.db, jobId);
    if (job?.state === 'failed' || job?.state === 'cancelled') {
      const out = job.output as { name?: unknown; message?: unknown } | null;
      // A PermanentJobError says what to change (no model, no examples); any other failure (a database or runtime
      // fault) stays in the worker log: its message may quote SQL or internals.
      const message =
        job.state === 'cancelled' ? 'the analysis job was cancelled' : out?.name === 'PermanentJobError' && typeof out.message === 'string' ? out.message : `the analysis job failed; the worker log has the details (job ${jobId})`;
      throw new AppError('analysis_failed', 500, `${kind} of ${subject}: ${message}`, { jobId });
    }
    if (job?.state === 'completed') {
      // the job may have written its result and completed between the two reads above
      const late = await getCachedAnalysis(deps.db, key);
      if (late) return { result: late.result as Record<string, unknown>, cached: false, computedAt: late.computedAt };
      // completed but nothing fresh: the result expired already (a tiny TTL) or was pruned; a new request computes it again
      throw new AppError('analysis_failed', 500, `${kind} of ${subject}: the job completed but its result is not in the cache`, { jobId });
    }
    if (Date.now() >= deadline) return { jobId };
    await sleep(POLICY.ANALYSIS_POLL_MS);
  }
}
