/**
 * The order in which a training reads its activations: the batches of a run
 * drawn (with models/random.ts's seeded generator) from a bounded mixing buffer of shards. The
 * order depends only on the store's shard sizes and the settings, never on
 * the rows, so every hook of a store, and a resumed run, sees the same one.
 */
import { readShard, type HookManifest } from '../activations/store.ts';
import { rng } from '../random.ts';

/**
 * The batches of a training, in order: epochs over the shards in a seeded
 * order, `mixing` shards at a time shuffled together row by row. The order
 * depends only on the shards' row counts, the batch size, `mixing` and the
 * seed, so it is the same for every hook of a store; rows are read only for
 * the batches that are materialised (a resumed run skips the others without
 * reading their shards).
 */
export class BatchOrder {
  private readonly random: () => number;
  private order: number[] = [];
  private group = 0;
  private groupIndex = -1;
  private rows = 0;
  private perm = new Uint32Array(0);
  /** row r of the group: shard (index in the group) and row in it */
  private shardOf = new Uint32Array(0);
  private rowIn = new Uint32Array(0);
  private start = 0;
  private readonly cache = new Map<number, Promise<Float32Array[]>>();

  /** `dir`: the activation store; `hooks`: its manifests of the hooks trained (same shards); `batch`: rows a batch; `mixing`: shards shuffled together. */
  constructor(
    private readonly dir: string,
    private readonly hooks: readonly HookManifest[],
    private readonly batch: number,
    private readonly mixing: number,
    seed: number,
  ) {
    this.random = rng(seed);
    this.start = Infinity;
  }

  private shuffleEpoch(): void {
    const order = this.hooks[0]!.shards.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    this.order = order;
    this.group = 0;
  }

  private startGroup(): void {
    const ids = this.order.slice(this.group, this.group + this.mixing);
    const counts = ids.map((i) => this.hooks[0]!.shards[i]!.rows);
    const rows = counts.reduce((a, b) => a + b, 0);
    const perm = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) perm[i] = i;
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    this.shardOf = new Uint32Array(rows);
    this.rowIn = new Uint32Array(rows);
    let r = 0;
    for (const [k, n] of counts.entries()) for (let i = 0; i < n; i++, r++) [this.shardOf[r], this.rowIn[r]] = [k, i];
    this.rows = rows;
    this.perm = perm;
    this.start = 0;
    this.groupIndex++;
    this.cache.clear();
    this.groupShards = ids;
  }

  private groupShards: number[] = [];

  /** Moves to the next batch (reading nothing). */
  next(): void {
    this.start = this.start === Infinity ? Infinity : this.start + this.batch;
    let empty = 0;
    while (this.start + this.batch > this.rows) {
      if (this.start !== Infinity) this.group += this.mixing;
      if (this.group >= this.order.length || this.order.length === 0) this.shuffleEpoch();
      this.startGroup();
      // a whole epoch of groups smaller than a batch would loop for ever
      if (this.rows < this.batch && ++empty > this.order.length) {
        throw new Error(`no group of ${this.mixing} shards holds a batch of ${this.batch} rows; raise mixingShards or lower batchSize`);
      }
    }
  }

  /** The current batch of hook `k` ([batch, d] float32, scaled by `scale`). */
  async read(k: number, scale: number): Promise<Float32Array> {
    const h = this.hooks[k]!;
    let shards = this.cache.get(k);
    if (!shards) {
      shards = Promise.all(this.groupShards.map((i) => readShard(this.dir, h, i).then((s) => s.data)));
      this.cache.set(k, shards);
    }
    const data = await shards;
    const d = h.d;
    const x = new Float32Array(this.batch * d);
    for (let b = 0; b < this.batch; b++) {
      const r = this.perm[this.start + b]!;
      const src = data[this.shardOf[r]!]!;
      const off = this.rowIn[r]! * d;
      for (let i = 0; i < d; i++) x[b * d + i] = src[off + i]! * scale;
    }
    return x;
  }
}
