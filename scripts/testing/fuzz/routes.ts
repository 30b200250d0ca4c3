/**
 * The route fuzzer's sender and judge: generated requests (requests.ts beside
 * this file) sent to the app in-process with their pool references resolved,
 * and every answer checked. It must be a status below 500 (or a 5xx its route
 * documents, such as the LLM test's 502), every 4xx must carry
 * `{error: {code, message}}`, and a 400 `invalid_request` must name the fields
 * in `details`. Every failure is collected, grouped by route and cause (the
 * server log line of its request id), and kept with its smallest request.
 * Rows a request creates join the pools, so later requests use them.
 */
import { vi } from 'vitest';
import { setLogLevel } from '../../../models/log.ts';
import type { Operation } from './openapi.ts';
import type { Spec } from './requests.ts';
import { REF } from './values.ts';

/** One cause of failure of one route, with the smallest request that showed it. */
export interface Failure {
  key: string;
  reason: string;
  count: number;
  /** the smallest failing request */
  repro: string;
  reproSize: number;
  log: string;
}

/** Pools of ids, by the collection that owns them (`models`, `datasets`, ..., `features` as `saeId:index`), 40 at most each. */
export class Pools {
  private readonly pools = new Map<string, string[]>();

  /** Adds `id` to `pool` (once, while it holds fewer than 40). */
  add(pool: string, id: string): void {
    const list = this.pools.get(pool) ?? [];
    if (!list.includes(id) && list.length < 40) list.push(id);
    this.pools.set(pool, list);
  }

  /** `s` with each pool reference replaced by an id of its pool (the reference's index plus `n`, modulo the pool's size; a nil uuid for an empty pool). */
  resolve(s: string, n = 0): string {
    return s.replace(new RegExp(`${REF}([a-z-]+):(\\d+)`, 'g'), (_m, pool: string, i: string) => {
      const list = this.pools.get(pool) ?? [];
      return list.length ? list[(Number(i) + n) % list.length]! : '00000000-0000-4000-8000-000000000000';
    });
  }

  /** A JSON value with every string that is a pool reference resolved. */
  resolveValue(v: unknown): unknown {
    if (typeof v === 'string') return v.startsWith(REF) ? this.resolve(v) : v;
    if (Array.isArray(v)) return v.map((x) => this.resolveValue(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolveValue(x)]));
    return v;
  }

  /** Adds the ids of a 2xx answer of `route` to the pools: the row it made, and the rows it names (`model`, `job`, …). */
  harvest(route: string, value: unknown): void {
    const collection = route.split('/')[2]!;
    const names: Record<string, string> = { model: 'models', dataset: 'datasets', extraction: 'extractions', training: 'trainings', sae: 'saes', discovery: 'discoveries', job: 'jobs' };
    if (!value || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    if (typeof v.id === 'string' && route.split('/').length === 3) this.add(collection, v.id);
    for (const [k, pool] of Object.entries(names)) {
      const inner = v[k] as { id?: unknown } | undefined;
      if (inner && typeof inner.id === 'string') this.add(pool, inner.id);
    }
  }
}

/** Sends requests to an app in-process (`app.fetch`, as Hono's) and judges its answers. */
export class RouteFuzzer {
  readonly failures = new Map<string, Failure>();
  /** statuses and their counts, by `METHOD /route` */
  readonly perRoute = new Map<string, Map<number, number>>();
  /** requests sent */
  requests = 0;
  /** requests the Fetch API itself would not build (e.g. a URL it cannot parse) */
  refused = 0;
  private readonly logLines: string[] = [];

  constructor(
    private readonly app: { fetch(req: Request): Response | Promise<Response> },
    private readonly pools: Pools,
  ) {}

