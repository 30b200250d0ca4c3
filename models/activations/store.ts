/**
 * The activation store: what an extraction writes and SAE training reads.
 *
 *   <dir>/manifest.json                      settings, progress, per hook: shape, dtype, shards, statistics
 *   <dir>/<hook>/shard-00000.safetensors     `activations` [rows, d] (F32 or F16) and `positions` [rows] (I64)
 *
 * `positions` are token offsets in the dataset's tokens.bin, so every stored
 * row can be shown in its context. Shards cover whole runs of windows (fixed
 * length token sequences), so a resumed extraction starts at the window after
 * the last shard in the manifest and writes the same bytes an uninterrupted
 * run would. Every file is written under a temporary name and renamed; the
 * manifest is renamed last, so it never names a shard that is not complete.
 *
 * Running statistics per hook (mean and variance per dimension, mean L2 norm)
 * are float64 sums kept in the manifest, so they too resume exactly.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { float32ToF16 } from '../quantize.ts';
import { openSafetensors, toFloat32, writeSafetensors } from '../safetensors.ts';

export type StorageDtype = 'f32' | 'f16';

export interface ShardInfo {
  file: string;
  rows: number;
  firstWindow: number;
  windows: number;
}

export interface HookStats {
  count: number;
  mean: number[];
  variance: number[];
  meanNorm: number;
}

export interface HookManifest {
  hook: string;
  /** shape of one stored row (e.g. [768], or [12, 64] for attn.hook_z); d is its product */
  rowShape: number[];
  d: number;
  dtype: StorageDtype;
  rows: number;
  shards: ShardInfo[];
  /** float64 sums behind the statistics, base64 */
  sums: { count: number; normSum: number; sum: string; sumSq: string };
}

export interface ActivationManifest {
  version: 1;
  settings: Record<string, unknown>;
  windowsTotal: number;
  windowsDone: number;
  windowsPerShard: number;
  complete: boolean;
  hooks: Record<string, HookManifest>;
  updatedAt: string;
}

const MANIFEST = 'manifest.json';

function encodeF64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decodeF64(s: string, n: number): Float64Array {
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength !== n * 8) throw new Error(`manifest statistics hold ${buf.byteLength / 8} values, expected ${n}`);
  const out = new Float64Array(n);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Statistics of a hook from its sums. */
export function hookStats(h: HookManifest): HookStats {
  const sum = decodeF64(h.sums.sum, h.d);
  const sumSq = decodeF64(h.sums.sumSq, h.d);
  const n = h.sums.count;
  const mean = Array.from(sum, (s) => (n ? s / n : 0));
  const variance = Array.from(sumSq, (s, i) => (n ? Math.max(0, s / n - mean[i]! ** 2) : 0));
  return { count: n, mean, variance, meanNorm: n ? h.sums.normSum / n : 0 };
}

/** Directory-safe name of a hook (`blocks.3.hook_resid_post` is already safe; anything else is escaped). */
export function hookDirName(hook: string): string {
  return hook.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(value, null, 1));
  await fs.rename(tmp, file);
}

export async function readManifest(dir: string): Promise<ActivationManifest | null> {
  const file = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const m = JSON.parse(text) as ActivationManifest;
  if (m.version !== 1 || typeof m.hooks !== 'object') throw new Error(`${file}: not an activation manifest of version 1`);
  return m;
}

export interface WriterOptions {
  hooks: readonly { hook: string; rowShape: readonly number[] }[];
  dtype: StorageDtype;
  windowsTotal: number;
  windowsPerShard: number;
  /** everything that decides the bytes written; a resume with other settings is refused */
  settings: Record<string, unknown>;
}

/** Rows of one batch for one hook: `rows` × d floats. */
export interface HookRows {
  data: Float32Array;
  rows: number;
}

export interface ActivationWriter {
  readonly manifest: ActivationManifest;
  /** first window still to extract (0 for a fresh run) */
  readonly windowsDone: number;
  /**
   * Adds the rows of `windows` consecutive windows (the same positions for
   * every hook). A shard is written each time windowsPerShard windows are in.
   */
  append(windows: number, perHook: Record<string, HookRows>, positions: BigInt64Array): Promise<void>;
  /** Writes the last partial shard and marks the store complete. */
  finish(): Promise<ActivationManifest>;
  /** rows buffered in memory now, all hooks together (bounded by one shard) */
  bufferedRows(): number;
}

class HookBuffer {
  private chunks: Float32Array[] = [];
  private posChunks: BigInt64Array[] = [];
  rows = 0;
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  count: number;
  normSum: number;

  constructor(readonly m: HookManifest) {
    this.sum = decodeF64(m.sums.sum, m.d);
    this.sumSq = decodeF64(m.sums.sumSq, m.d);
    this.count = m.sums.count;
    this.normSum = m.sums.normSum;
  }

  add(data: Float32Array, rows: number, positions: BigInt64Array): void {
    const d = this.m.d;
    if (data.length !== rows * d) throw new Error(`${this.m.hook}: ${data.length} values are not ${rows} rows of ${d}`);
    if (positions.length !== rows) throw new Error(`${this.m.hook}: ${positions.length} positions for ${rows} rows`);
    this.chunks.push(data);
    this.posChunks.push(positions);
    this.rows += rows;
    const { sum, sumSq } = this;
    for (let r = 0; r < rows; r++) {
      let norm = 0;
      const o = r * d;
      for (let i = 0; i < d; i++) {
        const v = data[o + i]!;
        sum[i] = sum[i]! + v;
        sumSq[i] = sumSq[i]! + v * v;
        norm += v * v;
      }
      this.normSum += Math.sqrt(norm);
    }
    this.count += rows;
  }

