/**
 * The parquet fuzzer: the fixture files (snappy, gzip, zstd) mutated with a
 * fixed seed, in the footer most of all, or with a lying footer length, read
 * for a text column that may not be there. Each case must yield its rows'
 * text (strings or nulls), or throw DatasetError, in time and without a giant
 * allocation (the rules of a case: scripts/testing/fuzz/cases.ts).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { caseDirs, FUZZ_SEED, ParserFuzz } from '../../scripts/testing/fuzz/cases.ts';
import { applyBytes, byteMutation, type ByteMutation } from '../../scripts/testing/fuzz/mutations.ts';
import { DatasetError } from './errors.ts';
import { readParquetText } from './parquet.ts';

const cases = caseDirs('loupe-parquet-fuzz-');
afterAll(cases.remove);

describe('parser fuzzer', () => {
  it('parquet: mutated files yield their text column, or throw DatasetError', async () => {
    const fixtures = ['tiny-snappy.parquet', 'tiny-gzip-plain.parquet', 'demo-120-zstd.parquet'].map((f) => readFileSync(path.join(import.meta.dirname, 'fixtures', f)));
    type PqCase = { base: number; ms: ByteMutation[]; focus: 'footer' | 'any' | 'length'; footerLength: number; column: string };
    const arb: fc.Arbitrary<PqCase> = fc.record({
      base: fc.constantFrom(0, 0, 1, 1, 2),
      ms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
      focus: fc.constantFrom('footer' as const, 'footer' as const, 'any' as const, 'length' as const),
      footerLength: fc.constantFrom(0, 1, 12, 2 ** 31 - 1, 2 ** 32 - 1),
      column: fc.constantFrom('text', 'text', 'text', 'id', 'nope', ''),
    });
    const sampled = fc.sample(arb, { seed: FUZZ_SEED + 3, numRuns: 800 });
    const fuzz = new ParserFuzz('parquet', 'parquet', (e) => e instanceof DatasetError);
    const dir = cases.next();
    for (const c of sampled) {
      const bytes = fixtures[c.base]!;
      const footer = bytes.readUInt32LE(bytes.length - 8);
      let file: Buffer;
      if (c.focus === 'length') {
        file = Buffer.from(bytes);
        file.writeUInt32LE(c.footerLength >>> 0, file.length - 8);
      } else file = applyBytes(bytes, c.ms, c.focus === 'footer' ? [bytes.length - 8 - footer, bytes.length] : undefined);
      const f = path.join(dir, `c${fuzz.counts.cases}.parquet`);
      writeFileSync(f, file);
      const what = `fixture ${c.base} column ${JSON.stringify(c.column)} ${c.focus === 'length' ? `footer length ${c.footerLength}` : `bytes ${JSON.stringify(c.ms)} (${c.focus})`}`;
      await fuzz.case(what, async () => {
        let rows = 0;
        for await (const v of readParquetText(f, { textColumn: c.column, maxChunkBytes: 64 * 1024 ** 2 })) {
          if (v.text !== null && typeof v.text !== 'string') throw new Error(`row ${v.row}: text is ${typeof v.text}`);
          if (++rows > 1_000_000) throw new Error('more than a million rows from a small file');
        }
      });
      rmSync(f);
    }
    fuzz.expectClean({ okAbove: 0, refusedAbove: 0 });
  }, 60_000);
});
