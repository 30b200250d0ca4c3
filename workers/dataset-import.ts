/**
 * `dataset.import`: fills a `datasets` row's folder `DATA_DIR/datasets/<id>/`
 * with the tokenized dataset (tokens.bin, docs.bin, stats.json, meta.json;
 * models/datasets/format.ts), from one of three sources:
 *
 * - **hub**: the repository is listed, the split's files picked by the
 *   `datasets` library's conventions (or the files asked for), only those
 *   downloaded into `raw/` (resumable: a retry continues the `.part` files);
 * - **upload**: the server already streamed the file into `raw/`; a `.zip` is
 *   checked entry by entry and its data files extracted into `files/`;
 * - **builtin**: the demo dataset, read in place from the repository.
 *
 * Then the documents are read (JSON Lines, CSV, parquet, text) and tokenized
 * with the tokenizer of the dataset's model. Progress goes to topic
 * `dataset/{id}` and the job's progress record a few times a second: phase,
 * bytes, documents, tokens, tokens/s, ETA.
 *
 * Endings: completed (statistics, settings used and size recorded; `raw/`
 * and `files/` removed only once that is committed, so an attempt that fails
 * before finds the upload again); failed — reader, archive and tokenizer
 * errors at once, with a message naming the file, line or archive entry and
 * the rule, and the folder removed; a database error that a retry would hit
 * again (a data exception, a constraint) at once too, named by PostgreSQL's
 * message (no SQL); network errors after pg-boss's retries; cancelled (the
 * folder removed); a worker shutdown leaves the files and the job is retried.
 * An attempt whose job was taken over ({@link JobLostError}) stops and
 * touches neither the folder nor the row.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetSettings, DatasetSource } from '../models/contracts/datasets.ts';
import { datasetImportDataSchema, JOB_QUEUES, type DatasetImportData } from '../models/contracts/jobs.ts';
import { emptyDatasetProgress, type DatasetPhase, type DatasetProgress } from '../models/contracts/topics.ts';
import { datasetDir, datasetFilesDir, datasetRawDir, folderBytes } from '../models/dataset-files.ts';
import { DatasetError } from '../models/datasets/errors.ts';
import { formatOf, openDocuments, type DataFile, type DocumentStream, type SourceDocument } from '../models/datasets/sources.ts';
import { filesForSplit } from '../models/datasets/splits.ts';
import { tokenizeDataset, type SourceCounters } from '../models/datasets/tokenize.ts';
import { extractZip } from '../models/datasets/zip.ts';
import { downloadFiles, HubError, listRepoFiles } from '../models/hub.ts';
import { loadTokenizer, TokenizerError, type Tokenizer } from '../models/tokenizer.ts';
import { isDeterministicDbError, isQueryError, queryErrorMessage } from '../db/errors.ts';
import { getDataset, updateDataset, type DatasetRow, type DatasetStatus, type DatasetUpdate } from '../db/queries/datasets.ts';
import { setJobProgress } from '../db/queries/jobs.ts';
import { getModel } from '../db/queries/models.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, type JobContext, type JobKind, type JobLostError } from './job.ts';

/** Hub errors that another attempt cannot fix. */
const PERMANENT_HUB_CODES = new Set(['not_found', 'unauthorized', 'bad_response']);

/** The rate of a growing counter over the last `windowMs` (per second). */
class RecentRate {
  private samples: [number, number][] = [];
  constructor(private readonly windowMs = 3000) {}
  reset(): void {
    this.samples = [];
  }
  /** Records `value` at `now` (ms); returns the rate per second over the window. */
  update(value: number, now: number): number {
    this.samples.push([now, value]);
    while (this.samples.length > 2 && this.samples[1]![0] <= now - this.windowMs) this.samples.shift();
    const [t0, v0] = this.samples[0]!;
    return now > t0 ? Math.max(0, ((value - v0) * 1000) / (now - t0)) : 0;
  }
}

