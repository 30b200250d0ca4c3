/**
 * The zip fuzzer: archives generated with any entries (hostile names, every
 * compression method, lying sizes, counts and attributes), some of them then
 * mutated byte by byte, at the central directory most of all. Each case must
 * extract, or be refused with DatasetError leaving nothing behind (no
 * destination, no temporary folder beside it), in time and without a giant
 * allocation (the rules of a case: scripts/testing/fuzz/cases.ts).
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { caseDirs, FUZZ_SEED, ParserFuzz } from '../../scripts/testing/fuzz/cases.ts';
import { applyBytes, byteMutation, type ByteMutation } from '../../scripts/testing/fuzz/mutations.ts';
import { DatasetError } from './errors.ts';
import { buildZip, type ZipEntrySpec } from './fixtures/zip-writer.ts';
import { extractZip } from './zip.ts';

const cases = caseDirs('loupe-zip-fuzz-');
afterAll(cases.remove);

describe('parser fuzzer', () => {
  it('zip: generated and mutated archives extract, or are refused with DatasetError leaving nothing behind', async () => {
    const NAMES = ['a.txt', 'data/b.jsonl', 'c.csv', 'd.parquet', 'e.zip', 'img.png', 'dir/', '../evil.txt', '/abs.txt', 'C:/x.txt', 'a\\b.txt', 'a/./b.txt', 'a//b.txt', 'A.TXT', 'a.txt', 'e\u0301.txt', 'é.txt', 'x'.repeat(1100), `${'d/'.repeat(40)}f.txt`, 'ctl\u0001.txt', '', 'dir'];
    const entry: fc.Arbitrary<ZipEntrySpec> = fc
      .record(
        {
          name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) }),
          data: fc.oneof(fc.constantFrom('{"text": "fine"}\n', 'hello\n\nworld\n', 'id,text\n1,"a"\n', ''), fc.string({ maxLength: 200 }), fc.constant('z'.repeat(20_000))),
          method: fc.constantFrom(0, 8, 8, 8, 12, 99),
          flags: fc.constantFrom(0x800, 0x800, 0x801, 0, 0x808),
          declaredSize: fc.option(fc.constantFrom(0, 1, 5, 2 ** 31, 2 ** 32 - 1, 0xffffffff), { nil: undefined, freq: 4 }),
          declaredCompressedSize: fc.option(fc.constantFrom(0, 1, 2 ** 32 - 1), { nil: undefined, freq: 5 }),
          externalAttributes: fc.option(fc.constantFrom(0o100644 << 16, 0o120777 << 16, 0o040755 << 16, 0o010644 << 16, 0xffffffff), { nil: undefined, freq: 3 }),
        },
        { requiredKeys: ['name', 'data'] },
      )
      .map((e) => (e.externalAttributes !== undefined ? { ...e, externalAttributes: e.externalAttributes >>> 0 } : e));
    type ZipCase = { entries: ZipEntrySpec[]; declaredEntryCount?: number; ms: ByteMutation[]; focusTail: boolean };
    const arb: fc.Arbitrary<ZipCase> = fc.record({
      entries: fc.array(entry, { minLength: 0, maxLength: 4 }),
      declaredEntryCount: fc.option(fc.constantFrom(0, 1, 7, 65535), { nil: undefined, freq: 6 }),
      ms: fc.oneof({ weight: 2, arbitrary: fc.constant<ByteMutation[]>([]) }, { weight: 3, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }),
      focusTail: fc.boolean(),
    });
    const sampled = fc.sample(arb, { seed: FUZZ_SEED + 2, numRuns: 600 });
    const fuzz = new ParserFuzz('zip', 'zip', (e) => e instanceof DatasetError);
    for (const c of sampled) {
      const d = cases.next();
      const zipped = buildZip(c.entries, c.declaredEntryCount === undefined ? {} : { declaredEntryCount: c.declaredEntryCount });
      // the central directory and its end record are at the tail
      const file = applyBytes(zipped, c.ms, c.focusTail ? [Math.max(0, zipped.length - 120), zipped.length] : undefined);
      const zipPath = path.join(d, 'in.zip');
      writeFileSync(zipPath, file);
      const outParent = path.join(d, 'out');
      const dest = path.join(outParent, 'files');
      const what = `entries ${JSON.stringify(c.entries.map((e) => ({ ...e, data: typeof e.data === 'string' && e.data.length > 40 ? `${e.data.slice(0, 10)}…(${e.data.length})` : e.data })))} count ${c.declaredEntryCount ?? '-'} bytes ${JSON.stringify(c.ms)}${c.focusTail ? ' (tail)' : ''}`;
      await fuzz.case(what, async () => {
        try {
          return await extractZip(zipPath, dest, { maxTotalBytes: 1024 * 1024, ratioGraceBytes: 4096 });
        } catch (err) {
          // Nothing partial stays: no destination, no temporary folder beside it.
          const left = existsSync(outParent) ? readdirSync(outParent) : [];
          if (left.length) throw new Error(`left behind after a refusal: ${left.join(', ')} (${(err as Error).message})`);
          throw err;
        }
      });
      rmSync(d, { recursive: true, force: true });
    }
    fuzz.expectClean({ okAbove: 0, refusedAbove: 0 });
  }, 60_000);
});
