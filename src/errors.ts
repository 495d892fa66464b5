// Errors are values with stable codes: /status, /metrics and the logs show the code, the message is for people.
// "The code should not change, the message may" (nodejs/node lib/internal/errors.js).

/** Base of every error this probe raises on purpose. */
export class ProbeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
  'PROM_AUTH', // 401 or 403
  'PROM_HTTP_STATUS', // any other non-2xx answer that is not a Prometheus error envelope
  'PROM_TOO_LARGE', // the body passed the response size cap
  'PROM_BAD_JSON', // the body is not JSON
  'PROM_BAD_RESPONSE', // JSON, but not the shape of a query response (or an unsupported resultType)
  'PROM_API_ERROR', // Prometheus answered {"status":"error"} (bad_data, execution, timeout, ...)
] as const;

export type PrometheusErrorCode = (typeof PROMETHEUS_ERROR_CODES)[number];

/** A query that did not produce a usable result. Context lives on fields, never credentials. */
export class PrometheusError extends ProbeError {
  declare readonly code: PrometheusErrorCode;
  /** HTTP status of the answer, when there was one. */
  readonly statusCode: number | undefined;
  /** Prometheus' errorType (bad_data, execution, timeout, ...) for PROM_API_ERROR. */
  readonly errorType: string | undefined;

  constructor(
    code: PrometheusErrorCode,
    message: string,
    options: { cause?: unknown; statusCode?: number; errorType?: string } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.statusCode = options.statusCode;
    this.errorType = options.errorType;
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
