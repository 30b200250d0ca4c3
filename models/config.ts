/**
 * Every tunable of Loupe in one place, read from the environment once.
 *
 * Node-only (reads `process.env`); the web app never imports this file. The
 * README's table of environment variables is generated from {@link ENV_DOCS},
 * and a test keeps the two in step.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { DATASET_LIMITS } from './datasets/limits.ts';

/** Description of one environment variable, for the README and error messages. */
export interface EnvDoc {
  name: string;
  default: string;
  description: string;
}

/** Every environment variable Loupe reads, in the order the README lists them. */
export const ENV_DOCS: readonly EnvDoc[] = [
  { name: 'DATA_DIR', default: './data', description: 'Where models, datasets, activations, SAEs and the embedded PostgreSQL (`DATA_DIR/pg`) live.' },
  { name: 'DATABASE_URL', default: '(embedded)', description: 'PostgreSQL connection string. Unset: `npm start` runs an embedded PostgreSQL in `DATA_DIR/pg`. Required for `npm run worker` on other hosts.' },
  { name: 'PG_PORT', default: '54329', description: 'Port of the embedded PostgreSQL (loopback only).' },
  { name: 'HOST', default: '127.0.0.1', description: 'Address the HTTP and WebSocket servers bind to. Anything but loopback requires `LOUPE_TOKEN`.' },
  { name: 'PORT', default: '8787', description: 'HTTP port (API and web app).' },
  { name: 'WS_PORT', default: 'PORT+1', description: 'WebSocket port (path `/ws`).' },
  { name: 'PUBLIC_WS_URL', default: '(derived)', description: 'WebSocket URL announced to browsers by `GET /api/config`, for setups behind a proxy.' },
  { name: 'LOUPE_TOKEN', default: '(none)', description: 'Shared secret for the HTTP API (`Authorization: Bearer`, `?token=` or cookie) and the WebSocket upgrade (`?token=`). Required on a non-loopback bind; enforced whenever set.' },
  { name: 'LOUPE_DEVICE', default: 'auto', description: 'Execution provider for models: `auto` (WebGPU when a GPU adapter is found, else the CPU), `cpu` or `webgpu` (NVIDIA GPUs too: the npm build of ONNX Runtime has no CUDA provider).' },
  { name: 'WORKER_CONCURRENCY', default: '1', description: 'Jobs one worker process runs at once, per job kind.' },
  { name: 'SAE_TRAIN_CONCURRENCY', default: '1', description: 'SAE trainings (`sae.train` jobs) one worker process runs at once; further trainings wait in the queue, with their position shown.' },
  { name: 'SYSTEM_SAMPLE_MS', default: '2000', description: 'Interval of the system monitor (CPU, memory, disk, network, GPUs), in ms.' },
  { name: 'SYSTEM_RETENTION_H', default: '48', description: 'Hours of system-monitor history kept in PostgreSQL.' },
  { name: 'NVIDIA_SMI', default: 'nvidia-smi', description: 'Path of `nvidia-smi`, read for GPU metrics. Missing: GPU metrics are off (reported once).' },
  { name: 'LOUPE_SAMPLER', default: '(auto)', description: '`1` or `0`: whether this process samples its host. Default: the server does; a worker does when started alone (`npm run worker`).' },
  { name: 'LOG_LEVEL', default: 'info', description: '`debug`, `info`, `warn` or `error`.' },
  { name: 'HF_ENDPOINT', default: 'https://huggingface.co', description: 'Hugging Face hub (or a mirror) that model and dataset downloads use.' },
  { name: 'HF_TOKEN', default: '(none)', description: 'Hub access token for private and gated repositories; sent to the hub\'s own origin only.' },
  { name: 'UPLOAD_MAX_BYTES', default: '2147483648', description: 'Largest dataset file accepted by `POST /api/datasets/upload`, bytes (2 GiB); a larger one is refused with a 413 and nothing is kept.' },
  { name: 'ZIP_MAX_BYTES', default: '17179869184', description: 'Most bytes an uploaded zip archive may inflate to, bytes (16 GiB), counted while inflating.' },
  { name: 'ZIP_MAX_ENTRIES', default: '10000', description: 'Most entries (files and folders) in an uploaded zip archive.' },
  { name: 'LOUPE_DEMO', default: '1', description: '`1` or `0`. `1`: on its first start against a database, a worker builds the demo: an extraction of the demo model over the demo dataset at `blocks.3.hook_resid_post`, a TopK SAE trained on it and its discovered features (a few minutes on a CPU; once per database, and a demo artifact you delete is not made again). `0`: nothing is made.' },
  { name: 'ANALYSIS_TTL_HOURS', default: '168', description: 'Hours a feature analysis (logit lens, correlations, ablation) or an SAE\'s encode stays cached in PostgreSQL before it is computed again; expired entries are deleted by the maintenance job.' },
];

