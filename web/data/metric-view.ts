/**
 * Metrics as the pages show them, from the one registry
 * (models/contracts/metrics.ts): a metric's title, its tooltip (name,
 * definition, unit, which way is better) and its values and axis ticks in
 * the form its unit asks for. Pure, so it is tested without a browser.
 */
import { metricDef, type MetricKey } from '../../models/contracts/metrics.ts';
import { fractionTicks, numberTicks, type TickFormat } from '../ui/format.ts';
import { formatInt, formatStat } from './training-view.ts';

/** A metric's name as a title: its first letter upper case ("explained variance" → "Explained variance"). */
export function metricTitle(key: MetricKey): string {
  const { name } = metricDef(key);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * A metric's tooltip: its name, definition, unit and better direction.
 * @example metricTip('l0') // "L0: mean number of features active on a token (features; lower is better)"
 */
export function metricTip(key: MetricKey): string {
  const m = metricDef(key);
  const notes = [m.unit, m.better ? `${m.better} is better` : null].filter(Boolean);
  return `${m.name}: ${m.definition}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/** A metric's value as a table cell writes it: a fraction as a percentage with two decimals, a rate whole, others short. */
export function formatMetric(key: MetricKey, v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '–';
  const { unit } = metricDef(key);
  if (unit === 'fraction') return `${(v * 100).toFixed(2)} %`;
  if (unit === 'tokens/s') return formatInt(v);
  return formatStat(v);
}

/** The y-axis ticks of a metric's chart: percentages for a fraction, plain numbers otherwise. */
export function metricTicks(key: MetricKey): TickFormat {
  return metricDef(key).unit === 'fraction' ? fractionTicks : numberTicks();
}
