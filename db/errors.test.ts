/**
 * Failed queries kept out of logs, job records and answers: a real
 * DrizzleQueryError (a statement PostgreSQL refuses, its parameters holding
 * a key) through the logger, errorForLog and recordableError, and the
 * SQLSTATE classes a retry would hit again.
 */
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorForLog, logger, redactQueryParams } from '../models/log.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { isDeterministicDbError, isQueryError, queryErrorMessage, recordableError } from './errors.ts';

describe('failed queries', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('loupe_db_errors');
  });
  afterAll(async () => {
    await db?.drop();
  });
  afterEach(() => vi.restoreAllMocks());

  /** A DrizzleQueryError whose parameters hold `secret`: a NUL in a text value, which PostgreSQL refuses (22021). */
  const failed = async (secret: string): Promise<Error> => {
    const err = await db.db.execute(sql`SELECT ${`${secret}\u0000`}::text AS v`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  };

  it('names PostgreSQL\'s reason and SQLSTATE, never the parameters', async () => {
    const err = await failed('sk-secret-in-params');
    expect(isQueryError(err)).toBe(true);
    expect(err.message).toContain('sk-secret-in-params'); // drizzle's own message: why all this is needed
    expect(queryErrorMessage(err as never)).toMatch(/^a database query failed: invalid byte sequence for encoding "UTF8": 0x00 \(SQLSTATE 22021\)$/);
    expect(isDeterministicDbError(err)).toBe(true);
    expect(isDeterministicDbError(Object.assign(new Error('x'), { code: '40001' }))).toBe(false);
    expect(isDeterministicDbError(new Error('plain'))).toBe(false);

    const forLog = errorForLog(err, { stack: true });
    expect(forLog).toContain('params: (not logged)');
    expect(forLog).toContain('cause: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)');
    expect(forLog).not.toContain('sk-secret');
    expect(redactQueryParams(String(err))).not.toContain('sk-secret');

    const recorded = recordableError(err) as Error;
    expect(recorded.message).toBe(queryErrorMessage(err as never));
    expect(JSON.stringify({ ...recorded, stack: recorded.stack, message: recorded.message })).not.toMatch(/sk-secret|SELECT/);
    // other errors go as they are; a NUL in a message is made storable
    const plain = new Error('plain');
    expect(recordableError(plain)).toBe(plain);
    expect((recordableError(new Error('a\u0000b')) as Error).message).toBe('a␀b');
  });

  it('logs no parameters and no secret fields, whatever the field holds', async () => {
    const err = await failed('sk-logged-nowhere');
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const log = logger('test');
    log.error('as an Error', { error: err });
    log.error('as its stack', { error: err.stack });
    log.error(`as the message: ${err.message}`);
    log.warn('in an object', { value: { cause: err, llm: { url: 'http://x/v1', apiKey: 'sk-logged-nowhere' } } });
    log.info('a field named like a secret', { apiKey: 'sk-logged-nowhere', authorization: 'Bearer sk-logged-nowhere', hfToken: 'hf_x' });
    expect(lines).toHaveLength(5);
    expect(lines.join('\n')).not.toMatch(/sk-logged-nowhere|hf_x/);
    expect(lines[0]).toContain('SQLSTATE 22021');
    expect(lines[3]).toContain('"apiKey":"(redacted)"');
    expect(lines[4]).toContain('apiKey=(redacted)');
  });
});
