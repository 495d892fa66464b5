// From what each check has seen to one verdict. Pure: the time comes in as a number.
//
// A check's record advances with each answer (recordAnswer) or failed attempt (recordError); judging a record
// at a moment (judgeCheck) applies STALE_AFTER and the error policies; combine() makes one verdict of any set of
// judged checks, so /ready, /ready?group=, /ready/NAME and ?exclude= all reach theirs the same way.
import { type CheckDefinition, failureMessage, type Observation, within } from './checks.js';
import { withinGrace } from './drain.js';
import { formatDuration } from './duration.js';
import type { ErrorPolicy } from './settings.js';

/**
 * A check's state as /status shows it. `pending`: breached for less than its `for`; `draining`: breached but its
 * drain trend falls, within the grace; `recovering`: failed and passing again for less than its `keepFor`;
 * `unknown`: Prometheus could not be asked for too long.
 */
export type CheckState = 'pass' | 'fail' | 'no_data' | 'unknown' | 'pending' | 'draining' | 'recovering';

export const CHECK_STATES: readonly CheckState[] = ['pass', 'fail', 'no_data', 'unknown', 'pending', 'draining', 'recovering'];

/** The overall verdict: `unknown` when some check is unknown and none fails for certain. */
export type VerdictState = 'pass' | 'fail' | 'unknown';

