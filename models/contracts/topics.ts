/**
 * The registry of real-time topics: every topic a job or the system monitor
 * publishes, with the schema of its payload. Shared by the publisher (through
 * its types), the WebSocket hub (topic validation) and the web app (parsing).
 */
import { z } from 'zod';
import { adapterProbeSchema, jobDeviceSchema } from './device.ts';
import { discoverySchema, type Discovery } from './features.ts';
import { sweepEventSchema, type SweepEvent } from './sweeps.ts';
import { trainingEventSchema, type TrainingEvent } from './trainings.ts';

const host = z.string();
const ts = z.number();
const nullableNumber = z.number().nullable();

export const cpuSchema = z.object({
  host,
  ts,
  total: z.number(),
  cores: z.array(z.number()),
  load: z.tuple([z.number(), z.number(), z.number()]),
});

export const memorySchema = z.object({
  host,
  ts,
  total: z.number(),
  used: z.number(),
  available: z.number(),
  swapTotal: z.number(),
  swapUsed: z.number(),
});

export const diskSchema = z.object({
  host,
  ts,
  path: z.string(),
  /** the file system that holds `path`, bytes */
  total: z.number(),
  used: z.number(),
  /** bytes `path`'s own files take (du), measured every minute; absent before the first measure */
  dataDir: z.number().optional(),
  readBps: z.number(),
  writeBps: z.number(),
});

export const networkSchema = z.object({ host, ts, rxBps: z.number(), txBps: z.number() });

export const gpuSchema = z.object({
  host,
  ts,
  index: z.number().int(),
  name: z.string(),
  uuid: z.string().nullable(),
  util: nullableNumber,
  memUsed: nullableNumber,
  memTotal: nullableNumber,
  temperature: nullableNumber,
  power: nullableNumber,
  powerLimit: nullableNumber,
  smClock: nullableNumber,
  memClock: nullableNumber,
});

export type CpuSample = z.infer<typeof cpuSchema>;
export type MemorySample = z.infer<typeof memorySchema>;
export type GpuSample = z.infer<typeof gpuSchema>;

/** A worker process announcing itself (on start and every heartbeat). */
export const workerSchema = z.object({
  id: z.string(),
  host,
  pid: z.number().int(),
  startedAt: ts,
  lastSeen: ts,
  concurrency: z.number().int(),
  queues: z.array(z.string()),
  /** its LOUPE_DEVICE, and the WebGPU adapters its probe found at start (absent until the probe answers) */
  device: z.enum(['auto', 'cpu', 'webgpu']).nullish(),
  adapters: adapterProbeSchema.nullish(),
});

/** Lifecycle of anything a job produces (the `status` column of models, datasets, ...). */
export const ARTIFACT_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;

/**
 * Download progress of a model, on topic `model/{id}` (a few per second while
 * it runs, and once on every status change). The same object is stored in the
 * model's row, so a page opened late starts from it.
 */
export const modelProgressSchema = z.object({
  /** model id */
  id: z.string(),
  status: z.enum(ARTIFACT_STATUSES),
  /** one entry per file to fetch, in download order; bytes */
  files: z.array(z.object({ path: z.string(), bytes: z.number(), total: z.number() })),
  /** bytes done / to do, over every file */
  bytesDone: z.number(),
  bytesTotal: z.number(),
  /** recent transfer rate, bytes/s */
  bytesPerSecond: z.number(),
  /** seconds left at that rate; null when unknown */
  etaSeconds: z.number().nullable(),
  /** why it failed, or a note while a retry is pending */
  error: z.string().nullable(),
  /** ms since epoch */
  ts,
});
export type ModelProgress = z.infer<typeof modelProgressSchema>;

/** What a `dataset.import` job is doing: fetching files from the hub, unpacking an uploaded zip, or reading and tokenizing. */
export const DATASET_PHASES = ['downloading', 'extracting', 'tokenizing'] as const;
export type DatasetPhase = (typeof DATASET_PHASES)[number];

/**
 * Import progress of a dataset, on topic `dataset/{id}` (a few per second
 * while it runs, and once on every status change). The last one is kept with
 * the job (`job_progress`), so a page opened late starts from it.
 */
export const datasetProgressSchema = z.object({
  /** dataset id */
  id: z.string(),
  status: z.enum(ARTIFACT_STATUSES),
  phase: z.enum(DATASET_PHASES),
  /** the file being downloaded, extracted or read, when there is one */
  file: z.string().nullable(),
  /** bytes of the phase done / to do: downloaded (downloading), inflated (extracting), source bytes read (tokenizing) */
  bytesDone: z.number(),
  bytesTotal: z.number(),
  /** recent rate of the phase, bytes/s */
  bytesPerSecond: z.number(),
  /** documents and tokens written so far */
  documents: z.number().int(),
  tokens: z.number().int(),
  /** recent tokenization rate, tokens/s (0 outside the tokenizing phase) */
  tokensPerSecond: z.number(),
  /** seconds left in this phase at the recent rate; null when unknown */
  etaSeconds: z.number().nullable(),
  /** why it failed, or a note while a retry is pending */
  error: z.string().nullable(),
  /** ms since epoch */
  ts,
});
export type DatasetProgress = z.infer<typeof datasetProgressSchema>;

