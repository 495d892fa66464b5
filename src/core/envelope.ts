// Pure parsing of a Prometheus /api/v1/query answer: status code + body text -> samples, or a PrometheusError.
// Shapes from prometheus/prometheus docs/querying/api.md and web/api/v1/api.go (docs/DESIGN.md lists the facts).
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

/** The whole answer to a query: status first (401/403, proxies), then the JSON envelope, then the data. */
export function parseQueryResponse(statusCode: number, body: string): QueryResult {
  // Credentials problems are reported as such whatever the body says: proxies answer these too.
  if (statusCode === 401 || statusCode === 403) {
    throw new PrometheusError('PROM_AUTH', `Prometheus refused the credentials (HTTP ${statusCode})`, { statusCode });
  }
  const ok = statusCode >= 200 && statusCode < 300;

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    if (!ok) throw httpStatus(statusCode);
    throw new PrometheusError('PROM_BAD_JSON', `Prometheus answered HTTP ${statusCode} with a body that is not JSON`, {
      cause,
      statusCode,
    });
  }

  if (isRecord(json) && json['status'] === 'error') {
    throw apiError(statusCode, json);
  }
  // A non-2xx answer that is not Prometheus' own error envelope comes from something in between (proxy, LB).
  if (!ok) throw httpStatus(statusCode);

  if (!isRecord(json)) throw badResponse(`the body is ${describe(json)}, expected a JSON object`, statusCode);
  if (json['status'] !== 'success') {
    throw badResponse(`status is ${describe(json['status'])}, expected "success" or "error"`, statusCode);
  }
  const data = json['data'];
  if (!isRecord(data)) throw badResponse(`data is ${describe(data)}, expected an object`, statusCode);

  const warnings = [...stringList(json['warnings'], 'warnings', statusCode), ...stringList(json['infos'], 'infos', statusCode).map((info) => `info: ${info}`)];

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
      throw badResponse(`${where}.${name} is ${describe(value)}, expected a string`, statusCode);
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

function apiError(statusCode: number, envelope: Record<string, unknown>): PrometheusError {
  const errorType = typeof envelope['errorType'] === 'string' ? envelope['errorType'] : undefined;
  const text = typeof envelope['error'] === 'string' ? clip(envelope['error'], MAX_ERROR_TEXT) : 'no error text';
  return new PrometheusError('PROM_API_ERROR', `Prometheus rejected the query (HTTP ${statusCode}, ${errorType ?? 'no errorType'}): ${text}`, { statusCode, errorType });
}

// The body is left out on purpose: a proxy's error page is long, HTML, and may echo request details.
function httpStatus(statusCode: number): PrometheusError {
  return new PrometheusError('PROM_HTTP_STATUS', `Prometheus answered HTTP ${statusCode} without a Prometheus error body`, {
    statusCode,
  });
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
