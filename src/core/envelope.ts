// Pure parsing of a Prometheus /api/v1/query answer: status code + body text -> samples, or a PrometheusError.
// Shapes from prometheus/prometheus docs/querying/api.md and web/api/v1/api.go (docs/DESIGN.md lists the facts).
import { parseRetryAfter } from './backoff.js';
import { PrometheusError } from './errors.js';
import { isRecord } from './json.js';

/** One series of an instant query. `value` may be NaN, Infinity or -Infinity: Prometheus sends those too. */
export interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** A usable query answer; checks only judge instant values, so only vector and scalar exist here. */
export interface QueryResult {
  readonly resultType: 'vector' | 'scalar';
  readonly samples: readonly Sample[];
  /** Prometheus' `warnings`, then its `infos` prefixed "info: " (Thanos reports partial answers this way). */
  readonly warnings: readonly string[];
}

// Go's strconv.FormatFloat output: plain decimals or exponent form. Anything looser (hex, "0x", " 1", "1_000")
// would be accepted by Number() and silently mean something else.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

// Prometheus writes the special values as Go does; `Number("+Inf")` is NaN in JavaScript, so they are mapped here.
const SPECIAL_VALUES: ReadonlyMap<string, number> = new Map([
  ['NaN', Number.NaN],
  ['+Inf', Number.POSITIVE_INFINITY],
  ['Inf', Number.POSITIVE_INFINITY],
  ['-Inf', Number.NEGATIVE_INFINITY],
]);

const MAX_ERROR_TEXT = 300;
const MAX_ERROR_TYPE = 40;
/** How much of a body that is not Prometheus' own (a proxy's page, a plain-text error) a message quotes. */
const MAX_BODY_EXCERPT = 120;

/** How a caller wants an answer read; every field optional. */
export interface ParseOptions {
  /** ACCEPT_PARTIAL: an answer that says data is missing is judged as complete; its warnings are kept. */
  readonly acceptPartial?: boolean;
  /** The Retry-After header of the answer, honoured on 429 and 503. */
  readonly retryAfter?: string | readonly string[];
  /** Wall time of the answer, for a Retry-After given as an HTTP date. */
  readonly nowMs?: number;
  /**
   * Applied to any text taken from the body before it is cut short (the edge passes its secret scrubber): a cut
   * made first could leave half a secret that no longer matches.
   */
  readonly redact?: (text: string) => string;
}

/**
 * Warnings that say data is missing from an answer, each from the backend's own source. Matched anywhere in the
 * warning, case-sensitively as the backends write them. Anything else (a Prometheus `infos` hint such as "metric
 * might not be a counter", a histogram/float mix) is an answer with a remark, not a partial one.
 */
export const MISSING_DATA_WARNINGS: readonly { readonly pattern: RegExp; readonly source: string }[] = [
  // thanos-io/thanos pkg/store/proxy_merge.go (commit bb390a8): a store that fails mid-stream under the "warn"
  // partial-response strategy: `errors.Wrapf(err, "receive series from %s", st)`.
  { pattern: /receive series from /, source: 'Thanos: a store failed while sending series' },
  // Same file: a store that sent nothing within the frame timeout: "failed to receive any data in %s from %s".
  { pattern: /failed to receive any data in \S+ from /, source: 'Thanos: a store sent nothing in time' },
  // thanos-io/thanos pkg/store/proxy.go: ErrorNoStoresMatched, sent as a warning when no store covers the query.
  { pattern: /No StoreAPIs matched for this query/, source: 'Thanos: no store holds the data asked for' },
];

/** The entry of MISSING_DATA_WARNINGS a warning matches, if any. */
export function missingDataWarning(warning: string): string | undefined {
  return MISSING_DATA_WARNINGS.find((entry) => entry.pattern.test(warning))?.source;
}

/** A sample value as Prometheus encodes it (a JSON string) to a number. */
export function parseSampleValue(text: unknown): number {
  const value = toNumber(text);
  if (value === undefined) throw badResponse(`sample value is ${describe(text)}, expected a number in a string`);
  return value;
}

