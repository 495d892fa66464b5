// Readiness: who is ready, with what status code and why. One pure function of the view that every answer
// consumes (/ready, its selections and ?verbose, /status, application/health+json, /metrics, `check`), so they
// all tell the same story.
import type { CheckDefinition } from './checks.js';
import type { FleetDecision } from './fleet.js';
import { utf8Length } from './json.js';
import type { Config, ErrorPolicy } from './settings.js';
import type { Snapshot } from './snapshot.js';
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
  /** The Node.js version, for crm_events_health_build_info. */
  readonly nodeVersion: string;
  readonly startedAtMs: number;
  /** Callers that named themselves on /ready?replica= in the last minute (one probe shared by several containers). */
  readonly callers?: readonly string[];
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
  const inScope = checks.filter(
    (check) => (selection.group === undefined || check.group === selection.group) && (selection.name === undefined || check.name === selection.name),
  );
  const included = inScope.filter((check) => !exclude.includes(check.name));
  // Nothing left to judge would read as "System healthy" for ever: a probe written that way is a mistake.
  if (included.length === 0) {
    return { ok: false, statusCode: 400, error: 'nothing_selected', message: `Every check is excluded (${list(exclude)}): nothing is left to judge` };
  }
  return { ok: true, included, excluded: inScope.filter((check) => exclude.includes(check.name)) };
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
  /**
   * The verdict fails group-wide, but the fleet limit keeps this replica ready: others are unready for it
   * (`healthy` and `verdict` still say what the checks found; `message` says why it is held).
   */
  readonly held_ready?: true;
  readonly dry_run?: true;
  /** Under DRY_RUN, what /ready would have answered. */
  readonly would_be_status_code?: 200 | 500 | 503;
}

/** A verdict with the fleet limit applied: whether this replica answers ready, and what it says. */
export interface LimitedVerdict {
  readonly ready: boolean;
  readonly held: boolean;
  readonly message: string;
}

/**
 * The fleet limit applied to a verdict. A check of this replica alone (scope `replica`) that fails makes it
 * unready whatever the limit; a group-wide failure does so only in this replica's turn. Without a decision (no
 * limit) every failure makes it unready, as it always did. The turn is named only when there is a fleet to speak of.
 */
export function limitVerdict(verdict: Verdict, onPrometheusError: ErrorPolicy, decision: FleetDecision | null): LimitedVerdict {
  if (verdict.healthy) return { ready: true, held: false, message: verdict.message };
  const ownChecks = verdict.checks.filter((check) => check.record.check.scope === 'replica');
  if (decision === null || !combine(ownChecks, onPrometheusError).healthy) return { ready: false, held: false, message: verdict.message };
  if (decision.unready) return { ready: false, held: false, message: decision.fleetSize > 1 ? `${verdict.message} (${decision.explanation})` : verdict.message };
  return { ready: true, held: true, message: `${decision.explanation}; the verdict: ${verdict.message}` };
}

/** /ready: 200 healthy or held ready, 500 not, 503 while starting or shutting down; under DRY_RUN always 200. */
export function readiness(view: ProbeView, selection?: readonly JudgedCheck[], decision: FleetDecision | null = view.snapshot?.fleet?.decision ?? null): Readiness {
  const actual = actualReadiness(view, selection, decision);
  if (!view.config.dryRun) return actual;
  return { ...actual, statusCode: 200, dry_run: true, would_be_status_code: actual.statusCode };
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

function actualReadiness(view: ProbeView, selection: readonly JudgedCheck[] | undefined, decision: FleetDecision | null): Readiness {
  if (view.phase === 'shutting_down') {
    return { statusCode: 503, healthy: false, message: 'Shutting down', verdict: 'shutting_down' };
  }
  const verdict = selectedVerdict(view, selection);
  if (verdict === undefined) {
    return { statusCode: 503, healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' };
  }
  const limited = limitVerdict(verdict, view.config.onPrometheusError, decision);
  const message = shorten(limited.message, MAX_MESSAGE_JSON_BYTES);
  const groups = groupsOf(verdict.checks.map((check) => check.record.check));
  return {
    statusCode: limited.ready ? 200 : 500,
    healthy: verdict.healthy,
    message,
    verdict: verdict.state,
    ...(limited.held ? { held_ready: true as const } : {}),
    checks: Object.fromEntries(verdict.checks.map((check) => [check.record.check.id, check.state])),
    ...(groups.length > 1
      ? {
          groups: Object.fromEntries(
            groups.map((group) => [
              group,
              combine(
                verdict.checks.filter((check) => check.record.check.group === group),
                view.config.onPrometheusError,
              ).state,
            ]),
          ),
        }
      : {}),
  };
}

/** Overall and per-group readiness of the whole view: what the prepared answers are made of. */
export interface ReadinessReport {
  readonly overall: Readiness;
  /** Every configured group, in configuration order. */
  readonly groups: ReadonlyMap<string, Readiness>;
  /**
   * Unready for reasons of its own, whatever the fleet limit: starting, shutting down, or a check of this replica
   * alone failing. Exported for the other replicas, which count it against the limit.
   */
  readonly ownUnready: boolean;
}

/** Readiness of everything, and of each group alone; computed once per change. */
export function assessReadiness(view: ProbeView): ReadinessReport {
  const ownChecks = view.snapshot?.verdict.checks.filter((check) => check.record.check.scope === 'replica') ?? [];
  return {
    ownUnready: view.phase !== 'running' || view.snapshot === null || !combine(ownChecks, view.config.onPrometheusError).healthy,
    overall: readiness(view),
    groups: new Map(
      groupsOf(view.checks).map((group) => [
        group,
        readiness(
          view,
          judgedOf(
            view,
            view.checks.filter((check) => check.group === group),
          ),
        ),
      ]),
    ),
  };
}

/** The distinct groups of some checks, in order. */
function groupsOf(checks: readonly CheckDefinition[]): readonly string[] {
  return [...new Set(checks.map((check) => check.group))];
}

/** `text` on one line, cut to fit a message. */
export function oneLine(text: string): string {
  return shorten(text.replace(/[\r\n]+/g, ' '), MAX_MESSAGE_JSON_BYTES);
}

/** `text`, cut (on a code point, with an ellipsis) so that its JSON form fits `maxBytes`. */
export function shorten(text: string, maxBytes: number): string {
  const fits = (candidate: string): boolean => utf8Length(JSON.stringify(candidate)) <= maxBytes;
  if (fits(text)) return text;
  const codePoints = Array.from(text);
  let keep = Math.min(codePoints.length, maxBytes);
  while (keep > 0 && !fits(`${codePoints.slice(0, keep).join('')}…`)) keep = Math.floor(keep * 0.9);
  return `${codePoints.slice(0, keep).join('')}…`;
}
