/** Number formatting for charts and status: bytes, rates, percentages. */
import { ticks } from 'd3';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 100 || i === 0 ? 0 : v >= 10 ? 1 : 2;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${UNITS[i]}`;
}

/** Bytes per second → "12.3 MiB/s". */
export function formatRate(n: number): string {
  return `${formatBytes(n)}/s`;
}

/** 37.25 → "37.3 %". */
export function formatPercent(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(n >= 99.95 || n === 0 ? 0 : 1)} %` : '–';
}

/** A plain number with a unit: (1980, 'MHz') → "1980 MHz". */
export function formatUnit(unit: string, digits = 0): (n: number) => string {
  return (n) => (Number.isFinite(n) ? `${n.toFixed(digits)} ${unit}`.trim() : '–');
}

/**
 * Axis ticks for bytes: round numbers of the binary unit that fits the range
 * (0, 5, 10, 15 GiB rather than d3's 0, 9.31, 18.6 GiB from decimal steps).
 */
export function binaryTicks(lo: number, hi: number, count: number): number[] {
  const top = Math.max(Math.abs(lo), Math.abs(hi));
  if (!(top > 0) || !Number.isFinite(top)) return ticks(lo, hi, count);
  const unit = 1024 ** Math.min(UNITS.length - 1, Math.max(0, Math.floor(Math.log(top) / Math.log(1024))));
  return ticks(lo / unit, hi / unit, count).map((v) => v * unit);
}

/**
 * Ticks of a logarithmic axis over [lo, hi] (lo > 0): the densest of
 * 1–9 × 10ⁿ, 1-2-5 × 10ⁿ or powers of ten that gives 2 to `count` ticks
 * inside the range; the powers of ten thinned out when even those are more;
 * plain decimal ticks when none of these gives two (a range within one step).
 * @example logTicks(0.05, 20, 5) // [0.1, 1, 10]
 */
export function logTicks(lo: number, hi: number, count: number): number[] {
  if (!(lo > 0) || !(hi > lo)) return ticks(lo, hi, count);
  const within = (mantissas: readonly number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        // m / 10^k rather than m · 10^-k: 3 / 10 is the double nearest 0.3, 3 · 0.1 is not
        const v = e < 0 ? m / 10 ** -e : m * 10 ** e;
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    return out;
  };
  for (const mantissas of [[1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 5], [1]]) {
    const t = within(mantissas);
    if (t.length >= 2 && t.length <= count) return t;
  }
  const powers = within([1]);
  if (powers.length > count) {
    const every = Math.ceil(powers.length / Math.max(1, count));
    return powers.filter((_, i) => i % every === 0);
  }
  return powers.length >= 2 ? powers : ticks(lo, hi, count);
}

/** How an axis writes its ticks: made from all of them at once, so that they share one form. */
export type TickFormat = (ticks: readonly number[]) => (n: number) => string;

/** The smallest gap between neighbouring ticks (0 for one tick or none). */
function tickStep(ticks: readonly number[]): number {
  let step = Infinity;
  for (let i = 1; i < ticks.length; i++) {
    const d = Math.abs(ticks[i]! - ticks[i - 1]!);
    if (d > 0 && d < step) step = d;
  }
  return Number.isFinite(step) ? step : 0;
}

/**
 * Ticks of plain numbers (with an optional unit) in one form for the whole
 * axis: the same decimals on every tick (0.0000 … 0.0010, or 0 … 100), or,
 * when the largest is under 0.001 or from 100,000 up, the same exponent form
 * (1.0e-4, 1.5e-4); never 0.0000 beside 100.0 and 2.00e-4.
 * @example numberTicks()([0, 0.5, 1]) // 0.5 → "0.5", 1 → "1.0"
 */
export function numberTicks(unit = ''): TickFormat {
  const sfx = unit ? ` ${unit}` : '';
  return (ticks) => {
    const finite = ticks.filter(Number.isFinite);
    const top = Math.max(0, ...finite.map(Math.abs));
    const step = tickStep(finite) || top;
    // the fewest digits that still tell every tick exactly (steps of 2.5 need one more than steps of 2)
    const exact = (write: (n: number, d: number) => string, d: number, most: number) => {
      while (d < most && finite.some((t) => Math.abs(Number(write(t, d)) - t) > step * 1e-6)) d++;
      return d;
    };
    if (top !== 0 && (top >= 1e5 || top < 1e-3)) {
      const first = step > 0 ? Math.max(0, Math.floor(Math.log10(top)) - Math.floor(Math.log10(step))) : 0;
      const digits = exact((n, d) => n.toExponential(d), first, 4);
      return (n) => (n === 0 ? `0${sfx}` : `${n.toExponential(digits)}${sfx}`);
    }
    const first = step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 0;
    const decimals = exact((n, d) => n.toFixed(d), first, 6);
    return (n) => `${n.toFixed(decimals)}${sfx}`;
  };
}

/** Ticks of fractions 0..1 as percentages in one form (0 %, 25 %, 50 %; 0.0 %, 0.5 %). */
export const fractionTicks: TickFormat = (ticks) => {
  const f = numberTicks('%')(ticks.map((t) => t * 100));
  return (n) => f(n * 100);
};

/** Ticks of bytes in one binary unit, the one of the largest tick, with the same decimals (0, 5.0, 10.0 GiB → 0, 5, 10 GiB). */
export function byteTicks(ticks: readonly number[], suffix = ''): (n: number) => string {
  const top = Math.max(0, ...ticks.filter(Number.isFinite).map(Math.abs));
  const i = top > 0 ? Math.min(UNITS.length - 1, Math.max(0, Math.floor(Math.log(top) / Math.log(1024)))) : 0;
  const unit = 1024 ** i;
  const f = numberTicks(`${UNITS[i]}${suffix}`)(ticks.map((t) => t / unit));
  return (n) => f(n / unit);
}

/** Ticks of bytes a second, as {@link byteTicks}. */
export const rateTicks: TickFormat = (ticks) => byteTicks(ticks, '/s');
