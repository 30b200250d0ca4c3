/**
 * Pure helpers of the Models page: labels, progress merging and hook-point
 * grouping, kept apart from the store so they are tested without a browser.
 */
import type { Architecture, Model, ModelSource } from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';

/** Statuses in which a download may still change. */
export function isActive(status: Model['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** `owner/name@revision` for a hub source (no `@main`), the path for a folder. */
export function sourceLabel(source: ModelSource): string {
  if (source.kind === 'local') return source.path;
  return source.revision && source.revision !== 'main' ? `${source.repo}@${source.revision}` : source.repo;
}

/** Percentage of `done` over `total`, 0–100 with one decimal (100 only when complete). */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return 0;
  if (done >= total) return 100;
  return Math.min(99.9, Math.floor((done / total) * 1000) / 10);
}

/** Seconds → "45 s", "3 min 20 s", "2 h 05 min"; "–" when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A model with a live progress event applied: its status, error and progress.
 * An event older than the progress the model has is ignored (a late delivery).
 */
export function applyProgress(model: Model, p: ModelProgress): Model {
  if (p.id !== model.id) return model;
  if (model.progress && p.ts < model.progress.ts) return model;
  return { ...model, status: p.status, error: p.error, progress: p, sizeBytes: model.sizeBytes ?? (p.bytesTotal || null) };
}

/** One block of the architecture view: its title and hook points. */
export interface HookGroup {
  key: string;
  title: string;
  hooks: Architecture['hookPoints'];
}

/**
 * Hook points grouped as the forward pass runs: embeddings, each block in
 * order, then the final norm (hooks outside the blocks whose names start with
 * `ln_final` or `unembed`).
 */
export function groupHookPoints(hooks: Architecture['hookPoints']): HookGroup[] {
  const before: HookGroup = { key: 'embed', title: 'Embeddings', hooks: [] };
  const after: HookGroup = { key: 'final', title: 'Final', hooks: [] };
  const blocks = new Map<number, HookGroup>();
  for (const h of hooks) {
    if (h.layer === null) {
      (/^(ln_final|unembed)/.test(h.name) ? after : before).hooks.push(h);
      continue;
    }
    let g = blocks.get(h.layer);
    if (!g) blocks.set(h.layer, (g = { key: `block-${h.layer}`, title: `Block ${h.layer}`, hooks: [] }));
    g.hooks.push(h);
  }
  const ordered = [...blocks.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
  return [before, ...ordered, after].filter((g) => g.hooks.length > 0);
}

/** A shape as TransformerLens writes it: `[batch, pos, 256]`. */
export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** 124_439_808 → "124.4 M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}
