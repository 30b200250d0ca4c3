/**
 * Pure helpers of the Training page's runs: live progress merged into a run,
 * its steps, status and controls, and labels. Kept apart from the store so
 * they are tested without a browser.
 */
import type { TrainConfigResolved, Training, TrainingProgress } from '../../models/contracts/trainings.ts';
import { percent } from './model-view.ts';

/** Statuses in which a run may still change by itself (a job has it or will take it). */
export function isActive(status: Training['status']): boolean {
  return status === 'queued' || status === 'running';
}

/**
 * A run with a live progress event applied (status, error, progress,
 * stopped); an event older than the run's progress is ignored (a late
 * delivery). A run that leaves the queue has no queue position any more, and
 * a finished one no pending control.
 */
export function applyTrainingProgress(run: Training, p: TrainingProgress): Training {
  if (p.id !== run.id) return run;
  if (run.progress && p.ts < run.progress.ts) return run;
  return {
    ...run,
    status: p.status,
    error: p.error,
    progress: p,
    stopped: p.stopped,
    queuePosition: p.status === 'queued' ? run.queuePosition : null,
    control: isActive(p.status) ? run.control : null,
  };
}

/** Steps a run takes (from its progress, else from its config). */
export function totalStepsOfRun(run: Training): number {
  return run.progress?.totalSteps ?? Math.max(1, Math.floor(run.config.totalTokens / run.config.batchSize));
}

/** Percentage of steps done, 0–100 (100 once completed, also when stopped early). */
export function stepsPercent(run: Training): number {
  if (run.status === 'completed') return 100;
  return percent(run.progress?.step ?? 0, totalStepsOfRun(run));
}

/** The status as the run list shows it: `queued (#2)`, `pausing…`, `completed (stopped at step 120)`. */
export function statusLabel(run: Training): string {
  if (run.status === 'queued') {
    if (run.control === 'stop') return 'stopping…';
    return run.queuePosition ? `queued (#${run.queuePosition})` : 'queued';
  }
  if (run.status === 'running' && run.control) return run.control === 'pause' ? 'pausing…' : 'stopping…';
  if (run.status === 'completed' && run.stopped) return `stopped at step ${formatInt(run.progress?.step ?? 0)}`;
  return run.status;
}

/** The controls a run offers in its status (delete is always there). */
export function controlsOf(run: Training): ('pause' | 'resume' | 'stop' | 'retry')[] {
  switch (run.status) {
    case 'queued':
      return run.control === 'stop' ? [] : ['pause', 'stop'];
    case 'running':
      return run.control ? [] : ['pause', 'stop'];
    case 'paused':
      return ['resume', 'stop'];
    case 'failed':
    case 'cancelled':
      return ['retry'];
    default:
      return [];
  }
}

/** One line of a run's config: `topk k=16 · d_sae 256 · lr 0.001 · batch 64 · 25,600 tokens · seed 42`. */
export function configLabel(c: TrainConfigResolved): string {
  const size = c.dSae !== null ? `d_sae ${formatInt(c.dSae)}` : `×${c.expansionFactor}`;
  const arch =
    c.architecture === 'relu'
      ? `relu L1 ${formatStat(c.l1Coefficient)}`
      : c.architecture === 'jumprelu'
        ? `jumprelu L0 ${formatStat(c.l1Coefficient)}`
        : `${c.architecture} k=${c.k}`;
  const lr = `lr ${formatStat(c.lr)}${c.lrWarmupSteps ? ` (warm-up ${formatInt(c.lrWarmupSteps)})` : ''}${c.lrDecayFraction ? `, decay ${Math.round(c.lrDecayFraction * 100)} %` : ''}`;
  return [arch, size, lr, `batch ${formatInt(c.batchSize)}`, `${formatInt(c.totalTokens)} tokens`, `b_dec ${c.bDecInit}`, `seed ${c.seed}`].join(' · ');
}

/** 1234567 → "1,234,567". */
export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** A short number: 0.000123 → "1.23e-4", 14.5738 → "14.57", 0.5 → "0.5000". */
export function formatStat(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return n.toExponential(2);
  return n.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 4);
}

/** A fraction as a percentage: 0.0312 → "3.1 %". */
export function formatFraction(n: number): string {
  return Number.isFinite(n) ? `${(n * 100).toFixed(n === 0 || n === 1 ? 0 : 1)} %` : '–';
}
