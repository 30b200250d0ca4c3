/**
 * The WebSocket connection to the event hub, shared by every page: ref-counted
 * topic subscriptions, re-subscription after reconnect, exponential backoff
 * with jitter, and a watchdog that replaces a socket that went silent (the hub
 * sends a heartbeat every 15 s).
 */
import { createSignal, type Accessor } from 'solid-js';
import { HUB_TOPIC, topicSchema, type ServerMessage, type Topic, type TopicPayloads } from '../../models/contracts/topics.ts';
import { loadConfig } from '../data/config.ts';

/** Connection state for indicators and polling fallbacks. */
export type ConnectionState = { status: 'connecting' } | { status: 'open' } | { status: 'closed'; retryAt: number; reason: string };

/** What a subscriber of `topic` is called with: the payload, parsed with the topic's schema, and the message it came in. */
export type TopicHandler<T extends Topic> = (data: TopicPayloads[T], message: ServerMessage<TopicPayloads[T]>) => void;

type Handler = (data: unknown, message: ServerMessage) => void;

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** No message (not even a heartbeat) for this long: the socket is dead. */
const SILENCE_MS = 40_000;

/** Most ms a connection attempt may stay unopened before it is abandoned. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Delay before reconnect attempt `n` (0-based), ms: doubling from 0.5 s, ±20 % jitter (so that
 * many tabs do not reconnect in lockstep after a server restart), never more than 15 s.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + 0.4 * random())));
}

class Realtime {
  private ws: WebSocket | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private attempt = 0;
  private lastMessageAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private pollers = 0;
  private readonly pollingSignal = createSignal(false);
  /** True while some store polls the HTTP API because the socket is down (for the indicator). */
  readonly polling: Accessor<boolean> = this.pollingSignal[0];
  private readonly state = createSignal<ConnectionState>({ status: 'connecting' });
  /** Current connection state. */
  readonly status: Accessor<ConnectionState> = this.state[0];

  /**
   * Calls `handler` for every message on `topic` until the returned function is
   * called; the payload has the type the topic registry (models/contracts/topics.ts)
   * gives the topic.
   * @example realtime.subscribe(`model/${id}`, (p) => setProgress(p.bytesDone)) // p: ModelProgress
   */
  subscribe<T extends Topic>(topic: T, handler: TopicHandler<T>): () => void {
    this.start();
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      this.send({ op: 'subscribe', topic });
    }
    // Handlers get only what topicSchema(topic) parsed (see onmessage): the registry's payload of that topic.
    const h = handler as Handler;
    set.add(h);
    return () => {
      const s = this.handlers.get(topic);
      if (!s?.delete(h) || s.size > 0) return;
      this.handlers.delete(topic);
      this.send({ op: 'unsubscribe', topic });
    };
  }

  /**
   * Marks that a store polls the API while the socket is down; call the
   * returned function when it stops. Only drives the connection indicator.
   */
  startPolling(): () => void {
    this.pollingSignal[1](++this.pollers > 0);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.pollingSignal[1](--this.pollers > 0);
    };
  }

  private send(msg: { op: 'subscribe' | 'unsubscribe'; topic: string }): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
    setInterval(() => {
      // A dead TCP connection may take minutes to report its close: drop it and reconnect now.
      if (this.ws?.readyState === WebSocket.OPEN && Date.now() - this.lastMessageAt > SILENCE_MS) this.abandon(`no message for ${SILENCE_MS / 1000} s`);
    }, 5000);
    // Back on the network: try now rather than at the end of the backoff.
    globalThis.addEventListener?.('online', () => {
      if (this.state[0]().status === 'closed') {
        clearTimeout(this.retryTimer);
        void this.connect();
      }
    });
  }

  /** Forgets the current socket (closing it without waiting) and schedules a reconnect. */
  private abandon(reason: string): void {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.close(4000, reason.slice(0, 100));
    }
    this.retry(reason);
  }

  private async connect(): Promise<void> {
    this.state[1]({ status: 'connecting' });
    let url: string;
    try {
      url = (await loadConfig()).wsUrl;
    } catch (err) {
      this.retry(err instanceof Error ? err.message : 'server unreachable');
      return;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.retry(`bad WebSocket URL "${url}": ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.ws = ws;
    const timeout = setTimeout(() => {
      if (this.ws === ws && ws.readyState === WebSocket.CONNECTING) this.abandon('connection attempt timed out');
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(timeout);
      this.lastMessageAt = Date.now();
      this.state[1]({ status: 'open' });
      for (const topic of this.handlers.keys()) this.send({ op: 'subscribe', topic });
    };
    ws.onmessage = (event) => {
      this.lastMessageAt = Date.now();
      // The backoff restarts only once the server has really talked: a socket that opens and is closed
      // at once (a proxy, a refusing hub) keeps backing off instead of reconnecting every 0.5 s.
      this.attempt = 0;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      if (typeof msg !== 'object' || msg === null || typeof msg.topic !== 'string') return;
      if (msg.topic === HUB_TOPIC) {
        const data = msg.data as { type?: string; message?: string };
        if (data.type === 'error') console.warn(`[realtime] ${data.message}`);
        return;
      }
      const handlers = this.handlers.get(msg.topic);
      if (!handlers?.size) return;
      // Validate at the edge: handlers get payloads of their topic's schema, or nothing.
      const parsed = topicSchema(msg.topic)?.safeParse(msg.data);
      if (!parsed?.success) {
        console.warn(`[realtime] dropped a malformed "${msg.topic}" message`, parsed?.error.issues);
        return;
      }
      for (const h of handlers) h(parsed.data, msg);
    };
    ws.onclose = (event) => {
      clearTimeout(timeout);
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.retry(event.reason || `connection closed (${event.code})`);
    };
  }

  private retry(reason: string): void {
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt++);
    this.state[1]({ status: 'closed', retryAt: Date.now() + delay, reason });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}

/** The app's one realtime connection. */
export const realtime = new Realtime();
