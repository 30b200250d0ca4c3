/**
 * The feature contracts against what they describe: the statuses of the
 * database, the heuristic labeller's kinds, the discovery phases of
 * discoverFeatures, feature ids, and the `discovery/{id}` topic.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { DiscoverOptions } from '../features/discover.ts';
import type { Label } from '../features/label.ts';
import { ARTIFACT_STATUSES, topicSchema } from './topics.ts';
import { DISCOVERY_PHASES, DISCOVERY_STATUSES, HEURISTIC_KINDS, ablationQuerySchema, createDiscoverySchema, featureId, featureListQuerySchema, featurePatchSchema, parseFeatureId, type DiscoveryPhase } from './features.ts';

describe('feature contracts', () => {
  it('name statuses, phases and label kinds the rest of Loupe uses', () => {
    for (const s of DISCOVERY_STATUSES) expect(ARTIFACT_STATUSES).toContain(s);
    expectTypeOf<Parameters<NonNullable<DiscoverOptions['onProgress']>>[2]>().toMatchTypeOf<DiscoveryPhase>();
    expectTypeOf<Label['kind']>().toEqualTypeOf<(typeof HEURISTIC_KINDS)[number]>();
    expect(DISCOVERY_PHASES).toEqual(['scan', 'examples', 'labels', 'saving']);
  });

  it('round-trip feature ids and refuse anything else', () => {
    const sae = '3f1c0000-1111-4222-8333-444455556666';
    expect(parseFeatureId(featureId(sae, 17))).toEqual({ saeId: sae, index: 17 });
    expect(parseFeatureId(`${sae}:x`)).toBeNull();
    expect(parseFeatureId(`${sae}:-1`)).toBeNull();
    expect(parseFeatureId('17')).toBeNull();
  });

  it('validate list queries, patches and ablations naming the field', () => {
    const sae = '3f1c0000-1111-4222-8333-444455556666';
    expect(featureListQuerySchema.parse({ sae })).toMatchObject({ sort: '-score', limit: 50, offset: 0 });
    expect(featureListQuerySchema.parse({ sae, favourite: 'true', minFreq: '0.001' })).toMatchObject({ favourite: true, minFreq: 0.001 });
    expect(featureListQuerySchema.safeParse({}).error?.issues[0]?.path).toEqual(['sae']);
    expect(featureListQuerySchema.safeParse({ sae, limit: '201' }).error?.issues[0]?.path).toEqual(['limit']);
    expect(featureListQuerySchema.safeParse({ sae, minFreq: '0.5', maxFreq: '0.1' }).error?.issues[0]?.path).toEqual(['maxFreq']);
    expect(featurePatchSchema.safeParse({}).success).toBe(false);
    expect(featurePatchSchema.parse({ label: null })).toEqual({ label: null });
    expect(ablationQuerySchema.safeParse({ mode: 'clamp' }).error?.issues[0]?.path).toEqual(['value']);
  });

  it('give discovery/{id} the discovery schema', () => {
    const schema = topicSchema('discovery/00000000-0000-4000-8000-00000000f1e0')!;
    const d = { id: 'd', saeId: 's', source: 'text', extractionId: null, datasetId: 'ds', text: { contextLength: 128, maxTokens: 1000 }, status: 'running', progress: { phase: 'scan', rowsDone: 1, rowsTotal: 9, featuresLabelled: 0, etaSeconds: null }, settings: { topK: 10, left: 16, right: 4 }, device: null, rows: null, error: null, warning: null, jobId: 'j', createdAt: 1, updatedAt: 2 };
    expect(schema.safeParse(d).success).toBe(true);
    const sae = { requested: 'auto', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: 'WebGPU: no GPU device on this host' };
    expect(schema.safeParse({ ...d, device: { sae } }).success).toBe(true);
    expect(schema.safeParse({ ...d, device: { sae: { ...sae, provider: 'tpu' } } }).success).toBe(false);
    expect(schema.safeParse({ ...d, status: 'paused' }).success).toBe(false);
    expect(schema.safeParse({ ...d, source: 'extraction', extractionId: 'e', datasetId: null, text: null }).success).toBe(true);
  });

  it('take a discovery over an extraction or over text, never both, and window settings only over text', () => {
    const saeId = '00000000-0000-4000-8000-000000000001';
    const other = '00000000-0000-4000-8000-000000000002';
    const fields = (body: unknown) => createDiscoverySchema.safeParse(body).error?.issues.map((i) => i.path.join('.'));
    expect(createDiscoverySchema.parse({ saeId })).toEqual({ saeId, topK: 10, left: 16, right: 4 });
    expect(createDiscoverySchema.parse({ saeId, datasetId: other, maxTokens: 5000, contextLength: 64 })).toMatchObject({ datasetId: other, maxTokens: 5000, contextLength: 64 });
    expect(fields({ saeId, extractionId: other, datasetId: other })).toEqual(['datasetId']);
    expect(fields({ saeId, extractionId: other, maxTokens: 5000, contextLength: 64 })).toEqual(['maxTokens', 'contextLength']);
    expect(fields({ saeId, datasetId: other, contextLength: 1, maxTokens: 0 })).toEqual(['maxTokens', 'contextLength']);
  });
});
