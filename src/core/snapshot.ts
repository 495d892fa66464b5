// What the monitor hands on after each evaluation: the verdict and the counters /metrics exports. Values, never
// changed once made: the next evaluation makes new ones, so a renderer can hold a snapshot as long as it likes.
import type { LagEstimates } from './estimates.js';
import type { FleetState } from './fleet.js';
import type { Verdict } from './verdict.js';

/** Bucket bounds of the query duration histogram, in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Cumulative counts of one check since start, for /metrics. */
export interface CheckStats {
  /** Failed evaluations by error code. */
  readonly errors: ReadonlyMap<string, number>;
  /** Query durations: one cumulative count per bucket of DURATION_BUCKETS_S. */
  readonly durationBuckets: readonly number[];
  readonly durationSumS: number;
  readonly durationCount: number;
}

export const NO_STATS: CheckStats = { errors: new Map(), durationBuckets: DURATION_BUCKETS_S.map(() => 0), durationSumS: 0, durationCount: 0 };

/** The stats after one more query that took `durationMs`. */
export function withDuration(stats: CheckStats, durationMs: number): CheckStats {
  const seconds = durationMs / 1000;
  return {
    ...stats,
    durationBuckets: DURATION_BUCKETS_S.map((bound, index) => stats.durationBuckets[index]! + (seconds <= bound ? 1 : 0)),
    durationSumS: stats.durationSumS + seconds,
    durationCount: stats.durationCount + 1,
  };
}

/** The stats after one more failed evaluation with `code`. */
export function withError(stats: CheckStats, code: string): CheckStats {
  const errors = new Map(stats.errors);
  errors.set(code, (errors.get(code) ?? 0) + 1);
  return { ...stats, errors };
}

/** Everything the monitor knows after an evaluation. */
export interface Snapshot {
  readonly evaluatedAtMs: number;
  readonly evaluations: number;
  readonly verdict: Verdict;
  /** When every query of an evaluation last succeeded. */
  readonly lastSuccessMs: number | null;
  /** Evaluations in a row in which some query failed. */
  readonly failedEvaluations: number;
  /** By check id. */
  readonly stats: ReadonlyMap<string, CheckStats>;
  /** The fleet and the limit's decision; null when no limit applies (FLEET_MAX_UNREADY=100%, `check` alone). */
  readonly fleet: FleetState | null;
  /** Lag in time and churn, by group, as last asked; empty when the monitor asks none. */
  readonly estimates: ReadonlyMap<string, LagEstimates>;
  /** Where in each interval this probe asks, and how many evaluations in a row the backend refused (429, 503). */
  readonly schedule?: { readonly offsetMs: number; readonly refusals: number };
}