/**
 * The documents of `docs`, giving the event loop a turn every `everyMs`: the
 * tokenizer runs synchronously, and the stream's buffered reads resolve
 * without one, so without this the worker would hear no cancel, send no
 * progress and write no heartbeat for seconds at a time.
 */
function yielding(docs: DocumentStream, everyMs = 50): AsyncIterable<SourceDocument> & SourceCounters {
  return {
    get bytesRead() {
      return docs.bytesRead;
    },
    get bytesTotal() {
      return docs.bytesTotal;
    },
    get skippedRows() {
      return docs.skippedRows;
    },
    async *[Symbol.asyncIterator]() {
      let last = Date.now();
      for await (const doc of docs) {
        if (Date.now() - last >= everyMs) {
          await new Promise((resolve) => setImmediate(resolve));
          last = Date.now();
        }
        yield doc;
      }
    },
  };
}

/** Progress of one import: its state, and throttled publishes to the job record and topic `dataset/{id}` (the row keeps no running progress). */
function createReporter(ctx: JobContext, id: string, jobId: string) {
  const bytesRate = new RecentRate();
  const tokensRate = new RecentRate();
  let state: DatasetProgress = emptyDatasetProgress(id, 'running', 'downloading');

  const publish = (p: DatasetProgress): Promise<void> => ctx.events.publish(`dataset/${id}`, p).catch((err) => ctx.log.warn('progress not published', { id, error: String(err) }));
  const base = createArtifactReporter<DatasetProgress, DatasetStatus, DatasetUpdate, DatasetRow>({
    ctx,
    id,
    snapshot: () => ({ ...state, ts: Date.now() }),
    jobProgress: (p) => p,
    publishOnly: () => true,
    async update(p, set, onlyIf) {
      // The final progress goes in before the row's status, so that whoever reads a finished row reads its final progress with it.
      await setJobProgress(ctx.database.db, jobId, 'dataset.import', p).catch((err) => ctx.log.warn('progress not recorded', { id, error: String(err) }));
      return updateDataset(ctx.database.db, id, set, onlyIf);
    },
    async publish(p, row) {
      if (!row) return publish(p);
      // The final event, sent after the cleanup: the job's record gets it too, as at a tick.
      const last = { ...state, ts: Date.now() };
      ctx.progress(last);
      await publish(last);
    },
    onFinish(status, set) {
      state = { ...state, status, bytesPerSecond: 0, tokensPerSecond: status === 'completed' ? state.tokensPerSecond : 0, etaSeconds: status === 'completed' ? 0 : null, error: set.error ?? null, ts: Date.now() };
    },
  });

  return {
    abandon: base.abandon,
    finish: base.finish,
    /** Starts a phase: counters of the phase restart. */
    phase(phase: DatasetPhase, bytesTotal: number, file: string | null = null): void {
      bytesRate.reset();
      tokensRate.reset();
      state = { ...state, phase, file, bytesDone: 0, bytesTotal, bytesPerSecond: 0, tokensPerSecond: 0, etaSeconds: null };
      bytesRate.update(0, Date.now());
      base.tick();
    },
    /** Records the phase's counters; `limitLeftSeconds` gives the time left before the token or document limit, s, when one is set. */
    update(p: { bytesDone: number; bytesTotal?: number; file?: string | null; documents?: number; tokens?: number }, limitLeftSeconds?: (s: DatasetProgress) => number | null): void {
      const now = Date.now();
      const next = { ...state, ...p, file: p.file === undefined ? state.file : p.file };
      next.bytesPerSecond = Math.round(bytesRate.update(next.bytesDone, now));
      next.tokensPerSecond = state.phase === 'tokenizing' ? Math.round(tokensRate.update(next.tokens, now)) : 0;
      const left = Math.max(0, next.bytesTotal - next.bytesDone);
      let eta = next.bytesTotal > 0 && next.bytesPerSecond > 0 ? left / next.bytesPerSecond : null;
      const byLimit = limitLeftSeconds?.(next) ?? null;
      if (byLimit !== null) eta = eta === null ? byLimit : Math.min(eta, byLimit);
      next.etaSeconds = eta === null ? null : Math.round(eta * 10) / 10;
      state = next;
      base.tick();
    },
  };
}

