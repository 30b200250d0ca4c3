import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../models/contracts/topics.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { createEvents, listenEvents, NOTIFY_MAX_BYTES, type EventListener } from './events.ts';

describe('events over NOTIFY/LISTEN', () => {
  let db: TestDatabase;
  let listener: EventListener;
  const received: ServerMessage[] = [];
  const waitFor = async (n: number) => {
    for (let i = 0; i < 100 && received.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  };

  beforeAll(async () => {
    db = await createTestDatabase('loupe_events');
    listener = await listenEvents(db.url, { pool: db.pool, onEvent: (m) => received.push(m) });
  });
  afterAll(async () => {
    await listener.close();
    await db.drop();
  });

  it('delivers small events inline and large ones by reference, in order, intact', async () => {
    const events = createEvents(db.pool);
    const big = { blob: 'x'.repeat(100_000), values: Array.from({ length: 2000 }, (_, i) => i * 0.5) };
    expect(JSON.stringify(big).length).toBeGreaterThan(NOTIFY_MAX_BYTES);
    await events.publish('job/a1', { step: 1 });
    await events.publish('job/a1', big);
    await events.publish('job/a1', { step: 3 });
    await waitFor(3);
    expect(received.map((m) => m.topic)).toEqual(['job/a1', 'job/a1', 'job/a1']);
    expect(received[0]!.data).toEqual({ step: 1 });
    expect(received[1]!.data).toEqual(big);
    expect(received[2]!.data).toEqual({ step: 3 });
    for (const m of received) expect(Math.abs(m.ts - Date.now())).toBeLessThan(10_000);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event_payloads');
    expect(rows[0].n).toBe(1);
  });

  it('keeps delivering after the LISTEN connection is killed', async () => {
    received.length = 0;
    // Terminate every other backend listening on this database: the listener must reconnect.
    const killed = await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`);
    expect(killed.rowCount).toBe(1);
    const events = createEvents(db.pool);
    for (let i = 0; i < 60 && received.length === 0; i++) {
      await events.publish('job/a2', { i });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]!.topic).toBe('job/a2');
  });
});
