// The background loop: evaluates every check once per CHECK_INTERVAL, keeps what it learned, and hands each
// new snapshot to whoever renders responses. Requests never reach this file: a probe answer is served from
// memory, so the query rate depends on the interval alone. What is decided here is decided by pure functions of
// the core (verdict, history); this file holds the timers, the queries in flight and the state between ticks.
import { type Clock, systemClock } from './clock.js';
import { gridOriginMs, nextTickMs, REFUSAL_CODES } from './core/backoff.js';
import { type CheckDefinition, type Observation, observe } from './core/checks.js';
import { isDraining } from './core/drain.js';
import type { QueryResult } from './core/envelope.js';
import { codeOf, messageOf, PrometheusError } from './core/errors.js';
import { estimatesQuery, type LagEstimates, NO_ESTIMATES, parseEstimates } from './core/estimates.js';
import { decideFleet, type FleetLearning, type FleetState, type FleetView, loneFleet, nextFleet } from './core/fleet.js';
import {
  carryOver,
  type ErrorTrack,
  errorTransition,
  FIRST_VERDICT_KEY,
  type FleetTrack,
  fleetTransition,
  NO_ERRORS,
  NO_FLEET_TRACK,
  noDataTransition,
  verdictTransition,
} from './core/history.js';
import { limitVerdict } from './core/readiness.js';
import type { ErrorPolicy } from './core/settings.js';
import { type CheckStats, NO_STATS, type Snapshot, withDuration, withError } from './core/snapshot.js';
import type { LogEvent } from './core/types.js';
import { type CheckRecord, judge, newRecord, recordAnswer, recordError } from './core/verdict.js';
import { type Logger, silentLogger } from './log.js';

/** The part of the Prometheus client the monitor needs. */
export interface QueryClient {
  query(promql: string, signal?: AbortSignal): Promise<QueryResult>;
}

export interface MonitorOptions {
  readonly checks: readonly CheckDefinition[];
  readonly client: QueryClient;
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly onPrometheusError: ErrorPolicy;
  /** DRY_RUN: verdict changes are logged as what /ready would say. */
  readonly dryRun?: boolean;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly onUpdate?: (snapshot: Snapshot) => void;
  /** The fleet limit: how to learn the fleet and apply FLEET_MAX_UNREADY. Absent: no limit, as `check` alone. */
  readonly fleet?: FleetLearning;
  /** The groups whose lag in time and churn /status shows: one query each per evaluation. Absent: none asked. */
  readonly estimateGroups?: readonly string[];
  /**
   * Where in each interval this probe asks (core/backoff.ts scheduleOffsetMs: from POD_NAME): after the first
   * evaluation, at once, ticks fall on wall times `k x interval + offset`. Default 0.
   */
  readonly scheduleOffsetMs?: number;
  /** Randomness for the backoff's jitter, in [0, 1). Default Math.random; tests pass a fixed one. */
  readonly random?: () => number;
}

export interface Monitor {
  /** Starts the loop: the first evaluation at once, then one per interval. */
  start(): void;
  /** Stops the loop and aborts an evaluation in flight. */
  stop(): Promise<void>;
  /** One evaluation now (used by start and by tests); never rejects. Null only if stopped before any finished. */
  evaluate(): Promise<Snapshot | null>;
  current(): Snapshot | null;
  /**
   * New checks (a reload): an evaluation in flight is cancelled, a check with the same id and query keeps its
   * history (its `for`, `keepFor` and drain clocks, its counters), and the new set is evaluated at once.
   */
  replaceChecks(checks: readonly CheckDefinition[]): Promise<Snapshot | null>;
}

/** One check after one attempt: its record and counters as they now stand. */
interface Evaluated {
  readonly record: CheckRecord;
  readonly stats: CheckStats;
}

