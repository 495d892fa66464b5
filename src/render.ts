// The JSON documents of /ready and /status, from what the monitor knows. Pure: rendered once per change,
// served from memory.
import type { CheckDefinition } from './checks.js';
import { describeConfig, type Config } from './config.js';
import type { Snapshot } from './monitor.js';
import type { JudgedCheck } from './verdict.js';

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
}

/** /ready: 200 healthy, 500 not, 503 while starting or shutting down. */
export function readiness(view: ProbeView): Readiness {
  if (view.phase === 'shutting_down') {
    return { statusCode: 503, healthy: false, message: 'Shutting down', verdict: 'shutting_down' };
  }
  const verdict = view.snapshot?.verdict;
  if (verdict === undefined) {
    return { statusCode: 503, healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' };
  }
  const message = shorten(verdict.message, MAX_MESSAGE_JSON_BYTES);
  return {
    statusCode: verdict.healthy ? 200 : 500,
    healthy: verdict.healthy,
    message,
    verdict: verdict.state,
    checks: Object.fromEntries(verdict.checks.map((check) => [check.record.check.name, check.state])),
  };
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

export function renderReady(view: ProbeView): Rendered {
  const { statusCode, ...body } = readiness(view);
  return { statusCode, body: JSON.stringify(body) };
}

/**
 * /status without its closing brace: everything but the uptime, which the server appends per request
 * (`,"uptime_seconds":n}`) so that the rest is rendered only when something changes.
 */
export function renderStatusHead(view: ProbeView): string {
  const { snapshot, config } = view;
  const { statusCode, healthy, message, verdict } = readiness(view);
  const judged = new Map(snapshot?.verdict.checks.map((check) => [check.record.check.name, check]));
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
    checks: Object.fromEntries(view.checks.map((check) => [check.name, describeCheck(check, judged.get(check.name))])),
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
    state: judged?.state ?? 'pending',
    ok: judged?.ok ?? null,
    value: jsonNumber(observation?.value ?? null),
    threshold: check.threshold,
    comparison: check.comparison,
    on_no_data: check.onNoData,
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
