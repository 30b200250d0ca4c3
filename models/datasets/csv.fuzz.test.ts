/**
 * The CSV fuzzer: any text (quotes, separators, line ends, NUL, lone
 * surrogates, binary) cut into chunks anywhere, with any delimiter and record
 * bound. Each case must parse, or throw DatasetError, in time (the rules of a
 * case: scripts/testing/fuzz/cases.ts); and records written the RFC 4180 way
 * come back as they were, however the text is cut.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { FUZZ_SEED, ParserFuzz } from '../../scripts/testing/fuzz/cases.ts';
import { parseCsv } from './csv.ts';
import { DatasetError } from './errors.ts';

describe('parser fuzzer', () => {
  it('CSV: any text in any chunking parses or throws DatasetError; quoted records round-trip', async () => {
    const fuzz = new ParserFuzz('csv', 'csv', (e) => e instanceof DatasetError);
    const chunked = (text: string, cuts: number[]) => {
      const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
      const parts: string[] = [];
      let last = 0;
      for (const p of points) {
        parts.push(text.slice(last, p));
        last = p;
      }
      parts.push(text.slice(last));
      return (async function* () {
        yield* parts;
      })();
    };
    const text = fc.oneof(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', '\t', ';', 'é', '\u0000', '\ud800'), maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
    const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });
    for (const [t, cs, delimiter, max] of fc.sample(fc.tuple(text, cuts, fc.constantFrom(',', '\t', ';', '|'), fc.constantFrom(undefined, 5, 40)), { seed: FUZZ_SEED + 4, numRuns: 400 })) {
      await fuzz.case(`${JSON.stringify(t)} cut at ${JSON.stringify(cs)} delimiter ${JSON.stringify(delimiter)} max ${max}`, async () => {
        for await (const r of parseCsv(chunked(t, cs), { delimiter, ...(max ? { maxRecordChars: max } : {}) })) {
          if (!Array.isArray(r.fields) || !(r.line >= 1)) throw new Error(`bad record ${JSON.stringify(r)}`);
          // (the record bound is checked as a record grows and at chunk ends: a record may pass it by one chunk's worth)
        }
      });
    }
    // Records written the RFC 4180 way come back as they were, however the text is cut.
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é'), maxLength: 8 });
    const records = fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 });
    for (const [recs, cs, crlf] of fc.sample(fc.tuple(records, cuts, fc.boolean()), { seed: FUZZ_SEED + 5, numRuns: 300 })) {
      // a record of one empty field is an empty line, which a reader cannot tell from no record: quote it
      const quote = (f: string, only: boolean) => (/[",\r\n]/.test(f) || (only && f === '') ? `"${f.replace(/"/g, '""')}"` : f);
      const written = recs.map((r) => r.map((f) => quote(f, r.length === 1)).join(',')).join(crlf ? '\r\n' : '\n');
      await fuzz.case(
        `${JSON.stringify(recs)} written ${JSON.stringify(written)} cut at ${JSON.stringify(cs)}`,
        async () => {
          const back: string[][] = [];
          for await (const r of parseCsv(chunked(written, cs))) back.push(r.fields);
          if (JSON.stringify(back) !== JSON.stringify(recs)) throw new Error(`read back ${JSON.stringify(back)}`);
        },
        { parser: 'csv round trip', expected: () => false },
      );
    }
    fuzz.expectClean();
  }, 60_000);
});
