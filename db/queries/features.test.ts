/**
 * Feature queries on a real PostgreSQL: a discovery's features replace the
 * SAE's in one transaction (keeping favourites, notes and user labels), list
 * filters and sorts against an independent filter of the same records, pages
 * that tile the whole order, and EXPLAIN of the main list queries on 14336
 * features showing that they read the indexes (no sort of the SAE's rows, no
 * sequential scan).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureListQuerySchema, type FeatureListQuery } from '../../models/contracts/features.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { discoveries, saes } from '../schema.ts';
import { getDiscovery, updateDiscovery } from './discoveries.ts';
import { getFeature, listFeatures, listFeaturesSql, patchFeature, replaceFeatures, setLlmLabel, type FeatureRecord } from './features.ts';

const D_SAE = 2048;
/** the features of the last SAE, most of the table: its own rows are no filter, the search indexes must do the work */
const BIG = 8192;
const WORDS = ['Moses', 'store', 'the', 'of', 'const', 'river', 'hand', '100%', 'snake_case', 'Zeus'];

/** A deterministic pseudo-random stream. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function makeRecords(seed: number, n = D_SAE): FeatureRecord[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, index) => {
    const word = index % 500 === 7 ? 'Nebuchadnezzar' : WORDS[Math.floor(r() * WORDS.length)]!;
    const peak = 1000 + Math.floor(r() * 3000);
    const other = 1000 + Math.floor(r() * 3000);
    const score = Math.floor(r() * 11) / 10;
    return {
      index,
      frequency: r() < 0.05 ? 0 : r() * 0.02,
      maxActivation: r() * 20,
      meanActivation: r() * 5,
      histogram: { edges: [0, 1, 2], counts: [index % 7, 1] },
      heuristicLabel: `“ ${word}${index % 13}”`,
      heuristicScore: score,
      heuristicKind: 'token' as const,
      llmLabel: null,
      peakTokens: [peak, other],
      topTokens: [
        { token: peak, text: ` ${word}`, count: 6 },
        { token: other, text: ' x', count: 4 },
      ],
      examples: [0, 1].map((rank) => ({ rank, maxValue: 5 - rank, position: index * 100 + 3, start: index * 100, tokens: [1, 2, 3, peak, 5], values: [0, 0, 0.5, 5 - rank, 0.1] })),
      // two samples of the lowest band, one of the highest
      quantiles: [
        [0, 0, 0.4],
        [0, 1, 0.3],
        [3, 0, 3],
      ].map(([band, rank, v]) => ({ rank: rank!, band, maxValue: v!, position: index * 100 + 50 + rank!, start: index * 100 + 48, tokens: [7, 8, 9], values: [0, 0, v!] })),
    };
  });
}

describe('feature queries', () => {
  let db: TestDatabase;
  const saeIds: string[] = [];
  const records = new Map<string, FeatureRecord[]>();
  const q = (p: Record<string, unknown>): FeatureListQuery => featureListQuerySchema.parse({ sae: saeIds[0], ...p });

  async function discover(saeId: string, recs: FeatureRecord[]): Promise<string> {
    const d = await db.db.insert(discoveries).values({ saeId, settings: { topK: 2, left: 3, right: 1 }, status: 'running' }).returning({ id: discoveries.id });
    const id = d[0]!.id;
    const ok = await replaceFeatures(db.db, id, saeId, recs, { progress: { phase: 'saving', rowsDone: recs.length, rowsTotal: recs.length, featuresLabelled: 0, etaSeconds: 0 }, rows: 1000, warning: null });
    expect(ok).toBe(true);
    return id;
  }

  beforeAll(async () => {
    db = await createTestDatabase('loupe_features');
    for (let s = 0; s < 4; s++) {
      const [row] = await db.db
        .insert(saes)
        .values({ name: `sae ${s}`, hookPoint: 'blocks.3.hook_resid_post', architecture: 'topk', dIn: 64, dSae: s === 3 ? BIG : D_SAE, cfg: {}, path: `/nowhere/${s}` })
        .returning({ id: saes.id });
      saeIds.push(row!.id);
      const recs = makeRecords(s + 1, s === 3 ? BIG : D_SAE);
      records.set(row!.id, recs);
      await discover(row!.id, recs);
    }
    await db.pool.query('ANALYZE features');
  }, 120_000);
  afterAll(() => db?.drop());

  it('lists by each sort, either way, in pages that tile the order', async () => {
    const recs = records.get(saeIds[0]!)!;
    const key = { frequency: (r: FeatureRecord) => r.frequency, score: (r: FeatureRecord) => r.heuristicScore, max: (r: FeatureRecord) => Math.fround(r.maxActivation) };
    for (const [name, of] of Object.entries(key)) {
      const asc = [...recs].sort((a, b) => Math.fround(of(a)) - Math.fround(of(b)) || a.index - b.index).map((r) => r.index);
      const page1 = await listFeatures(db.db, q({ sort: name, limit: '200' }));
      expect(page1.total).toBe(D_SAE);
      expect(page1.items.map((i) => i.index)).toEqual(asc.slice(0, 200));
      const last = await listFeatures(db.db, q({ sort: `-${name}`, limit: '200', offset: '0' }));
      expect(last.items.map((i) => i.index)).toEqual([...asc].reverse().slice(0, 200));
    }
    // pages of -score tile the whole order: no feature twice, none missing
    const seen: number[] = [];
    for (let offset = 0; offset < D_SAE; offset += 200) seen.push(...(await listFeatures(db.db, q({ limit: '200', offset: String(offset) }))).items.map((i) => i.index));
    expect(new Set(seen).size).toBe(D_SAE);
  });

  it('filters by label substring (case-insensitive, % and _ literal), token, frequency range and favourite', async () => {
    const recs = records.get(saeIds[0]!)!;
    const moses = await listFeatures(db.db, q({ q: 'moSES', limit: '200' }));
    expect(moses.total).toBe(recs.filter((r) => r.heuristicLabel.toLowerCase().includes('moses')).length);
    expect(moses.total).toBeGreaterThan(50);
    expect(moses.items.every((i) => /moses/i.test(i.label!))).toBe(true);
    expect((await listFeatures(db.db, q({ q: '100%' }))).total).toBe(recs.filter((r) => r.heuristicLabel.includes('100%')).length);
    expect((await listFeatures(db.db, q({ q: 'snake_c' }))).total).toBe(recs.filter((r) => r.heuristicLabel.includes('snake_c')).length);
    expect((await listFeatures(db.db, q({ q: 's%e' }))).total).toBe(0);

    const token = recs[5]!.peakTokens[0]!;
    const byToken = await listFeatures(db.db, q({ limit: '200' }), [token]);
    expect(byToken.items.map((i) => i.index).sort((a, b) => a - b)).toEqual(recs.filter((r) => r.peakTokens.includes(token)).map((r) => r.index));
    expect(await listFeatures(db.db, q({}), [])).toEqual({ total: 0, items: [] });

    const band = await listFeatures(db.db, q({ minFreq: '0.005', maxFreq: '0.01', sort: 'frequency', limit: '200' }));
    const want = recs.filter((r) => Math.fround(r.frequency) >= Math.fround(0.005) && Math.fround(r.frequency) <= Math.fround(0.01));
    expect(band.total).toBe(want.length);
    expect(band.items.every((i) => i.frequency >= 0.005 && i.frequency <= 0.01)).toBe(true);
    // other SAEs' features never leak in
    expect(band.items.every((i) => i.saeId === saeIds[0])).toBe(true);

    await patchFeature(db.db, saeIds[0]!, 7, { favourite: true });
    await patchFeature(db.db, saeIds[0]!, 9, { favourite: true, notes: 'looks like Moses' });
    const favs = await listFeatures(db.db, q({ favourite: 'true', sort: 'index' }));
    expect(favs.items.map((i) => [i.index, i.hasNotes])).toEqual([
      [7, false],
      [9, true],
    ]);
  });

  it('edits labels: a user label wins over the LLM, null goes back', async () => {
    const sae = saeIds[1]!;
    const heuristic = (await getFeature(db.db, sae, 3))!.label;
    expect(await setLlmLabel(db.db, sae, 3, 'Biblical names')).toBe(true);
    expect(await getFeature(db.db, sae, 3)).toMatchObject({ label: 'Biblical names', labelSource: 'llm' });
    await patchFeature(db.db, sae, 3, { label: 'Moses, mostly' });
    await setLlmLabel(db.db, sae, 3, 'something else');
    expect(await getFeature(db.db, sae, 3)).toMatchObject({ label: 'Moses, mostly', labelSource: 'user', llmLabel: 'something else' });
    await patchFeature(db.db, sae, 3, { label: null });
    expect(await getFeature(db.db, sae, 3)).toMatchObject({ label: 'something else', labelSource: 'llm' });
    await patchFeature(db.db, sae, 4, { label: 'mine' });
    await patchFeature(db.db, sae, 4, { label: null });
    expect(await getFeature(db.db, sae, 4)).toMatchObject({ label: (await getFeature(db.db, sae, 4))!.heuristicLabel, labelSource: 'heuristic' });
    expect(heuristic).toBe(records.get(sae)![3]!.heuristicLabel);
    expect(await patchFeature(db.db, sae, D_SAE + 5, { favourite: true })).toBe(false);
  });

  it('replaces an SAE\'s features in one go, keeping favourites, notes and user labels; a cancelled discovery writes nothing', async () => {
    const sae = saeIds[2]!;
    await patchFeature(db.db, sae, 11, { favourite: true, notes: 'keep me', label: 'my label' });
    const fresh = makeRecords(99);
    const d = await discover(sae, fresh);
    const f = (await getFeature(db.db, sae, 11))!;
    expect(f).toMatchObject({ favourite: true, notes: 'keep me', label: 'my label', labelSource: 'user', heuristicLabel: fresh[11]!.heuristicLabel, discoveryId: d });
    expect(f.examples.map((e) => e.rank)).toEqual([0, 1]);
    expect(f.examples[0]).toMatchObject({ position: 1103, start: 1100, tokens: [1, 2, 3, fresh[11]!.peakTokens[0], 5] });
    // the quantile samples come back apart from the top examples, with their band and rank in it
    expect(f.quantiles.map((e) => [e.band, e.rank, e.maxValue, e.position])).toEqual([
      [0, 0, expect.closeTo(0.4, 5), 1150],
      [0, 1, expect.closeTo(0.3, 5), 1151],
      [3, 0, 3, 1150],
    ]);
    expect((await getDiscovery(db.db, d))!.status).toBe('completed');

    const [cancelled] = await db.db.insert(discoveries).values({ saeId: sae, settings: { topK: 1, left: 0, right: 0 }, status: 'running' }).returning({ id: discoveries.id });
    await updateDiscovery(db.db, cancelled!.id, { status: 'cancelled' });
    expect(await replaceFeatures(db.db, cancelled!.id, sae, makeRecords(5).slice(0, 3), { progress: { phase: 'saving', rowsDone: 3, rowsTotal: 3, featuresLabelled: 0, etaSeconds: 0 }, rows: 1, warning: null })).toBe(false);
    expect((await listFeatures(db.db, featureListQuerySchema.parse({ sae }))).total).toBe(D_SAE);
  });

  it('reads indexes for the main list queries (EXPLAIN on 14336 features)', async () => {
    // as autovacuum would: GIN's pending list merged, statistics after the replacement above
    await db.pool.query('VACUUM ANALYZE features');
    const plan = async (query: FeatureListQuery, tokens?: number[]) => {
      const { sql, params } = listFeaturesSql(db.db, query, tokens);
      const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    for (const [sort, idx] of [
      ['-score', 'features_score_idx'],
      ['score', 'features_score_idx'],
      ['frequency', 'features_frequency_idx'],
      ['-frequency', 'features_frequency_idx'],
      ['-max', 'features_max_idx'],
      ['index', 'features_sae_id_index_pk'],
    ] as const) {
      const p = await plan(q({ sort }));
      expect(p, `${sort}:\n${p}`).toContain(idx);
      expect(p, `${sort}:\n${p}`).not.toMatch(/Seq Scan|\bSort\b/);
    }
    const band = await plan(q({ minFreq: '0.001', maxFreq: '0.002', sort: 'frequency' }));
    expect(band).toContain('features_frequency_idx');
    expect(band).not.toMatch(/Seq Scan/);
    const big = (p: Record<string, unknown>) => q({ sae: saeIds[3], ...p });
    // a rare label (a scan along the sort's index finds matches often enough for a common one, and is chosen for it)
    const label = await plan(big({ q: 'nebuchad' }));
    expect(label, label).toContain('features_label_trgm_idx');
    const token = await plan(big({}), [records.get(saeIds[3]!)![5]!.peakTokens[0]!]);
    expect(token, token).toContain('features_peak_tokens_idx');
  });
});
