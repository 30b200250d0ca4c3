/**
 * A feature's heuristic label and interpretability score from its top
 * examples: the token most of them peak on (or, when the peaks differ, the
 * token most of them follow), and the share of examples that agree with it.
 * A feature whose top examples all fire on " Moses" scores 1; one whose
 * examples share nothing scores 1/k.
 *
 * Tokens that differ only in case and surrounding whitespace (" Sw", "sw",
 * "Sw": one word piece after a space, at a line start, capitalised) count as
 * the same token: a byte-level BPE splits a word into such variants, and a
 * feature that fires on all of them is about that word. The label quotes the
 * variant most of the examples have.
 */
import type { Example } from './discover.ts';

export interface Label {
  label: string;
  /** share of the top examples that agree with the label, 0..1 */
  score: number;
  /** the token the label names (its most common variant) */
  token: number | null;
  kind: 'token' | 'after' | 'none';
}

/** What two tokens share when they are the same word piece but for case and surrounding whitespace; a token of whitespace only is itself. */
export function tokenKey(text: string): string {
  const t = text.trim().toLowerCase();
  return t === '' ? text : t;
}

/** The largest group of `ids` by {@link tokenKey}, with its most common id (the first to reach its count on ties). */
function mostCommon(ids: number[], show: (id: number) => string): { id: number; count: number } | null {
  const groups = new Map<string, { count: number; ids: Map<number, number> }>();
  let best: { key: string; count: number } | null = null;
  for (const id of ids) {
    const key = tokenKey(show(id));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { count: 0, ids: new Map() }));
    g.count++;
    g.ids.set(id, (g.ids.get(id) ?? 0) + 1);
    if (!best || g.count > best.count) best = { key, count: g.count };
  }
  if (!best) return null;
  let id = -1;
  let n = 0;
  for (const [i, c] of groups.get(best.key)!.ids) if (c > n) [id, n] = [i, c];
  return { id, count: best.count };
}

/**
 * A token's text for a label: line breaks and tabs as the glyphs the pages'
 * token chips show them with (↵, →), so that a label reads like its chips
 * (“↵”, never a literal "\n"); spaces stay, the quotes show them.
 */
export function visibleBreaks(text: string): string {
  return text.replace(/\r?\n/g, '↵').replace(/\t/g, '→');
}

/** `show` gives a token's display string (Tokenizer.tokenStrings of one id). */
export function heuristicLabel(examples: readonly Example[], show: (id: number) => string): Label {
  if (examples.length === 0) return { label: '(never active)', score: 0, token: null, kind: 'none' };
  const peaks = examples.map((e) => e.tokens[e.position - e.start]!);
  const before = examples.filter((e) => e.position > e.start).map((e) => e.tokens[e.position - e.start - 1]!);
  const p = mostCommon(peaks, show)!;
  const b = mostCommon(before, show);
  const n = examples.length;
  const quote = (id: number) => `“${visibleBreaks(show(id))}”`;
  if (b && b.count > p.count) return { label: `after ${quote(b.id)}`, score: b.count / n, token: b.id, kind: 'after' };
  return { label: quote(p.id), score: p.count / n, token: p.id, kind: 'token' };
}
