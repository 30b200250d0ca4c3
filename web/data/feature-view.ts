/**
 * Pure helpers of the Features pages' display: frequencies, values and
 * scores as text, the token filter as typed, tokens with visible whitespace,
 * highlight intensities, histogram bars, the score's explanation and the
 * label's source. Kept apart from the components so they are tested without
 * a browser.
 */
import type { LabelSource } from '../../models/contracts/features.ts';
import type { Sae } from '../../models/contracts/trainings.ts';
import { formatInt } from './dataset-view.ts';

/**
 * An SAE as the pickers name it: its name, the hook when the name lacks it,
 * d_sae, the model (unless left out), and its version in its family when the
 * family has a purpose of its own or more than one version.
 * @example saeLabel(sae) // "demo topk · d_sae 2,048 · demo-model · v2 (active)"
 */
export function saeLabel(s: Pick<Sae, 'name' | 'hookPoint' | 'dSae' | 'modelName' | 'family'>, opts: { model?: boolean } = {}): string {
  const hook = s.name.includes(s.hookPoint) ? '' : ` · ${s.hookPoint}`;
  const model = opts.model !== false && s.modelName ? ` · ${s.modelName}` : '';
  const f = s.family;
  const family = f ? ` · ${f.purpose === 'default' ? '' : `${f.purpose} `}v${f.version}${f.active ? ' (active)' : ''}` : '';
  return `${s.name}${hook} · d_sae ${formatInt(s.dSae)}${model}${family}`;
}

/** The SAE a page shows when its address names none: the newest family's active SAE, else the newest SAE. */
export function defaultSae<T extends Pick<Sae, 'id' | 'family'>>(newestFirst: readonly T[]): T | undefined {
  return newestFirst.find((s) => s.family?.active) ?? newestFirst[0];
}

/**
 * A fraction as a percentage with the digits it needs: 0.5 → "50 %",
 * 0.000123 → "0.0123 %", 0 → "0 %".
 */
export function formatFrequency(f: number): string {
  if (!Number.isFinite(f)) return '–';
  if (f === 0) return '0 %';
  const pct = f * 100;
  const digits = pct >= 10 ? 0 : Math.max(1, Math.min(6, 1 - Math.floor(Math.log10(pct))));
  return `${pct.toFixed(digits)} %`;
}

/** An activation value: 3 significant digits, no exponent for ordinary sizes. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

/**
 * The table's count: "1–50 of 2,048 features" for a page of more, "12
 * features" when they all fit on it, "1 feature", "No feature matches." for
 * none. `first` and `last` are 1-based rows of the page.
 */
export function featureCountText(first: number, last: number, total: number): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (total === 0) return 'No feature matches.';
  if (total === 1) return '1 feature';
  if (first === 1 && last === total) return `${n(total)} features`;
  return `${n(first)}–${n(last)} of ${n(total)} features`;
}

/** A score 0..1 as "0.80". */
export function formatScore(s: number | null): string {
  return s === null || !Number.isFinite(s) ? '–' : s.toFixed(2);
}

/**
 * A token filter as typed → as the API takes it: the visible whitespace of
 * the page (`·` space, `↵` line break, `→` tab) back to the characters; `#123`
 * (a token id) unchanged.
 * @example tokenFilterValue('·Moses') // ' Moses'
 */
