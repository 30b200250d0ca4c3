import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Dataset } from '../../models/contracts/datasets.ts';
import type { Extraction } from '../../models/contracts/extractions.ts';
import { FEATURE_LIMITS, type Discovery } from '../../models/contracts/features.ts';
import { defaultTextContext, discoverBody, discoveryChoices, discoveryPercent, discoverySourceText, EMPTY_DISCOVER_FORM, extractionName, parseCount, pickSource, TEXT_SOURCE } from './discovery-view.ts';
import { debounce, DEFAULT_SORT, EMPTY_QUERY, featureHref, featuresApiPath, freqToSlider, FREQ_SLIDER, listSearch, listSearchParams, nextSort, pageCount, parseListQuery, sliderToFreq, sortMark } from './feature-query.ts';
import { editableLabel, explainScore, featureCountText, featureKeyAction, featureNotFoundText, formatFrequency, formatValue, highlightColor, histogramBars, intensity, parseFeatureIndex, tokenFilterInput, tokenFilterValue, tokenPieces } from './feature-view.ts';

describe('the list query', () => {
  it('reads the URL, with defaults for what is missing or malformed', () => {
    expect(parseListQuery({})).toEqual(EMPTY_QUERY);
    expect(parseListQuery({ sae: 's1', q: 'moses', token: ' Moses', minFreq: '0.001', maxFreq: '0.02', fav: '1', sort: 'max', page: '3', limit: '100' })).toEqual({
      sae: 's1',
      q: 'moses',
      token: ' Moses',
      minFreq: 0.001,
      maxFreq: 0.02,
      favourite: true,
      sort: 'max',
      page: 3,
      limit: 100,
    });
    const bad = parseListQuery({ minFreq: 'x', maxFreq: '2', sort: 'label', page: '0', limit: '7', fav: 'yes' });
    expect([bad.minFreq, bad.maxFreq, bad.sort, bad.page, bad.limit, bad.favourite]).toEqual([null, null, DEFAULT_SORT, 1, 50, false]);
  });

  it('writes back to the URL without defaults, and round-trips', () => {
    expect(listSearch(EMPTY_QUERY)).toBe('');
    const q = { ...EMPTY_QUERY, sae: 's1', q: 'hand of', token: ' Moses', minFreq: 0.0005, favourite: true, sort: '-frequency' as const, page: 2 };
    const search = listSearch(q);
    expect(search).toBe('?sae=s1&q=hand+of&token=+Moses&minFreq=0.0005&fav=1&sort=-frequency&page=2');
    expect(parseListQuery(Object.fromEntries(new URLSearchParams(search)))).toEqual(q);
    // every key present, so that setSearchParams clears the ones that went back to their default
    expect(Object.keys(listSearchParams(EMPTY_QUERY)).sort()).toEqual(['fav', 'limit', 'maxFreq', 'minFreq', 'page', 'q', 'sae', 'sort', 'token']);
    expect(Object.values(listSearchParams(EMPTY_QUERY)).every((v) => v === undefined)).toBe(true);
  });

  it('asks the API with an offset from the page, the favourite flag and the token as typed', () => {
    const path = featuresApiPath({ ...EMPTY_QUERY, sae: 's1', q: '  moses ', token: ' Moses', maxFreq: 0.02, favourite: true, page: 3, limit: 25 });
    const u = new URL(path, 'http://x');
    expect(u.pathname).toBe('/api/features');
    expect(Object.fromEntries(u.searchParams)).toEqual({ sae: 's1', q: 'moses', token: ' Moses', maxFreq: '0.02', favourite: 'true', sort: '-score', limit: '25', offset: '50' });
    expect(new URL(featuresApiPath({ ...EMPTY_QUERY, sae: 's1' }), 'http://x').searchParams.get('offset')).toBe('0');
  });

  it('counts pages', () => {
    expect(pageCount(0, 50)).toBe(1);
    expect(pageCount(50, 50)).toBe(1);
    expect(pageCount(51, 50)).toBe(2);
  });

  it('sorts descending on a first click, ascending on a second; the index ascending only', () => {
    expect(nextSort('-score', 'frequency')).toBe('-frequency');
    expect(nextSort('-frequency', 'frequency')).toBe('frequency');
    expect(nextSort('frequency', 'frequency')).toBe('-frequency');
    expect(nextSort('-max', 'index')).toBe('index');
    // the index toggles too: ascending first, then descending, then ascending again
    expect(nextSort('index', 'index')).toBe('-index');
    expect(nextSort('-index', 'index')).toBe('index');
    expect(sortMark('index', 'index')).toBe('↑');
    expect(sortMark('-index', 'index')).toBe('↓');
    expect(sortMark('-max', 'max')).toBe('↓');
    expect(sortMark('max', 'max')).toBe('↑');
    expect(sortMark('max', 'score')).toBe('');
  });

  it('links a feature with the list view in its query', () => {
    expect(featureHref('s1', 17)).toBe('/features/s1/17');
    expect(featureHref('s1', 17, { ...EMPTY_QUERY, sae: 's1', q: 'moses' })).toBe('/features/s1/17?q=moses');
  });
});

