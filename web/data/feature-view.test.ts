import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  debounce,
  DEFAULT_SORT,
  discoveryPercent,
  EMPTY_QUERY,
  explainScore,
  featureHref,
  featuresApiPath,
  formatFrequency,
  formatValue,
  freqToSlider,
  FREQ_SLIDER,
  highlightColor,
  histogramBars,
  intensity,
  listSearch,
  listSearchParams,
  nextSort,
  pageCount,
  parseListQuery,
  sliderToFreq,
  sortMark,
  tokenFilterInput,
  tokenFilterValue,
  tokenPieces,
} from './feature-view.ts';

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
