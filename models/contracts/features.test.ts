/**
 * The feature contracts against what they describe: the statuses of the
 * database, the heuristic labeller's kinds, the discovery phases of
 * discoverFeatures, feature ids, and the `discovery/{id}` topic.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { DiscoverOptions } from '../features/discover.ts';
import type { Label } from '../features/label.ts';
import { ARTIFACT_STATUSES, topicSchema } from './topics.ts';
import { DISCOVERY_PHASES, DISCOVERY_STATUSES, HEURISTIC_KINDS, ablationQuerySchema, featureId, featureListQuerySchema, featurePatchSchema, parseFeatureId, type DiscoveryPhase } from './features.ts';

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
    const schema = topicSchema('discovery/0f1e')!;
    const d = { id: 'd', saeId: 's', extractionId: null, status: 'running', progress: { phase: 'scan', rowsDone: 1, rowsTotal: 9, featuresLabelled: 0, etaSeconds: null }, settings: { topK: 10, left: 16, right: 4 }, rows: null, error: null, warning: null, jobId: 'j', createdAt: 1, updatedAt: 2 };
    expect(schema.safeParse(d).success).toBe(true);
    expect(schema.safeParse({ ...d, status: 'paused' }).success).toBe(false);
  });
});
