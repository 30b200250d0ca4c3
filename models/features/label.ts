/**
 * A feature's heuristic label and interpretability score from its top
 * examples: the token most of them peak on (or, when the peaks differ, the
 * token most of them follow), and the share of examples that agree with it.
 * A feature whose top examples all fire on " Moses" scores 1; one whose
 * examples share nothing scores 1/k.
 */
import type { Example } from './discover.ts';

export interface Label {
  label: string;
  /** share of the top examples that agree with the label, 0..1 */
  score: number;
  /** the token the label names */
  token: number | null;
  kind: 'token' | 'after' | 'none';
}

function mostCommon(ids: number[]): { id: number; count: number } | null {
  const counts = new Map<number, number>();
  let best: { id: number; count: number } | null = null;
  for (const id of ids) {
    const c = (counts.get(id) ?? 0) + 1;
    counts.set(id, c);
    if (!best || c > best.count) best = { id, count: c };
  }
  return best;
}

/** `show` gives a token's display string (Tokenizer.tokenStrings of one id). */
export function heuristicLabel(examples: readonly Example[], show: (id: number) => string): Label {
  if (examples.length === 0) return { label: '(never active)', score: 0, token: null, kind: 'none' };
  const peaks = examples.map((e) => e.tokens[e.position - e.start]!);
  const before = examples.filter((e) => e.position > e.start).map((e) => e.tokens[e.position - e.start - 1]!);
  const p = mostCommon(peaks)!;
  const b = mostCommon(before);
  const n = examples.length;
  const quote = (id: number) => `“${show(id).replace(/\n/g, '\\n')}”`;
  if (b && b.count > p.count) return { label: `after ${quote(b.id)}`, score: b.count / n, token: b.id, kind: 'after' };
  return { label: quote(p.id), score: p.count / n, token: p.id, kind: 'token' };
}
