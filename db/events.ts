/**
 * Real-time events through PostgreSQL NOTIFY/LISTEN: any process that can
 * reach the database publishes, every server process listens and forwards to
 * its WebSocket clients. No other broker.
 *
 * NOTIFY payloads are limited to 8000 bytes; larger events are stored in
 * `event_payloads` and the notification carries a reference, in the same
 * statement, so the row is visible by the time the notification arrives.
 */
import pg from 'pg';
import type { ServerMessage, Topic, TopicPayloads } from '../models/contracts/topics.ts';

/** PostgreSQL's NOTIFY payload limit is 8000 bytes; events above this go by reference. */
export const NOTIFY_MAX_BYTES = 7500;
/** Stored payloads are deleted after this long (ms); listeners fetch them within milliseconds. */
const PAYLOAD_TTL_MS = 10 * 60_000;

/** The PostgreSQL channel every Loupe event goes through. */
export const EVENT_CHANNEL = 'loupe_events';

/** What travels over NOTIFY: the event inline, or a reference to its stored payload. */
type Envelope = { topic: string; ts: number; data: unknown } | { topic: string; ts: number; ref: number };

/** Publishes events; usable from any process (server, worker, CLI). */
export interface Events {
  /** Sends `data` to every subscriber of `topic`, in every server process. */
  publish<T extends Topic>(topic: T, data: TopicPayloads[T]): Promise<void>;
}

/** Creates a publisher over a pool. */
export function createEvents(pool: pg.Pool): Events {
  let lastCleanup = 0;
  return {
    async publish(topic, data) {
      const ts = Date.now();
      const inline = JSON.stringify({ topic, ts, data } satisfies Envelope);
      if (Buffer.byteLength(inline) <= NOTIFY_MAX_BYTES) {
        await pool.query('SELECT pg_notify($1, $2)', [EVENT_CHANNEL, inline]);
        return;
      }
      await pool.query(
        `WITH stored AS (INSERT INTO event_payloads (topic, data, ts) VALUES ($2, $3::jsonb, $4) RETURNING id)
         SELECT pg_notify($1, json_build_object('topic', $2::text, 'ts', $4::bigint, 'ref', stored.id)::text) FROM stored`,
        [EVENT_CHANNEL, topic, JSON.stringify(data), ts],
      );
      if (ts - lastCleanup > 60_000) {
        lastCleanup = ts;
        await pool.query(`DELETE FROM event_payloads WHERE created_at < now() - make_interval(secs => $1)`, [PAYLOAD_TTL_MS / 1000]);
      }
    },
  };
}

/** A running LISTEN connection. */
export interface EventListener {
  close(): Promise<void>;
}

export interface ListenOptions {
  /** pool used to fetch payloads sent by reference */
  pool: pg.Pool;
  onEvent: (message: ServerMessage) => void;
  /** connection lost / restored, malformed notifications */
  onStatus?: (message: string, err?: unknown) => void;
}

/**
 * LISTENs on {@link EVENT_CHANNEL} with a dedicated connection and calls
 * `onEvent` for every event, in publication order. The connection is
 * re-established with backoff when it drops.
 */
export async function listenEvents(url: string, opts: ListenOptions): Promise<EventListener> {
  const handle = async (payload: string) => {
    let env: Envelope;
    try {
      env = JSON.parse(payload) as Envelope;
    } catch (err) {
      opts.onStatus?.('malformed notification ignored', err);
      return;
    }
    if ('ref' in env) {
      const { rows } = await opts.pool.query<{ data: unknown }>('SELECT data FROM event_payloads WHERE id = $1', [env.ref]);
      if (!rows[0]) {
        opts.onStatus?.(`payload ${env.ref} of ${env.topic} expired before delivery`);
        return;
      }
      opts.onEvent({ topic: env.topic, ts: env.ts, data: rows[0].data });
    } else {
      opts.onEvent({ topic: env.topic, ts: env.ts, data: env.data });
    }
  };
  return listenChannel(url, EVENT_CHANNEL, { onNotification: handle, onStatus: opts.onStatus });
}

/**
 * LISTENs on one PostgreSQL channel with a dedicated connection, re-established
 * with backoff when it drops, and calls `onNotification` with each payload, one
 * after another (a call that returns a promise is awaited before the next).
 */
export async function listenChannel(
  url: string,
  channel: string,
  opts: { onNotification: (payload: string) => void | Promise<void>; onStatus?: (message: string, err?: unknown) => void },
): Promise<EventListener> {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;
  // Notifications are handled one after another so that a payload fetched by
  // reference cannot overtake a later inline event of the same topic.
  let chain: Promise<void> = Promise.resolve();

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, keepAlive: true });
    c.on('notification', (n) => {
      if (n.channel !== channel || !n.payload) return;
      const payload = n.payload;
      chain = chain.then(() => opts.onNotification(payload)).catch((err) => opts.onStatus?.('notification handling failed', err));
    });
    const lost = (err?: unknown) => {
      if (closed || client !== c) return;
      client = undefined;
      c.end().catch(() => undefined);
      opts.onStatus?.(`connection listening on ${channel} lost; reconnecting in ${retryMs} ms`, err);
      timer = setTimeout(reconnect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
    c.on('error', lost);
    c.on('end', () => lost());
    try {
      await c.connect();
      await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
    } catch (err) {
      // a half-made connection (connected, LISTEN refused) is not left open behind the retry
      await c.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
  };

  const reconnect = () => {
    if (closed) return;
    connect().then(
      () => {
        retryMs = 250;
        opts.onStatus?.(`connection listening on ${channel} restored`);
      },
      (err) => {
        opts.onStatus?.(`connection listening on ${channel} failed; retrying in ${retryMs} ms`, err);
        timer = setTimeout(reconnect, retryMs);
        retryMs = Math.min(retryMs * 2, 10_000);
      },
    );
  };

  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
      await chain;
    },
  };
}