/** The error as this job reports it: permanent ones wrapped in {@link PermanentJobError}. */
function classify(err: unknown, archive?: string): Error {
  if (err instanceof PermanentJobError) return err;
  if (err instanceof DatasetError) {
    // Entries of an archive are named with the archive they are in.
    let message = err.message;
    if (err.code === 'zip_rejected' && err.rule && !message.includes(`rule: ${err.rule}`)) message = `${message} (rule: ${err.rule})`;
    if (archive && (err.entry !== undefined || err.code === 'zip_rejected') && !message.startsWith(archive)) message = `${archive}: ${message}`;
    return new PermanentJobError(message, { cause: err });
  }
  if (err instanceof TokenizerError || err instanceof TypeError || err instanceof RangeError) return new PermanentJobError(err.message, { cause: err });
  if (err instanceof HubError && PERMANENT_HUB_CODES.has(err.code)) return new PermanentJobError(err.message, { cause: err });
  // A failed query is named by PostgreSQL's message, never its SQL and values; one that would fail again (a value
  // PostgreSQL refuses, a constraint) is not retried.
  if (isQueryError(err)) return isDeterministicDbError(err) ? new PermanentJobError(queryErrorMessage(err), { cause: err }) : new Error(queryErrorMessage(err), { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** The tokenizer of the dataset's model, which must be downloaded. */
async function tokenizerOf(ctx: JobContext, ds: DatasetRow): Promise<{ tokenizer: Tokenizer; model: string }> {
  const model = ds.tokenizerModelId ? await getModel(ctx.database.db, ds.tokenizerModelId) : undefined;
  if (!model) throw new PermanentJobError('the tokenizer model of this dataset was deleted; import the dataset again with another model');
  if (model.status !== 'completed' || !model.path) throw new PermanentJobError(`the tokenizer model ${model.name} is ${model.status}: its files must be downloaded before a dataset is tokenized with it`);
  return { tokenizer: await loadTokenizer(model.path), model: model.id };
}

type Reporter = ReturnType<typeof createReporter>;

/** Downloads the split's files (or the files asked for) of a hub dataset repository into `raw/`. */
async function fetchHubFiles(ctx: JobContext, source: Extract<DatasetSource, { kind: 'hub' }>, rawDir: string, report: Reporter): Promise<DataFile[]> {
  const hub = { endpoint: ctx.config.hfEndpoint, ...(ctx.config.hfToken ? { token: ctx.config.hfToken } : {}) };
  const { signal } = ctx;
  const where = `${source.repo}@${source.revision}`;
  const listing = await listRepoFiles(source.repo, { ...hub, type: 'dataset', revision: source.revision, signal });
  const paths = listing.files.map((f) => f.path);
  let wanted: string[];
  if (source.files) {
    const there = new Set(paths);
    const missing = source.files.filter((f) => !there.has(f));
    if (missing.length > 0) throw new PermanentJobError(`${where} has no file ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
    const unreadable = source.files.filter((f) => !formatOf(f));
    if (unreadable.length > 0) throw new PermanentJobError(`${unreadable.join(', ')}: not a dataset file Loupe reads (.parquet, .jsonl, .json, .csv, .tsv, .txt, or a text one gzipped)`);
    wanted = source.files;
  } else {
    try {
      wanted = filesForSplit(paths, source.split, source.config ? { config: source.config } : {});
    } catch (err) {
      if (err instanceof DatasetError) throw new PermanentJobError(`${where}: ${err.message}`, { cause: err });
      throw err;
    }
  }
  const set = new Set(wanted);
  const files = listing.files.filter((f) => set.has(f.path));
  report.phase('downloading', files.reduce((n, f) => n + f.size, 0), files[0]?.path ?? null);
  await downloadFiles(listing, rawDir, {
    ...hub,
    files: (f) => set.has(f.path),
    signal,
    onProgress: (p) => report.update({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, file: p.file }),
  });
  ctx.log.info('dataset files downloaded', { repo: source.repo, split: source.split, files: wanted.length });
  return wanted.map((p) => ({ path: path.join(rawDir, ...p.split('/')), name: p }));
}

/** The uploaded file, or the data files of an uploaded zip extracted into `files/`. */
async function uploadedFiles(ctx: JobContext, source: Extract<DatasetSource, { kind: 'upload' }>, id: string, report: Reporter): Promise<DataFile[]> {
  const file = path.join(datasetRawDir(ctx.config.dataDir, id), source.fileName);
  // Kept until an import commits: missing means it went some other way, and no retry brings it back.
  const there = await stat(file).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
  if (!there) throw new PermanentJobError(`${source.fileName}: the uploaded file is gone; upload it again`);
  if (!source.fileName.toLowerCase().endsWith('.zip')) return [{ path: file, name: source.fileName }];
  const dest = datasetFilesDir(ctx.config.dataDir, id);
  // An earlier attempt may have left its extraction: start over.
  await rm(dest, { recursive: true, force: true });
  report.phase('extracting', 0, source.fileName);
  const res = await extractZip(file, dest, {
    maxEntries: ctx.config.zipMaxEntries,
    maxTotalBytes: ctx.config.zipMaxBytes,
    signal: ctx.signal,
    onProgress: (p) => report.update({ bytesDone: p.bytes }),
  });
  if (res.files.length === 0) {
    const skipped = res.skipped.slice(0, 5).map((s) => s.name);
    throw new PermanentJobError(
      `${source.fileName}: no dataset files in the archive (.txt, .jsonl, .json, .csv, .tsv, .parquet)${skipped.length ? `; it holds ${skipped.join(', ')}${res.skipped.length > 5 ? ', …' : ''}` : ''}`,
    );
  }
  return res.files.map((f) => ({ path: f.path, name: f.name }));
}

export const datasetImport: JobKind<DatasetImportData> = {
  name: 'dataset.import',
  queue: JOB_QUEUES['dataset.import'],
  async handler(job, ctx) {
    const { datasetId } = datasetImportDataSchema.parse(job.data);
    const { db } = ctx.database;
    const ds = await getDataset(db, datasetId);
    if (!ds) return { skipped: 'the dataset was deleted' };
    if (ds.jobId && ds.jobId !== job.id) return { skipped: 'another job imports this dataset' };
    if (ds.status === 'cancelled' || ds.status === 'completed') return { skipped: `the dataset is ${ds.status}` };
    const dir = datasetDir(ctx.config.dataDir, datasetId);
    const { signal } = ctx;

    // 'running' too: the attempt before this one may have died without a word (its downloads stay for this one).
    const started = await updateDataset(db, datasetId, { status: 'running', error: null, path: dir }, ['queued', 'running', 'failed']);
    if (!started) return { skipped: 'the dataset changed status before the import started' };
    const report = createReporter(ctx, datasetId, job.id);
    const source = ds.source;
    const settings = ds.settings;
    const archive = source.kind === 'upload' ? source.fileName : undefined;

    try {
      const { tokenizer, model } = await tokenizerOf(ctx, ds);
      let files: DataFile[];
      if (source.kind === 'hub') files = await fetchHubFiles(ctx, source, datasetRawDir(ctx.config.dataDir, datasetId), report);
      else if (source.kind === 'upload') files = await uploadedFiles(ctx, source, datasetId, report);
      else files = [{ path: source.path, name: path.basename(source.path) }];
      signal.throwIfAborted();

      const docs = await openDocuments(files, { textColumn: settings.textColumn, textSplit: settings.textSplit, onBadRow: settings.onBadRow, signal });
      report.phase('tokenizing', docs.bytesTotal, files[0]?.name ?? null);
      const limitLeft = (s: DatasetProgress): number | null => {
        const byTokens = settings.maxTokens !== null && s.tokensPerSecond > 0 ? (settings.maxTokens - s.tokens) / s.tokensPerSecond : null;
        const docsPerSecond = s.tokens > 0 && s.documents > 0 ? (s.tokensPerSecond * s.documents) / s.tokens : 0;
        const byDocs = settings.maxDocuments !== null && docsPerSecond > 0 ? (settings.maxDocuments - s.documents) / docsPerSecond : null;
        return byTokens === null ? byDocs : byDocs === null ? byTokens : Math.min(byTokens, byDocs);
      };
      const fileAt = (bytes: number): string | null => {
        let base = 0;
        for (const f of docs.files) {
          if (bytes < base + f.bytes) return f.name;
          base += f.bytes;
        }
        return docs.files.at(-1)?.name ?? null;
      };
      const result = await tokenizeDataset(yielding(docs), tokenizer, dir, {
        ...(settings.addBos === null ? {} : { addBos: settings.addBos }),
        ...(settings.addEos === null ? {} : { addEos: settings.addEos }),
        ...(settings.maxDocuments === null ? {} : { maxDocuments: settings.maxDocuments }),
        ...(settings.maxTokens === null ? {} : { maxTokens: settings.maxTokens }),
        model,
        source: { ...source, files: files.map((f) => f.name) },
        signal,
        onProgress: (p) => report.update({ bytesDone: p.bytesRead, bytesTotal: p.bytesTotal, documents: p.documents, tokens: p.tokens, file: fileAt(p.bytesRead) }, limitLeft),
      });
      signal.throwIfAborted();

      // raw/ and files/ stay until the row says completed: an attempt failing before (writing the statistics) finds them again.
      const sources = (await folderBytes(datasetRawDir(ctx.config.dataDir, datasetId))) + (await folderBytes(datasetFilesDir(ctx.config.dataDir, datasetId)));
      const sizeBytes = (await folderBytes(dir)) - sources;
      const { counts } = result.meta;
      const stats = { ...result.stats, emptyDocuments: counts.emptyDocuments, skippedRows: counts.skippedRows, bytesRead: counts.bytesRead, truncated: counts.truncated };
      const used: DatasetSettings = { ...settings, addBos: result.meta.settings.addBos, addEos: result.meta.settings.addEos };
      const done = await report.finish('completed', { stats, settings: used, sizeBytes, error: null }, ['running'], async () => {
        // Committed: the source files are not needed any more (before the final event, which says the folder is done).
        try {
          await rm(datasetRawDir(ctx.config.dataDir, datasetId), { recursive: true, force: true });
          await rm(datasetFilesDir(ctx.config.dataDir, datasetId), { recursive: true, force: true });
        } catch (err) {
          // the row is final: a failed cleanup is worth a warning, not a failed import
          ctx.log.warn('cleanup after the import failed', { id: datasetId, error: String(err) });
        }
      });
      if (!done) {
        // Cancelled (or deleted) while the last files were written: what was written goes too.
        await rm(dir, { recursive: true, force: true });
        return { skipped: 'the dataset was cancelled or deleted as its import finished' };
      }
      ctx.log.info('dataset ready', { id: datasetId, documents: counts.documents, tokens: counts.tokens, bytes: sizeBytes });
      return { documents: counts.documents, tokens: counts.tokens, bytes: sizeBytes };
    } catch (raw) {
      throw await endJob(raw, job, ctx, report, {
        classify: (err) => classify(err, archive),
        // Downloads and .part files stay: the retry continues where this attempt stopped.
        shutdownNote: 'the worker stopped; the import resumes on the next attempt',
        discard: () => rm(dir, { recursive: true, force: true }),
      });
    }
  },
};
