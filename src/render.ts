// The JSON documents of /ready and /status, from what the monitor knows. Pure: rendered once per change,
// served from memory.
import type { CheckDefinition } from './checks.js';
import { describeConfig, type Config } from './config.js';
import { formatDuration } from './duration.js';
import type { Snapshot } from './monitor.js';
import { combine, type JudgedCheck, type Verdict } from './verdict.js';

/** Where the process is in its life: /ready answers 503 outside `running`. */
export type Phase = 'starting' | 'running' | 'shutting_down';

/** Everything the documents are made of. */
export interface ProbeView {
  readonly phase: Phase;
  readonly snapshot: Snapshot | null;
  readonly config: Config;
  readonly checks: readonly CheckDefinition[];
  readonly version: string;
  readonly startedAtMs: number;
  /** The last SIGHUP reload, or null when there has been none. */
  readonly reload?: ReloadResult | null;
}

export interface ReloadResult {
  readonly atMs: number;
  readonly ok: boolean;
  /** Why the reload was refused (the old checks stay), or null. */
  readonly error: string | null;
}

/** Which checks a /ready request asks about: `?group=`, `/ready/NAME`, `?exclude=` (repeatable). */
export interface Selection {
  readonly group?: string;
  readonly name?: string;
  readonly exclude?: readonly string[];
}

/** The checks a selection names, or why it names nothing that exists. */
export type Selected =
  | { readonly ok: true; readonly included: readonly CheckDefinition[]; readonly excluded: readonly CheckDefinition[] }
  | { readonly ok: false; readonly statusCode: 400 | 404; readonly error: string; readonly message: string };

/** Unknown groups and check names are answered, never ignored: a typo in a probe must not read as healthy. */
export function select(checks: readonly CheckDefinition[], selection: Selection): Selected {
  const names = [...new Set(checks.map((check) => check.name))];
  const groups = [...new Set(checks.map((check) => check.group))];
  const list = (values: readonly string[]): string => values.map((value) => JSON.stringify(value)).join(', ');
  if (selection.group !== undefined && !groups.includes(selection.group)) {
    return { ok: false, statusCode: 404, error: 'unknown_group', message: `No consumer group ${JSON.stringify(selection.group)}; groups: ${list(groups)}` };
  }
  if (selection.name !== undefined && !names.includes(selection.name)) {
    return { ok: false, statusCode: 404, error: 'unknown_check', message: `No check ${JSON.stringify(selection.name)}; checks: ${list(names)}` };
  }
  const exclude = selection.exclude ?? [];
  const unknown = exclude.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    return { ok: false, statusCode: 400, error: 'unknown_check', message: `Cannot exclude ${list(unknown)}: no such check; checks: ${list(names)}` };
  }
  const inScope = checks.filter((check) => (selection.group === undefined || check.group === selection.group) && (selection.name === undefined || check.name === selection.name));
  const included = inScope.filter((check) => !exclude.includes(check.name));
  // Nothing left to judge would read as "System healthy" for ever: a probe written that way is a mistake.
  if (included.length === 0) {
    return { ok: false, statusCode: 400, error: 'nothing_selected', message: `Every check is excluded (${list(exclude)}): nothing is left to judge` };
  }
  return { ok: true, included, excluded: inScope.filter((check) => exclude.includes(check.name)) };
}

export interface Rendered {
  readonly statusCode: number;
  readonly body: string;
}

// kubelet reads at most 10 KiB of a probe's body; /ready stays under 4 KiB whatever the group or label values.
// Counted in bytes as JSON writes them: a control character takes 6.
const MAX_MESSAGE_JSON_BYTES = 2048;

/** What /ready says, before it is written out. */
export interface Readiness {
  readonly statusCode: 200 | 500 | 503;
  readonly healthy: boolean;
  readonly message: string;
  readonly verdict: string;
  readonly checks?: Readonly<Record<string, string>>;
  /** Per group, when several are judged. */
  readonly groups?: Readonly<Record<string, string>>;
  readonly dry_run?: true;
  /** Under DRY_RUN, what /ready would have answered. */
  readonly would_be_status_code?: 200 | 500 | 503;
}

/** /ready: 200 healthy, 500 not, 503 while starting or shutting down; under DRY_RUN always 200. */
export function readiness(view: ProbeView, selection?: readonly JudgedCheck[]): Readiness {
  const truth = actualReadiness(view, selection);
  if (!view.config.dryRun) return truth;
  return { ...truth, statusCode: 200, dry_run: true, would_be_status_code: truth.statusCode };
}

/** The verdict over the selected checks (all of them by default), or undefined before the first evaluation. */
function selectedVerdict(view: ProbeView, selection?: readonly JudgedCheck[]): Verdict | undefined {
  const verdict = view.snapshot?.verdict;
  if (verdict === undefined || selection === undefined) return verdict;
  return combine(selection, view.config.onPrometheusError);
}

/** The judged checks of a selection, in configuration order (empty before the first evaluation). */
export function judgedOf(view: ProbeView, checks: readonly CheckDefinition[]): readonly JudgedCheck[] {
  const ids = new Set(checks.map((check) => check.id));
  return view.snapshot?.verdict.checks.filter((check) => ids.has(check.record.check.id)) ?? [];
}

