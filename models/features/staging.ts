/**
 * The files a discovery keeps between its phases, under
 * `DATA_DIR/discoveries/<id>/`, so that a retry does not redo finished work:
 *
 * - `features.json`: every feature's record after the scan and the examples
 *   pass (heuristic labels included), written once, atomically (a temporary
 *   file renamed), with the settings it was made with;
 * - `labels.jsonl`: one `{index, label}` line per LLM label as it arrives
 *   (a line torn by a crash is ignored).
 *
 * The folder goes when the discovery completes, is cancelled or fails for
 * good, or is deleted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DiscoverySettings } from '../contracts/features.ts';
import type { FeatureRecord } from './records.ts';

const FEATURES_FILE = 'features.json';
const LABELS_FILE = 'labels.jsonl';
const VERSION = 'loupe.discovery/1';

/** The staging folder of discovery `id`. */
export function discoveryDir(dataDir: string, id: string): string {
  return path.join(path.resolve(dataDir), 'discoveries', id);
}

/** What the scan produced, and what it was made from. */
export interface StagedScan {
  saeId: string;
  extractionId: string;
  settings: DiscoverySettings;
  /** activation rows scanned */
  rows: number;
  features: FeatureRecord[];
}

/** Writes the scan's result (atomically: a crash leaves the old file or none). */
export async function writeStagedScan(dir: string, scan: StagedScan): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, FEATURES_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fs.writeFile(tmp, JSON.stringify({ format: VERSION, ...scan }));
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** The staged scan, when there is one made from the same SAE, extraction and settings; null otherwise. */
export async function readStagedScan(dir: string, want: Omit<StagedScan, 'rows' | 'features'>): Promise<StagedScan | null> {
  let raw: string;
  try {
    raw = await fs.readFile(path.join(dir, FEATURES_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(raw) as StagedScan & { format?: string };
    const same = s.format === VERSION && s.saeId === want.saeId && s.extractionId === want.extractionId && JSON.stringify(s.settings) === JSON.stringify(want.settings);
    return same && Array.isArray(s.features) ? s : null;
  } catch {
    return null;
  }
}

/** Appends LLM labels as they arrive. */
export async function appendStagedLabels(dir: string, labels: readonly { index: number; label: string }[]): Promise<void> {
  if (labels.length === 0) return;
  await fs.appendFile(path.join(dir, LABELS_FILE), labels.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

/** The LLM labels staged so far, by feature index (a torn last line is skipped). */
export async function readStagedLabels(dir: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let raw: string;
  try {
    raw = await fs.readFile(path.join(dir, LABELS_FILE), 'utf8');
  } catch {
    return out;
  }
  for (const line of raw.split('\n')) {
    if (!line) continue;
    try {
      const l = JSON.parse(line) as { index?: unknown; label?: unknown };
      if (typeof l.index === 'number' && typeof l.label === 'string') out.set(l.index, l.label);
    } catch {
      // torn by a crash mid-write
    }
  }
  return out;
}

/** Forgets staged LLM labels (a fresh scan starts a fresh labels phase). */
export async function clearStagedLabels(dir: string): Promise<void> {
  await fs.rm(path.join(dir, LABELS_FILE), { force: true });
}

/** Removes a discovery's staging folder. */
export async function removeStaging(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