/** A failed attempt to evaluate a check. */
export interface CheckError {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

/** Breach and recovery over time, on the monotonic clock. Like Prometheus' `for` and `keep_firing_for`. */
export interface Damping {
  /** The check counts as failed (subject to a drain). */
  readonly firing: boolean;
  /** Since when every answer has breached. */
  readonly breachSinceMs: number | null;
  /** Since when every answer has passed while still firing. */
  readonly recoverSinceMs: number | null;
  /** When this breach first drained: the grace is counted once per breach, from here. */
  readonly drainSinceMs: number | null;
}

const CALM: Damping = { firing: false, breachSinceMs: null, recoverSinceMs: null, drainSinceMs: null };

/** What the monitor remembers of one check between evaluations. */
export interface CheckRecord {
  readonly check: CheckDefinition;
  /** The last answer Prometheus gave. */
  readonly observation: Observation | null;
  /** Wall time of the observation, for people. */
  readonly observedAtMs: number | null;
  /** Monotonic time of the observation, for its age: a wall clock step must not stretch or cut STALE_AFTER. */
  readonly observedAtMonotonicMs: number | null;
  /** The last answer that had data, for onNoData=keepLast. */
  readonly lastData: Observation | null;
  /** Whether the last answer breached the check (no data included, as onNoData says). */
  readonly breach: boolean;
  /** Whether the drain trend was falling for every breaching series at the last answer. */
  readonly falling: boolean;
  readonly damping: Damping;
  /** The last failure, kept after recovery so /status can show it. */
  readonly lastError: CheckError | null;
  /** Failed attempts since the last success; 0 when the last attempt succeeded. */
  readonly consecutiveErrors: number;
  readonly lastDurationMs: number | null;
  /** Warnings Prometheus sent with the last answer (Thanos' partial responses, for one). */
  readonly warnings: readonly string[];
}

export function newRecord(check: CheckDefinition): CheckRecord {
  return {
    check,
    observation: null,
    observedAtMs: null,
    observedAtMonotonicMs: null,
    lastData: null,
    breach: false,
    falling: false,
    damping: CALM,
    lastError: null,
    consecutiveErrors: 0,
    lastDurationMs: null,
    warnings: [],
  };
}

/** One answer from Prometheus for a check, as the monitor hands it over. */
export interface CheckAnswer {
  readonly observation: Observation;
  readonly atMs: number;
  readonly atMonotonicMs: number;
  readonly durationMs: number;
  readonly warnings: readonly string[];
  /** The drain trend falls for every breaching series (false when the check has no drain or does not breach). */
  readonly falling: boolean;
}

/** The record after an answer: breach, `for`, `keepFor` and the drain clock advance. */
export function recordAnswer(record: CheckRecord, answer: CheckAnswer): CheckRecord {
  const { check } = record;
  const { observation } = answer;
  const lastData = observation.state === 'no_data' ? record.lastData : observation;
  const effective = effectiveObservation(check, observation, lastData);
  const breach = effective.state === 'fail' || (effective.state === 'no_data' && check.onNoData === 'fail');
  // A breach that ends while it was draining never failed /ready: its recovery is not held back by keepFor.
  const damping = !breach && wasDraining(record) ? CALM : advance(record.damping, breach, breach && answer.falling, answer.atMonotonicMs, check);
  return {
    ...record,
    observation,
    observedAtMs: answer.atMs,
    observedAtMonotonicMs: answer.atMonotonicMs,
    lastData,
    breach,
    falling: breach && answer.falling,
    damping,
    consecutiveErrors: 0,
    lastDurationMs: answer.durationMs,
    warnings: answer.warnings,
  };
}

/** The record after a failed attempt: the last answer stands (until STALE_AFTER, as judged). */
export function recordError(record: CheckRecord, error: CheckError, durationMs: number): CheckRecord {
  return { ...record, lastError: error, consecutiveErrors: record.consecutiveErrors + 1, lastDurationMs: durationMs };
}

/**
 * onNoData=keepLast: no data stands for the last answer that had data, if there was one, judged against the
 * check as it is now (a reload may have moved the threshold since).
 */
function effectiveObservation(check: CheckDefinition, observation: Observation, lastData: Observation | null): Observation {
  if (observation.state !== 'no_data' || check.onNoData !== 'keepLast' || lastData === null || lastData.value === null) return observation;
  return { ...lastData, state: within(check, lastData.value) ? 'pass' : 'fail' };
}

/** Whether the record's last answer was a breach inside its drain grace (so /ready passed). */
function wasDraining(record: CheckRecord): boolean {
  const { damping } = record;
  return record.breach && damping.firing && withinGrace(record.check.drain, record.falling, damping.drainSinceMs, record.observedAtMonotonicMs);
}

function advance(damping: Damping, breach: boolean, falling: boolean, nowMs: number, check: CheckDefinition): Damping {
  if (breach) {
    const breachSinceMs = damping.breachSinceMs ?? nowMs;
    const firing = damping.firing || nowMs - breachSinceMs >= check.forMs;
    const drainSinceMs = firing && falling ? (damping.drainSinceMs ?? nowMs) : damping.drainSinceMs;
    return { firing, breachSinceMs, recoverSinceMs: null, drainSinceMs };
  }
  // A breach whose `for` ran out while no answer came (Prometheus failing, the last answer standing) was judged
  // failed on time (judgeCheck): its recovery is held by keepFor too, or /ready would go from 500 to 200 at once.
  const firedOnTime = damping.breachSinceMs !== null && nowMs - damping.breachSinceMs >= check.forMs;
  if (!damping.firing && !firedOnTime) return CALM;
  const recoverSinceMs = damping.recoverSinceMs ?? nowMs;
  return nowMs - recoverSinceMs >= check.keepForMs ? CALM : { ...damping, firing: true, breachSinceMs: null, recoverSinceMs };
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
  /** For an unknown check: the setting that decided it, as the message names it. */
  readonly policy?: string;
}

/** The setting that decides an unknown check: its own onError, or ON_PROMETHEUS_ERROR. */
function policyName(check: CheckDefinition, onPrometheusError: ErrorPolicy): string {
  return check.onError === null || check.onError === 'keepLast' ? `ON_PROMETHEUS_ERROR=${onPrometheusError}` : `onError=${check.onError}`;
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

/**
 * Judges one check: the last observation stands, even after failed attempts, until it is STALE_AFTER old; then
 * the check's onError (or ON_PROMETHEUS_ERROR) decides, and keepLast keeps it standing however old.
 */
export function judgeCheck(record: CheckRecord, options: JudgeOptions): JudgedCheck {
  const { check, observation, observedAtMonotonicMs, damping } = record;
  const policy = check.onError ?? options.onPrometheusError;
  const fresh = observation !== null && observedAtMonotonicMs !== null && options.nowMonotonicMs - observedAtMonotonicMs < options.staleAfterMs;
  if (observation === null || (!fresh && policy !== 'keepLast')) {
    const cause = record.lastError === null ? 'no answer yet' : `${record.lastError.code}: ${record.lastError.message}`;
    // keepLast with nothing to keep falls back to ON_PROMETHEUS_ERROR.
    const ok = (policy === 'keepLast' ? options.onPrometheusError : policy) === 'pass';
    return { record, state: 'unknown', ok, stale: false, reason: `Prometheus could not be asked (${cause})`, policy: policyName(check, options.onPrometheusError) };
  }
  const stale = record.consecutiveErrors > 0 || !fresh;
  const effective = effectiveObservation(check, observation, record.lastData);
  const judged = (state: CheckState, ok: boolean, reason: string | null): JudgedCheck => ({
    record,
    state,
    ok,
    stale,
    reason: reason !== null && stale ? `${reason} (last known)` : reason,
  });
  const now = options.nowMonotonicMs;
  // `for` and `keepFor` run on time, not on answers: with Prometheus failing (onError keepLast, or within
  // STALE_AFTER) a breach that has outlasted `for` fails, and a recovery that has outlasted `keepFor` passes.
  const firing = record.breach
    ? damping.firing || (damping.breachSinceMs !== null && now - damping.breachSinceMs >= check.forMs)
    : damping.firing && damping.recoverSinceMs !== null && now - damping.recoverSinceMs < check.keepForMs;

  if (firing && !record.breach) {
    const left = check.keepForMs - (now - damping.recoverSinceMs!);
    return judged(
      'recovering',
      false,
      `${check.name} recovering: passing for ${seconds(now - damping.recoverSinceMs!)} of keepFor ${formatDuration(check.keepForMs)} (${seconds(left)} left)`,
    );
  }
  if (record.breach) {
    const why = failureMessage(check, effective);
    if (!firing) {
      return judged('pending', true, `${why} (pending: for ${seconds(now - damping.breachSinceMs!)} of ${formatDuration(check.forMs)})`);
    }
    const drain = check.drain;
    if (drain !== null && withinGrace(drain, record.falling, damping.drainSinceMs, now)) {
      return judged('draining', true, `${why} (draining for ${seconds(now - damping.drainSinceMs!)} of grace ${formatDuration(drain.graceMs)})`);
    }
    const graceSpent = drain !== null && record.falling ? ` (still draining after grace ${formatDuration(drain.graceMs)})` : '';
    return judged(effective.state === 'no_data' ? 'no_data' : 'fail', false, why + graceSpent);
  }
  if (effective.state === 'no_data') return judged('no_data', true, check.noDataMessage);
  return judged('pass', true, null);
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/** Judges every check and combines them. */
export function judge(records: readonly CheckRecord[], options: JudgeOptions): Verdict {
  return combine(
    records.map((record) => judgeCheck(record, options)),
    options.onPrometheusError,
  );
}

/**
 * One verdict of judged checks: healthy when all are ok; the message joins the reasons of those that are not,
 * each led by its group when the checks span several groups.
 */
export function combine(checks: readonly JudgedCheck[], onPrometheusError: ErrorPolicy): Verdict {
  const severalGroups = new Set(checks.map((check) => check.record.check.group)).size > 1;
  const because = (check: JudgedCheck): string => (severalGroups ? `${check.record.check.group}: ${check.reason!}` : check.reason!);
  const failing = checks.filter((check) => !check.ok && check.state !== 'unknown');
  const unknown = checks.filter((check) => check.state === 'unknown');
  const unknownOk = unknown.every((check) => check.ok);
  const healthy = failing.length === 0 && unknownOk;
  const state: VerdictState = failing.length > 0 ? 'fail' : unknown.length > 0 ? 'unknown' : 'pass';

  const reasons = failing.map(because);
  if (unknown.length > 0) {
    // One clause for every unknown check: they share a cause, and /ready stays short.
    const ids = unknown.map((check) => check.record.check.id).join(', ');
    const policies = [...new Set(unknown.map((check) => check.policy ?? `ON_PROMETHEUS_ERROR=${onPrometheusError}`))].join(', ');
    reasons.push(`${ids} unknown: ${unknown[0]!.reason}; ${policies}`);
  }
  // Breaches that do not fail /ready (yet), and checks without data: said, so that a 200 is not mistaken for all
  // clear (a missing series means the monitoring chain is broken, and nobody is watching the group).
  const notes = checks.filter((check) => check.state === 'pending' || check.state === 'draining' || (check.state === 'no_data' && check.ok)).map(because);
  const stale = checks.find((check) => check.stale);
  let message: string;
  if (!healthy) message = reasons.join('; ');
  else if (reasons.length > 0) message = `${HEALTHY_MESSAGE} (unverified: ${[...reasons, ...notes].join('; ')})`;
  else if (notes.length > 0) message = `${HEALTHY_MESSAGE} (${notes.join('; ')})`;
  else if (stale !== undefined) message = `${HEALTHY_MESSAGE} (last known; Prometheus failing: ${stale.record.lastError?.code ?? 'error'})`;
  else message = HEALTHY_MESSAGE;
  return { state, healthy, message, checks };
}