describe('the frequency range', () => {
  it('maps fractions to log10 slider positions and back, open bounds at the ends', () => {
    expect(freqToSlider(null, 'min')).toBe(FREQ_SLIDER.min);
    expect(freqToSlider(null, 'max')).toBe(FREQ_SLIDER.max);
    expect(freqToSlider(0.001, 'min')).toBeCloseTo(-3);
    expect(freqToSlider(1e-9, 'min')).toBe(FREQ_SLIDER.min);
    expect(sliderToFreq(FREQ_SLIDER.min, 'min')).toBeNull();
    expect(sliderToFreq(FREQ_SLIDER.max, 'max')).toBeNull();
    expect(sliderToFreq(-3, 'min')).toBe(0.001);
    expect(sliderToFreq(-2.3, 'max')).toBe(0.00501);
    // the lowest position is a real bound for the max slider
    expect(sliderToFreq(FREQ_SLIDER.min, 'max')).toBe(1e-5);
  });

  it('formats fractions as percentages with the digits they need', () => {
    expect(formatFrequency(0)).toBe('0 %');
    expect(formatFrequency(0.5)).toBe('50 %');
    expect(formatFrequency(0.0123)).toBe('1.2 %');
    expect(formatFrequency(0.000123)).toBe('0.012 %');
    expect(formatFrequency(1e-5)).toBe('0.0010 %');
    expect(formatValue(12.345)).toBe('12.3');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(123456)).toBe('1.23e+5');
  });
});

describe('tokens', () => {
  it('turns the visible whitespace of a typed token filter back into characters', () => {
    expect(tokenFilterValue('·Moses')).toBe(' Moses');
    expect(tokenFilterValue('↵')).toBe('\n');
    expect(tokenFilterValue(' #42 ')).toBe('#42');
    expect(tokenFilterInput(' Moses\n')).toBe('·Moses↵');
    expect(tokenFilterValue(tokenFilterInput(' a\tb'))).toBe(' a\tb');
  });

  it('splits a token into text and whitespace glyphs', () => {
    expect(tokenPieces(' the')).toEqual([
      { text: '·', ws: true },
      { text: 'the', ws: false },
    ]);
    expect(tokenPieces('\n\n').map((p) => p.text)).toEqual(['↵', '↵']);
    expect(tokenPieces('a\tb').map((p) => p.text)).toEqual(['a', '→', 'b']);
    expect(tokenPieces('')).toEqual([{ text: '∅', ws: true }]);
  });

  it('highlights by activation relative to the feature’s max', () => {
    expect(intensity(5, 10)).toBe(0.5);
    expect(intensity(12, 10)).toBe(1);
    expect(intensity(-1, 10)).toBe(0);
    expect(intensity(1, 0)).toBe(0);
    expect(highlightColor(0.456)).toBe('rgba(249, 115, 22, 0.46)');
    expect(highlightColor(0)).toBe('rgba(249, 115, 22, 0)');
  });
});

describe('histogram, score and progress', () => {
  it('trims empty bins off both ends of a histogram, keeping one of context', () => {
    const edges = [0.1, 1, 10, 100, 1000, 10000];
    expect(histogramBars({ edges, counts: [0, 0, 3, 0, 0] })).toEqual([
      { x0: 1, x1: 10, count: 0 },
      { x0: 10, x1: 100, count: 3 },
      { x0: 100, x1: 1000, count: 0 },
    ]);
    expect(histogramBars({ edges, counts: [1, 0, 0, 0, 2] })).toHaveLength(5);
    expect(histogramBars({ edges, counts: [0, 0, 0, 0, 0] })).toHaveLength(5);
  });

  it('explains the score as the share of top examples agreeing with the label', () => {
    expect(explainScore(0.8, 10, 'token').agree).toBe('8 of 10');
    expect(explainScore(0.8, 10, 'token').text).toMatch(/^8 of 10 top examples peak on the label’s token\. .*1\/10 \(0\.10\)/);
    expect(explainScore(0.5, 10, 'after').text).toMatch(/just before their peak/);
    expect(explainScore(0, 0, 'none').agree).toBe('–');
  });

  it('measures a discovery’s progress in its phase', () => {
    const p = (phase: 'scan' | 'examples' | 'labels' | 'saving', rowsDone: number, featuresLabelled = 0) => ({ status: 'running', progress: { phase, rowsDone, rowsTotal: 200, featuresLabelled } });
    expect(discoveryPercent({ status: 'queued', progress: null })).toBe(0);
    expect(discoveryPercent(p('scan', 50))).toBe(25);
    expect(discoveryPercent(p('labels', 200, 64), 256)).toBe(25);
    expect(discoveryPercent({ status: 'completed', progress: null })).toBe(100);
  });
});

