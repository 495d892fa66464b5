// The JSON documents of /ready and /status, from what the monitor knows. Pure: rendered once per change,
// served from memory.
import type { CheckDefinition } from './checks.js';
import { formatDuration } from './duration.js';
import type { LagEstimates } from './estimates.js';
import { type FleetDecision, type FleetState, formatUnreadyLimit } from './fleet.js';
import { jsonNumber } from './json.js';
import { assessReadiness, judgedOf, oneLine, type ProbeView, type ReadinessReport, readiness } from './readiness.js';
import { describeConfig } from './settings.js';
import type { JudgedCheck } from './verdict.js';

export interface Rendered {
  readonly statusCode: number;
  readonly body: string;
}

/**
 * `/ready?verbose`, as the Kubernetes API server's /readyz?verbose writes it: a line per check, `[+]name ok` or
 * `[-]name failed: reason`, excluded checks marked, then the overall line.
 */
export function renderVerbose(
  view: ProbeView,
  selected: { readonly included: readonly CheckDefinition[]; readonly excluded: readonly CheckDefinition[] },
  decision: FleetDecision | null = view.snapshot?.fleet?.decision ?? null,
): Rendered {
  const judged = new Map(view.snapshot?.verdict.checks.map((check) => [check.record.check.id, check]));
  const line = (check: CheckDefinition): string => {
    const judgedCheck = judged.get(check.id);
    const reason = judgedCheck === undefined ? 'not evaluated yet' : judgedCheck.reason;
    const ok = judgedCheck?.ok === true;
    const note = reason === null || judgedCheck?.state === 'pass' ? '' : `: ${oneLine(reason)}`;
    return `[${ok ? '+' : '-'}]${check.id} ${ok ? 'ok' : 'failed'}${note}`;
  };
  const state = readiness(view, judgedOf(view, selected.included), decision);
  // Excluded checks are written as /readyz writes them, whatever their state: they do not count.
  const lines = [...selected.included.map(line), ...selected.excluded.map((check) => `[+]${check.id} excluded: ok`)];
  let last = `ready check ${state.healthy ? 'passed' : 'failed'}`;
  if (state.verdict === 'starting' || state.verdict === 'shutting_down') last += `: ${state.message}`;
  if (state.dry_run === true) last += ` (DRY_RUN: answering 200 instead of ${state.would_be_status_code})`;
  return { statusCode: state.statusCode, body: `${[...lines, last].join('\n')}\n` };
}

/** /ready's JSON body and status code, for everything or for a selection of judged checks. */
export function renderReady(view: ProbeView, selection?: readonly JudgedCheck[], decision: FleetDecision | null = view.snapshot?.fleet?.decision ?? null): Rendered {
  const { statusCode, ...body } = readiness(view, selection, decision);
  return { statusCode, body: JSON.stringify(body) };
}

/**
 * /status without its closing brace: everything but the uptime, which the server appends per request
 * (`,"uptime_seconds":n}`) so that the rest is rendered only when something changes.
 */
export function renderStatusHead(view: ProbeView, report: ReadinessReport = assessReadiness(view)): string {
  const { snapshot, config } = view;
  const { statusCode, healthy, message, verdict } = report.overall;
  const judged = new Map(snapshot?.verdict.checks.map((check) => [check.record.check.id, check]));
  const lastError = snapshot?.verdict.checks
    .map((check) => check.record.lastError)
    .filter((error) => error !== null)
    .sort((a, b) => b.atMs - a.atMs)[0];
  const document = {
    healthy,
    verdict,
    message,
    ready_status_code: statusCode,
    phase: view.phase,
    dry_run: config.dryRun,
    held_ready: report.overall.held_ready === true,
    fleet: describeFleet(snapshot?.fleet ?? null, report, view.callers ?? []),
    checks: Object.fromEntries(view.checks.map((check) => [check.id, describeCheck(check, judged.get(check.id))])),
    groups: Object.fromEntries(
      [...report.groups].map(([group, ready]) => [
        group,
        { healthy: ready.healthy, verdict: ready.verdict, message: ready.message, ...describeEstimates(snapshot?.estimates.get(group)) },
      ]),
    ),
    prometheus: {
      url: config.prometheusTarget,
      reachable: snapshot === null ? null : snapshot.failedEvaluations === 0,
      last_success: iso(snapshot?.lastSuccessMs ?? null),
      last_error: lastError === undefined ? null : { code: lastError.code, message: lastError.message, at: iso(lastError.atMs) },
      consecutive_errors: snapshot?.failedEvaluations ?? 0,
    },
    evaluation: {
      last_at: iso(snapshot?.evaluatedAtMs ?? null),
      count: snapshot?.evaluations ?? 0,
      interval: formatDuration(config.checkIntervalMs),
      schedule_offset_ms: snapshot?.schedule?.offsetMs ?? null,
      refused_in_a_row: snapshot?.schedule?.refusals ?? 0,
    },
    config: describeConfig(config),
    reload: view.reload == null ? null : { at: iso(view.reload.atMs), ok: view.reload.ok, error: view.reload.error },
    version: view.version,
    started_at: iso(view.startedAtMs),
  };
  return JSON.stringify(document).slice(0, -1);
}

