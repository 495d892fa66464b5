// Checks as data, and what one answer from Prometheus means for a check. Pure: no clock, no I/O.
import type { Config } from './config.js';
import { formatDuration } from './duration.js';
import type { Sample } from './envelope.js';
import { selector } from './promql.js';

/** `<=`: the worst series is the highest; `>=`: the lowest. */
export type Comparison = '<=' | '>=';

/** What a check means when the query returns no series (or only NaN). */
export type NoDataPolicy = 'pass' | 'fail';

/** One check: a PromQL query and how to judge its answer. */
export interface CheckDefinition {
  readonly name: string;
  readonly query: string;
  readonly comparison: Comparison;
  readonly threshold: number;
  readonly onNoData: NoDataPolicy;
  /** Why the check fails, with {value}, {threshold} and {series} (the worst series' distinguishing labels). */
  readonly failMessage: string;
  /** Why the check has no data; shown as a failure only when onNoData is `fail`. */
  readonly noDataMessage: string;
}

/** The state of a check from one answer. */
export type ObservedState = 'pass' | 'fail' | 'no_data';

/** One answer judged: the worst series' value and labels, and how many series there were. */
export interface Observation {
  readonly state: ObservedState;
  /** The worst value, or null when there is no data. May be +-Infinity. */
  readonly value: number | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly series: number;
}

// Labels every answer of one group shares: the worst series is named by the others.
const COMMON_LABELS = new Set(['__name__', 'consumergroup']);

/** The seed's two checks for the configured group. */
export function defaultChecks(config: Config): readonly CheckDefinition[] {
  const group = { consumergroup: config.group };
  const skew = selector('kafka:group_skew_ratio', group);
  return [
    {
      name: 'skew_ratio',
      query: config.skewForMs > 0 ? sustainedQuery(skew, config.skewForMs) : skew,
      comparison: '<=',
      threshold: config.skewThreshold,
      onNoData: 'pass', // no lag series, no skew
      failMessage:
        config.skewForMs > 0
          ? `Hot-key skew high: {value}x for ${formatDuration(config.skewForMs)}{series}`
          : 'Hot-key skew high: {value}x{series}',
      noDataMessage: 'No skew data',
    },
    {
      name: 'consumer_count',
      query: selector('kafka:group_consumer_count', group),
      comparison: '>=',
      threshold: config.minConsumers,
      onNoData: 'fail', // no members reported
      failMessage: 'Too few consumers: {value} < {threshold}{series}',
      noDataMessage: `No consumers reported for group ${config.group}`,
    },
  ];
}

/**
 * SKEW_FOR reads the window from Prometheus' history, so a restart of the probe does not reset it: the lowest
 * value over the window is above the threshold only if skew stayed above it throughout. min_over_time alone
 * judges only the samples that exist, so a series younger than the window (a new topic, a rule just deployed,
 * an emptied Prometheus) would fail on its first high sample; the `and` keeps only series that already existed
 * in the 5 minutes (Prometheus' lookback) before the window began.
 */
export function sustainedQuery(selector: string, windowMs: number): string {
  const window = formatDuration(windowMs);
  return `min_over_time(${selector}[${window}]) and present_over_time(${selector}[5m] offset ${window})`;
}

/** Judges one answer: NaN counts as no data; of several series the worst decides. */
export function observe(check: CheckDefinition, samples: readonly Sample[]): Observation {
  let worst: Sample | undefined;
  let series = 0;
  for (const sample of samples) {
    if (Number.isNaN(sample.value)) continue;
    series += 1;
    if (worst === undefined || (check.comparison === '<=' ? sample.value > worst.value : sample.value < worst.value)) {
      worst = sample;
    }
  }
  if (worst === undefined) return { state: 'no_data', value: null, labels: {}, series: 0 };
  const passes = check.comparison === '<=' ? worst.value <= check.threshold : worst.value >= check.threshold;
  return { state: passes ? 'pass' : 'fail', value: worst.value, labels: worst.labels, series };
}

/** The message of a failing observation. */
export function failureMessage(check: CheckDefinition, observation: Observation): string {
  if (observation.value === null) return check.noDataMessage;
  const distinct = Object.entries(observation.labels).filter(([name]) => !COMMON_LABELS.has(name));
  const series = distinct.length === 0 ? '' : ` (${distinct.map(([name, value]) => `${name}=${value}`).join(', ')})`;
  // Rounding must not make a failing value read like the threshold ("4x" against 4): show it whole then.
  const rounded = formatValue(observation.value);
  const value = rounded === formatValue(check.threshold) ? String(observation.value) : rounded;
  return check.failMessage
    .replaceAll('{value}', () => value)
    .replaceAll('{threshold}', () => formatValue(check.threshold))
    .replaceAll('{series}', () => series); // functions: a label value holding "$&" stays literal
}

/** A number for people: at most two decimals, infinities as Prometheus writes them. */
export function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(Math.round(value * 100) / 100);
}
