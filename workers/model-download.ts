/**
 * `model.download`: fills a `models` row's folder `DATA_DIR/models/<id>/` with
 * the files a model needs (config, tokenizer, safetensors), from a hub
 * repository or a local folder, and checks its architecture.
 *
 * config.json comes first and its `model_type` and bounds are checked before
 * the weights are fetched, so an unsupported or absurd model fails in a
 * second, not after gigabytes; once the files are in, the safetensors headers
 * and the tensors the architecture reads are checked (models/model-check.ts),
 * so a bad checkpoint ends failed with the file and tensor named.
 * Progress goes to topic `model/{id}` and the row a few times a second.
 *
 * Endings: completed; failed (permanent errors at once; network errors after
 * pg-boss's retries, which resume the hub client's `.part` files); cancelled
 * by a user (the folder is removed); a worker shutdown leaves the files and
 * the job is retried. A worker that dies (SIGKILL, OOM, power) runs no code at
 * all: its files and `.part` files stay, the row stays `running`, and once
 * the other workers fail the job (workers/recovery.ts) the retry takes the row
 * from `running` again and continues the `.part` files with HTTP Range. An
 * attempt that finds its job taken over ({@link JobLostError}) stops and
 * touches neither the files nor the row, which belong to the next attempt.
 */
import { modelTypeOf } from '../models/architectures/index.ts';
import type { ModelSource } from '../models/contracts/api.ts';
import { JOB_QUEUES, modelDownloadDataSchema, type ModelDownloadData } from '../models/contracts/jobs.ts';
import type { ModelProgress } from '../models/contracts/topics.ts';
import { downloadFiles, HubError, listRepoFiles, type HubFile } from '../models/hub.ts';
import { checkedSpec, checkImpliedSize, checkModelWeights, isPermanentModelError, ModelFormatError } from '../models/model-check.ts';
import { copyModelFiles, describeModelFolder, hasSafetensors, isModelFile, listModelFiles, modelDir, readModelConfig, removeModelDir, type ModelFile } from '../models/model-files.ts';
import { TransferTracker } from '../models/transfer.ts';
import { getModel, updateModel, type ModelRow, type ModelStatus, type ModelUpdate } from '../db/queries/models.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, type JobContext, type JobKind, type JobLostError } from './job.ts';

/** Hub errors that another attempt cannot fix. */
const PERMANENT_HUB_CODES = new Set(['not_found', 'unauthorized', 'bad_response']);

