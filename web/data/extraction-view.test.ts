import { describe, expect, it } from 'vitest';
import type { Architecture } from '../../models/contracts/api.ts';
import { createExtractionSchema, templateSettingsSchema, type Extraction } from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import { applyExtractionProgress, applyTemplate, extractableHooks, formatStat, formBody, formSettings, rowLabel, settingsLabel, tokensPercent, type FormState } from './extraction-view.ts';

const run: Extraction = {
  id: 'e1',
  modelId: 'm1',
  modelName: 'demo',
  datasetId: 'd1',
  datasetName: 'slice',
  hookPoints: ['blocks.0.hook_resid_post'],
  settings: { dtype: 'fp32', storage: 'f16', contextLength: 128, batchSize: 8, tokenBudget: 1_000_000, stride: null, keepBos: false, prependBos: null, windowsPerShard: 512 },
  status: 'queued',
  progress: null,
  device: null,
  stats: null,
  jobId: 'j1',
  error: null,
  createdAt: 1,
  updatedAt: 1,
};
const progress = (ts: number, tokensDone: number, status: ExtractionProgress['status'] = 'running'): ExtractionProgress => ({
  id: 'e1',
  status,
  phase: 'extracting',
  tokensDone,
  tokensTotal: 1000,
  windowsDone: tokensDone / 10,
  windowsTotal: 100,
  rows: tokensDone,
  shards: 0,
  tokensPerSecond: 100,
  etaSeconds: 1,
  fallbacks: [],
  error: null,
  ts,
});

const form: FormState = {
  modelId: '00000000-0000-4000-8000-00000000d3e0',
  datasetId: '00000000-0000-4000-8000-00000000da7a',
  hookPoints: ['blocks.1.hook_resid_post'],
  dtype: 'fp32',
  storage: 'f32',
  contextLength: '128',
  batchSize: '8',
  tokenBudget: '1,000,000',
  stride: '',
  keepBos: false,
  prependBos: 'auto',
};

describe('extraction view helpers', () => {
  it('lists only per-token hook points, grouped by block', () => {
    const arch = {
      hookPoints: [
        { name: 'hook_embed', layer: null, shape: ['batch', 'pos', 4] },
        { name: 'blocks.0.attn.hook_pattern', layer: 0, shape: ['batch', 2, 'pos', 'pos'] },
        { name: 'blocks.0.attn.hook_z', layer: 0, shape: ['batch', 'pos', 2, 2] },
        { name: 'blocks.0.hook_resid_post', layer: 0, shape: ['batch', 'pos', 4] },
        { name: 'ln_final.hook_normalized', layer: null, shape: ['batch', 'pos', 4] },
      ],
    } as Architecture;
    expect(extractableHooks(arch).map((g) => [g.title, g.hooks.map((h) => h.name)])).toEqual([
      ['Embeddings', ['hook_embed']],
      ['Block 0', ['blocks.0.attn.hook_z', 'blocks.0.hook_resid_post']],
      ['Final', ['ln_final.hook_normalized']],
    ]);
    expect(rowLabel(['batch', 'pos', 2, 2])).toBe('[2 × 2]');
  });

  it('applies live progress in order, ignoring a late event', () => {
    const a = applyExtractionProgress(run, progress(10, 500));
    expect(a).toMatchObject({ status: 'running', progress: { tokensDone: 500 } });
    expect(applyExtractionProgress(a, progress(5, 100))).toBe(a);
    expect(tokensPercent(a)).toBe(50);
    expect(tokensPercent({ ...a, status: 'completed' })).toBe(100);
    expect(applyExtractionProgress(run, { ...progress(10, 1), id: 'other' })).toBe(run);
  });

  it('turns the form into a body the API contract accepts, and templates back into the form', () => {
    const body = formBody(form);
    expect(createExtractionSchema.parse(body)).toMatchObject({ hookPoints: ['blocks.1.hook_resid_post'], tokenBudget: 1_000_000, contextLength: 128, prependBos: null });
    expect(body).not.toHaveProperty('stride');
    // text that is not a number goes as it is, for the server to name the field
    expect(createExtractionSchema.safeParse(formBody({ ...form, contextLength: 'abc' })).error?.issues[0]?.path).toEqual(['contextLength']);

    const settings = formSettings({ ...form, stride: '64', prependBos: 'yes', keepBos: true });
    expect(templateSettingsSchema.parse(settings)).toMatchObject({ stride: 64, prependBos: true, keepBos: true });
    const back = applyTemplate({ ...form, contextLength: '32', hookPoints: [] }, settings);
    expect(back).toMatchObject({ contextLength: '128', stride: '64', prependBos: 'yes', keepBos: true, hookPoints: ['blocks.1.hook_resid_post'] });
    // what a template leaves out stays
    expect(applyTemplate(form, { batchSize: 16 })).toEqual({ ...form, batchSize: '16' });
  });

  it('labels settings and numbers', () => {
    expect(settingsLabel(run)).toBe('ctx 128 · batch 8 · 1,000,000 tokens · fp32 → f16');
    expect(settingsLabel({ ...run, settings: { ...run.settings, stride: 64, keepBos: true, prependBos: true } })).toMatch(/stride 64 · BOS kept · BOS prepended$/);
    expect(formatStat(14.57381)).toBe('14.57');
    expect(formatStat(0.000123)).toBe('1.23e-4');
    expect(formatStat(0.5)).toBe('0.5000');
    expect(formatStat(250.25)).toBe('250.3');
  });
});
