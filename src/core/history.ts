// What the monitor carries from one evaluation to the next, as pure functions: the history a reload keeps, and
// the log lines a change deserves (one when it begins, one when it ends, never one per tick).
import type { CheckDefinition } from './checks.js';
import type { FleetState } from './fleet.js';
import type { LimitedVerdict } from './readiness.js';
import { type CheckStats, NO_STATS } from './snapshot.js';
import type { LogEvent } from './types.js';
import { type CheckRecord, newRecord, type Verdict } from './verdict.js';

/**
 * The records and counters for a new set of checks (a reload). A check keeps its history when its id and query
 * are unchanged, as Prometheus keeps an alert's by its name and labels: editing a threshold or a message must not
 * turn a firing check back into a pending one. Counters are kept by id.
 */
export function carryOver(
  records: readonly CheckRecord[],
  stats: ReadonlyMap<string, CheckStats>,
  checks: readonly CheckDefinition[],
): { readonly records: readonly CheckRecord[]; readonly stats: ReadonlyMap<string, CheckStats> } {
  const key = (check: CheckDefinition): string => `${check.id}\u0000${check.query}`;
  const kept = new Map(records.map((record) => [key(record.check), record]));
  return {
    records: checks.map((check) => {
      const previous = kept.get(key(check));
      return previous === undefined ? newRecord(check) : { ...previous, check };
    }),
    stats: new Map(checks.map((check) => [check.id, stats.get(check.id) ?? NO_STATS])),
  };
}

/** Where Prometheus errors stand between evaluations. */
export interface ErrorTrack {
  /** The failing codes, sorted and joined; '' while every query succeeds. */
  readonly codes: string;
  /** Wall time the current outage began, or null. */
  readonly outageStartedMs: number | null;
}

export const NO_ERRORS: ErrorTrack = { codes: '', outageStartedMs: null };

/**
 * One line when Prometheus starts failing or fails differently, one when it recovers. `failedEvaluations` is the
 * count of failed evaluations in a row before this one, for the recovery line.
 */
export function errorTransition(
  track: ErrorTrack,
  failed: readonly CheckRecord[],
  nowMs: number,
  failedEvaluations: number,
): { readonly track: ErrorTrack; readonly event: LogEvent | null } {
  const codes = [...new Set(failed.map((record) => record.lastError!.code))].sort().join(',');
  if (codes === track.codes) return { track, event: null };
  if (codes !== '') {
    const first = failed[0]!.lastError!;
    return {
      track: { codes, outageStartedMs: track.outageStartedMs ?? nowMs },
      event: { level: 'warn', event: 'prometheus_error', fields: { codes: codes.split(','), checks: failed.map((record) => record.check.id), error: first.message } },
    };
  }
  return {
    track: NO_ERRORS,
    event: {
      level: 'info',
      event: 'prometheus_recovered',
      fields: { failed_evaluations: failedEvaluations, outage_seconds: track.outageStartedMs === null ? 0 : (nowMs - track.outageStartedMs) / 1000 },
    },
  };
}

/** Before the first verdict. */
export const FIRST_VERDICT_KEY = 'starting';

/** One line when the verdict, its health or the set of checks that are not ok changes. */
export function verdictTransition(previousKey: string, verdict: Verdict, dryRun: boolean): { readonly key: string; readonly event: LogEvent | null } {
  const failing = verdict.checks.filter((check) => !check.ok || check.state === 'unknown').map((check) => check.record.check.id);
  const key = `${verdict.state}:${verdict.healthy}:${failing.join(',')}`;
  if (key === previousKey) return { key, event: null };
  return {
    key,
    event: {
      level: verdict.healthy ? 'info' : 'warn',
      event: 'verdict_changed',
      fields: {
        from: previousKey.split(':')[0],
        to: verdict.state,
        healthy: verdict.healthy,
        message: verdict.message,
        ...(dryRun ? { dry_run: true, would_be_status_code: verdict.healthy ? 200 : 500 } : {}),
      },
    },
  };
}

/**
 * One line when a spell of missing data begins (naming the likely causes the messages give), and one when no check
 * lacks data any more. `previous` is the ids without data at the last evaluation, joined.
 */
export function noDataTransition(previous: string, verdict: Verdict): { readonly key: string; readonly event: LogEvent | null } {
  const missing = verdict.checks.filter((check) => check.state === 'no_data');
  const key = missing.map((check) => check.record.check.id).join(',');
  // A spell of missing data is one event, however its checks come and go while it lasts.
  if (key === previous || (key !== '' && previous !== '')) return { key, event: null };
  if (key === '') return { key, event: { level: 'info', event: 'no_data_ended', fields: { checks: previous.split(',') } } };
  return {
    key,
    event: {
      level: 'warn',
      event: 'no_data',
      fields: {
        checks: missing.map((check) => check.record.check.id),
        message: missing.map((check) => check.record.check.noDataMessage).join('; '),
        fails_readiness: missing.some((check) => !check.ok),
      },
    },
  };
}

/** What the fleet lines last said. */
export interface FleetTrack {
  /** Source, replicas and those unready for their own reasons, joined; null before the first evaluation. */
  readonly fleetKey: string | null;
  readonly held: boolean;
}

export const NO_FLEET_TRACK: FleetTrack = { fleetKey: null, held: false };

/** A line when the fleet as seen changes (or is not seen at all), and when this replica begins or ends being held ready. */
export function fleetTransition(track: FleetTrack, fleet: FleetState, limited: LimitedVerdict): { readonly track: FleetTrack; readonly events: readonly LogEvent[] } {
  const { view, decision, settings } = fleet;
  const fleetKey = `${view.source}|${view.replicas.join(',')}|${view.ownUnready.join(',')}`;
  const events: LogEvent[] = [];
  if (fleetKey !== track.fleetKey) {
    events.push(
      view.source === 'none'
        ? {
            level: 'warn',
            event: 'fleet_not_seen',
            fields: {
              self: settings.self,
              message: 'no replica of this probe is visible: behaving as a fleet of one (every group-wide failure makes this replica unready)',
            },
          }
        : {
            level: 'info',
            event: 'fleet_changed',
            fields: { source: view.source, self: settings.self, replicas: view.replicas, own_unready: view.ownUnready, max_unready: decision.allowance },
          },
    );
  }
  if (limited.held !== track.held) {
    events.push(
      limited.held
        ? { level: 'warn', event: 'held_ready', fields: { message: limited.message, would_be_status_code: 500, unready_now: decision.turn } }
        : { level: 'info', event: 'held_ready_ended', fields: { ready: limited.ready } },
    );
  }
  return { track: { fleetKey, held: limited.held }, events };
}
