// From what each check last saw to one verdict. Pure: the time comes in as a number.
import type { ErrorPolicy } from './config.js';
import { failureMessage, type CheckDefinition, type Observation } from './checks.js';

/** A check's state as /status shows it; `unknown` means Prometheus could not be asked for too long. */
export type CheckState = 'pass' | 'fail' | 'no_data' | 'unknown';

/** The overall verdict: `unknown` when some check is unknown and none fails for certain. */
export type VerdictState = 'pass' | 'fail' | 'unknown';

/** A failed attempt to evaluate a check. */
export interface CheckError {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

/** What the monitor remembers of one check between evaluations. */
export interface CheckRecord {
  readonly check: CheckDefinition;
  /** The last answer Prometheus gave, and when it was received. */
  readonly observation: Observation | null;
  /** Wall time of the observation, for people. */
  readonly observedAtMs: number | null;
  /** Monotonic time of the observation, for its age: a wall clock step must not stretch or cut STALE_AFTER. */
  readonly observedAtMonotonicMs: number | null;
  /** The last failure, kept after recovery so /status can show it. */
  readonly lastError: CheckError | null;
  /** Failed attempts since the last success; 0 when the last attempt succeeded. */
  readonly consecutiveErrors: number;
  readonly lastDurationMs: number | null;
  /** Warnings Prometheus sent with the last answer (Thanos' partial responses, for one). */
  readonly warnings: readonly string[];
}

/** A check as judged at one moment. */
export interface JudgedCheck {
  readonly record: CheckRecord;
  readonly state: CheckState;
  /** Whether this check lets /ready pass. */
  readonly ok: boolean;
  /** The verdict rests on an observation older than the last attempt. */
  readonly stale: boolean;
  /** Why the check does not simply pass; null when it does. */
  readonly reason: string | null;
}

export interface Verdict {
  readonly state: VerdictState;
  readonly healthy: boolean;
  readonly message: string;
  readonly checks: readonly JudgedCheck[];
}

export interface JudgeOptions {
  /** Monotonic now, on the clock of observedAtMonotonicMs. */
  readonly nowMonotonicMs: number;
  readonly staleAfterMs: number;
  readonly onPrometheusError: ErrorPolicy;
}

export const HEALTHY_MESSAGE = 'System healthy';

/** Judges one check: the last observation stands, even after failed attempts, until it is STALE_AFTER old. */
export function judgeCheck(record: CheckRecord, options: JudgeOptions): JudgedCheck {
  const { observation, observedAtMonotonicMs, consecutiveErrors } = record;
  const usable = observation !== null && observedAtMonotonicMs !== null && options.nowMonotonicMs - observedAtMonotonicMs < options.staleAfterMs;
  if (!usable) {
    const cause = record.lastError === null ? 'no answer yet' : `${record.lastError.code}: ${record.lastError.message}`;
    return { record, state: 'unknown', ok: options.onPrometheusError === 'pass', stale: false, reason: `Prometheus could not be asked (${cause})` };
  }
  const stale = consecutiveErrors > 0;
  const passes = observation.state === 'pass' || (observation.state === 'no_data' && record.check.onNoData === 'pass');
  let reason = passes ? (observation.state === 'no_data' ? record.check.noDataMessage : null) : failureMessage(record.check, observation);
  if (reason !== null && stale) reason += ' (last known)';
  return { record, state: observation.state, ok: passes, stale, reason };
}

/** Judges every check: healthy when all are ok; the message joins the reasons of those that are not. */
export function judge(records: readonly CheckRecord[], options: JudgeOptions): Verdict {
  const checks = records.map((record) => judgeCheck(record, options));
  const failing = checks.filter((check) => !check.ok && check.state !== 'unknown');
  const unknown = checks.filter((check) => check.state === 'unknown');
  const healthy = failing.length === 0 && (unknown.length === 0 || options.onPrometheusError === 'pass');
  const state: VerdictState = failing.length > 0 ? 'fail' : unknown.length > 0 ? 'unknown' : 'pass';

  const reasons = failing.map((check) => check.reason!);
  if (unknown.length > 0) {
    // One clause for every unknown check: they share a cause, and /ready stays short.
    const names = unknown.map((check) => check.record.check.name).join(', ');
    reasons.push(`${names} unknown: ${unknown[0]!.reason}; ON_PROMETHEUS_ERROR=${options.onPrometheusError}`);
  }
  const stale = checks.find((check) => check.stale);
  let message: string;
  if (!healthy) message = reasons.join('; ');
  else if (reasons.length > 0) message = `${HEALTHY_MESSAGE} (unverified: ${reasons.join('; ')})`;
  else if (stale !== undefined) message = `${HEALTHY_MESSAGE} (last known; Prometheus failing: ${stale.record.lastError?.code ?? 'error'})`;
  else message = HEALTHY_MESSAGE;
  return { state, healthy, message, checks };
}