/** A dataset's progress before anything is counted: nothing done, no rate, no error. */
export function emptyDatasetProgress(id: string, status: DatasetProgress['status'], phase: DatasetPhase): DatasetProgress {
  return { id, status, phase, file: null, bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, documents: 0, tokens: 0, tokensPerSecond: 0, etaSeconds: null, error: null, ts: Date.now() };
}

/** Stages of an extraction, in order. */
export const EXTRACTION_PHASES = ['queued', 'loading', 'extracting', 'finishing', 'done'] as const;

/**
 * Progress of an activation extraction, on topic `extraction/{id}` (a few
 * per second while it runs, and once on every status change); the same
 * object is kept in the extraction's row for pages opened late.
 */
export const extractionProgressSchema = z.object({
  /** extraction id */
  id: z.string(),
  status: z.enum(ARTIFACT_STATUSES),
  phase: z.enum(EXTRACTION_PHASES),
  /** tokens run through the model (whole windows) / to run */
  tokensDone: z.number(),
  tokensTotal: z.number(),
  windowsDone: z.number(),
  windowsTotal: z.number(),
  /** rows stored per hook (positions of skipped BOS tokens are not rows) */
  rows: z.number(),
  /** shards written per hook */
  shards: z.number(),
  /** this attempt's rate, tokens/s */
  tokensPerSecond: z.number(),
  /** seconds left at that rate; null when unknown */
  etaSeconds: z.number().nullable(),
  /** out-of-memory fallbacks so far (smaller chunks, then the CPU), the latest last; at most 10 */
  fallbacks: z.array(z.string()),
  /** where this attempt's model runs ({model}), once its session is made */
  device: jobDeviceSchema.optional(),
  /** why it failed, or a note while a retry is pending */
  error: z.string().nullable(),
  /** ms since epoch */
  ts,
});
export type ExtractionProgress = z.infer<typeof extractionProgressSchema>;

/** Fixed topics and their payloads. Parameterised families are matched by {@link topicSchema}. */
export const TOPICS = {
  'system/cpu': cpuSchema,
  'system/memory': memorySchema,
  'system/disk': diskSchema,
  'system/network': networkSchema,
  'system/workers': workerSchema,
} as const;

/** Every row and job id is a UUID (PostgreSQL `uuid`, pg-boss job ids). */
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** Topic families with an id or index, as regular expressions over the topic name. */
const FAMILIES: readonly [RegExp, z.ZodType][] = [
  [/^system\/gpu\/\d{1,3}$/, gpuSchema],
  [new RegExp(`^model/${UUID}$`), modelProgressSchema],
  [new RegExp(`^dataset/${UUID}$`), datasetProgressSchema],
  [new RegExp(`^extraction/${UUID}$`), extractionProgressSchema],
  [new RegExp(`^training/${UUID}$`), trainingEventSchema],
  [new RegExp(`^discovery/${UUID}$`), discoverySchema],
  [new RegExp(`^sweep/${UUID}$`), sweepEventSchema],
  // Other job families: payloads are defined by their issues; until then any JSON object.
  [new RegExp(`^(training|job)/${UUID}$`), z.record(z.string(), z.unknown())],
];

export type TopicPayloads = {
  [K in keyof typeof TOPICS]: z.infer<(typeof TOPICS)[K]>;
} & {
  [K in `system/gpu/${number}`]: z.infer<typeof gpuSchema>;
} & {
  [K in `model/${string}`]: ModelProgress;
} & {
  [K in `dataset/${string}`]: DatasetProgress;
} & {
  [K in `extraction/${string}`]: ExtractionProgress;
} & {
  [K in `training/${string}`]: TrainingEvent;
} & {
  [K in `discovery/${string}`]: Discovery;
} & {
  [K in `sweep/${string}`]: SweepEvent;
} & {
  [K in `${'training' | 'job'}/${string}`]: Record<string, unknown>;
};

/** Any topic name Loupe knows. */
export type Topic = keyof TopicPayloads;

/** The schema of a topic's payload, or undefined when the topic is unknown. */
export function topicSchema(topic: string): z.ZodType | undefined {
  if (Object.hasOwn(TOPICS, topic)) return TOPICS[topic as keyof typeof TOPICS];
  for (const [pattern, schema] of FAMILIES) if (pattern.test(topic)) return schema;
  return undefined;
}

/** True when `topic` is a topic a client may subscribe to. */
export function isKnownTopic(topic: string): boolean {
  return topicSchema(topic) !== undefined;
}

/** A message from the server to a WebSocket client. */
export interface ServerMessage<T = unknown> {
  topic: string;
  data: T;
  /** ms since epoch, when the event was published */
  ts: number;
}

/** Messages a client sends over the WebSocket. */
export const clientMessageSchema = z.object({
  op: z.enum(['subscribe', 'unsubscribe']),
  topic: z.string().max(200),
});
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Topic of the hub's own heartbeat and status messages (every socket gets them). */
export const HUB_TOPIC = '$hub';