describe('debounce', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  it('calls once with the last arguments after a pause; flush and cancel', () => {
    const calls: string[] = [];
    const d = debounce((s: string) => calls.push(s), 300);
    d('m');
    d('mo');
    vi.advanceTimersByTime(299);
    d('mos');
    vi.advanceTimersByTime(299);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['mos']);
    d('x');
    d.flush();
    expect(calls).toEqual(['mos', 'x']);
    d('y');
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(['mos', 'x']);
  });
});

describe('the discovery form', () => {
  const MODEL = 'm-1';
  const extraction = (id: string, over: Partial<Extraction> = {}): Extraction =>
    ({ id, modelId: MODEL, modelName: 'demo-model', datasetId: 'd-1', datasetName: 'demo corpus', hookPoints: ['blocks.0.hook_resid_post'], status: 'completed', createdAt: 1, settings: { tokenBudget: 1_000_000 }, ...over }) as Extraction;
  const dataset = (id: string, over: Partial<Dataset> = {}): Dataset => ({ id, name: id, status: 'completed', tokenizerModelId: MODEL, stats: { tokens: 300_000 }, ...over }) as Dataset;
  const sae = { modelId: MODEL, hookPoint: 'blocks.0.hook_resid_post' };

  it('names an extraction by its model, dataset and tokens', () => {
    expect(extractionName(extraction('e'))).toBe('demo-model on demo corpus · 1,000,000 tokens');
    expect(extractionName(extraction('e', { modelName: null, datasetName: null }))).toBe('deleted model on deleted dataset · 1,000,000 tokens');
  });

  it('offers the extraction the SAE was trained on, other completed ones of its model at its hook, and datasets by tokenizer', () => {
    const extractions = [
      extraction('trained', { createdAt: 1 }),
      extraction('newer', { createdAt: 3 }),
      extraction('older', { createdAt: 2 }),
      extraction('other-hook', { hookPoints: ['blocks.1.hook_resid_post'] }),
      extraction('other-model', { modelId: 'm-2' }),
      extraction('running', { status: 'running' }),
    ];
    const datasets = [dataset('demo'), dataset('gpt2-tokens', { tokenizerModelId: 'm-2' }), dataset('importing', { status: 'running' }), dataset('orphan', { tokenizerModelId: null })];
    const c = discoveryChoices(sae, extractions, datasets, 'trained');
    expect(c.trained?.id).toBe('trained');
    expect(c.extractions.map((e) => e.id)).toEqual(['newer', 'older']);
    expect(c.datasets.map((d) => d.id)).toEqual(['demo']);
    expect(c.otherDatasets.map((d) => d.id)).toEqual(['gpt2-tokens', 'orphan']);
    // an SAE without a model: extractions of any model at its hook; every dataset is "another tokenizer" (the server decides)
    const loose = discoveryChoices({ modelId: null, hookPoint: sae.hookPoint }, extractions, datasets, null);
    expect(loose.trained).toBeNull();
    expect(loose.extractions.map((e) => e.id)).toEqual(['newer', 'older', 'trained', 'other-model']);
    expect(loose.datasets).toEqual([]);
    expect(loose.otherDatasets).toHaveLength(3);
  });

  it('keeps the picked source while it is offered, else falls back to the trained-on extraction, another, or text', () => {
    const c = discoveryChoices(sae, [extraction('trained'), extraction('x2', { createdAt: 5 })], [dataset('demo')], 'trained');
    expect(pickSource('', c)).toBe('');
    expect(pickSource('x2', c)).toBe('x2');
    expect(pickSource(TEXT_SOURCE, c)).toBe(TEXT_SOURCE);
    expect(pickSource('gone', c)).toBe('');
    const imported = discoveryChoices(sae, [extraction('x2')], [], null);
    expect(pickSource('', imported)).toBe('x2');
    expect(pickSource('', discoveryChoices(sae, [], [dataset('demo')], null))).toBe(TEXT_SOURCE);
  });

  it('takes the default window length as the server does', () => {
    expect(defaultTextContext({ context_size: 256 }, 1024)).toBe(256);
    expect(defaultTextContext({ context_size: 4096 }, 1024)).toBe(1024);
    expect(defaultTextContext({}, 1024)).toBe(FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT);
    expect(defaultTextContext({ context_size: 'x' }, null)).toBe(FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT);
    expect(defaultTextContext({}, 64)).toBe(64);
  });

  it('reads typed counts with separators', () => {
    expect(parseCount('')).toBeUndefined();
    expect(parseCount(' 4,096 ')).toBe(4096);
    expect(parseCount('1_000_000')).toBe(1_000_000);
    expect(parseCount('1e6')).toBe(1_000_000);
    expect(parseCount('12.5')).toBe(12.5);
    expect(parseCount('lots')).toBeNaN();
    expect(parseCount('-3')).toBeNaN();
  });

  const limits = { defaultContext: 128, modelContext: 1024, datasetTokens: 300_000 };
  const form = (over: Partial<typeof EMPTY_DISCOVER_FORM>) => ({ ...EMPTY_DISCOVER_FORM, ...over });

  it('sends the server its defaults for empty fields, an extraction only when one is picked', () => {
    expect(discoverBody('s', form({}), limits)).toEqual({ body: { saeId: 's' }, errors: {} });
    expect(discoverBody('s', form({ source: 'x2', topK: '20', left: '0', right: '8' }), limits).body).toEqual({ saeId: 's', extractionId: 'x2', topK: 20, left: 0, right: 8 });
    // text fields typed, then the source switched back: they are not sent
    expect(discoverBody('s', form({ source: '', datasetId: 'demo', maxTokens: '4096' }), limits).body).toEqual({ saeId: 's' });
    expect(discoverBody('s', form({ source: TEXT_SOURCE, datasetId: 'demo' }), limits).body).toEqual({ saeId: 's', datasetId: 'demo' });
    expect(discoverBody('s', form({ source: TEXT_SOURCE, datasetId: 'demo', maxTokens: '4,096', contextLength: '64' }), limits).body).toEqual({ saeId: 's', datasetId: 'demo', maxTokens: 4096, contextLength: 64 });
  });

  it('names the fields it refuses, as the server would', () => {
    const text = (over: Partial<typeof EMPTY_DISCOVER_FORM>) => discoverBody('s', form({ source: TEXT_SOURCE, datasetId: 'demo', ...over }), limits);
    expect(text({ datasetId: '' }).errors).toEqual({ datasetId: 'pick a dataset' });
    expect(text({ maxTokens: 'lots' })).toEqual({ body: null, errors: { maxTokens: 'expected a whole number' } });
    expect(text({ maxTokens: '0' }).errors).toEqual({ maxTokens: 'at least 1' });
    expect(text({ maxTokens: '1e13' }).errors).toEqual({ maxTokens: 'at most 1,000,000,000,000' });
    // below one window: the typed context, else the default one
    expect(text({ maxTokens: '100' }).errors).toEqual({ maxTokens: 'at least one window: 128 tokens' });
    expect(text({ maxTokens: '100', contextLength: '64' }).errors).toEqual({});
    expect(text({ contextLength: '1' }).errors).toEqual({ contextLength: 'at least 2' });
    expect(text({ contextLength: '2048' }).errors).toEqual({ contextLength: 'at most 1,024, the model\'s context' });
    expect(discoverBody('s', form({ source: TEXT_SOURCE, datasetId: 'demo', contextLength: '512' }), { ...limits, datasetTokens: 300 }).errors).toEqual({ contextLength: 'the dataset holds 300 tokens' });
    expect(discoverBody('s', form({ source: TEXT_SOURCE, datasetId: 'demo', contextLength: '200000' }), { ...limits, modelContext: null }).errors).toEqual({ contextLength: 'at most 131,072' });
    expect(discoverBody('s', form({ topK: '0', left: '1.5', right: '999' }), limits).errors).toEqual({ topK: 'at least 1', left: 'expected a whole number', right: 'at most 128' });
  });

  it('says what a discovery ran over', () => {
    const names = { extraction: (id: string) => (id === 'e1' ? 'demo-model on demo corpus · 1,000,000 tokens' : undefined), dataset: (id: string) => (id === 'd1' ? 'Demo corpus' : undefined) };
    const base: Pick<Discovery, 'source' | 'extractionId' | 'datasetId' | 'text' | 'rows'> = { source: 'extraction', extractionId: 'e1', datasetId: null, text: null, rows: null };
    expect(discoverySourceText(base, names)).toBe('stored activations of demo-model on demo corpus · 1,000,000 tokens');
    expect(discoverySourceText({ ...base, extractionId: '0123456789abcdef' }, names)).toBe('stored activations of extraction 01234567');
    expect(discoverySourceText({ ...base, extractionId: null }, names)).toBe('stored activations of a deleted extraction');
    const text = { ...base, source: 'text' as const, extractionId: null, datasetId: 'd1', text: { contextLength: 128, maxTokens: 4096 } };
    expect(discoverySourceText(text, names)).toBe('fresh text: Demo corpus, up to 4,096 tokens');
    expect(discoverySourceText({ ...text, rows: 4064 }, names)).toBe('fresh text: Demo corpus, 4,064 tokens');
    expect(discoverySourceText({ ...text, datasetId: null }, names)).toBe('fresh text: a deleted dataset, up to 4,096 tokens');
  });
});

