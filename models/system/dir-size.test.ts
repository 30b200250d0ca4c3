import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSize } from './dir-size.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-dirsize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dirSize', () => {
  it('counts what du counts: every file once, links not followed', async () => {
    mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    writeFileSync(path.join(dir, 'a/one'), Buffer.alloc(100_000, 1));
    writeFileSync(path.join(dir, 'a/b/two'), Buffer.alloc(300_000, 2));
    linkSync(path.join(dir, 'a/b/two'), path.join(dir, 'a/hard'));
    // a link to something big outside: not followed
    symlinkSync('/usr', path.join(dir, 'a/usr'));
    // the reference: du's allocated size, in 1-KiB blocks
    const du = Number(execFileSync('du', ['-s', '-k', dir], { encoding: 'utf8' }).split(/\s/)[0]) * 1024;
    const size = await dirSize(dir);
    expect(size).toBeGreaterThanOrEqual(400_000);
    // du also counts the top directory itself; both round to blocks
    expect(Math.abs(size - du)).toBeLessThanOrEqual(16 * 1024);
    expect(await dirSize(path.join(dir, 'no-such'))).toBe(0);
  });
});