function toNumber(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const special = SPECIAL_VALUES.get(text);
  if (special !== undefined) return special;
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/**
 * The whole answer to a query: status first (401/403, 429/503, proxies), then the JSON envelope, then the data, then
 * whether it is complete (VictoriaMetrics' `isPartial`, warnings that say data is missing).
 */
export function parseQueryResponse(statusCode: number, body: string, options: ParseOptions = {}): QueryResult {
  const redact = options.redact ?? ((text: string) => text);
  // Credentials problems are reported as such whatever the body says: proxies answer these too.
  if (statusCode === 401 || statusCode === 403) {
    throw new PrometheusError('PROM_AUTH', `Prometheus refused the credentials (HTTP ${statusCode})${quoted(errorText(body, redact))}`, { statusCode });
  }
  // Refusals have their own codes whatever the body: the monitor backs off on them, honouring Retry-After.
  if (statusCode === 429 || statusCode === 503) throw refusal(statusCode, body, options, redact);
  const ok = statusCode >= 200 && statusCode < 300;

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    if (!ok) throw httpStatus(statusCode, body, redact);
    throw new PrometheusError('PROM_BAD_JSON', `Prometheus answered HTTP ${statusCode} with a body that is not JSON`, {
      cause,
      statusCode,
    });
  }

  if (isRecord(json) && json['status'] === 'error') {
    throw apiError(statusCode, json, redact);
  }
  // A non-2xx answer that is not Prometheus' own error envelope comes from something in between (proxy, LB).
  if (!ok) throw httpStatus(statusCode, body, redact);

  if (!isRecord(json)) throw badResponse(`the body is ${describe(json)}, expected a JSON object`, statusCode);
  if (json['status'] !== 'success') {
    throw badResponse(`status is ${describe(json['status'])}, expected "success" or "error"`, statusCode);
  }
  const data = json['data'];
  if (!isRecord(data)) throw badResponse(`data is ${describe(data)}, expected an object`, statusCode);

  const given = stringList(json['warnings'], 'warnings', statusCode);
  const warnings = [...given, ...stringList(json['infos'], 'infos', statusCode).map((info) => `info: ${info}`)];
  if (options.acceptPartial !== true) {
    // VictoriaMetrics (app/vmselect/prometheus/query_response.qtpl): `"isPartial":true` beside status and data when
    // some vmstorage nodes did not answer (cluster version, -search.denyPartialResponse off, the default).
    if (json['isPartial'] === true) {
      throw new PrometheusError('PROM_PARTIAL', 'the answer is partial (isPartial: true): some storage nodes did not answer; ACCEPT_PARTIAL=true judges it anyway', {
        statusCode,
      });
    }
    const missing = given.find((warning) => missingDataWarning(warning) !== undefined);
    if (missing !== undefined) {
      throw new PrometheusError(
        'PROM_PARTIAL',
        `the answer is partial (${missingDataWarning(missing)}): ${clip(redact(missing), MAX_ERROR_TEXT)}; ACCEPT_PARTIAL=true judges it anyway`,
        {
          statusCode,
        },
      );
    }
  }

  const resultType = data['resultType'];
  const result = data['result'];
  if (resultType === 'vector') {
    return freezeResult('vector', parseVector(result, statusCode), warnings);
  }
  if (resultType === 'scalar') {
    const value = parsePair(result, 'data.result', statusCode);
    return freezeResult('scalar', [Object.freeze({ value, labels: Object.freeze({}) })], warnings);
  }
  throw badResponse(`resultType ${describe(resultType)} is not supported: a check must be an instant vector or a scalar`, statusCode);
}

function parseVector(result: unknown, statusCode: number): Sample[] {
  if (!Array.isArray(result)) throw badResponse(`data.result is ${describe(result)}, expected an array`, statusCode);
  return result.map((element: unknown, index) => {
    const where = `data.result[${index}]`;
    if (!isRecord(element)) throw badResponse(`${where} is ${describe(element)}, expected an object`, statusCode);
    if (element['value'] === undefined && element['histogram'] !== undefined) {
      throw badResponse(`${where} is a native histogram sample, which a check cannot judge`, statusCode);
    }
    const labels = parseLabels(element['metric'], `${where}.metric`, statusCode);
    const value = parsePair(element['value'], `${where}.value`, statusCode);
    return Object.freeze({ value, labels });
  });
}

function parseLabels(metric: unknown, where: string, statusCode: number): Readonly<Record<string, string>> {
  if (!isRecord(metric)) throw badResponse(`${where} is ${describe(metric)}, expected an object`, statusCode);
  const entries = Object.entries(metric);
  for (const [name, value] of entries) {
    if (typeof value !== 'string') {
      // The name is clipped like any text from the body: it may be long, or hold a newline.
      throw badResponse(`${where}.${clip(name, 40)} is ${describe(value)}, expected a string`, statusCode);
    }
  }
  // fromEntries defines own properties, so a label named "__proto__" stays a label.
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

/** `[unixSeconds, "value"]`, the encoding of every instant sample. */
function parsePair(pair: unknown, where: string, statusCode: number): number {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw badResponse(`${where} is ${describe(pair)}, expected [timestamp, "value"]`, statusCode);
  }
  const [timestamp, text] = pair as [unknown, unknown];
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw badResponse(`${where}[0] is ${describe(timestamp)}, expected a timestamp in seconds`, statusCode);
  }
  const value = toNumber(text);
  if (value === undefined) {
    throw badResponse(`${where}[1] is ${describe(text)}, expected a number in a string`, statusCode);
  }
  return value;
}

