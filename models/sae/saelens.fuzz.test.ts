/**
 * The SAELens folder fuzzer: a JumpReLU and a TopK SAE saved in SAELens
 * layout, their cfg.json mutated with a fixed seed (JSON values swapped,
 * dropped or duplicated; the fields readers act on set to other values, at the
 * top level or in SAELens 6's metadata; bytes flipped) or their weights'
 * header mutated. Each case must load an SAE that can be used (positive sizes,
 * k within d_sae, weights of the sizes cfg.json says), or throw SaeFormatError
 * or SafetensorsError (the rules of a case: scripts/testing/fuzz/cases.ts).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { caseDirs, FUZZ_SEED, ParserFuzz } from '../../scripts/testing/fuzz/cases.ts';
import { applyBytes, applyJson, byteMutation, JSON_SWAPS, jsonMutation, type ByteMutation, type JsonMutation } from '../../scripts/testing/fuzz/mutations.ts';
import { SafetensorsError } from '../safetensors.ts';
import { loadSae, SaeFormatError, saveSae } from './saelens.ts';

const cases = caseDirs('loupe-saelens-fuzz-');
afterAll(cases.remove);

describe('parser fuzzer', () => {
  it('SAELens: mutated cfg.json and weights load with a sane config, or throw SaeFormatError / SafetensorsError', async () => {
    const base = cases.next();
    const dIn = 8;
    const dSae = 16;
    const w = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    await saveSae(base, { architecture: 'jumprelu', dIn, dSae, k: null, hookName: 'blocks.1.hook_resid_post', hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: true, normalizeActivations: 'none', extra: {} }, {
      W_enc: w(dIn * dSae),
      b_enc: w(dSae),
      W_dec: w(dSae * dIn),
      b_dec: w(dIn),
      threshold: w(dSae),
    });
    const topk = cases.next();
    await saveSae(topk, { architecture: 'topk', dIn, dSae, k: 4, hookName: 'blocks.1.hook_resid_post', hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: true, normalizeActivations: 'none', extra: {} }, { W_enc: w(dIn * dSae), b_enc: w(dSae), W_dec: w(dSae * dIn), b_dec: w(dIn) });
    const bases = [base, topk].map((d) => ({ cfg: JSON.parse(readFileSync(path.join(d, 'cfg.json'), 'utf8')) as unknown, weights: readFileSync(path.join(d, 'sae_weights.safetensors')) }));
    for (const d of [base, topk]) await loadSae(d);

    // The fields SAELens' readers (and ours) act on, each set to another value.
    const KEYS = ['k', 'd_in', 'd_sae', 'hook_name', 'hook_layer', 'context_size', 'architecture', 'activation_fn_str', 'activation_fn_kwargs', 'normalize_activations', 'prepend_bos', 'model_name', 'metadata', 'dtype'];
    type SaeCase = { base: number; kind: 'cfg'; ms: JsonMutation[] } | { base: number; kind: 'field'; fields: [string, number, boolean][] } | { base: number; kind: 'cfg-bytes'; bms: ByteMutation[] } | { base: number; kind: 'weights'; bms: ByteMutation[] };
    const arb: fc.Arbitrary<SaeCase> = fc
      .record({
        base: fc.constantFrom(0, 1),
        kind: fc.constantFrom('cfg' as const, 'cfg' as const, 'field' as const, 'field' as const, 'cfg-bytes' as const, 'weights' as const),
        ms: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
        fields: fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.nat(JSON_SWAPS.length - 1), fc.boolean()), { minLength: 1, maxLength: 2 }),
        bms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
      })
      .map((r) => (r.kind === 'cfg' ? { base: r.base, kind: 'cfg', ms: r.ms } : r.kind === 'field' ? { base: r.base, kind: 'field', fields: r.fields } : { base: r.base, kind: r.kind, bms: r.bms }) as SaeCase);
    const sampled = fc.sample(arb, { seed: FUZZ_SEED + 6, numRuns: 600 });
    const fuzz = new ParserFuzz('SAELens', 'saelens', (e) => e instanceof SaeFormatError || e instanceof SafetensorsError);
    for (const c of sampled) {
      const d = cases.next();
      const b = bases[c.base]!;
      let cfgText = JSON.stringify(b.cfg);
      let weights: Buffer = b.weights;
      let what: string;
      if (c.kind === 'cfg') {
        cfgText = JSON.stringify(applyJson(b.cfg, c.ms)) ?? '';
        what = `cfg.json ${cfgText}`;
      } else if (c.kind === 'field') {
        const cfg = structuredClone(b.cfg) as Record<string, unknown> & { metadata: Record<string, unknown> };
        // at the top level, or in SAELens 6's metadata (where the top-level copy is then removed)
        for (const [key, value, inMetadata] of c.fields) {
          if (inMetadata && cfg.metadata && typeof cfg.metadata === 'object') {
            cfg.metadata[key] = structuredClone(JSON_SWAPS[value]);
            delete cfg[key];
          } else cfg[key] = structuredClone(JSON_SWAPS[value]);
        }
        cfgText = JSON.stringify(cfg);
        what = `cfg.json ${cfgText}`;
      } else if (c.kind === 'cfg-bytes') {
        cfgText = applyBytes(Buffer.from(cfgText), c.bms).toString('utf8');
        what = `cfg.json bytes ${JSON.stringify(c.bms)}`;
      } else {
        const headerLen = Number(weights.readBigUInt64LE(0));
        weights = applyBytes(weights, c.bms, [0, 8 + headerLen]);
        what = `weights header bytes ${JSON.stringify(c.bms)}`;
      }
      writeFileSync(path.join(d, 'cfg.json'), cfgText);
      writeFileSync(path.join(d, 'sae_weights.safetensors'), weights);
      await fuzz.case(`base ${c.base} ${what}`, async () => {
        const { cfg, weights: wts } = await loadSae(d);
        // What loads must be usable: positive integer sizes, k a positive integer no larger than d_sae, weights of those sizes.
        const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
        if (!posInt(cfg.dIn) || !posInt(cfg.dSae)) throw new Error(`loaded d_in ${cfg.dIn}, d_sae ${cfg.dSae}`);
        if (cfg.architecture === 'topk' && !(posInt(cfg.k) && cfg.k! <= cfg.dSae)) throw new Error(`loaded a topk SAE with k ${JSON.stringify(cfg.k)} (d_sae ${cfg.dSae})`);
        if (cfg.k !== null && !posInt(cfg.k)) throw new Error(`loaded k ${JSON.stringify(cfg.k)}`);
        if (cfg.hookLayer !== null && !(Number.isSafeInteger(cfg.hookLayer) && cfg.hookLayer >= 0)) throw new Error(`loaded hook layer ${JSON.stringify(cfg.hookLayer)}`);
        if (cfg.contextSize !== null && !posInt(cfg.contextSize)) throw new Error(`loaded context size ${JSON.stringify(cfg.contextSize)}`);
        if (wts.W_enc.length !== cfg.dIn * cfg.dSae || wts.b_dec.length !== cfg.dIn) throw new Error('weights of other sizes than cfg.json says');
      });
      rmSync(d, { recursive: true, force: true });
    }
    fuzz.expectClean({ okAbove: 0, refusedAbove: 0 });
  }, 60_000);
});
