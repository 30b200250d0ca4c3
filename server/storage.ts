/**
 * What the routes need from the files under DATA_DIR, one interface per kind
 * of artifact. The app takes them through AppDeps (server/app.ts), so it runs
 * on Web-standard APIs only; the Node implementations are
 * models/model-files.ts, server/dataset-storage.ts,
 * server/extraction-storage.ts, server/sae-storage.ts,
 * server/feature-storage.ts and server/inspector-storage.ts.
 */
import type { DatasetSample } from '../models/contracts/datasets.ts';
import type { ExtractionDetail } from '../models/contracts/extractions.ts';
import type { InspectorFile, InspectorManifest } from '../models/contracts/inspector.ts';
import type { ArchitectureInfo } from '../models/inspect.ts';
import type { SaeLensFile } from '../models/sae/files.ts';
import type { SaeConfig } from '../models/sae/saelens.ts';
import type { Tokenizer } from '../models/tokenizer.ts';

/** The files of models (on Node: models/model-files.ts over DATA_DIR; see server/main.ts). */
export interface ModelStorage {
  /** What is wrong with a folder a user asks to import (absolute, exists, has config.json), or undefined when it is usable. */
  checkLocalFolder(path: string): Promise<string | undefined>;
  /** Removes the files of a downloaded model (nothing when there are none). */
  removeModel(id: string): Promise<void>;
  /** The architecture of a model folder, read from its config and safetensors headers (models/inspect.ts). */
  inspect(path: string): Promise<ArchitectureInfo>;
}

/** The files of datasets (on Node: server/dataset-storage.ts over DATA_DIR). */
export interface DatasetStorage {
  /** largest upload accepted, bytes */
  readonly maxUploadBytes: number;
  /** The folder of dataset `id` (where its import writes tokens.bin and the rest). */
  dirOf(id: string): string;
  /**
   * Streams an upload into the raw folder of dataset `id` under a safe
   * version of `fileName`. Throws DatasetError `unsupported` (file type),
   * `too_large` (over the limit) or `cancelled`; nothing is kept then.
   */
  saveUpload(id: string, body: ReadableStream<Uint8Array>, fileName: string, signal?: AbortSignal): Promise<{ name: string; bytes: number }>;
  /** Removes a dataset's folder (nothing when there is none). */
  remove(id: string): Promise<void>;
  /** A page of documents of the tokenized dataset in `dir`, shown with the tokenizer of the model folder `modelDir`. */
  sample(dir: string, modelDir: string, page: { offset: number; limit: number }): Promise<DatasetSample>;
}

/** What the store of an extraction holds (`manifest` of `GET /api/extractions/{id}`). */
export type ManifestSummary = NonNullable<ExtractionDetail['manifest']>;

/** The activation stores (on Node: server/extraction-storage.ts over DATA_DIR). */
export interface ExtractionStorage {
  /** What the store of extraction `id` holds, from its manifest; null before the job wrote one. */
  summary(id: string): Promise<ManifestSummary | null>;
  /** Removes the folder of extraction `id` (nothing when there is none). */
  remove(id: string): Promise<void>;
}

/** The SAE folders under DATA_DIR (on Node: server/sae-storage.ts). */
export interface SaeStorage {
  /**
   * Checks a SAELens folder given by a user and copies it to the folder of
   * imported SAE `id`. Returns why it cannot (a message for a 400), or its
   * config, raw cfg.json and new folder.
   */
  importFolder(src: string, id: string): Promise<{ problem: string } | { path: string; cfg: SaeConfig; raw: Record<string, unknown> }>;
  /** Removes an SAE's folder, when it lies under DATA_DIR/saes (an SAE elsewhere is left alone). */
  remove(dir: string): Promise<void>;
  /** Removes the folder of training `id`, except the SAE folders in `keep`. */
  removeTraining(id: string, keep: readonly string[]): Promise<void>;
  /** A file of an SAE folder, streamed, with its size; null when it is missing. */
  open(dir: string, name: SaeLensFile): Promise<{ body: ReadableStream<Uint8Array>; bytes: number } | null>;
}

/** Tokenizers and discovery folders, as the feature routes need them (on Node: server/feature-storage.ts). */
export interface FeatureStorage {
  /** The tokenizer of a model folder (loaded once, kept). */
  tokenizer(modelDir: string): Promise<Tokenizer>;
  /** Every token id whose display string (Tokenizer.tokenStrings) is `text`. */
  tokenIds(modelDir: string, text: string): Promise<number[]>;
  /**
   * Every token id that is the word `word` but for case and surrounding
   * whitespace (models/features/label.ts's tokenKey: " Moses", "Moses",
   * "moses" for "moses"), for the label search, which also finds the
   * features whose top examples peak on the word; empty for a phrase.
   */
  wordTokenIds(modelDir: string, word: string): Promise<number[]>;
  /** Removes the staging folder of discovery `id` (nothing when there is none). */
  removeDiscovery(id: string): Promise<void>;
}

/** The files of SAEs' browser inspectors under DATA_DIR/inspector (on Node: server/inspector-storage.ts). */
export interface InspectorStorage {
  /** The manifest of SAE `saeId`'s inspector files; null before a job built them. */
  manifest(saeId: string): Promise<InspectorManifest | null>;
  /** A file, streamed, with its size; null when it is missing. */
  open(saeId: string, name: InspectorFile): Promise<{ body: ReadableStream<Uint8Array>; bytes: number } | null>;
  /** `length` bytes of a file from byte `offset`; null when the file is missing or shorter. */
  read(saeId: string, name: InspectorFile, offset: number, length: number): Promise<Uint8Array | null>;
  /** Removes SAE `saeId`'s inspector files (nothing when there are none). */
  remove(saeId: string): Promise<void>;
}
