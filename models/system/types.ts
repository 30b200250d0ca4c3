/**
 * Shapes of one system sample, shared by the sampler (Node), the server that
 * stores them and the web app that draws them. Browser-safe: types and pure
 * functions only.
 */

/** CPU usage over the last interval. Percentages are 0–100. */
export interface CpuSample {
  host: string;
  /** ms since epoch */
  ts: number;
  /** busy share of all cores, % */
  total: number;
  /** busy share per core, %, index = core number */
  cores: number[];
  /** load averages over 1, 5 and 15 minutes */
  load: [number, number, number];
}

/** Memory and swap, in bytes. */
export interface MemorySample {
  host: string;
  ts: number;
  total: number;
  used: number;
  available: number;
  swapTotal: number;
  swapUsed: number;
}

/** Usage of the file system holding DATA_DIR, and block-device I/O rates. */
export interface DiskSample {
  host: string;
  ts: number;
  /** the path whose file system is measured */
  path: string;
  /** bytes of the file system that holds `path` */
  total: number;
  /** bytes used on that file system (by anything) */
  used: number;
  /** bytes `path`'s own files take (as du counts them), measured every POLICY.DATA_DIR_SIZE_MS; absent before the first measure */
  dataDir?: number;
  /** bytes/s read over all physical block devices */
  readBps: number;
  /** bytes/s written over all physical block devices */
  writeBps: number;
}

/** Network rates over all non-loopback interfaces, bytes/s. */
export interface NetworkSample {
  host: string;
  ts: number;
  rxBps: number;
  txBps: number;
}

/** One NVIDIA GPU as nvidia-smi reports it; a field it did not report is null. */
export interface GpuSample {
  host: string;
  ts: number;
  index: number;
  name: string;
  uuid: string | null;
  /** % */
  util: number | null;
  /** bytes */
  memUsed: number | null;
  /** bytes */
  memTotal: number | null;
  /** °C */
  temperature: number | null;
  /** W */
  power: number | null;
  /** W */
  powerLimit: number | null;
  /** MHz */
  smClock: number | null;
  /** MHz */
  memClock: number | null;
}

/** Everything one tick of the sampler read. Rates cover the interval since the previous tick. */
export interface SystemSnapshot {
  host: string;
  ts: number;
  cpu: CpuSample;
  memory: MemorySample;
  disk: DiskSample;
  network: NetworkSample;
  gpus: GpuSample[];
}

/** One scalar of a snapshot, as stored in `system_metrics`. */
export interface MetricPoint {
  metric: string;
  value: number;
}

/**
 * Scalar metric names. The history API and the charts use these keys; live
 * payloads are flattened with the same functions so both line up.
 */
export function cpuPoints(s: CpuSample): MetricPoint[] {
  const points: MetricPoint[] = [
    { metric: 'cpu.total', value: s.total },
    { metric: 'load.1', value: s.load[0] },
    { metric: 'load.5', value: s.load[1] },
    { metric: 'load.15', value: s.load[2] },
  ];
  s.cores.forEach((value, i) => points.push({ metric: `cpu.core.${i}`, value }));
  return points;
}

export function memoryPoints(s: MemorySample): MetricPoint[] {
  return [
    { metric: 'mem.used', value: s.used },
    { metric: 'mem.total', value: s.total },
    { metric: 'swap.used', value: s.swapUsed },
    { metric: 'swap.total', value: s.swapTotal },
  ];
}

export function diskPoints(s: DiskSample): MetricPoint[] {
  return [
    { metric: 'disk.used', value: s.used },
    { metric: 'disk.total', value: s.total },
    ...(s.dataDir === undefined ? [] : [{ metric: 'disk.data_dir', value: s.dataDir }]),
    { metric: 'disk.read_bps', value: s.readBps },
    { metric: 'disk.write_bps', value: s.writeBps },
  ];
}

export function networkPoints(s: NetworkSample): MetricPoint[] {
  return [
    { metric: 'net.rx_bps', value: s.rxBps },
    { metric: 'net.tx_bps', value: s.txBps },
  ];
}

const GPU_FIELDS = [
  ['util', 'util'],
  ['mem_used', 'memUsed'],
  ['mem_total', 'memTotal'],
  ['temp', 'temperature'],
  ['power', 'power'],
  ['sm_clock', 'smClock'],
  ['mem_clock', 'memClock'],
] as const;

export function gpuPoints(s: GpuSample): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const [suffix, key] of GPU_FIELDS) {
    const value = s[key];
    if (value !== null) points.push({ metric: `gpu.${s.index}.${suffix}`, value });
  }
  return points;
}

/** All scalars of a snapshot. */
export function snapshotPoints(s: SystemSnapshot): MetricPoint[] {
  return [
    ...cpuPoints(s.cpu),
    ...memoryPoints(s.memory),
    ...diskPoints(s.disk),
    ...networkPoints(s.network),
    ...s.gpus.flatMap(gpuPoints),
  ];
}
