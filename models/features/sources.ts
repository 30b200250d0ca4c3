/**
 * Where a discovery's activation rows come from (discover.ts reads them in
 * units, in order, twice): {@link openStoredSource}, an extraction's
 * activation store, a unit per shard.
 */
import { readManifest, readShard } from '../activations/store.ts';

/** Activation rows of one unit. */
export interface ActivationRows {
  /** [rows, d] */
  data: Float32Array;
  rows: number;
  /** [rows] dataset offset (in tokens.bin) of each row's token */
  positions: BigInt64Array;
}

/** A source read in units, in order; reading a unit twice gives the same rows. */
export interface ActivationSource {
  /** for messages: the store's folder and hook, or the model and hook */
  readonly name: string;
  /** values a row */
  readonly d: number;
  readonly units: number;
  /** the progress a unit counts for: its rows (a shard), or the tokens it runs through the model (a batch of windows) */
  size(unit: number): number;
  /** sum of every unit's size */
  readonly total: number;
  read(unit: number): Promise<ActivationRows>;
  /**
   * False when unit `unit` holds no row at a position `wanted` accepts, so
   * that the examples pass can skip it unread; true when it may (or when it
   * cannot tell without reading). Left out: every unit is read.
   */
  mayHold?(unit: number, wanted: (position: number) => boolean): boolean;
}

/** The stored activations of `hook` in an extraction's folder, a unit per shard. */
export async function openStoredSource(dir: string, hook: string): Promise<ActivationSource & { rows: number }> {
  const manifest = await readManifest(dir);
  const h = manifest?.hooks[hook];
  if (!h) throw new Error(`${dir}: no activations for hook "${hook}"`);
  return {
    name: `${dir} (${hook})`,
    d: h.d,
    units: h.shards.length,
    rows: h.rows,
    total: h.rows,
    size: (u) => h.shards[u]!.rows,
    read: (u) => readShard(dir, h, u),
  };
}