/** The error as this job reports it: permanent ones wrapped in {@link PermanentJobError}. */
function classify(err: unknown): Error {
  if (err instanceof PermanentJobError) return err;
  if (isPermanentModelError(err) || err instanceof TypeError) return new PermanentJobError((err as Error).message, { cause: err });
  if (err instanceof HubError && PERMANENT_HUB_CODES.has(err.code)) return new PermanentJobError(err.message, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Reads config.json in `dir` and checks its architecture and its bounds
 * (models/architectures/limits.ts), and that weights files of
 * `safetensorsBytes` can hold what it describes; returns the config and its
 * model_type. Runs before the weights are fetched.
 */
async function checkArchitecture(dir: string, safetensorsBytes: number): Promise<{ config: Record<string, unknown>; architecture: string }> {
  let config: Record<string, unknown>;
  try {
    config = await readModelConfig(dir);
  } catch (err) {
    throw new PermanentJobError(err instanceof Error ? err.message : String(err));
  }
  const architecture = modelTypeOf(config);
  checkImpliedSize(checkedSpec(config), safetensorsBytes);
  return { config, architecture };
}

/** Bytes of the safetensors files among `files`. */
const safetensorsBytesOf = (files: readonly { path: string; size: number }[]) => files.filter((f) => f.path.endsWith('.safetensors')).reduce((n, f) => n + f.size, 0);

/** Files to fetch, config.json first; refuses a source without config.json or safetensors weights. */
function plan<F extends { path: string }>(all: readonly F[], where: string): F[] {
  const files = all.filter((f) => isModelFile(f.path));
  const names = files.map((f) => f.path);
  if (!names.includes('config.json')) throw new PermanentJobError(`${where} has no config.json`);
  if (!hasSafetensors(names)) {
    const others = all.map((f) => f.path).filter((p) => /\.(bin|h5|msgpack|onnx|pt|gguf)$/.test(p));
    throw new PermanentJobError(
      `${where} has no .safetensors weights${others.length ? ` (only ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''})` : ''}; Loupe reads safetensors only`,
    );
  }
  return [...files.filter((f) => f.path === 'config.json'), ...files.filter((f) => f.path !== 'config.json')];
}

/** Progress of one download: the tracker, and its throttled writes to the row and topic `model/{id}`. */
function createReporter(ctx: JobContext, model: ModelRow) {
  const { db } = ctx.database;
  let tracker = new TransferTracker([], Date.now());
  let status: ModelStatus = 'running';
  let error: string | null = null;

  const base = createArtifactReporter<ModelProgress, ModelStatus, ModelUpdate, ModelRow>({
    ctx,
    id: model.id,
    snapshot() {
      const p: ModelProgress = { id: model.id, status, ...tracker.snapshot(Date.now()), error, ts: Date.now() };
      // A final status: nothing moves any more (a completed download keeps its last rate).
      return status === 'running' ? p : { ...p, bytesPerSecond: status === 'completed' ? p.bytesPerSecond : 0, etaSeconds: status === 'completed' ? 0 : null };
    },
    jobProgress: (p) => ({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, fraction: p.bytesTotal ? p.bytesDone / p.bytesTotal : 0 }),
    update: (p, set, onlyIf) => updateModel(db, model.id, { ...set, progress: p }, onlyIf),
    publish: (p) => ctx.events.publish(`model/${model.id}`, p),
    onFinish(next, set) {
      status = next;
      error = set.error ?? null;
      if (next === 'completed') tracker.complete(Date.now());
    },
  });

  return {
    abandon: base.abandon,
    finish: base.finish,
    /** Records that `bytes` of `file` (of `total`) are done. */
    update(file: string, bytes: number, total: number): void {
      tracker.update(file, bytes, total, Date.now());
      base.tick();
    },
    /** Starts tracking `files` (bytes), and records the total size. */
    async begin(files: readonly { path: string; size: number }[]): Promise<void> {
      tracker = new TransferTracker(files, Date.now());
      await base.write({ sizeBytes: files.reduce((n, f) => n + f.size, 0) }, ['running']);
    },
  };
}

export const modelDownload: JobKind<ModelDownloadData> = {
  name: 'model.download',
  queue: JOB_QUEUES['model.download'],
  async handler(job, ctx) {
    const { modelId } = modelDownloadDataSchema.parse(job.data);
    const { db } = ctx.database;
    const model = await getModel(db, modelId);
    if (!model) return { skipped: 'the model was deleted' };
    if (model.status === 'cancelled' || model.status === 'completed') return { skipped: `the model is ${model.status}` };
    const dest = modelDir(ctx.config.dataDir, modelId);
    const source = model.source as ModelSource;
    const { signal } = ctx;
    const hub = { endpoint: ctx.config.hfEndpoint, ...(ctx.config.hfToken ? { token: ctx.config.hfToken } : {}) };

    // 'running' too: the attempt before this one may have died without a word (its files stay for this one).
    const started = await updateModel(db, modelId, { status: 'running', error: null, path: dest }, ['queued', 'running', 'failed']);
    if (!started) return { skipped: 'the model changed status before the download started' };
    const report = createReporter(ctx, model);

    try {
      let config: Record<string, unknown>;
      let architecture: string;
      if (source.kind === 'hub') {
        const listing = await listRepoFiles(source.repo, { ...hub, revision: source.revision, signal });
        const files: HubFile[] = plan(listing.files, `${source.repo}@${source.revision}`);
        await report.begin(files);
        const onProgress = (p: { file: string; fileBytes: number; fileTotal: number }) => report.update(p.file, p.fileBytes, p.fileTotal);
        await downloadFiles(listing, dest, { ...hub, files: (f) => f.path === 'config.json', signal, onProgress });
        ({ config, architecture } = await checkArchitecture(dest, safetensorsBytesOf(files)));
        await downloadFiles(listing, dest, { ...hub, files: (f) => isModelFile(f.path) && f.path !== 'config.json', signal, onProgress });
      } else {
        const all: ModelFile[] = await listModelFiles(source.path).catch((err: NodeJS.ErrnoException) => {
          throw new PermanentJobError(`${source.path} cannot be read (${err.code ?? err.message})`);
        });
        const files = plan(all, source.path);
        await report.begin(files);
        ({ config, architecture } = await checkArchitecture(source.path, safetensorsBytesOf(files)));
        // the source's own headers first (the message names the user's file), then the copy's below
        await checkModelWeights(source.path, checkedSpec(config), config);
        await copyModelFiles(source.path, dest, files, { signal, onProgress: (p) => report.update(p.file, p.fileBytes, p.fileTotal) });
      }
      signal.throwIfAborted();
      // headers, and every tensor the architecture reads with the shape config.json implies: a bad checkpoint ends failed, not completed
      await checkModelWeights(dest, checkedSpec(config), config).catch((err: unknown) => {
        // name the files as the user knows them (the repository's), not by where the data directory is
        if (source.kind === 'hub' && err instanceof ModelFormatError) throw new ModelFormatError(err.message.split(dest).join(`${source.repo}@${source.revision}`), err.where, { cause: err });
        throw err;
      });
      const folder = await describeModelFolder(dest);
      await report.finish('completed', { architecture, config, sizeBytes: folder.sizeBytes, error: null }, ['running']);
      ctx.log.info('model ready', { id: modelId, architecture, files: folder.files.length, bytes: folder.sizeBytes });
      return { architecture, files: folder.files.map((f) => f.path), bytes: folder.sizeBytes };
    } catch (raw) {
      throw await endJob(raw, job, ctx, report, {
        classify,
        // Files and .part files stay: the retry continues where this attempt stopped.
        shutdownNote: 'the worker stopped; the download resumes on the next attempt',
        discard: () => removeModelDir(ctx.config.dataDir, modelId),
      });
    }
  },
};
