// The background loop: evaluates every check once per CHECK_INTERVAL, keeps what it learned, and hands each
// new snapshot to whoever renders responses. Requests never reach this file: a probe answer is served from
// memory, so the query rate depends on the interval alone.
import type { ErrorPolicy } from './config.js';
import { observe, type CheckDefinition, type Observation } from './checks.js';
import { ProbeError } from './errors.js';
import type { QueryResult } from './envelope.js';
import { silentLogger, type Logger } from './log.js';
import { judge, newRecord, recordAnswer, recordError, type CheckError, type CheckRecord, type Verdict } from './verdict.js';

/** Time as the monitor sees it; tests pass a controlled one. */
export interface Clock {
  /** Wall time in epoch milliseconds, for timestamps. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonicMs(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: Date.now,
  monotonicMs: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(), // never keep the process alive
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The part of the Prometheus client the monitor needs. */
export interface QueryClient {
  query(promql: string, signal?: AbortSignal): Promise<QueryResult>;
}

/** Bucket bounds of the query duration histogram, in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Cumulative counts since start, for /metrics. */
export interface CheckStats {
  /** Failed evaluations by error code. */
  readonly errors: Map<string, number>;
  /** Query durations: one cumulative count per bucket of DURATION_BUCKETS_S, then sum and count. */
  readonly durationBuckets: number[];
  durationSumS: number;
  durationCount: number;
}

/** Everything the monitor knows after an evaluation. Replaced, never changed, except the cumulative stats. */
export interface Snapshot {
  readonly evaluatedAtMs: number;
  readonly evaluations: number;
  readonly verdict: Verdict;
  /** When every query of an evaluation last succeeded. */
  readonly lastSuccessMs: number | null;
  /** Evaluations in a row in which some query failed. */
  readonly failedEvaluations: number;
  readonly stats: ReadonlyMap<string, CheckStats>;
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

export function createMonitor(options: MonitorOptions): Monitor {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const newStats = (): CheckStats => ({ errors: new Map(), durationBuckets: DURATION_BUCKETS_S.map(() => 0), durationSumS: 0, durationCount: 0 });
  let stats = new Map<string, CheckStats>(options.checks.map((check) => [check.id, newStats()]));
  let records: readonly CheckRecord[] = options.checks.map(newRecord);
  let snapshot: Snapshot | null = null;
  let evaluations = 0;
  let lastSuccessMs: number | null = null;
  let failedEvaluations = 0;
  let outageStartedMs: number | null = null;
  let errorCodes = '';
  let verdictKey = 'starting';
  let timer: unknown;
  let running = false;
  let stopped = false;
  let inFlight: Promise<Snapshot | null> | null = null;
  let abort: AbortController | null = null;

  async function evaluateRecord(record: CheckRecord, signal: AbortSignal): Promise<CheckRecord> {
    const started = clock.monotonicMs();
    const checkStats = stats.get(record.check.id)!;
    try {
      const result = await options.client.query(record.check.query, signal);
      const durationMs = clock.monotonicMs() - started;
      observeDuration(checkStats, durationMs);
      const observation = observe(record.check, result.samples);
      const trend = await drainTrend(record.check, observation, signal);
      return recordAnswer(record, {
        observation,
        atMs: clock.now(),
        atMonotonicMs: clock.monotonicMs(),
        durationMs,
        warnings: trend.warning === null ? result.warnings : [...result.warnings, trend.warning],
        falling: trend.falling,
      });
    } catch (error) {
      // Cancelled by us (a reload, a stop): says nothing about Prometheus, so no error count and no duration. The
      // evaluation is discarded anyway.
      if (signal.aborted) return record;
      const durationMs = clock.monotonicMs() - started;
      observeDuration(checkStats, durationMs);
      // Anything but a coded error is a bug of ours; it is still reported, never thrown out of the loop.
      const code = error instanceof ProbeError ? error.code : 'PROBE_INTERNAL';
      const message = error instanceof Error ? error.message : String(error);
      checkStats.errors.set(code, (checkStats.errors.get(code) ?? 0) + 1);
      const lastError: CheckError = { code, message, atMs: clock.now() };
      return recordError(record, lastError, durationMs);
    }
  }

  // Asked only while a check with a drain breaches: a healthy group costs no extra query. A failed trend query
  // means "not known to be draining", so the breach counts; the answer says why.
  async function drainTrend(check: CheckDefinition, observation: Observation, signal: AbortSignal): Promise<{ falling: boolean; warning: string | null }> {
    if (check.drain === null || observation.breaching === undefined || observation.breaching.length === 0) return { falling: false, warning: null };
    try {
      const trend = await options.client.query(check.drain.query, signal);
      return { falling: isDraining(observation.breaching, trend.samples), warning: null };
    } catch (error) {
      const code = error instanceof ProbeError ? error.code : 'PROBE_INTERNAL';
      return { falling: false, warning: `drain trend query failed (${code}): ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  async function runEvaluation(): Promise<Snapshot | null> {
    const controller = new AbortController();
    abort = controller;
    const evaluated = await Promise.all(records.map((record) => evaluateRecord(record, controller.signal)));
    abort = null;
    // Stopped mid-flight: the queries were cancelled by us, which says nothing about Prometheus.
    if (controller.signal.aborted) return snapshot;
    records = evaluated;
    evaluations += 1;
    publish();
    return snapshot;
  }

  function publish(): void {
    const nowMs = clock.now();
    const failed = records.filter((record) => record.consecutiveErrors > 0);
    noteErrors(failed, nowMs);
    if (failed.length === 0) lastSuccessMs = nowMs;
    failedEvaluations = failed.length === 0 ? 0 : failedEvaluations + 1;
    const verdict = judge(records, { nowMonotonicMs: clock.monotonicMs(), staleAfterMs: options.staleAfterMs, onPrometheusError: options.onPrometheusError });
    noteVerdict(verdict);
    snapshot = { evaluatedAtMs: nowMs, evaluations, verdict, lastSuccessMs, failedEvaluations, stats };
    try {
      options.onUpdate?.(snapshot);
    } catch (error) {
      log.log('error', 'render_failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  // One line when Prometheus starts failing or fails differently, one when it recovers: not one per tick.
  function noteErrors(failed: readonly CheckRecord[], nowMs: number): void {
    const codes = [...new Set(failed.map((record) => record.lastError!.code))].sort().join(',');
    if (codes === errorCodes) return;
    if (codes !== '') {
      outageStartedMs ??= nowMs;
      const first = failed[0]!.lastError!;
      log.log('warn', 'prometheus_error', { codes: codes.split(','), checks: failed.map((r) => r.check.id), error: first.message });
    } else {
      log.log('info', 'prometheus_recovered', {
        failed_evaluations: failedEvaluations,
        outage_seconds: outageStartedMs === null ? 0 : (nowMs - outageStartedMs) / 1000,
      });
      outageStartedMs = null;
    }
    errorCodes = codes;
  }

  function noteVerdict(verdict: Verdict): void {
    const failing = verdict.checks.filter((check) => !check.ok || check.state === 'unknown').map((check) => check.record.check.id);
    const key = `${verdict.state}:${verdict.healthy}:${failing.join(',')}`;
    if (key === verdictKey) return;
    const level = verdict.healthy ? 'info' : 'warn';
    log.log(level, 'verdict_changed', {
      from: verdictKey.split(':')[0],
      to: verdict.state,
      healthy: verdict.healthy,
      message: verdict.message,
      ...(options.dryRun === true ? { dry_run: true, would_be_status_code: verdict.healthy ? 200 : 500 } : {}),
    });
    verdictKey = key;
  }

  // Fixed rate: each tick is due one interval after the previous one was, so timer lateness does not add up.
  // An evaluation usually ends within QUERY_TIMEOUT, which is shorter than the interval; a breaching check with a
  // drain asks twice in a row and may take twice that. A tick due meanwhile waits: at most one is ever in flight.
  let dueAt = 0;
  async function tick(): Promise<void> {
    await evaluate();
    if (!running) return;
    const now = clock.monotonicMs();
    dueAt = Math.max(dueAt + options.intervalMs, now);
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
      // History is kept by what the check asks, as Prometheus keeps an alert's by its name and labels: editing a
      // threshold or a message must not turn a firing check back into a pending one.
      const key = (check: CheckDefinition): string => `${check.id}\u0000${check.query}`;
      const kept = new Map(records.map((record) => [key(record.check), record]));
      records = checks.map((check) => {
        const previous = kept.get(key(check));
        return previous === undefined ? newRecord(check) : { ...previous, check };
      });
      stats = new Map(checks.map((check) => [check.id, stats.get(check.id) ?? newStats()]));
      return evaluate();
    },
  };
}

function observeDuration(stats: CheckStats, durationMs: number): void {
  const seconds = durationMs / 1000;
  DURATION_BUCKETS_S.forEach((bound, index) => {
    if (seconds <= bound) stats.durationBuckets[index]! += 1;
  });
  stats.durationSumS += seconds;
  stats.durationCount += 1;
}

type Labels = Readonly<Record<string, string>>;

/**
 * Every breaching series drains: a trend series whose labels it all carries (the trend of its topic, say) has a
 * negative value. A breaching series without a trend is not known to drain.
 */
export function isDraining(breaching: readonly Labels[], trend: readonly { readonly value: number; readonly labels: Labels }[]): boolean {
  const matches = (series: Labels, candidate: Labels): boolean =>
    Object.entries(candidate).every(([name, value]) => name === '__name__' || series[name] === value);
  return breaching.every((series) => trend.some((sample) => sample.value < 0 && matches(series, sample.labels)));
}