  take(): { data: Float32Array; positions: BigInt64Array; rows: number } {
    const data = new Float32Array(this.rows * this.m.d);
    const positions = new BigInt64Array(this.rows);
    let at = 0;
    let p = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      data.set(this.chunks[i]!, at);
      at += this.chunks[i]!.length;
      positions.set(this.posChunks[i]!, p);
      p += this.posChunks[i]!.length;
    }
    const rows = this.rows;
    this.chunks = [];
    this.posChunks = [];
    this.rows = 0;
    return { data, positions, rows };
  }

  sums(): HookManifest['sums'] {
    return { count: this.count, normSum: this.normSum, sum: encodeF64(this.sum), sumSq: encodeF64(this.sumSq) };
  }
}

/**
 * Opens a store for writing: a fresh one, or the one in `dir` to resume when
 * its settings match (a mismatch is an error naming the setting).
 */
export async function openActivationWriter(dir: string, opts: WriterOptions): Promise<ActivationWriter> {
  await fs.mkdir(dir, { recursive: true });
  let manifest = await readManifest(dir);
  if (manifest) {
    for (const [k, v] of Object.entries(opts.settings)) {
      if (JSON.stringify(manifest.settings[k]) !== JSON.stringify(v)) {
        throw new Error(`${path.join(dir, MANIFEST)}: cannot resume, setting "${k}" was ${JSON.stringify(manifest.settings[k])} and is now ${JSON.stringify(v)}`);
      }
    }
    if (manifest.windowsPerShard !== opts.windowsPerShard) throw new Error(`${path.join(dir, MANIFEST)}: cannot resume with ${opts.windowsPerShard} windows a shard (was ${manifest.windowsPerShard})`);
  } else {
    const hooks: Record<string, HookManifest> = {};
    for (const h of opts.hooks) {
      const d = h.rowShape.reduce((a, b) => a * b, 1);
      const zero = encodeF64(new Float64Array(d));
      hooks[h.hook] = { hook: h.hook, rowShape: [...h.rowShape], d, dtype: opts.dtype, rows: 0, shards: [], sums: { count: 0, normSum: 0, sum: zero, sumSq: zero } };
    }
    manifest = { version: 1, settings: opts.settings, windowsTotal: opts.windowsTotal, windowsDone: 0, windowsPerShard: opts.windowsPerShard, complete: false, hooks, updatedAt: new Date().toISOString() };
  }
  for (const h of Object.values(manifest.hooks)) await fs.mkdir(path.join(dir, hookDirName(h.hook)), { recursive: true });
  const buffers = new Map(Object.values(manifest.hooks).map((h) => [h.hook, new HookBuffer(h)]));
  let pendingWindows = 0;
  let state = manifest;

  const flush = async () => {
    if (pendingWindows === 0) return;
    const shardIndex = Object.values(state.hooks)[0]!.shards.length;
    const hooks: Record<string, HookManifest> = {};
    for (const [name, buf] of buffers) {
      const h = state.hooks[name]!;
      const { data, positions, rows } = buf.take();
      const file = path.join(hookDirName(name), `shard-${String(shardIndex).padStart(5, '0')}.safetensors`);
      await writeSafetensors(
        path.join(dir, file),
        {
          activations: h.dtype === 'f16' ? { dtype: 'F16', shape: [rows, h.d], data: float32ToF16(data) } : { dtype: 'F32', shape: [rows, h.d], data },
          positions: { dtype: 'I64', shape: [rows], data: positions },
        },
        { hook: name, first_window: String(state.windowsDone), windows: String(pendingWindows) },
      );
      hooks[name] = { ...h, rows: h.rows + rows, shards: [...h.shards, { file, rows, firstWindow: state.windowsDone, windows: pendingWindows }], sums: buf.sums() };
    }
    state = { ...state, hooks, windowsDone: state.windowsDone + pendingWindows, updatedAt: new Date().toISOString() };
    await writeJsonAtomic(path.join(dir, MANIFEST), state);
    pendingWindows = 0;
  };

  return {
    get manifest() {
      return state;
    },
    windowsDone: manifest.windowsDone,
    async append(windows, perHook, positions) {
      for (const [name, buf] of buffers) {
        const rows = perHook[name];
        if (!rows) throw new Error(`append: no rows for hook ${name}`);
        buf.add(rows.data, rows.rows, positions);
      }
      pendingWindows += windows;
      if (pendingWindows >= state.windowsPerShard) await flush();
    },
    async finish() {
      await flush();
      state = { ...state, complete: true, updatedAt: new Date().toISOString() };
      await writeJsonAtomic(path.join(dir, MANIFEST), state);
      return state;
    },
    bufferedRows: () => [...buffers.values()].reduce((a, b) => a + b.rows, 0),
  };
}

/** One shard read back: rows × d float32 values and each row's token offset. */
export interface Shard {
  data: Float32Array;
  rows: number;
  d: number;
  positions: BigInt64Array;
}

export async function readShard(dir: string, hook: HookManifest, index: number): Promise<Shard> {
  const info = hook.shards[index];
  if (!info) throw new Error(`${hook.hook}: no shard ${index} (${hook.shards.length} shards)`);
  const file = await openSafetensors(path.join(dir, info.file));
  try {
    const a = file.tensors.get('activations');
    if (!a || a.shape.length !== 2 || a.shape[0] !== info.rows || a.shape[1] !== hook.d) {
      throw new Error(`${file.path}: expected activations [${info.rows}, ${hook.d}]`);
    }
    const data = toFloat32(a.dtype, await file.read('activations'));
    const positions = (await file.read('positions')) as BigInt64Array;
    return { data, rows: info.rows, d: hook.d, positions };
  } finally {
    await file.close();
  }
}
