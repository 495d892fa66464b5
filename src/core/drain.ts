// Drains: a breach whose trend falls (the hottest partition's lag shrinking after a scale-out) does not fail
// /ready until the fall stops or the grace is spent. The whole idea lives here; checks carry a Drain, the checks
// file parses one, the monitor asks its query while a check breaches, and the verdict asks withinGrace.
import { formatDuration } from './duration.js';
import { GROUP } from './promql.js';
import type { Labels } from './types.js';

/** A breach that is draining (its trend falling) does not fail the check until the trend stops or `graceMs` passes. */
export interface Drain {
  /** PromQL whose value is negative while a breaching series drains; matched to it by labels. */
  readonly query: string;
  readonly graceMs: number;
}

/**
 * The drain signal of the skew check: the slope of the hottest partition's lag, per topic. Not the skew ratio's
 * own slope: while one partition holds nearly all the lag, max/avg stays near the partition count as the lag
 * drains, and falls only at the very end.
 */
export function drainQuery(windowMs: number): string {
  return `deriv(kafka:group_max_lag{consumergroup="${GROUP}"}[${formatDuration(windowMs)}])`;
}

/**
 * Every breaching series drains: a trend series whose labels it all carries (the trend of its topic, say) has a
 * negative value. A breaching series without a trend is not known to drain.
 */
export function isDraining(breaching: readonly Labels[], trend: readonly { readonly value: number; readonly labels: Labels }[]): boolean {
  const matches = (series: Labels, candidate: Labels): boolean => Object.entries(candidate).every(([name, value]) => name === '__name__' || series[name] === value);
  return breaching.every((series) => trend.some((sample) => sample.value < 0 && matches(series, sample.labels)));
}

/** Whether a falling breach, draining since `drainSinceMs`, is still inside its grace at `nowMs`. */
export function withinGrace(drain: Drain | null, falling: boolean, drainSinceMs: number | null, nowMs: number | null): boolean {
  return drain !== null && falling && drainSinceMs !== null && nowMs !== null && nowMs - drainSinceMs < drain.graceMs;
}
