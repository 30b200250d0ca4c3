import { describe, expect, it } from 'vitest';
import type { Model } from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import { applyProgress, formatCount, formatEta, groupHookPoints, percent, sourceLabel } from './model-view.ts';

const model: Model = {
  id: 'm1',
  name: 'gpt2',
  source: { kind: 'hub', repo: 'openai-community/gpt2', revision: 'main' },
  status: 'queued',
  architecture: null,
  dtype: 'fp32',
  sizeBytes: null,
  progress: null,
  error: null,
  builtin: false,
  default: false,
  jobId: 'j1',
  createdAt: 1,
  updatedAt: 1,
};
const progress = (ts: number, bytesDone: number, status: ModelProgress['status'] = 'running'): ModelProgress => ({
  id: 'm1',
  status,
  files: [{ path: 'model.safetensors', bytes: bytesDone, total: 1000 }],
  bytesDone,
  bytesTotal: 1000,
  bytesPerSecond: 100,
  etaSeconds: (1000 - bytesDone) / 100,
  error: null,
  ts,
});

describe('models page helpers', () => {
  it('labels sources and percentages', () => {
    expect(sourceLabel(model.source)).toBe('openai-community/gpt2');
    expect(sourceLabel({ kind: 'hub', repo: 'a/b', revision: 'v1' })).toBe('a/b@v1');
    expect(sourceLabel({ kind: 'local', path: '/srv/m' })).toBe('/srv/m');
    expect([percent(0, 0), percent(1, 3), percent(999, 1000), percent(1000, 1000)]).toEqual([0, 33.3, 99.9, 100]);
    expect([formatEta(null), formatEta(4.4), formatEta(200), formatEta(7500)]).toEqual(['–', '4 s', '3 min 20 s', '2 h 05 min']);
    expect([formatCount(512), formatCount(12_345), formatCount(124_439_808), formatCount(7.2e9)]).toEqual(['512', '12.3 k', '124.4 M', '7.20 B']);
  });

  it('applies live progress in order and ignores late events', () => {
    const a = applyProgress(model, progress(10, 400));
    expect(a).toMatchObject({ status: 'running', sizeBytes: 1000, progress: { bytesDone: 400 } });
    expect(applyProgress(a, progress(5, 100))).toBe(a);
    expect(applyProgress(a, progress(20, 1000, 'completed')).status).toBe('completed');
    expect(applyProgress(a, { ...progress(30, 1000), id: 'other' })).toBe(a);
  });

  it('groups hook points by block, embeddings first and the final norm last', () => {
    const groups = groupHookPoints([
      { name: 'blocks.1.hook_resid_pre', shape: ['batch', 'pos', 8], layer: 1 },
      { name: 'hook_embed', shape: ['batch', 'pos', 8], layer: null },
      { name: 'ln_final.hook_normalized', shape: ['batch', 'pos', 8], layer: null },
      { name: 'blocks.0.hook_resid_pre', shape: ['batch', 'pos', 8], layer: 0 },
      { name: 'blocks.0.attn.hook_pattern', shape: ['batch', 2, 'pos', 'pos'], layer: 0 },
      { name: 'hook_pos_embed', shape: ['batch', 'pos', 8], layer: null },
    ]);
    expect(groups.map((g) => [g.title, g.hooks.map((h) => h.name)])).toEqual([
      ['Embeddings', ['hook_embed', 'hook_pos_embed']],
      ['Block 0', ['blocks.0.hook_resid_pre', 'blocks.0.attn.hook_pattern']],
      ['Block 1', ['blocks.1.hook_resid_pre']],
      ['Final', ['ln_final.hook_normalized']],
    ]);
  });
});
