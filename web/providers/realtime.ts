/**
 * The WebSocket connection to the event hub, shared by every page: ref-counted
 * topic subscriptions, re-subscription after reconnect, exponential backoff
 * with jitter, and a watchdog that replaces a socket that went silent (the hub
 * sends a heartbeat every 15 s).
 */
import { createSignal, type Accessor } from 'solid-js';
import { HUB_TOPIC, type ServerMessage } from '../../models/contracts/topics.ts';
import { loadConfig } from '../data/config.ts';

/** Connection state for indicators and polling fallbacks. */
export type ConnectionState = { status: 'connecting' } | { status: 'open' } | { status: 'closed'; retryAt: number; reason: string };

type Handler = (data: unknown, message: ServerMessage) => void;

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** No message (not even a heartbeat) for this long: the socket is dead. */
const SILENCE_MS = 40_000;

/** Delay before reconnect attempt `n` (0-based): doubling from 0.5 s to 15 s, ±20 % jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

class Realtime {
  private ws: WebSocket | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private attempt = 0;
  private lastMessageAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private readonly state = createSignal<ConnectionState>({ status: 'connecting' });
  /** Current connection state. */
  readonly status: Accessor<ConnectionState> = this.state[0];

  /** Calls `handler` for every message on `topic` until the returned function is called. */
  subscribe(topic: string, handler: Handler): () => void {
    this.start();
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      this.send({ op: 'subscribe', topic });
    }
    set.add(handler);
    return () => {
      const s = this.handlers.get(topic);
      if (!s?.delete(handler) || s.size > 0) return;
      this.handlers.delete(topic);
      this.send({ op: 'unsubscribe', topic });
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
      if (this.ws?.readyState === WebSocket.OPEN && Date.now() - this.lastMessageAt > SILENCE_MS) this.ws.close(4000, 'silent');
    }, 5000);
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
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastMessageAt = Date.now();
      this.state[1]({ status: 'open' });
      for (const topic of this.handlers.keys()) this.send({ op: 'subscribe', topic });
    };
    ws.onmessage = (event) => {
      this.lastMessageAt = Date.now();
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      if (msg.topic === HUB_TOPIC) {
        const data = msg.data as { type?: string; message?: string };
        if (data.type === 'error') console.warn(`[realtime] ${data.message}`);
        return;
      }
      for (const h of this.handlers.get(msg.topic) ?? []) h(msg.data, msg);
    };
    ws.onclose = (event) => {
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
