/**
 * The files a discovery keeps between its phases, under
 * `DATA_DIR/discoveries/<id>/`, so that a retry does not redo finished work:
 *
 * - `features.json`: every feature's record after the scan and the examples
 *   pass (heuristic labels included), written once, atomically (a temporary
 *   file renamed), with the settings it was made with;
 * - `labels.jsonl`: one `{index, label}` line per LLM label as it arrives
 *   (a line torn by a crash is ignored);
 * - `scan.ckpt`: the state of the scan or examples pass after its last
 *   checkpoint (discover.ts {@link DiscoverCheckpoint}), replaced atomically
 *   (a temporary file written, fsynced and renamed, then the folder fsynced),
 *   so that a crash mid-scan resumes from it; removed once features.json is
 *   written. Binary: a uint32 (little-endian) header length, the JSON header
 *   (format, what it was made from, counters, the arrays' names, types and
 *   offsets), then each array's bytes (host order, little-endian on every
 *   supported platform) at an 8-byte aligned offset.
 *
 * The folder goes when the discovery completes, is cancelled or fails for
 * good, or is deleted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DiscoverySettings } from '../contracts/features.ts';
import type { DiscoverCheckpoint } from './discover.ts';
import type { FeatureRecord } from './records.ts';

const FEATURES_FILE = 'features.json';
const LABELS_FILE = 'labels.jsonl';
const CHECKPOINT_FILE = 'scan.ckpt';
const VERSION = 'loupe.discovery/2';
const CHECKPOINT_VERSION = 'loupe.discovery-checkpoint/1';

/** The staging folder of discovery `id`. */
export function discoveryDir(dataDir: string, id: string): string {
  return path.join(path.resolve(dataDir), 'discoveries', id);
}

/** What a discovery's rows come from: an extraction's store, or a dataset's text through the model with these settings. */
export type StagedSource = { extractionId: string } | { datasetId: string; contextLength: number; maxTokens: number };

/** What a staged file was made from: a file made from anything else is not used. */
export interface StagedKey {
  saeId: string;
  source: StagedSource;
  settings: DiscoverySettings;
}

const sameKey = (a: StagedKey, b: StagedKey): boolean => a.saeId === b.saeId && JSON.stringify(a.source) === JSON.stringify(b.source) && JSON.stringify(a.settings) === JSON.stringify(b.settings);

/** What the scan produced, and what it was made from. */
export interface StagedScan extends StagedKey {
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
export async function readStagedScan(dir: string, want: StagedKey): Promise<StagedScan | null> {
  let raw: string;
  try {
    raw = await fs.readFile(path.join(dir, FEATURES_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(raw) as StagedScan & { format?: string };
    return s.format === VERSION && sameKey(s, want) && Array.isArray(s.features) ? s : null;
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

/** The arrays of a checkpoint, in file order. */
const ARRAYS = [
  ['count', Float64Array],
  ['sum', Float64Array],
  ['max', Float32Array],
  ['hist', Uint32Array],
  ['topVal', Float32Array],
  ['topPos', Float64Array],
  ['topSize', Uint8Array],
  ['topMin', Float32Array],
  ['values', Float32Array],
] as const;
type ArrayName = (typeof ARRAYS)[number][0];

interface CheckpointHeader {
  format: typeof CHECKPOINT_VERSION;
  key: StagedKey;
  phase: DiscoverCheckpoint['phase'];
  unit: number;
  units: number;
  rows: number;
  done: number;
  /** name → [byte offset from the start of the file, length in elements] */
  arrays: Partial<Record<ArrayName, [number, number]>>;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * Replaces the staged checkpoint with `state` (made from `key`): written to a
 * temporary file, fsynced, renamed over the old one, and the folder fsynced,
 * so that a crash at any point leaves the old checkpoint or the new one.
 */
export async function writeCheckpoint(dir: string, key: StagedKey, state: DiscoverCheckpoint): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const present = ARRAYS.filter(([name]) => state[name] !== null);
  // the header's length decides the offsets, and the offsets are in the header: lay out with room for the digits
  const header: CheckpointHeader = { format: CHECKPOINT_VERSION, key, phase: state.phase, unit: state.unit, units: state.units, rows: state.rows, done: state.done, arrays: {} };
  const sizes = present.map(([name]) => state[name]!.byteLength);
  let headerBytes = Buffer.byteLength(JSON.stringify({ ...header, arrays: Object.fromEntries(present.map(([name]) => [name, [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]])) }));
  let at = align8(4 + headerBytes);
  for (const [i, [name]] of present.entries()) {
    header.arrays[name] = [at, state[name]!.length];
    at = align8(at + sizes[i]!);
  }
  const json = Buffer.from(JSON.stringify(header));
  headerBytes = json.length;
  const head = Buffer.alloc(align8(4 + headerBytes));
  head.writeUInt32LE(headerBytes, 0);
  json.copy(head, 4);

  const file = path.join(dir, CHECKPOINT_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const h = await fs.open(tmp, 'w');
    try {
      await h.write(head, 0, head.length, 0);
      for (const [name] of present) {
        const a = state[name]!;
        const [offset] = header.arrays[name]!;
        await h.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 0, a.byteLength, offset);
      }
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  // the rename itself survives a power loss once the folder is synced
  const d = await fs.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** The staged checkpoint, when there is one made from `want` (and whole); null otherwise. */
export async function readCheckpoint(dir: string, want: StagedKey): Promise<DiscoverCheckpoint | null> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(path.join(dir, CHECKPOINT_FILE));
  } catch {
    return null;
  }
  try {
    const n = buf.readUInt32LE(0);
    const h = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as CheckpointHeader;
    if (h.format !== CHECKPOINT_VERSION || !sameKey(h.key, want)) return null;
    const arrays: Partial<Record<ArrayName, ArrayBufferView & { length: number }>> = {};
    for (const [name, Type] of ARRAYS) {
      const place = h.arrays[name];
      if (!place) continue;
      const [offset, length] = place;
      const bytes = length * Type.BYTES_PER_ELEMENT;
      if (offset + bytes > buf.length) return null;
      // copied: the file's buffer is not aligned for every type
      const copy = new Uint8Array(bytes);
      copy.set(buf.subarray(offset, offset + bytes));
      arrays[name] = new Type(copy.buffer);
    }
    const need: ArrayName[] = ['count', 'sum', 'max', 'hist', 'topVal', 'topPos', 'topSize', 'topMin'];
    if (need.some((name) => !arrays[name])) return null;
    return {
      phase: h.phase,
      unit: h.unit,
      units: h.units,
      rows: h.rows,
      done: h.done,
      count: arrays.count as Float64Array,
      sum: arrays.sum as Float64Array,
      max: arrays.max as Float32Array,
      hist: arrays.hist as Uint32Array,
      topVal: arrays.topVal as Float32Array,
      topPos: arrays.topPos as Float64Array,
      topSize: arrays.topSize as Uint8Array,
      topMin: arrays.topMin as Float32Array,
      values: (arrays.values as Float32Array | undefined) ?? null,
    };
  } catch {
    return null;
  }
}

/** Removes the staged checkpoint (the scan's result is staged, or a fresh scan starts). */
export async function removeCheckpoint(dir: string): Promise<void> {
  await fs.rm(path.join(dir, CHECKPOINT_FILE), { force: true });
}

/** Removes a discovery's staging folder. */
export async function removeStaging(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
