import { describe, expect, it } from 'vitest';
import type { Job } from '../../models/contracts/api.ts';
import { runningJobs, runningJobsText } from './jobs-view.ts';

const job = (id: string, kind: string, state: Job['state'], createdAt: number, startedAt: number | null = null): Job => ({ id, kind, state, data: {}, output: null, progress: null, createdAt, startedAt, completedAt: null, retryCount: 0, retryLimit: 0 });

describe('the running-jobs indicator', () => {
  it('lists the running jobs first, then the waiting ones, oldest first, without pg-boss\'s own', () => {
    const jobs = runningJobs([
      job('a', 'sae.train', 'created', 30),
      job('b', 'features.discover', 'active', 10, 20),
      job('c', 'activations.extract', 'active', 5, 12),
      job('d', '__pgboss__maintenance', 'active', 1, 2),
      job('e', 'model.download', 'retry', 25),
      job('b', 'features.discover', 'active', 10, 20),
      job('f', 'dataset.import', 'completed', 1, 2),
    ]);
    expect(jobs.map((j) => [j.id, j.state, j.label, j.href])).toEqual([
      ['c', 'running', 'extraction', '/extractions'],
      ['b', 'running', 'feature discovery', '/features'],
      ['e', 'queued', 'model download', '/models'],
      ['a', 'queued', 'SAE training', '/training'],
    ]);
  });
  it('says how many run and wait', () => {
    const [run, wait] = [runningJobs([job('a', 'sae.train', 'active', 1, 2)]), runningJobs([job('b', 'sae.train', 'created', 1)])];
    expect(runningJobsText(run)).toBe('1 job running');
    expect(runningJobsText([...run, ...runningJobs([job('c', 'sae.train', 'active', 1, 3)]), ...wait])).toBe('2 jobs running · 1 queued');
    expect(runningJobsText(wait)).toBe('1 job queued');
    expect(runningJobsText([])).toBe('');
  });
});
