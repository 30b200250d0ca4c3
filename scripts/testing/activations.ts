/**
 * Helpers of the extraction tests: `npm run -s loupe -- …` as a process, an
 * activation store read back row by row, the files of a store, and the
 * comparison of stored rows with `loupe forward` on the same token ids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readManifest, readShard } from '../../models/activations/store.ts';
import { openSafetensors } from '../../models/safetensors.ts';
import { ROOT } from './processes.ts';

export interface CliRun {
  child: ChildProcess;
  /** resolves at exit with the code (or signal name) and the output */
  done: Promise<{ code: number | string; stdout: string; stderr: string }>;
}

/** Starts `node --import tsx scripts/loupe.ts ...args` on the CPU (as `npm run -s loupe -- ...` does after its bootstrap). */
export function startLoupe(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/loupe.ts', ...args], { cwd: ROOT, env: { ...process.env, LOUPE_DEVICE: 'cpu', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr })),
  );
  return { child, done };
}

/** Runs a loupe command to its end. */
export function loupe(args: string[], env?: Record<string, string>): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return startLoupe(args, env).done;
}

/** Every row a store holds for `hook`, in order, with its dataset position. */
export async function readHookRows(dir: string, hook: string): Promise<{ d: number; rows: Float32Array[]; positions: bigint[] }> {
  const m = await readManifest(dir);
  if (!m) throw new Error(`${dir} has no manifest`);
  const h = m.hooks[hook];
  if (!h) throw new Error(`${dir} has no hook ${hook}`);
  const rows: Float32Array[] = [];
  const positions: bigint[] = [];
  for (let s = 0; s < h.shards.length; s++) {
    const shard = await readShard(dir, h, s);
    for (let r = 0; r < shard.rows; r++) rows.push(shard.data.slice(r * h.d, (r + 1) * h.d));
    positions.push(...shard.positions);
  }
  return { d: h.d, rows, positions };
}

/** Paths of every file under `dir`, relative, sorted (dot files included). */
export function storeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/** The shard files of a store (every file but manifest.json), with whether each is byte-identical to the same file in `other`. */
export function compareShards(dir: string, other: string): { files: string[]; differ: string[] } {
  const files = storeFiles(dir).filter((f) => f !== 'manifest.json');
  const differ = files.filter((f) => !readFileSync(path.join(dir, f)).equals(readFileSync(path.join(other, f))));
  return { files, differ };
}

/** token ids [start, start + count) of a tokenized dataset (read plainly, not through format.ts). */
export function datasetTokens(datasetDir: string, start = 0, count = Infinity): number[] {
  const buf = readFileSync(path.join(datasetDir, 'tokens.bin'));
  const n = Math.min(count, buf.length / 4 - start);
  return Array.from({ length: n }, (_, i) => buf.readUInt32LE(4 * (start + i)));
}

/** `loupe forward --ids … --hooks … --no-logits`: each hook's value [1, T, d] as T rows. */
export async function forwardRows(modelDir: string, ids: readonly number[], hooks: readonly string[], out: string, dtype = 'fp32'): Promise<Record<string, Float32Array[]>> {
  const r = await loupe(['forward', '--model', modelDir, '--ids', ids.join(','), '--hooks', hooks.join(','), '--no-logits', '--dtype', dtype, '--out', out]);
  if (r.code !== 0) throw new Error(`loupe forward exited ${r.code}: ${r.stderr}`);
  const file = await openSafetensors(out);
  try {
    const res: Record<string, Float32Array[]> = {};
    for (const h of hooks) {
      const shape = file.tensors.get(h)!.shape;
      const d = shape.slice(2).reduce((a, b) => a * b, 1);
      const data = (await file.read(h)) as Float32Array;
      res[h] = Array.from({ length: ids.length }, (_, t) => data.slice(t * d, (t + 1) * d));
    }
    return res;
  } finally {
    await file.close();
  }
}

/** Largest absolute difference of two rows. */
export function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