describe('what the Features pages say', () => {
  it('counts the table\'s rows in plain words', () => {
    expect(featureCountText(1, 50, 2048)).toBe('1–50 of 2,048 features');
    expect(featureCountText(51, 60, 60)).toBe('51–60 of 60 features');
    expect(featureCountText(1, 12, 12)).toBe('12 features');
    expect(featureCountText(1, 1, 1)).toBe('1 feature');
    expect(featureCountText(0, 0, 0)).toBe('No feature matches.');
  });

  it('reads the index of a feature\'s address, and says why a bad one names no feature', () => {
    expect(parseFeatureIndex('17')).toEqual({ index: 17 });
    expect(parseFeatureIndex('007')).toEqual({ index: 7 });
    expect(parseFeatureIndex(undefined)).toEqual({ problem: 'missing' });
    expect(parseFeatureIndex('')).toEqual({ problem: 'missing' });
    expect(parseFeatureIndex('-1')).toEqual({ problem: 'negative' });
    for (const bad of ['abc', '1.5', '1e3', '12x', ' 3 4']) expect(parseFeatureIndex(bad)).toEqual({ problem: 'not-a-number' });
    expect(parseFeatureIndex('1234567890')).toEqual({ problem: 'too-large' });
    const sae = { name: 'demo', dSae: 2048 };
    expect(featureNotFoundText('99999', { index: 99999 }, sae)).toBe('No feature #99,999 in this SAE: demo has 2,048 features, #0 to #2,047.');
    expect(featureNotFoundText('12', { index: 12 }, sae)).toBe('No feature #12 in this SAE yet: its features appear once a discovery of the SAE completes.');
    expect(featureNotFoundText('12', { index: 12 }, null)).toBe('No such SAE: it may have been deleted.');
    expect(featureNotFoundText('abc', { problem: 'not-a-number' }, sae)).toBe('No feature "abc": a feature\'s index is a whole number: demo has features #0 to #2,047.');
    expect(featureNotFoundText('-1', { problem: 'negative' }, undefined)).toBe('No feature "-1": feature indices start at #0.');
    for (const t of [featureNotFoundText('abc', { problem: 'not-a-number' }, sae), featureNotFoundText('-1', { problem: 'negative' }, sae)]) expect(t).not.toMatch(/#NaN|#-1\b/);
  });

  it('takes ←/→, f and / as shortcuts, but not while typing or with a modifier', () => {
    const key = (k: string, tagName = 'BODY', mods: Partial<Record<'altKey' | 'ctrlKey' | 'metaKey', boolean>> = {}) => featureKeyAction({ key: k, altKey: false, ctrlKey: false, metaKey: false, ...mods, target: { tagName } });
    expect([key('ArrowLeft'), key('ArrowRight'), key('f'), key('/')]).toEqual(['prev', 'next', 'star', 'search']);
    expect(key('F')).toBe(null);
    expect(key('f', 'INPUT')).toBe(null);
    expect(key('ArrowLeft', 'TEXTAREA')).toBe(null);
    expect(key('/', 'SELECT')).toBe(null);
    expect(key('ArrowRight', 'BODY', { altKey: true })).toBe(null);
    expect(featureKeyAction({ key: 'f', altKey: false, ctrlKey: false, metaKey: false, target: { tagName: 'DIV', isContentEditable: true } })).toBe(null);
  });

  it('starts the label editor from the words, without the typographic quotes of a heuristic label', () => {
    expect(editableLabel('“ Moses”', 'heuristic')).toBe('Moses');
    expect(editableLabel('after “ the”', 'heuristic')).toBe('after the');
    expect(editableLabel('“↵”', 'heuristic')).toBe('↵');
    expect(editableLabel('the “quoted” word', 'user')).toBe('the “quoted” word');
    expect(editableLabel(null, null)).toBe('');
  });
});