/**
 * The end of /status: `,"uptime_seconds":n` padded with JSON whitespace to UPTIME_TAIL_BYTES, then `}`. A fixed
 * length lets the server prepare /status' headers, Content-Length included, once per change instead of per request.
 */
export function uptimeTail(startedAtMs: number, nowMs: number): string {
  return `,"uptime_seconds":${Math.max(0, Math.round(nowMs - startedAtMs) / 1000)}`.padEnd(UPTIME_TAIL_BYTES - 1) + '}';
}

/** Room for any uptime a process reaches (317 years is 10^10 seconds): ASCII, so characters are bytes. */
export const UPTIME_TAIL_BYTES = 40;

/**
 * Lag in time and churn, when the monitor asks them (the built-in checks): null where there is no estimate, with
 * the reason, so an idle producer or a stopped consumer never reads as NaN, +Inf or years.
 */
function describeEstimates(estimates: LagEstimates | undefined) {
  if (estimates === undefined) return {};
  return {
    lag: {
      behind_seconds: estimates.behindSeconds,
      drain_seconds: estimates.drainSeconds,
      membership_changes_10m: estimates.membershipChanges,
      ...(estimates.behindSeconds === null || estimates.drainSeconds === null
        ? {
            note: 'null: no estimate (a partition with lag whose producer is idle has no time behind; one whose consumer does not gain on its producer has no time to drain; nothing above a week; or the rules are missing)',
          }
        : {}),
    },
  };
}

/** The fleet limit as /status shows it: what was seen, what the limit allows, and where this replica stands. */
function describeFleet(fleet: FleetState | null, report: ReadinessReport, callers: readonly string[]) {
  if (fleet === null) return null;
  const { view, decision, settings } = fleet;
  const standing = report.ownUnready
    ? 'unready for its own reasons'
    : report.overall.held_ready === true
      ? 'held ready'
      : decision.unready
        ? 'its turn to be unready'
        : 'not in turn';
  return {
    source: view.source,
    self: settings.self,
    replicas: view.replicas,
    own_unready: view.ownUnready,
    max_unready: formatUnreadyLimit(settings.maxUnready),
    allowed_unready: decision.allowance,
    unready_turn: decision.turn,
    this_replica: standing,
    explanation: decision.explanation,
    rotate: formatDuration(settings.rotateMs),
    seen_at: iso(view.seenAtMs),
    callers,
    ...(view.source === 'none'
      ? {
          note:
            callers.length === 0
              ? 'No replica of this probe is visible (its series are not scraped with the fleet label, and no caller named itself): behaving as a fleet of one.'
              : `No replica of this probe is visible in Prometheus; ${callers.length} caller(s) named themselves (/ready?replica=): they are judged among themselves, plain /ready as a fleet of one.`,
        }
      : {}),
  };
}

function describeCheck(check: CheckDefinition, judged: JudgedCheck | undefined) {
  const record = judged?.record;
  const observation = record?.observation ?? null;
  return {
    name: check.name,
    group: check.group,
    state: judged?.state ?? 'not_evaluated',
    ok: judged?.ok ?? null,
    value: jsonNumber(observation?.value ?? null),
    threshold: check.comparison === 'range' ? null : check.threshold,
    ...(check.comparison === 'range' ? { min: check.min, max: check.max } : {}),
    comparison: check.comparison,
    scope: check.scope,
    on_no_data: check.onNoData,
    on_error: check.onError,
    for: formatDuration(check.forMs),
    keep_for: formatDuration(check.keepForMs),
    drain:
      check.drain === null
        ? null
        : {
            query: check.drain.query,
            grace: formatDuration(check.drain.graceMs),
            falling: record?.falling ?? false,
            since:
              record?.damping.drainSinceMs == null || record.observedAtMonotonicMs === null || record.observedAtMs === null
                ? null
                : iso(record.observedAtMs - (record.observedAtMonotonicMs - record.damping.drainSinceMs)),
          },
    message: judged?.reason ?? null,
    stale: judged?.stale ?? false,
    observed_at: iso(record?.observedAtMs ?? null),
    labels: observation?.labels ?? {},
    series: observation?.series ?? 0,
    query: check.query,
    query_duration_seconds: record?.lastDurationMs == null ? null : Math.round(record.lastDurationMs * 1000) / 1e6,
    last_error: record?.lastError == null ? null : { code: record.lastError.code, message: record.lastError.message, at: iso(record.lastError.atMs) },
    consecutive_errors: record?.consecutiveErrors ?? 0,
    warnings: record?.warnings ?? [],
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
