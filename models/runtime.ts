/**
 * ONNX Runtime sessions: the execution provider comes from LOUPE_DEVICE
 * (auto, cpu, webgpu; the npm build has no CUDA provider, so NVIDIA GPUs run
 * through WebGPU too). `auto` tries WebGPU once per process and falls
 * back to the CPU with a logged reason; an explicit device that cannot start
 * is an error naming it. Out-of-memory failures are recognised so that jobs
 * can retry with a smaller batch and then on the CPU.
 */
import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { logger } from './log.ts';

export type Device = 'auto' | 'cpu' | 'webgpu';
export type Provider = 'cpu' | 'webgpu';

/**
 * Where a piece of work ran: what was asked for, what ran it and on what,
 * and why not the GPU when a GPU was asked for (or `auto` found none). Jobs
 * record it in their row and progress (one per part: the model's forward, the
 * SAE's steps or encoder).
 */
export interface Placement {
  /** the device asked for (LOUPE_DEVICE or the caller's) */
  requested: Device;
  /** where it ran */
  provider: Provider;
  /** ONNX Runtime's session, or Loupe's WGSL kernels through Dawn (models/sae/gpu/) */
  engine: 'onnxruntime' | 'wgsl';
  /** the WebGPU adapter's description, when known (ONNX Runtime does not say which it took) */
  adapter: string | null;
  /** a software adapter (SwiftShader): results count, speed does not */
  fallbackAdapter: boolean;
  /** why the GPU was not used, when `requested` was not cpu and it ran on the CPU */
  fallbackReason: string | null;
}

const log = logger('runtime');

export interface Session {
  readonly provider: Provider;
  /** why a requested GPU was not used, when it was not */
  readonly fallbackReason: string | null;
  readonly placement: Placement;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  /**
   * Runs with the outputs named in `fetches`: a tensor is filled in place (it
   * must have the output's type and shape, and must not be one of the
   * feeds), null lets ONNX Runtime allocate it.
   */
  runInto(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  device?: Device;
  /** keep weight casts/dequantisation in the graph instead of folding them into fp32 copies (fp16, q8) */
  keepWeightCasts?: boolean;
  /** intra-op threads; default: ONNX Runtime's choice (all physical cores) */
  threads?: number;
}

let webgpuBroken: string | null = null;

/** Whether the host has a GPU device node at all (probing Dawn without one only prints noise). */
/** Whether this host may have a GPU (Linux: an NVIDIA or DRI device node; other systems: assumed). */
export function gpuDevicePresent(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/dri') || process.platform !== 'linux';
}

function providersFor(p: Provider): ort.InferenceSession.ExecutionProviderConfig[] {
  return p === 'cpu' ? ['cpu'] : [p, 'cpu'];
}

async function create(model: Uint8Array | string, provider: Provider, opts: SessionOptions): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providersFor(provider),
    graphOptimizationLevel: 'all',
    // On WebGPU, ONNX Runtime warns on every session that shape ops stay on the CPU (by design); errors still print
    ...(provider === 'webgpu' ? { logSeverityLevel: 3 as const } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...(opts.keepWeightCasts ? { extra: { optimization: { disable_specified_optimizers: 'ConstantFolding' } } } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Creates a session on the device LOUPE_DEVICE (or `opts.device`) asks for. */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
  const device = opts.device ?? ((process.env.LOUPE_DEVICE as Device | undefined) || 'auto');
  let provider: Provider;
  let fallbackReason: string | null = null;
  let session: ort.InferenceSession;
  if (device === 'cpu') {
    provider = 'cpu';
    session = await create(model, 'cpu', opts);
  } else if (device === 'auto') {
    if (webgpuBroken === null && !gpuDevicePresent()) {
      webgpuBroken = 'no GPU device on this host (no /dev/nvidia0 or /dev/dri)';
      log.info('running models on the CPU', { reason: webgpuBroken });
    }
    if (webgpuBroken === null) {
      try {
        session = await create(model, 'webgpu', opts);
        provider = 'webgpu';
      } catch (err) {
        // ONNX Runtime's messages start with a source location; keep the sentence that says what failed
        const first = message(err).split('\n')[0]!;
        webgpuBroken = first.slice(first.lastIndexOf('was false. ') >= 0 ? first.lastIndexOf('was false. ') + 11 : 0);
        log.info('WebGPU is not available, running models on the CPU', { reason: webgpuBroken });
      }
    }
    if (webgpuBroken !== null) {
      fallbackReason = `WebGPU: ${webgpuBroken}`;
      provider = 'cpu';
      session = await create(model, 'cpu', opts);
    }
  } else if (device === 'webgpu') {
    provider = device;
    try {
      session = await create(model, device, opts);
    } catch (err) {
      throw new Error(`LOUPE_DEVICE=webgpu: cannot start the webgpu execution provider: ${message(err)}`);
    }
  } else if ((device as string) === 'cuda') {
    throw new Error('LOUPE_DEVICE=cuda: the npm build of ONNX Runtime has no CUDA provider; use LOUPE_DEVICE=webgpu for an NVIDIA GPU');
  } else {
    throw new Error(`LOUPE_DEVICE must be auto, cpu or webgpu (got "${String(device)}")`);
  }
  const s = session!;
  return {
    provider: provider!,
    fallbackReason,
    placement: { requested: device, provider: provider!, engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason },
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    run: (feeds, outputs) => (outputs ? s.run(feeds, [...outputs]) : s.run(feeds)) as Promise<Record<string, ort.Tensor>>,
    runInto: (feeds, fetches) => s.run(feeds, fetches as ort.InferenceSession.FetchesType) as Promise<Record<string, ort.Tensor>>,
    release: () => s.release(),
  };
}

/** Whether an error from ONNX Runtime means the device ran out of memory. */
export function isOutOfMemory(err: unknown): boolean {
  return /out of memory|bad_alloc|failed to allocate|array buffer allocation failed|OOM|allocation fail/i.test(message(err));
}

export { ort };