  /** Keeps the server's error log (to name each failure's cause) and logs only warnings and errors until the returned function is called. */
  captureLog(): () => void {
    const errorSpy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      this.logLines.push(args.map(String).join(' '));
    });
    setLogLevel('warn');
    return () => {
      errorSpy.mockRestore();
      setLogLevel('info');
    };
  }

  private record(op: Operation, reason: string, requestId: string, repro: string, detail = ''): void {
    const log = this.logLines.filter((l) => l.includes(requestId)).join('\n');
    // The cause: the first line of the logged error, without ids and times.
    const cause = (/error=("[^\n]*?)(?: requestId=|$)/.exec(log)?.[1] ?? log.replace(/^\S+ \S+\s+/, '').replace(/requestId=\S+/, ''))
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>')
      .replace(/\\n\s+at [\s\S]*/, '')
      .slice(0, 300);
    const key = `${op.method.toUpperCase()} ${op.route}: ${reason} ${cause}`;
    const f = this.failures.get(key);
    if (f) {
      f.count++;
      if (repro.length < f.reproSize) Object.assign(f, { repro: repro + detail, reproSize: repro.length });
    } else this.failures.set(key, { key, reason, count: 1, repro: repro + detail, reproSize: repro.length, log: log.slice(0, 2000) });
  }

  /** Sends `spec` to `op` (its pool references resolved with offset `n`) and records a failure when the answer is not as it must be. */
  async send(op: Operation, spec: Spec, n: number): Promise<void> {
    const pools = this.pools;
    let url = spec.rawUrl ?? op.route.replace(/\{(\w+)\}/g, (_m, name: string) => pools.resolve(spec.pathParams[name] ?? 'x', n));
    if (spec.query.length) url += `?${spec.query.map((q) => pools.resolve(q, n)).join('&')}`;
    const requestId = `fuzz-${this.requests}`;
    let body: BodyInit | undefined;
    let shown = '';
    if (spec.body && 'json' in spec.body) {
      const text = JSON.stringify(pools.resolveValue(spec.body.json));
      body = text;
      shown = text ?? '';
    } else if (spec.body && 'text' in spec.body) {
      body = spec.body.text;
      shown = JSON.stringify(spec.body.text);
    } else if (spec.body && 'bytes' in spec.body) {
      body = new Uint8Array(spec.body.bytes);
      shown = `<${spec.body.bytes.length} bytes ${Buffer.from(spec.body.bytes).toString('hex').slice(0, 80)}>`;
    } else if (spec.body && 'chunks' in spec.body) {
      const { chunks, error } = spec.body;
      body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else if (error) controller.error(new Error('client went away'));
          else controller.close();
        },
      });
      shown = `<stream of ${chunks.length} chunks${error ? ', then an error' : ''}>`;
    }
    let req: Request;
    try {
      const headers = new Headers({ host: '127.0.0.1:8787', 'x-request-id': requestId, ...spec.headers });
      req = new Request(`http://127.0.0.1:8787${url}`, { method: op.method.toUpperCase(), headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch {
      this.refused++; // a request the Fetch API itself will not build (e.g. a URL it cannot parse)
      return;
    }
    this.requests++;
    const res = await this.app.fetch(req);
    const counts = this.perRoute.get(`${op.method.toUpperCase()} ${op.route}`) ?? new Map<number, number>();
    counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
    this.perRoute.set(`${op.method.toUpperCase()} ${op.route}`, counts);
    const repro = `${op.method.toUpperCase()} ${url} [${spec.kind}] content-type=${spec.headers['content-type'] ?? '(none)'} body=${shown.length > 600 ? `${shown.slice(0, 600)}… (${shown.length} chars)` : shown}`;
    const text = await res.text();
    let parsed: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (res.status >= 500 && !(op.documented5xx.has(res.status) && parsed?.error?.code !== 'internal')) {
      this.record(op, `status ${res.status} (${String(parsed?.error?.code)})`, requestId, repro);
      return;
    }
    if (res.status >= 400) {
      if (typeof parsed?.error?.code !== 'string' || typeof parsed.error.message !== 'string') {
        this.record(op, `status ${res.status} without a JSON error body: ${text.slice(0, 100)}`, requestId, repro);
        return;
      }
      if (res.status === 400 && parsed.error.code === 'invalid_request') {
        const details = parsed.error.details;
        const named = Array.isArray(details) && details.length > 0 && details.every((d) => typeof (d as { field?: unknown }).field === 'string' && (d as { field: string }).field.length > 0);
        if (!named) this.record(op, '400 invalid_request whose details do not name a field', requestId, repro, `\n  details: ${JSON.stringify(details)?.slice(0, 300)}`);
      }
    } else if (res.status < 300 && text && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        pools.harvest(op.route, JSON.parse(text));
      } catch {
        /* a 2xx that is not JSON is fine here */
      }
    }
  }

  /** Logs the statuses of every route and the failures (each with its smallest request); returns one entry per failure, empty when there is none. */
  report(ms: number, stoppedEarly: boolean): string[] {
    const table = [...this.perRoute].map(([route, counts]) => `${route.padEnd(44)} ${[...counts].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}×${c}`).join(' ')}`);
    console.log(`route fuzzer: ${this.requests} requests (${this.refused} not buildable) over ${this.perRoute.size} operations in ${ms} ms${stoppedEarly ? ' (time budget reached)' : ''}\n${table.join('\n')}`);
    const report = [...this.failures.values()].map((f) => `${f.key} (${f.count}×)\n  repro: ${f.repro}\n  log: ${f.log.split('\n')[0]?.slice(0, 800)}`);
    if (report.length) console.log(`route fuzzer: ${this.failures.size} distinct failures\n${report.join('\n\n')}`);
    return report;
  }
}
