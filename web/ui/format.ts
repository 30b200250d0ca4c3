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