export function tokenFilterValue(typed: string): string {
  if (/^#\d+$/.test(typed.trim())) return typed.trim();
  return typed.replace(/·/g, ' ').replace(/↵/g, '\n').replace(/→/g, '\t');
}

/** The inverse of {@link tokenFilterValue}, for showing a filter from the URL in its input. */
export function tokenFilterInput(value: string): string {
  return value.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→');
}

/** One piece of a token's display: text, or a whitespace character shown as a glyph. */
export interface TokenPiece {
  text: string;
  ws: boolean;
}

/**
 * A token's text split into plain text and visible whitespace glyphs (`·`
 * space, `↵` line break, `→` tab), so that a strip of tokens shows every
 * character without breaking lines.
 * @example tokenPieces(' the\n') // [{·, ws}, {the}, {↵, ws}]
 */
export function tokenPieces(text: string): TokenPiece[] {
  const out: TokenPiece[] = [];
  for (const part of text.split(/(\r?\n| |\t)/)) {
    if (part === '') continue;
    const glyph = part === ' ' ? '·' : part === '\t' ? '→' : part === '\n' || part === '\r\n' ? '↵' : undefined;
    if (glyph) out.push({ text: glyph, ws: true });
    else out.push({ text: part, ws: false });
  }
  if (out.length === 0) out.push({ text: '∅', ws: true });
  return out;
}

/** A token's text for a label or tooltip: JSON-quoted, so that whitespace is plain to see (`" Moses"`, `"\n"`). */
export function quoteToken(text: string): string {
  return JSON.stringify(text);
}

/**
 * A token's highlight intensity, 0..1: its activation relative to the
 * feature's max (the strongest activation over the whole scan, so strips of
 * different examples compare). Negative or missing values are 0.
 */
export function intensity(value: number, max: number): number {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.min(1, value / max);
}

/** The highlight colour of an intensity: the page's orange at that opacity (2 decimals). */
export function highlightColor(a: number): string {
  return `rgba(249, 115, 22, ${Math.round(Math.max(0, Math.min(1, a)) * 100) / 100})`;
}

/** One bar of an activation histogram: values in `[x0, x1)`. */
export interface HistogramBar {
  x0: number;
  x1: number;
  count: number;
}

/**
 * The bars of a histogram (log-spaced `edges`, `counts.length + 1` of them)
 * with the empty bins at both ends trimmed off (one kept on each side for
 * context); all of them when every bin is empty.
 */
export function histogramBars(h: { edges: number[]; counts: number[] }): HistogramBar[] {
  const bars = h.counts.map((count, i) => ({ x0: h.edges[i]!, x1: h.edges[i + 1]!, count }));
  const first = bars.findIndex((b) => b.count > 0);
  if (first < 0) return bars;
  let last = bars.length - 1;
  while (bars[last]!.count === 0) last--;
  return bars.slice(Math.max(0, first - 1), Math.min(bars.length, last + 2));
}

/** What a heuristic label's kind means, for the score's explanation. */
export interface ScoreExplanation {
  /** e.g. "8 of 10" */
  agree: string;
  text: string;
}

/**
 * The interpretability score in words: the share of the top examples that
 * agree with the label — they peak on the label's token (`token`), or the
 * token before their peak is the label's (`after`).
 */
export function explainScore(score: number | null, examples: number, kind: 'token' | 'after' | 'none'): ScoreExplanation {
  if (score === null || kind === 'none' || examples === 0) return { agree: '–', text: 'No score: the feature never fired in the scanned activations, so it has no top examples.' };
  const n = Math.round(score * examples);
  const agree = `${n} of ${examples}`;
  const what = kind === 'token' ? 'peak on the label’s token' : 'have the label’s token just before their peak';
  return {
    agree,
    text: `${agree} top examples ${what}. 1.00 means every top example agrees with the label; 1/${examples} (${(1 / examples).toFixed(2)}) that they share nothing. High scores mark features that are easy to read.`,
  };
}

/**
 * What the label editor starts from: the label as it is, but a heuristic
 * one without its typographic quotes (`“ Moses”` → `Moses`, `after “ the”`
 * → `after the`), which are the page's way of showing a token and no one
 * types.
 */
export function editableLabel(label: string | null, source: LabelSource | null): string {
  if (!label) return '';
  if (source !== 'heuristic') return label;
  return label.replace(/“\s*([^”]*?)\s*”/g, '$1').trim();
}

/** What the index part of a feature's address says: an index, or why it is none. */
export type FeatureIndexPart = { index: number } | { problem: 'missing' | 'not-a-number' | 'negative' | 'too-large' };

/**
 * The index of `/features/{saeId}/{index}` as typed: whole digits only
 * (`12`, not `12.5`, `1e3`, `abc` or `-1`), at most 9 of them, as the API's
 * feature ids allow.
 * @example parseFeatureIndex('17') // { index: 17 }
 */
export function parseFeatureIndex(raw: string | undefined): FeatureIndexPart {
  const s = (raw ?? '').trim();
  if (s === '') return { problem: 'missing' };
  if (/^-\d+$/.test(s)) return { problem: 'negative' };
  if (!/^\d+$/.test(s)) return { problem: 'not-a-number' };
  if (s.replace(/^0+(?=\d)/, '').length > 9) return { problem: 'too-large' };
  return { index: Number(s) };
}

/**
 * Why a feature's page has no feature, in words: a bad address, an SAE
 * that does not exist, an index past the SAE's features (`dSae` of them,
 * #0 to #dSae−1), or an SAE no discovery has completed for yet.
 */
export function featureNotFoundText(raw: string | undefined, part: FeatureIndexPart, sae: { name: string; dSae: number } | null | undefined): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if ('problem' in part) {
    const range = sae ? `: ${sae.name} has features #0 to #${n(sae.dSae - 1)}` : '';
    if (part.problem === 'missing') return `This address names no feature: it needs an index after the SAE${range}.`;
    if (part.problem === 'negative') return `No feature ${JSON.stringify(raw)}: feature indices start at #0${range}.`;
    return `No feature ${JSON.stringify(raw)}: a feature's index is a whole number${range}.`;
  }
  if (sae === null) return 'No such SAE: it may have been deleted.';
  if (sae && part.index >= sae.dSae) return `No feature #${n(part.index)} in this SAE: ${sae.name} has ${n(sae.dSae)} features, #0 to #${n(sae.dSae - 1)}.`;
  return `No feature #${n(part.index)} in this SAE yet: its features appear once a discovery of the SAE completes.`;
}

/** What a key pressed on a feature's page does: the previous or next feature, the favourite star, the search; null for the rest. */
export function featureKeyAction(e: { key: string; altKey: boolean; ctrlKey: boolean; metaKey: boolean; target: { tagName?: string; isContentEditable?: boolean } | null }): 'prev' | 'next' | 'star' | 'search' | null {
  if (e.altKey || e.ctrlKey || e.metaKey) return null;
  // typing in a field (the label, the notes, a form) is typing, not a shortcut
  const tag = e.target?.tagName?.toLowerCase();
  if (tag === 'input' || tag === 'textarea' || tag === 'select' || e.target?.isContentEditable) return null;
  switch (e.key) {
    case 'ArrowLeft':
      return 'prev';
    case 'ArrowRight':
      return 'next';
    case 'f':
      return 'star';
    case '/':
      return 'search';
    default:
      return null;
  }
}

/** The source of a label, as the page names it. */
export function labelSourceText(source: LabelSource | null): string {
  switch (source) {
    case 'user':
      return 'edited';
    case 'llm':
      return 'LLM';
    case 'heuristic':
      return 'heuristic';
    default:
      return 'no label';
  }
}