function stringList(list: unknown, name: string, statusCode: number): string[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || !list.every((item): item is string => typeof item === 'string')) {
    throw badResponse(`${name} is ${describe(list)}, expected an array of strings`, statusCode);
  }
  return list;
}

function freezeResult(resultType: QueryResult['resultType'], samples: Sample[], warnings: string[]): QueryResult {
  return Object.freeze({ resultType, samples: Object.freeze(samples), warnings: Object.freeze(warnings) });
}

function apiError(statusCode: number, envelope: Record<string, unknown>, redact: (text: string) => string): PrometheusError {
  // Prometheus' errorType is one short word (bad_data, execution, ...); anything else is clipped like the error text.
  const errorType = typeof envelope['errorType'] === 'string' ? clip(envelope['errorType'], MAX_ERROR_TYPE) : undefined;
  const text = typeof envelope['error'] === 'string' ? clip(redact(envelope['error']), MAX_ERROR_TEXT) : 'no error text';
  return new PrometheusError('PROM_API_ERROR', `Prometheus rejected the query (HTTP ${statusCode}, ${errorType ?? 'no errorType'}): ${text}`, { statusCode, errorType });
}

// Only a short excerpt of the body: a proxy's error page is long, HTML, and may echo request details (the edge
// scrubs every header value it sent from it before the cut).
function httpStatus(statusCode: number, body: string, redact: (text: string) => string): PrometheusError {
  return new PrometheusError('PROM_HTTP_STATUS', `Prometheus answered HTTP ${statusCode} without a Prometheus error body${quoted(excerpt(body, redact))}`, {
    statusCode,
  });
}

/** 429 or 503: Prometheus' own error envelope (503 for a query timeout) keeps its errorType; any other body an excerpt. */
function refusal(statusCode: 429 | 503, body: string, options: ParseOptions, redact: (text: string) => string): PrometheusError {
  const code = statusCode === 429 ? 'PROM_OVERLOADED' : 'PROM_UNAVAILABLE';
  const what = statusCode === 429 ? 'is overloaded (HTTP 429 Too Many Requests)' : 'is unavailable (HTTP 503 Service Unavailable)';
  let errorType: string | undefined;
  let text = excerpt(body, redact);
  try {
    const json: unknown = JSON.parse(body);
    if (isRecord(json) && json['status'] === 'error') {
      errorType = typeof json['errorType'] === 'string' ? clip(json['errorType'], MAX_ERROR_TYPE) : undefined;
      text = typeof json['error'] === 'string' ? clip(redact(json['error']), MAX_ERROR_TEXT) : '';
    }
  } catch {
    // Not JSON: the excerpt stands.
  }
  const retryAfterMs = parseRetryAfter(options.retryAfter, options.nowMs ?? 0);
  const wait = retryAfterMs === undefined ? '' : `; Retry-After ${Math.ceil(retryAfterMs / 1000)} s`;
  const type = errorType === undefined ? '' : ` (${errorType})`;
  return new PrometheusError(code, `Prometheus ${what}${type}${quoted(text)}${wait}`, { statusCode, errorType, retryAfterMs });
}

/** A body as a few words for a message: tags and control characters flattened, spaces collapsed, cut short. */
export function excerpt(body: string, redact: (text: string) => string = (text) => text): string {
  const flat = body
    .slice(0, 64 * 1024)
    .replace(/<(?:script|style)\b[^>]*>[\s\S]*?<\/(?:script|style)>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clip(redact(flat), MAX_BODY_EXCERPT);
}

/** The text of an error body, whether Prometheus' envelope or not, for PROM_AUTH. */
function errorText(body: string, redact: (text: string) => string): string {
  try {
    const json: unknown = JSON.parse(body);
    if (isRecord(json) && typeof json['error'] === 'string') return clip(redact(json['error']), MAX_BODY_EXCERPT);
  } catch {
    // Not JSON: an excerpt.
  }
  return excerpt(body, redact);
}

function quoted(text: string): string {
  return text === '' ? '' : `: ${text}`;
}

function badResponse(detail: string, statusCode?: number): PrometheusError {
  return new PrometheusError('PROM_BAD_RESPONSE', `Prometheus answered with an unexpected query response: ${detail}`, {
    statusCode,
  });
}

/** A short, single-line description of a JSON value for messages; never the whole value. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(clip(value, 40));
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Control characters out (PromQL errors carry newlines), then cut to `max` characters. */
function clip(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
