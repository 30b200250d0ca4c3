/**
 * Seeded randomness, browser-safe: a 32-bit generator (the order a training
 * reads its batches, an SAE's initial weights, sweeps' proposals), a way to
 * derive one seed from several integers (a sweep's seed and a trial's
 * number), and normal draws.
 */

/** A seeded generator of uniform numbers in [0, 1) (mulberry32): the same stream for the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One 32-bit seed from several integers, each mixed in with murmur3's
 * finaliser, so that neighbouring inputs (trial 7 and trial 8) give
 * unrelated streams.
 * @example rng(seedOf(sweepSeed, trialNumber))
 */
export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A standard normal draw from `random` (Box–Muller). */
export function gaussian(random: () => number): number {
  // 1 − u lies in (0, 1]: the log stays finite
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
