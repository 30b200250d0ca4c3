/**
 * Pure helpers of the top bar's running-jobs indicator: what each job kind
 * is called and which page shows it, and the indicator's text. Kept apart
 * from the store so they are tested without a browser.
 */
import type { Job } from '../../models/contracts/api.ts';

/** How the indicator names a job kind (queue name) and the page that shows what it makes. */
export const JOB_KINDS: Readonly<Record<string, { label: string; href: string }>> = {
  'model.download': { label: 'model download', href: '/models' },
  'dataset.import': { label: 'dataset import', href: '/datasets' },
  'activations.extract': { label: 'extraction', href: '/extractions' },
  'sae.train': { label: 'SAE training', href: '/training' },
  'features.discover': { label: 'feature discovery', href: '/features' },
  'features.analyze': { label: 'feature analysis', href: '/features' },
  'demo.setup': { label: 'first-start demo', href: '/training' },
};

/** A job of the indicator: its kind's name and page, and whether it runs or waits. */
export interface RunningJob {
  id: string;
  kind: string;
  label: string;
  href: string;
  state: 'running' | 'queued';
  /** ms since epoch */
  since: number;
}

/**
 * The jobs the indicator lists, from the `active`, `created` and `retry`
 * jobs of the API: the running ones first, then the waiting ones, each
 * oldest first; kinds it does not know (pg-boss's own maintenance) left out.
 */
export function runningJobs(jobs: readonly Job[]): RunningJob[] {
  const out: RunningJob[] = [];
  const seen = new Set<string>();
  for (const j of jobs) {
    const kind = JOB_KINDS[j.kind];
    if (!kind || seen.has(j.id) || (j.state !== 'active' && j.state !== 'created' && j.state !== 'retry')) continue;
    seen.add(j.id);
    const running = j.state === 'active';
    out.push({ id: j.id, kind: j.kind, label: kind.label, href: kind.href, state: running ? 'running' : 'queued', since: (running ? j.startedAt : null) ?? j.createdAt });
  }
  return out.sort((a, b) => (a.state === b.state ? a.since - b.since : a.state === 'running' ? -1 : 1));
}

/** The indicator's text: "2 jobs running", "1 job running · 3 queued", "3 jobs queued"; empty when there are none. */
export function runningJobsText(jobs: readonly RunningJob[]): string {
  const running = jobs.filter((j) => j.state === 'running').length;
  const queued = jobs.length - running;
  const plural = (n: number) => (n === 1 ? 'job' : 'jobs');
  if (running > 0) return `${running} ${plural(running)} running${queued > 0 ? ` · ${queued} queued` : ''}`;
  if (queued > 0) return `${queued} ${plural(queued)} queued`;
  return '';
}