/** Parsed configuration. Values are validated; a bad value throws {@link ConfigError}. */
export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  pgPort: number;
  host: string;
  port: number;
  wsPort: number;
  publicWsUrl: string | undefined;
  token: string | undefined;
  device: 'auto' | 'cpu' | 'webgpu';
  workerConcurrency: number;
  /** `sae.train` jobs one worker runs at once */
  saeTrainConcurrency: number;
  /** whether a worker builds the first-start demo (workers/demo-setup.ts) */
  demo: boolean;
  /** ms between system samples. */
  systemSampleMs: number;
  /** hours of system history kept. */
  systemRetentionH: number;
  /** nvidia-smi binary (name on PATH or path) */
  nvidiaSmi: string;
  /** undefined: the process decides by its role. */
  sampler: boolean | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** base URL of the Hugging Face hub */
  hfEndpoint: string;
  /** hub token, when set */
  hfToken: string | undefined;
  /** largest dataset upload, bytes */
  uploadMaxBytes: number;
  /** most bytes an uploaded zip may inflate to */
  zipMaxBytes: number;
  /** most entries in an uploaded zip */
  zipMaxEntries: number;
  /** hours a cached feature analysis stays fresh */
  analysisTtlHours: number;
}

/** A configuration value that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Limits that are not worth an environment variable but deserve a name. */
export const POLICY = {
  /** A worker writes its heartbeat this often. */
  WORKER_HEARTBEAT_MS: 10_000,
  /**
   * A worker with no heartbeat for this long (3 missed beats; database clock)
   * is taken for dead: the other workers fail its active jobs through pg-boss,
   * which retries them (workers/recovery.ts). Late beats of a busy worker stay
   * well inside it.
   */
  WORKER_DEAD_AFTER_MS: 30_000,
  /** `GET /api/health` counts workers seen within this window. */
  WORKER_SEEN_WINDOW_MS: 30_000,
  /** The WebSocket hub sends an application heartbeat this often. */
  WS_HEARTBEAT_MS: 15_000,
  /** Largest request body of any route but the streamed uploads, bytes; a larger one is a 413 before it is read whole. */
  JSON_BODY_MAX_BYTES: 1024 * 1024,
  /** Largest message a WebSocket client may send, bytes. */
  WS_MAX_MESSAGE_BYTES: 16 * 1024,
  /** Time a child process gets to exit after SIGTERM before SIGKILL. */
  SHUTDOWN_GRACE_MS: 10_000,
  /** A worker polls each queue for new jobs this often (s; pg-boss allows 0.5 and more). */
  JOB_POLL_INTERVAL_S: 1,
  /** A worker checks that its running jobs are still active this often (the fallback when a cancel notification is missed). */
  JOB_STATE_CHECK_MS: 2000,
  /** Progress of a job (and of a download) is written and published at most this often. */
  JOB_PROGRESS_MS: 250,
  /** Job progress rows are kept this long after their last update, hours. */
  JOB_PROGRESS_RETENTION_H: 14 * 24,
  /** An analysis request waits this long for its `features.analyze` job before answering 202 (the client polls the same URL). */
  ANALYSIS_WAIT_MS: 60_000,
  /**
   * Largest model graph (up to an SAE's hook) plus SAE encoder, fp32 bytes, that the inspector sends
   * to a browser (onnxruntime-web holds a model in a 4 GiB WebAssembly memory, and downloads it whole).
   */
  INSPECTOR_MAX_BYTES: 1024 ** 3,
  /** How often a waiting analysis request looks for its result, ms. */
  ANALYSIS_POLL_MS: 100,
  /** A sweep's coordinator looks at its trials (their trainings' status and metrics) this often, ms. */
  SWEEP_POLL_MS: 1000,
  /** Sweeps one worker coordinates at once (a coordinator only polls; its trials train as `sae.train` jobs). */
  SWEEP_CONCURRENCY: 4,
  /** The system sampler measures DATA_DIR's own size (a walk of its files, as du) at most this often, ms. */
  DATA_DIR_SIZE_MS: 60_000,
} as const;

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** `LOUPE_DEVICE=cuda`, which earlier versions took: said why not, and what to use. */
function cudaRefused(): never {
  throw new ConfigError('LOUPE_DEVICE', 'the npm build of ONNX Runtime has no CUDA provider: use LOUPE_DEVICE=webgpu for an NVIDIA GPU (or auto, or cpu)');
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const kind = isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Reads and validates the configuration from an environment.
 * @example const cfg = loadConfig(process.env)
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, 'PORT', 8787, 1, 65535);
  const host = env.HOST || '127.0.0.1';
  const token = env.LOUPE_TOKEN || undefined;
  if (!isLoopback(host) && !token) {
    throw new ConfigError('LOUPE_TOKEN', `HOST=${host} is not a loopback address, so a token is required: set LOUPE_TOKEN to a long random string`);
  }
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('LOUPE_TOKEN', 'must be at least 16 characters');
  }
  const samplerRaw = env.LOUPE_SAMPLER;
  if (samplerRaw !== undefined && samplerRaw !== '' && samplerRaw !== '0' && samplerRaw !== '1') {
    throw new ConfigError('LOUPE_SAMPLER', `expected 0 or 1, got "${samplerRaw}"`);
  }
  const demoRaw = env.LOUPE_DEMO;
  if (demoRaw !== undefined && demoRaw !== '' && demoRaw !== '0' && demoRaw !== '1') {
    throw new ConfigError('LOUPE_DEMO', `expected 0 or 1, got "${demoRaw}"`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'expected a postgres:// or postgresql:// URL');
  }
  const hfEndpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(hfEndpoint)) throw new ConfigError('HF_ENDPOINT', `expected an http:// or https:// URL, got "${env.HF_ENDPOINT}"`);
  return {
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl,
    pgPort: int(env, 'PG_PORT', 54329, 1, 65535),
    host,
    port,
    wsPort: int(env, 'WS_PORT', port + 1, 1, 65535),
    publicWsUrl: env.PUBLIC_WS_URL || undefined,
    token,
    device: env.LOUPE_DEVICE === 'cuda' ? cudaRefused() : oneOf(env, 'LOUPE_DEVICE', ['auto', 'cpu', 'webgpu'] as const, 'auto'),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 1, 1, 64),
    saeTrainConcurrency: int(env, 'SAE_TRAIN_CONCURRENCY', 1, 1, 64),
    demo: demoRaw !== '0',
    systemSampleMs: int(env, 'SYSTEM_SAMPLE_MS', 2000, 250, 3_600_000),
    systemRetentionH: int(env, 'SYSTEM_RETENTION_H', 48, 1, 24 * 365),
    nvidiaSmi: env.NVIDIA_SMI || 'nvidia-smi',
    sampler: samplerRaw === '1' ? true : samplerRaw === '0' ? false : undefined,
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    hfEndpoint,
    hfToken: env.HF_TOKEN || undefined,
    uploadMaxBytes: int(env, 'UPLOAD_MAX_BYTES', DATASET_LIMITS.MAX_UPLOAD_BYTES, 1, 2 ** 50),
    zipMaxBytes: int(env, 'ZIP_MAX_BYTES', DATASET_LIMITS.ZIP_MAX_TOTAL_BYTES, 1, 2 ** 50),
    zipMaxEntries: int(env, 'ZIP_MAX_ENTRIES', DATASET_LIMITS.ZIP_MAX_ENTRIES, 1, 10_000_000),
    analysisTtlHours: int(env, 'ANALYSIS_TTL_HOURS', 168, 1, 24 * 365 * 10),
  };
}
