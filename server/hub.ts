/**
 * The WebSocket hub (uWebSockets.js): clients subscribe to topics, and every
 * event this process receives from PostgreSQL LISTEN is published to the
 * matching uWS topic. Node-only; plugs into the server entry.
 *
 * Client → server: `{op: "subscribe" | "unsubscribe", topic}`.
 * Server → client: `{topic, data, ts}`; on the `$hub` topic, which every
 * socket receives, `{type: "heartbeat"}` every 15 s and `{type: "error", message}`.
 */
import uWS from 'uWebSockets.js';
import { POLICY } from '../models/config.ts';
import { clientMessageSchema, HUB_TOPIC, isKnownTopic, type ServerMessage } from '../models/contracts/topics.ts';
import { logger } from '../models/log.ts';
import { checkAccess, isValidHostHeader } from './auth.ts';
import { errorBody } from './errors.ts';

const log = logger('hub');

/** A listening hub. */
export interface Hub {
  /** the port it listens on (useful when started on port 0) */
  port: number;
  /** Sends a message to every socket subscribed to its topic. */
  publish(message: ServerMessage): void;
  /** number of open sockets */
  clients(): number;
  close(): void;
}

export interface HubOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
  token: string | undefined;
}

type SocketData = { id: number; topics: Set<string> };

/** Most topics one socket may hold, to bound memory per client. */
const MAX_TOPICS_PER_SOCKET = 256;

/** Starts the hub on `host:port`, path `/ws`. Rejects when the port cannot be bound. */
export function startHub(opts: HubOptions): Promise<Hub> {
  const app = uWS.App();
  const sockets = new Set<uWS.WebSocket<SocketData>>();
  let nextId = 1;
  const decoder = new TextDecoder();

  const send = (ws: uWS.WebSocket<SocketData>, message: ServerMessage) => {
    ws.send(JSON.stringify(message), false);
  };

  app.ws<SocketData>('/ws', {
    compression: uWS.SHARED_COMPRESSOR,
    maxPayloadLength: POLICY.WS_MAX_MESSAGE_BYTES,
    idleTimeout: 60,
    sendPingsAutomatically: true,
    // A client too slow to take 4 MiB of backlog is dropped; it reconnects and reloads history.
    maxBackpressure: 4 * 1024 * 1024,
    closeOnBackpressureLimit: 1,
    // Every callback is guarded: an exception thrown inside a uWS callback is uncaught and ends the
    // process, so one malformed upgrade could stop the server for everyone.
    upgrade: (res, req, context) => {
      let answered = false;
      const refuse = (status: string, code: string, message: string) => {
        answered = true;
        res.cork(() => {
          res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(errorBody(code, message)));
        });
      };
      try {
        const headers = new Map<string, string>();
        req.forEach((k, v) => headers.set(k, v));
        const host = headers.get('host');
        if (!isValidHostHeader(host)) return refuse('400 Bad Request', 'invalid_host', 'The Host header is missing or malformed');
        // Only the query matters to the access check; the Host header never becomes part of a URL.
        const url = new URL(`http://localhost/ws?${req.getQuery() ?? ''}`);
        const access = checkAccess(opts.token, { get: (name) => headers.get(name) ?? null }, url);
        if (!access.ok) return refuse(access.status === 401 ? '401 Unauthorized' : '403 Forbidden', access.code, access.message);
        answered = true;
        res.upgrade<SocketData>(
          { id: nextId++, topics: new Set() },
          headers.get('sec-websocket-key') ?? '',
          headers.get('sec-websocket-protocol') ?? '',
          headers.get('sec-websocket-extensions') ?? '',
          context,
        );
      } catch (err) {
        log.warn('WebSocket upgrade refused', { error: err instanceof Error ? err.message : String(err) });
        if (!answered) refuse('400 Bad Request', 'bad_request', 'The WebSocket upgrade request is malformed');
      }
    },
    open: (ws) => {
      sockets.add(ws);
      ws.subscribe(HUB_TOPIC);
    },
    message: (ws, raw, isBinary) => {
      try {
        onMessage(ws, raw, isBinary);
      } catch (err) {
        log.warn('WebSocket message failed', { error: err instanceof Error ? err.message : String(err) });
      }
    },
    close: (ws) => {
      sockets.delete(ws);
    },
  });
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(JSON.stringify(errorBody('not_found', 'WebSocket endpoint is /ws')));
  });

  function onMessage(ws: uWS.WebSocket<SocketData>, raw: ArrayBuffer, isBinary: boolean): void {
    const fail = (message: string) => send(ws, { topic: HUB_TOPIC, ts: Date.now(), data: { type: 'error', message } });
    if (isBinary) return fail('binary messages are not accepted; send JSON text');
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(raw));
    } catch {
      return fail('message is not valid JSON; expected {"op":"subscribe","topic":"..."}');
    }
    const msg = clientMessageSchema.safeParse(parsed);
    if (!msg.success) return fail(`invalid message: ${msg.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ')}`);
    const { op, topic } = msg.data;
    const data = ws.getUserData();
    if (op === 'subscribe') {
      if (!isKnownTopic(topic)) return fail(`unknown topic "${topic}"`);
      if (!data.topics.has(topic) && data.topics.size >= MAX_TOPICS_PER_SOCKET) return fail(`too many topics (at most ${MAX_TOPICS_PER_SOCKET})`);
      data.topics.add(topic);
      ws.subscribe(topic);
    } else {
      data.topics.delete(topic);
      ws.unsubscribe(topic);
    }
  }

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket) => {
      if (!socket) {
        reject(new Error(`WebSocket hub could not listen on ${opts.host}:${opts.port} (port taken? set WS_PORT)`));
        return;
      }
      const port = uWS.us_socket_local_port(socket);
      const heartbeat = setInterval(() => {
        app.publish(HUB_TOPIC, JSON.stringify({ topic: HUB_TOPIC, ts: Date.now(), data: { type: 'heartbeat' } }));
      }, POLICY.WS_HEARTBEAT_MS);
      heartbeat.unref();
      log.info('listening', { url: `ws://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/ws` });
      resolve({
        port,
        publish(message) {
          app.publish(message.topic, JSON.stringify(message), false);
        },
        clients: () => sockets.size,
        close() {
          clearInterval(heartbeat);
          uWS.us_listen_socket_close(socket);
          for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
        },
      });
    });
  });
}
