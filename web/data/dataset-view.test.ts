import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../models/contracts/datasets.ts';
import type { DatasetProgress } from '../../models/contracts/topics.ts';
import { applyDatasetProgress, datasetSourceLabel, formatInt, isActive, lengthBars, phasePercent, uploadProblem, visibleToken } from './dataset-view.ts';

const dataset: Dataset = {
  id: 'd1',
  name: 'texts',
  source: { kind: 'hub', repo: 'someone/texts', revision: 'main', split: 'train', textColumn: 'text' },
  status: 'queued',
  builtin: false,
  tokenizerModelId: 'm1',
  settings: { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: null, addEos: null, maxDocuments: null, maxTokens: null },
  stats: null,
  sizeBytes: null,
  progress: null,
  error: null,
  jobId: 'j1',
  createdAt: 1,
  updatedAt: 1,
};
const progress = (ts: number, bytesDone: number, status: DatasetProgress['status'] = 'running'): DatasetProgress => ({
  id: 'd1',
  status,
  phase: 'tokenizing',
  file: 'train.jsonl',
  bytesDone,
  bytesTotal: 1000,
  bytesPerSecond: 100,
  documents: 10,
  tokens: 500,
  tokensPerSecond: 50,
  etaSeconds: 1,
  error: null,
  ts,
});

describe('dataset view helpers', () => {
  it('labels sources', () => {
    expect(datasetSourceLabel(dataset.source)).toBe('someone/texts · train');
    expect(datasetSourceLabel({ kind: 'hub', repo: 'a/b', revision: 'v2', split: 'test', config: 'en', textColumn: 'text' })).toBe('a/b@v2 · en · test');
    expect(datasetSourceLabel({ kind: 'upload', fileName: 'x.zip', bytes: 3 })).toBe('x.zip');
    expect(datasetSourceLabel({ kind: 'builtin', path: '/x.jsonl' })).toBe('shipped with Loupe');
  });

  it('applies live progress, ignoring late events, and measures the phase', () => {
    const a = applyDatasetProgress(dataset, progress(10, 250));
    expect(a).toMatchObject({ status: 'running', progress: { bytesDone: 250 } });
    expect(phasePercent(a)).toBe(25);
    expect(applyDatasetProgress(a, progress(5, 900))).toBe(a);
    expect(applyDatasetProgress(a, { ...progress(20, 900), id: 'other' })).toBe(a);
    const done = applyDatasetProgress(a, progress(30, 1000, 'completed'));
    expect([done.status, phasePercent(done)]).toEqual(['completed', 100]);
    expect(phasePercent(dataset)).toBe(0);
    expect([isActive('queued'), isActive('running'), isActive('completed'), isActive('cancelled')]).toEqual([true, true, false, false]);
  });

  it('checks an upload before sending it', () => {
    expect(uploadProblem({ name: 'a.jsonl', size: 10 }, 100)).toBeUndefined();
    expect(uploadProblem({ name: 'a.jsonl', size: 0 }, 100)).toBe('a.jsonl is empty');
    expect(uploadProblem({ name: 'big.zip', size: 3 * 1024 * 1024 }, 2 * 1024 * 1024)).toBe("big.zip is 3.00 MiB, larger than the server's upload limit of 2.00 MiB (UPLOAD_MAX_BYTES)");
  });

  it('shows whitespace in tokens and formats counts', () => {
    expect(visibleToken(' the')).toBe('·the');
    expect(visibleToken('\n\n')).toBe('↵\n↵\n');
    expect(visibleToken('\tx\r\n')).toBe('→x↵\r\n');
    expect(formatInt(716294)).toBe('716,294');
  });

  it('turns the log-spaced histogram into labelled bars', () => {
    expect(lengthBars({ edges: [1, 2, 3, 4, 6, 8], counts: [5, 0, 2, 7, 1] })).toEqual([
      { x0: 1, x1: 2, count: 5, label: '1' },
      { x0: 2, x1: 3, count: 0, label: '2' },
      { x0: 3, x1: 4, count: 2, label: '3' },
      { x0: 4, x1: 6, count: 7, label: '4–5' },
      { x0: 6, x1: 8, count: 1, label: '6–7' },
    ]);
  });
});
