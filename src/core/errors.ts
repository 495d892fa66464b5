// Every error code this probe raises, declared here and nowhere else (as undici's lib/core/errors.js does): /status,
// /metrics and the logs show the code, the message is for people. "The code should not change, the message may"
// (nodejs/node lib/internal/errors.js).

/** Base of every error this probe raises on purpose. */
export class ProbeError extends Error {
  readonly code: ProbeErrorCode;

  constructor(code: ProbeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Every way asking Prometheus can fail, one code each. Metrics are labelled with these. */
export const PROMETHEUS_ERROR_CODES = [
  'PROM_NETWORK', // connection refused, reset, unreachable
  'PROM_DNS', // the host name does not resolve
  'PROM_TLS', // handshake or certificate verification failed
  'PROM_TIMEOUT', // no complete answer within QUERY_TIMEOUT
  'PROM_AUTH', // 401 or 403, or the credentials could not be read
  'PROM_HTTP_STATUS', // any other non-2xx answer that is not a Prometheus error envelope
  'PROM_TOO_LARGE', // the body passed the response size cap
  'PROM_BAD_JSON', // the body is not JSON
  'PROM_BAD_RESPONSE', // JSON, but not the shape of a query response (or an unsupported resultType)
  'PROM_API_ERROR', // Prometheus answered {"status":"error"} (bad_data, execution, ...) with neither 429 nor 503
  // Added later, so appended: the order above is what dashboards have seen since the start.
  'PROM_OVERLOADED', // 429 Too Many Requests: the backend sheds load (Mimir/Cortex queue full, VictoriaMetrics' concurrency limit)
  'PROM_UNAVAILABLE', // 503 Service Unavailable: not ready, or a proxy with no healthy backend
  'PROM_PARTIAL', // an answer that says data is missing: VictoriaMetrics' isPartial, a store-down warning of Thanos
] as const;

export type PrometheusErrorCode = (typeof PROMETHEUS_ERROR_CODES)[number];

/** A bug of ours caught at a boundary (a throw that is not a ProbeError): reported, never thrown out of a loop. */
export const INTERNAL_ERROR_CODE = 'PROBE_INTERNAL';

/** The codes an evaluation can fail with: counted from zero in /metrics so rate() sees the first of each. */
export const EVALUATION_ERROR_CODES = [...PROMETHEUS_ERROR_CODES, INTERNAL_ERROR_CODE] as const;

/** Every code: evaluation failures, bad configuration, and credentials files that cannot be read when used. */
export type ProbeErrorCode = PrometheusErrorCode | typeof INTERNAL_ERROR_CODE | 'CONFIG_INVALID' | 'CREDENTIALS_UNREADABLE';

/** A query that did not produce a usable result. Context lives on fields, never credentials. */
export class PrometheusError extends ProbeError {
  declare readonly code: PrometheusErrorCode;
  /** HTTP status of the answer, when there was one. */
  readonly statusCode: number | undefined;
  /** Prometheus' errorType (bad_data, execution, timeout, ...) for PROM_API_ERROR. */
  readonly errorType: string | undefined;
  /** How long the backend asked us to wait (its Retry-After header), for PROM_OVERLOADED and PROM_UNAVAILABLE. */
  readonly retryAfterMs: number | undefined;

  constructor(code: PrometheusErrorCode, message: string, options: { cause?: unknown; statusCode?: number; errorType?: string; retryAfterMs?: number } = {}) {
    super(code, message, { cause: options.cause });
    this.statusCode = options.statusCode;
    this.errorType = options.errorType;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A credentials file (token, password) that could not be read for a query. The message names the path, never the content. */
export class CredentialsError extends ProbeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CREDENTIALS_UNREADABLE', message, options);
  }
}

/** One rejected environment variable: its name, the value given, and what was expected. */
export interface ConfigProblem {
  readonly variable: string;
  readonly value: string;
  readonly expected: string;
}

/** One line for a person: `NAME="value": expected ...`. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.variable}=${JSON.stringify(problem.value)}: expected ${problem.expected}`;
}

/** Bad configuration: carries every problem found, so one run names them all. */
export class ConfigError extends ProbeError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('CONFIG_INVALID', problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

/** The code of anything thrown: its own when it is ours, PROBE_INTERNAL otherwise. */
export function codeOf(error: unknown): ProbeErrorCode {
  return error instanceof ProbeError ? error.code : INTERNAL_ERROR_CODE;
}

/** The message of anything thrown, for logs and /status. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The errno code of a system error (ENOENT, EACCES, ...), or `fallback` when it carries none. */
export function errnoOf(error: unknown, fallback: string): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return typeof code === 'string' ? code : fallback;
}