export function createMonitor(options: MonitorOptions): Monitor {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const emit = (event: LogEvent | null): void => {
    if (event !== null) log.log(event.level, event.event, event.fields);
  };
  let stats: ReadonlyMap<string, CheckStats> = new Map(options.checks.map((check) => [check.id, NO_STATS]));
  let records: readonly CheckRecord[] = options.checks.map(newRecord);
  let snapshot: Snapshot | null = null;
  let evaluations = 0;
  let lastSuccessMs: number | null = null;
  let failedEvaluations = 0;
  let errorTrack: ErrorTrack = NO_ERRORS;
  let verdictKey = FIRST_VERDICT_KEY;
  let noDataKey = '';
  let fleetView: FleetView | null = options.fleet === undefined ? null : loneFleet(options.fleet.settings.self);
  let fleetAskedAtMs: number | null = null;
  let fleetTrack: FleetTrack = NO_FLEET_TRACK;
  let estimates: ReadonlyMap<string, LagEstimates> = new Map();
  let timer: unknown;
  let running = false;
  let stopped = false;
  let inFlight: Promise<Snapshot | null> | null = null;
  let abort: AbortController | null = null;
  const scheduleOffsetMs = options.scheduleOffsetMs ?? 0;
  const random = options.random ?? Math.random;
  /** Evaluations in a row the backend refused (429, 503), and the longest Retry-After of the last one. */
  let refusals = 0;
  let retryAfterMs: number | null = null;
  /** What the queries of the evaluation in flight met: a refusal, and its Retry-After. */
  let refused: { any: boolean; retryAfterMs: number | null } = { any: false, retryAfterMs: null };

  /** Every query goes through here, so a refusal is seen whichever query met it (check, drain, fleet, estimates). */
  async function ask(promql: string, signal: AbortSignal): Promise<QueryResult> {
    const seen = refused;
    try {
      return await options.client.query(promql, signal);
    } catch (error) {
      if (!signal.aborted && error instanceof PrometheusError && REFUSAL_CODES.has(error.code)) {
        seen.any = true;
        if (error.retryAfterMs !== undefined) seen.retryAfterMs = Math.max(seen.retryAfterMs ?? 0, error.retryAfterMs);
      }
      throw error;
    }
  }

  async function evaluateRecord(record: CheckRecord, before: CheckStats, signal: AbortSignal): Promise<Evaluated> {
    const started = clock.monotonicMs();
    try {
      const result = await ask(record.check.query, signal);
      const durationMs = clock.monotonicMs() - started;
      const observation = observe(record.check, result.samples);
      const trend = await drainTrend(record.check, observation, signal);
      const answered = recordAnswer(record, {
        observation,
        atMs: clock.now(),
        atMonotonicMs: clock.monotonicMs(),
        durationMs,
        warnings: trend.warning === null ? result.warnings : [...result.warnings, trend.warning],
        falling: trend.falling,
      });
      return { record: answered, stats: withDuration(before, durationMs) };
    } catch (error) {
      // Cancelled by us (a reload, a stop): says nothing about Prometheus, so no error count and no duration. The
      // evaluation is discarded anyway.
      if (signal.aborted) return { record, stats: before };
      const durationMs = clock.monotonicMs() - started;
      // Anything but a coded error is a bug of ours; it is still reported, never thrown out of the loop.
      const code = codeOf(error);
      return {
        record: recordError(record, { code, message: messageOf(error), atMs: clock.now() }, durationMs),
        stats: withError(withDuration(before, durationMs), code),
      };
    }
  }

  // Asked only while a check with a drain breaches: a healthy group costs no extra query. A failed trend query
  // means "not known to be draining", so the breach counts; the answer says why.
  async function drainTrend(check: CheckDefinition, observation: Observation, signal: AbortSignal): Promise<{ falling: boolean; warning: string | null }> {
    if (check.drain === null || observation.breaching === undefined || observation.breaching.length === 0) return { falling: false, warning: null };
    try {
      const trend = await ask(check.drain.query, signal);
      return { falling: isDraining(observation.breaching, trend.samples), warning: null };
    } catch (error) {
      return { falling: false, warning: `drain trend query failed (${codeOf(error)}): ${messageOf(error)}` };
    }
  }

  // Asked while a group-wide check breaches (the fleet decides who is unready then), and every refreshMs otherwise:
  // a healthy group costs one query a minute. undefined: not asked; null: asked and failed.
  async function askFleet(evaluated: readonly CheckRecord[], signal: AbortSignal): Promise<readonly { name: string; ownUnready: boolean }[] | null | undefined> {
    const fleet = options.fleet;
    if (fleet === undefined) return undefined;
    // Not while Prometheus fails this evaluation: the fleet query would wait out its own QUERY_TIMEOUT after the
    // checks' (a stalled Prometheus doubled every evaluation, measured by the benchmark), and fail the same way.
    // The last fleet seen stands meanwhile; an unknown verdict that fails /ready is limited by it.
    if (evaluated.some((record) => record.consecutiveErrors > 0)) return undefined;
    const troubled = evaluated.some((record) => record.check.scope === 'group' && record.breach);
    const now = clock.monotonicMs();
    if (!troubled && fleetAskedAtMs !== null && now - fleetAskedAtMs < fleet.refreshMs) return undefined;
    fleetAskedAtMs = now;
    try {
      const answer = await ask(fleet.query, signal);
      return answer.samples.map((sample) => ({ name: sample.labels[fleet.label] ?? '', ownUnready: sample.value >= 1 }));
    } catch {
      // The last fleet seen stands (nextFleet); the checks' own errors say what is wrong with Prometheus.
      return null;
    }
  }

  // Lag in time and churn, for /status: asked beside the checks. A failed query leaves a group's estimates unknown
  // (null), never failing anything: the checks' own errors say what is wrong with Prometheus.
  async function askEstimates(signal: AbortSignal): Promise<ReadonlyMap<string, LagEstimates>> {
    const groups = options.estimateGroups ?? [];
    const answers = await Promise.all(
      groups.map(async (group): Promise<[string, LagEstimates]> => {
        try {
          return [group, parseEstimates((await ask(estimatesQuery(group), signal)).samples)];
        } catch {
          return [group, NO_ESTIMATES];
        }
      }),
    );
    return new Map(answers);
  }

  async function runEvaluation(): Promise<Snapshot | null> {
    const controller = new AbortController();
    abort = controller;
    const met = { any: false, retryAfterMs: null as number | null };
    refused = met;
    let evaluated: readonly Evaluated[];
    let fleetAnswer: Awaited<ReturnType<typeof askFleet>>;
    let asked: ReadonlyMap<string, LagEstimates>;
    try {
      [evaluated, asked] = await Promise.all([
        Promise.all(records.map((record) => evaluateRecord(record, stats.get(record.check.id) ?? NO_STATS, controller.signal))),
        askEstimates(controller.signal),
      ]);
      fleetAnswer = controller.signal.aborted
        ? undefined
        : await askFleet(
            evaluated.map((result) => result.record),
            controller.signal,
          );
    } finally {
      abort = null;
    }
    // Stopped mid-flight: the queries were cancelled by us, which says nothing about Prometheus.
    if (controller.signal.aborted) return snapshot;
    records = evaluated.map((result) => result.record);
    estimates = asked;
    refusals = met.any ? refusals + 1 : 0;
    retryAfterMs = met.any ? met.retryAfterMs : null;
    stats = new Map(evaluated.map((result) => [result.record.check.id, result.stats]));
    if (fleetAnswer !== undefined && fleetView !== null && options.fleet !== undefined) {
      fleetView = nextFleet(fleetView, fleetAnswer, clock.now(), options.fleet.standsForMs, options.fleet.settings.self);
    }
    evaluations += 1;
    publish();
    return snapshot;
  }

  function publish(): void {
    const nowMs = clock.now();
    const failed = records.filter((record) => record.consecutiveErrors > 0);
    const errors = errorTransition(errorTrack, failed, nowMs, failedEvaluations);
    errorTrack = errors.track;
    emit(errors.event);
    if (failed.length === 0) lastSuccessMs = nowMs;
    failedEvaluations = failed.length === 0 ? 0 : failedEvaluations + 1;
    const verdict = judge(records, { nowMonotonicMs: clock.monotonicMs(), staleAfterMs: options.staleAfterMs, onPrometheusError: options.onPrometheusError });
    const change = verdictTransition(verdictKey, verdict, options.dryRun === true);
    verdictKey = change.key;
    emit(change.event);
    const noData = noDataTransition(noDataKey, verdict);
    noDataKey = noData.key;
    emit(noData.event);
    let fleet: FleetState | null = null;
    if (fleetView !== null && options.fleet !== undefined) {
      fleet = { view: fleetView, decision: decideFleet(fleetView, options.fleet.settings, nowMs), settings: options.fleet.settings };
      const fleetChange = fleetTransition(fleetTrack, fleet, limitVerdict(verdict, options.onPrometheusError, fleet.decision));
      fleetTrack = fleetChange.track;
      for (const event of fleetChange.events) emit(event);
    }
    snapshot = {
      evaluatedAtMs: nowMs,
      evaluations,
      verdict,
      lastSuccessMs,
      failedEvaluations,
      stats,
      fleet,
      estimates,
      schedule: { offsetMs: scheduleOffsetMs, refusals },
    };
    try {
      options.onUpdate?.(snapshot);
    } catch (error) {
      log.log('error', 'render_failed', { error: messageOf(error) });
    }
  }

  // Fixed rate on a grid: after the first evaluation (at once), ticks are due at wall times k x interval + offset,
  // each one interval after the previous one was due, so timer lateness does not add up and replicas with different
  // offsets stay apart. An evaluation usually ends within QUERY_TIMEOUT, which is shorter than the interval; a
  // breaching check with a drain asks twice in a row and may take twice that. A tick due meanwhile waits: at most
  // one is ever in flight. While the backend refuses (429, 503), the next tick backs off with jitter and waits out
  // Retry-After, never longer than STALE_AFTER; the first evaluation that is not refused returns to the grid.
  let dueAt = 0;
  let originMs = 0;
  async function tick(): Promise<void> {
    await evaluate();
    if (!running) return;
    const now = clock.monotonicMs();
    dueAt = nextTickMs({
      originMs,
      intervalMs: options.intervalMs,
      staleAfterMs: options.staleAfterMs,
      lastDueMs: dueAt,
      nowMs: now,
      refusals,
      retryAfterMs,
      random: random(),
    });
    timer = clock.setTimeout(() => void tick(), dueAt - now);
  }

  function evaluate(): Promise<Snapshot | null> {
    inFlight ??= runEvaluation().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  return {
    start() {
      if (running) return;
      running = true;
      dueAt = clock.monotonicMs();
      originMs = gridOriginMs(dueAt, clock.now(), options.intervalMs, scheduleOffsetMs);
      void tick();
    },
    async stop() {
      running = false;
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      abort?.abort();
      await inFlight?.catch(() => undefined);
    },
    evaluate,
    current: () => snapshot,
    async replaceChecks(checks) {
      abort?.abort();
      await inFlight?.catch(() => undefined);
      // Stopped meanwhile (a SIGTERM after the SIGHUP): nothing more is asked of a client about to close.
      if (stopped) return snapshot;
      ({ records, stats } = carryOver(records, stats, checks));
      return evaluate();
    },
  };
}
