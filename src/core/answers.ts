// Every answer the server gives, as a pure function of the view: what to send, never how. The server turns these
// into bytes and headers once per change (or per request for a /ready selection) and writes them from memory.
import { CHECK_NAME, type CheckDefinition } from './checks.js';
import { exposition } from './exposition.js';
import type { FleetDecision } from './fleet.js';
import { HEALTH_JSON_TYPE, renderHealthJson } from './healthjson.js';
import { assessReadiness, judgedOf, type ProbeView, select } from './readiness.js';
import { renderReady, renderStatusHead, renderVerbose } from './render.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One answer before it is written. */
export interface Reply {
  readonly statusCode: number;
  readonly contentType: string;
  readonly body: string;
}

/** The answers that change only when the view does. */
export interface Replies {
  readonly ready: Reply;
  readonly metrics: Reply;
  readonly healthJson: Reply;
  /** /status without its uptime tail (render.ts' uptimeTail, appended per request). */
  readonly statusHead: string;
}

/** Everything prepared from one view, readiness assessed once for all of them. */
export function prepareReplies(view: ProbeView): Replies {
  const report = assessReadiness(view);
  const ready = renderReady(view);
  const health = renderHealthJson(view, report);
  return {
    ready: { ...ready, contentType: JSON_TYPE },
    metrics: { statusCode: 200, contentType: METRICS_TYPE, body: exposition(view, report) },
    healthJson: { ...health, contentType: HEALTH_JSON_TYPE },
    statusHead: renderStatusHead(view, report),
  };
}

/**
 * What a /ready request asks beyond the plain answer: `?verbose`, `?group=`, `?exclude=` (repeatable, or commas),
 * `/ready/NAME`, and `?replica=NAME` from a caller that names itself (one probe shared by several containers).
 */
export interface ReadyRequest {
  readonly verbose: boolean;
  readonly group?: string;
  readonly name?: string;
  readonly exclude: readonly string[];
  readonly replica?: string;
}

/** A replica's name as a caller gives it: a host or container name. */
export const REPLICA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/;

/** The request's query string read as a /ready request; `name` from /ready/NAME. */
export function parseReadyRequest(url: string, name: string | undefined): ReadyRequest {
  const query = url.indexOf('?');
  const params = new URLSearchParams(query === -1 ? '' : url.slice(query + 1));
  const group = params.get('group') ?? undefined;
  const replica = params.get('replica') ?? undefined;
  const exclude = params
    .getAll('exclude')
    .flatMap((value) => value.split(','))
    .filter((value) => value !== '');
  return {
    verbose: params.has('verbose'),
    exclude,
    ...(group === undefined ? {} : { group }),
    ...(name === undefined ? {} : { name }),
    ...(replica === undefined ? {} : { replica }),
  };
}

/** Whether the request is plain /ready, answered by the prepared reply. */
export function isPlainReady(request: ReadyRequest): boolean {
  return !request.verbose && request.group === undefined && request.name === undefined && request.exclude.length === 0 && request.replica === undefined;
}

/**
 * A /ready selection judged from the current view (no Prometheus involved); unknown names are answered, never
 * ignored. `decision`: the fleet limit for a caller that named itself, decided among the callers.
 */
export function selectionReply(
  view: ProbeView,
  checks: readonly CheckDefinition[],
  request: ReadyRequest,
  decision: FleetDecision | null = view.snapshot?.fleet?.decision ?? null,
): Reply {
  const contentType = request.verbose ? TEXT_TYPE : JSON_TYPE;
  if (request.replica !== undefined && !REPLICA_NAME.test(request.replica)) {
    const message = `A replica name is a host or container name (letters, digits, "_", "." and "-"), not ${JSON.stringify(request.replica.slice(0, 64))}`;
    return { statusCode: 400, contentType, body: request.verbose ? `${message}\n` : JSON.stringify({ error: 'bad_replica', message }) };
  }
  const selected = select(checks, { group: request.group, name: request.name, exclude: request.exclude });
  if (!selected.ok) {
    const body = request.verbose ? `${selected.message}\n` : JSON.stringify({ error: selected.error, message: selected.message });
    return { statusCode: selected.statusCode, contentType, body };
  }
  const rendered = request.verbose ? renderVerbose(view, selected, decision) : renderReady(view, judgedOf(view, selected.included), decision);
  return { ...rendered, contentType };
}

/** The endpoints, as data: the server binds a handler to each name, and a 404 lists the paths. */
export const ROUTES = [
  { name: 'ready', method: 'GET', path: '/ready' },
  { name: 'readyCheck', method: 'GET', prefix: '/ready/', segment: CHECK_NAME },
  // Liveness touches nothing external and stays 200 during shutdown (gajus/lightship#12).
  { name: 'health', method: 'GET', path: '/health' },
  { name: 'status', method: 'GET', path: '/status' },
  { name: 'metrics', method: 'GET', path: '/metrics' },
] as const;

export type RouteName = (typeof ROUTES)[number]['name'];

export const HEALTH_REPLY: Reply = { statusCode: 200, contentType: JSON_TYPE, body: '{"status":"ok"}' };

export const NOT_FOUND_REPLY: Reply = {
  statusCode: 404,
  contentType: JSON_TYPE,
  body: JSON.stringify({ error: 'not_found', message: 'No such endpoint', endpoints: ROUTES.flatMap((route) => ('path' in route ? [route.path] : [])) }),
};

export function methodNotAllowedReply(allow: string): Reply {
  return { statusCode: 405, contentType: JSON_TYPE, body: JSON.stringify({ error: 'method_not_allowed', message: `Use ${allow}` }) };
}

export const INTERNAL_ERROR_REPLY: Reply = { statusCode: 500, contentType: JSON_TYPE, body: '{"error":"internal"}' };
