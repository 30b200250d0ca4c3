/** Number formatting for charts and status: bytes, rates, percentages. */

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
