/**
 * A server process (`server/main.ts`) and its worker processes against one
 * test database, on free ports, with a WebSocket client of the server's hub
 * that keeps every message: the setting of the end-to-end tests that go
 * through the API. The workers are those of worker.ts beside this file.
 *
 * @example
 * const stack = await startStack({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0' }, { workers: 2 });
 * stack.subscribe(`model/${id}`);
 * const running = stack.events<ModelProgress>(`model/${id}`);
 * // afterAll: await stack?.stop();
 */
import WebSocket from 'ws';
import { healthSchema } from '../../models/contracts/api.ts';
import type { ServerMessage } from '../../models/contracts/topics.ts';
import { freePort } from './ports.ts';
import { startProcess, waitFor, waitForHttp, type RunningProcess } from './processes.ts';
import { expectExits, WORKER_READY_MS, Workers } from './worker.ts';

export interface Stack {
  server: RunningProcess;
  workers: Workers;
  /** the API's origin, `http://127.0.0.1:<port>` */
  base: string;
  /** the environment of every process: the caller's, with HOST, PORT and WS_PORT */
  env: Record<string, string>;
  /** `fetch` of a path of the API, with `content-type: application/json` unless `init` sets another */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** every message the hub sent to the client, in order */
  messages: ServerMessage[];
  /** Subscribes the client to `topic` (`model/<id>`, …). */
  subscribe(topic: string): void;
  /** The payloads of `topic`'s messages so far, in order. */
  events<T>(topic: string): T[];
  /**
   * Closes the client, stops the workers (all at once) then the server with
   * SIGTERM, and expects clean exits: 0 for each process but the workers
   * killed through `workers.kill` (SIGKILL); every output is printed when an
   * exit is not as it should be.
   */
  stop(): Promise<void>;
}

/**
 * Starts the server, waits until it answers (it has created its queues then:
 * processes creating the same new pg-boss queues at the same moment can
 * deadlock), starts `workers` workers together, waits until each has logged
 * `ready` and the health check counts them all, and opens a WebSocket to the
 * hub. Whatever was started is stopped again if a step fails.
 */
export async function startStack(env: Record<string, string>, opts: { workers?: number } = {}): Promise<Stack> {
  const n = opts.workers ?? 1;
  const [port, wsPort] = [await freePort(), await freePort()];
  const all = { ...env, HOST: '127.0.0.1', PORT: String(port), WS_PORT: String(wsPort) };
  const base = `http://127.0.0.1:${port}`;
  const server = startProcess('server/main.ts', all);
  const workers = new Workers(() => all);
  const messages: ServerMessage[] = [];
  let ws: WebSocket | undefined;
  try {
    const { wsUrl } = (await (await waitForHttp(`${base}/api/config`, server)).json()) as { wsUrl: string };
    await workers.startTogether(n);
    // counted by health from their first heartbeat, which comes after `ready`
    await waitFor(
      `the health check to count ${n} worker(s)`,
      async () => (healthSchema.parse(await (await fetch(`${base}/api/health`)).json()).workers.active === n ? true : undefined),
      WORKER_READY_MS,
      100,
    );
    ws = new WebSocket(wsUrl);
    ws.on('message', (raw) => messages.push(JSON.parse(raw.toString()) as ServerMessage));
    await new Promise((resolve, reject) => ws!.once('open', resolve).once('error', reject));
  } catch (err) {
    ws?.close();
    await workers.terminate();
    await server.stop('SIGTERM');
    throw err;
  }
  const socket = ws;
  return {
    server,
    workers,
    base,
    env: all,
    api: (p, init) => fetch(`${base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } }),
    messages,
    subscribe: (topic) => socket.send(JSON.stringify({ op: 'subscribe', topic })),
    events: <T>(topic: string) => messages.filter((m) => m.topic === topic).map((m) => m.data as T),
    async stop() {
      socket.close();
      const w = await workers.terminate();
      const s = await server.stop('SIGTERM');
      expectExits({ names: [...w.names, 'server'], got: [...w.got, s], want: [...w.want, 0], outputs: [...w.outputs, server.output()] });
    },
  };
}
