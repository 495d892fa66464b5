// Lag in time, per group, from the recording rules (monitoring/prometheus-crm-events-rules.yml):
// - behind: how far the group is behind its producers, the lag divided by the rate at which the partition's end
//   offset advances (the worst partition of the group);
// - drain: how long until the lag is gone at the current rates, the lag divided by how much faster the group
//   consumes than its producers write (the worst partition).
// Both are defined when the rates are zero: a partition without lag counts 0; a partition with lag whose producer
// is idle (behind), or whose consumer is not gaining on its producer (drain), has no estimate, and neither does
// anything above a week, where the rates are too small for the quotient to mean anything. So never NaN, +Inf or
// "3 years": null, with the reason. And membership changes over ten minutes, for rebalance churn.

import type { Sample } from './envelope.js';
import { quoteLabelValue } from './promql.js';

/** What /status shows of a group's lag in time and its churn; null when there is no estimate. */
export interface LagEstimates {
  readonly behindSeconds: number | null;
  readonly drainSeconds: number | null;
  /** Changes of the member count over the last ten minutes. */
  readonly membershipChanges: number | null;
}

export const NO_ESTIMATES: LagEstimates = { behindSeconds: null, drainSeconds: null, membershipChanges: null };

/** The recorded series, as the rules name them. */
export const ESTIMATE_SERIES = {
  behind: 'kafka:group_lag_seconds',
  drain: 'kafka:group_drain_seconds',
  churn: 'kafka:group_membership_changes',
} as const;

/** The label that tells the three apart in one answer. */
const ESTIMATE_LABEL = 'estimate';

/**
 * One query for all three, so the estimates cost one query per group and evaluation. Each is tagged with a label of
 * its own: `or` matches series by their labels without the metric name, and the three share every other label,
 * so without the tag the first would hide the other two.
 */
export function estimatesQuery(group: string): string {
  const matcher = `{consumergroup=${quoteLabelValue(group)}}`;
  return (Object.entries(ESTIMATE_SERIES) as [keyof typeof ESTIMATE_SERIES, string][])
    .map(([kind, metric]) => `label_replace(${metric}${matcher}, "${ESTIMATE_LABEL}", "${kind}", "", "")`)
    .join(' or ');
}

/** The estimates from an answer of estimatesQuery: by their tag, the largest when several series share one. */
export function parseEstimates(samples: readonly Sample[]): LagEstimates {
  const largest = (kind: keyof typeof ESTIMATE_SERIES): number | null => {
    const values = samples.filter((sample) => sample.labels[ESTIMATE_LABEL] === kind && Number.isFinite(sample.value)).map((sample) => sample.value);
    return values.length === 0 ? null : Math.max(...values);
  };
  return { behindSeconds: largest('behind'), drainSeconds: largest('drain'), membershipChanges: largest('churn') };
}