function actualReadiness(view: ProbeView, selection: readonly JudgedCheck[] | undefined): Readiness {
  if (view.phase === 'shutting_down') {
    return { statusCode: 503, healthy: false, message: 'Shutting down', verdict: 'shutting_down' };
  }
  const verdict = selectedVerdict(view, selection);
  if (verdict === undefined) {
    return { statusCode: 503, healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' };
  }
  const message = shorten(verdict.message, MAX_MESSAGE_JSON_BYTES);
  const groups = [...new Set(verdict.checks.map((check) => check.record.check.group))];
  return {
    statusCode: verdict.healthy ? 200 : 500,
    healthy: verdict.healthy,
    message,
    verdict: verdict.state,
    checks: Object.fromEntries(verdict.checks.map((check) => [check.record.check.id, check.state])),
    ...(groups.length > 1
      ? { groups: Object.fromEntries(groups.map((group) => [group, combine(verdict.checks.filter((check) => check.record.check.group === group), view.config.onPrometheusError).state])) }
      : {}),
  };
}

/**
 * `/ready?verbose`, as the Kubernetes API server's /readyz?verbose writes it: a line per check, `[+]name ok` or
 * `[-]name failed: reason`, excluded checks marked, then the overall line.
 */
export function renderVerbose(view: ProbeView, selected: { readonly included: readonly CheckDefinition[]; readonly excluded: readonly CheckDefinition[] }): Rendered {
  const judged = new Map(view.snapshot?.verdict.checks.map((check) => [check.record.check.id, check]));
  const line = (check: CheckDefinition): string => {
    const one = judged.get(check.id);
    const reason = one === undefined ? 'not evaluated yet' : one.reason;
    const ok = one?.ok === true;
    const note = reason === null || one?.state === 'pass' ? '' : `: ${oneLine(reason)}`;
    return `[${ok ? '+' : '-'}]${check.id} ${ok ? 'ok' : 'failed'}${note}`;
  };
  const state = readiness(view, judgedOf(view, selected.included));
  // Excluded checks are written as /readyz writes them, whatever their state: they do not count.
  const lines = [...selected.included.map(line), ...selected.excluded.map((check) => `[+]${check.id} excluded: ok`)];
  let last = `ready check ${state.healthy ? 'passed' : 'failed'}`;
  if (state.verdict === 'starting' || state.verdict === 'shutting_down') last += `: ${state.message}`;
  if (state.dry_run === true) last += ` (DRY_RUN: answering 200 instead of ${state.would_be_status_code})`;
  return { statusCode: state.statusCode, body: `${[...lines, last].join('\n')}\n` };
}

function oneLine(text: string): string {
  return shorten(text.replace(/[\r\n]+/g, ' '), MAX_MESSAGE_JSON_BYTES);
}

/** `text`, cut (on a code point, with an ellipsis) so that its JSON form fits `maxBytes`. */
export function shorten(text: string, maxBytes: number): string {
  const fits = (candidate: string): boolean => Buffer.byteLength(JSON.stringify(candidate)) <= maxBytes;
  if (fits(text)) return text;
  const codePoints = Array.from(text);
  let keep = Math.min(codePoints.length, maxBytes);
  while (keep > 0 && !fits(`${codePoints.slice(0, keep).join('')}…`)) keep = Math.floor(keep * 0.9);
  return `${codePoints.slice(0, keep).join('')}…`;
}

export function renderReady(view: ProbeView, selection?: readonly JudgedCheck[]): Rendered {
  const { statusCode, ...body } = readiness(view, selection);
  return { statusCode, body: JSON.stringify(body) };
}

/**
 * /status without its closing brace: everything but the uptime, which the server appends per request
 * (`,"uptime_seconds":n}`) so that the rest is rendered only when something changes.
 */
export function renderStatusHead(view: ProbeView): string {
  const { snapshot, config } = view;
  const { statusCode, healthy, message, verdict } = readiness(view);
  const judged = new Map(snapshot?.verdict.checks.map((check) => [check.record.check.id, check]));
  const lastError = snapshot?.verdict.checks
    .map((check) => check.record.lastError)
    .filter((error) => error !== null)
    .sort((a, b) => b.atMs - a.atMs)[0];
  const groups = [...new Set(view.checks.map((check) => check.group))];
  const document = {
    healthy,
    verdict,
    message,
    ready_status_code: statusCode,
    phase: view.phase,
    dry_run: config.dryRun,
    checks: Object.fromEntries(view.checks.map((check) => [check.id, describeCheck(check, judged.get(check.id))])),
    groups: Object.fromEntries(
      groups.map((group) => {
        const one = readiness(view, judgedOf(view, view.checks.filter((check) => check.group === group)));
        return [group, { healthy: one.healthy, verdict: one.verdict, message: one.message }];
      }),
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
            since: record?.damping.drainSinceMs == null || record.observedAtMonotonicMs === null || record.observedAtMs === null
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
    last_error:
      record?.lastError == null ? null : { code: record.lastError.code, message: record.lastError.message, at: iso(record.lastError.atMs) },
    consecutive_errors: record?.consecutiveErrors ?? 0,
    warnings: record?.warnings ?? [],
  };
}

/** JSON has no infinities: they are written as Prometheus writes them. */
function jsonNumber(value: number | null): number | string | null {
  if (value === null || Number.isFinite(value)) return value;
  return value > 0 ? '+Inf' : '-Inf';
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
