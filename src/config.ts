// The environment, parsed and validated once at start-up. Every problem is collected, so one run names them all
// (af/envalid's approach); nothing here reads process.env: main passes it in.
import { formatDuration, parseDuration } from './duration.js';
import { ConfigError, type ConfigProblem } from './errors.js';

export type ErrorPolicy = 'pass' | 'fail';

/** The resolved configuration. `prometheusUrl` may carry credentials: show `prometheusTarget` instead. */
export interface Config {
  readonly prometheusUrl: string;
  /** PROMETHEUS_URL without userinfo, query or fragment: the form that logs and /status may show. */
  readonly prometheusTarget: string;
  readonly group: string;
  readonly skewThreshold: number;
  readonly minConsumers: number;
  readonly host: string;
  readonly port: number;
  readonly checkIntervalMs: number;
  readonly queryTimeoutMs: number;
  readonly staleAfterMs: number;
  readonly skewForMs: number;
  readonly onPrometheusError: ErrorPolicy;
  readonly shutdownDelayMs: number;
}

/** Every variable the probe reads, with its default: the single source for --help and the README. */
export const VARIABLES = {
  PROMETHEUS_URL: { default: 'http://prometheus:9090', help: 'Prometheus base URL (http or https, may have a path prefix)' },
  KAFKA_GROUP: { default: 'crm-events-sse', help: 'consumer group to judge' },
  SKEW_THRESHOLD: { default: '4.0', help: 'highest acceptable skew ratio, max/avg lag over partitions' },
  MIN_CONSUMERS: { default: '2', help: 'fewest acceptable consumers in the group' },
  PORT: { default: '9011', help: 'port to listen on' },
  HOST: { default: '0.0.0.0', help: 'address to listen on' },
  CHECK_INTERVAL: { default: '10s', help: 'how often the checks are evaluated in the background' },
  QUERY_TIMEOUT: { default: '5s', help: 'deadline of one Prometheus query; shorter than CHECK_INTERVAL' },
  STALE_AFTER: { default: '60s', help: 'how long a verdict stands while Prometheus cannot be asked' },
  SKEW_FOR: { default: '0s', help: 'how long skew must stay above the threshold before /ready fails' },
  ON_PROMETHEUS_ERROR: { default: 'pass', help: 'verdict when Prometheus has been unreachable past STALE_AFTER: pass or fail' },
  SHUTDOWN_DELAY: { default: '0s', help: 'after SIGTERM, keep answering (with /ready 503) this long before closing' },
} as const;

export type VariableName = keyof typeof VARIABLES;
export type Environment = Readonly<Record<string, string | undefined>>;

const DURATION = 'a duration such as 500ms, 10s or 5m';

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: Environment): Config {
  const problems: ConfigProblem[] = [];
  const raw = (name: VariableName): string => env[name] ?? VARIABLES[name].default;
  const reject = (name: VariableName, expected: string, value = raw(name)): undefined => {
    problems.push({ variable: name, value, expected });
    return undefined;
  };

  const number = (name: VariableName, expected: string, accept: (n: number) => boolean): number | undefined => {
    const text = raw(name).trim();
    const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
    return Number.isFinite(value) && accept(value) ? value : reject(name, expected);
  };
  const duration = (name: VariableName, expected: string, accept: (ms: number) => boolean): number | undefined => {
    const ms = parseDuration(raw(name));
    return ms !== undefined && accept(ms) ? ms : reject(name, `${DURATION}, ${expected}`);
  };

  const url = parsePrometheusUrl(raw('PROMETHEUS_URL'));
  if (typeof url === 'string') reject('PROMETHEUS_URL', url, redactUserinfo(raw('PROMETHEUS_URL')));

  const group = raw('KAFKA_GROUP');
  if (group.trim() === '') reject('KAFKA_GROUP', 'a consumer group name');

  // max/avg is never below 1, so a threshold under 1 would fail every evaluation.
  const skewThreshold = number('SKEW_THRESHOLD', 'a number >= 1 (max/avg lag is never below 1)', (n) => n >= 1);
  const minConsumers = number('MIN_CONSUMERS', 'a whole number >= 1', (n) => Number.isInteger(n) && n >= 1);
  const port = number('PORT', 'a port number from 1 to 65535', (n) => Number.isInteger(n) && n >= 1 && n <= 65535);
  const host = raw('HOST').trim();
  if (host === '' || /[\s/]/.test(host)) reject('HOST', 'an address or host name to listen on, such as 0.0.0.0 or ::');

  const checkIntervalMs = duration('CHECK_INTERVAL', 'at least 100ms', (ms) => ms >= 100);
  const queryTimeoutMs = duration(
    'QUERY_TIMEOUT',
    checkIntervalMs === undefined ? 'above 0' : `above 0 and shorter than CHECK_INTERVAL (${formatDuration(checkIntervalMs)})`,
    (ms) => ms > 0 && (checkIntervalMs === undefined || ms < checkIntervalMs),
  );
  const staleAfterMs = duration(
    'STALE_AFTER',
    checkIntervalMs === undefined ? 'above 0' : `at least CHECK_INTERVAL (${formatDuration(checkIntervalMs)})`,
    (ms) => ms > 0 && (checkIntervalMs === undefined || ms >= checkIntervalMs),
  );
  // A PromQL range is whole milliseconds; 0 turns the window off.
  const skewForMs = duration('SKEW_FOR', '0s to turn it off', (ms) => ms >= 0);
  const onPrometheusError = raw('ON_PROMETHEUS_ERROR').trim();
  if (onPrometheusError !== 'pass' && onPrometheusError !== 'fail') reject('ON_PROMETHEUS_ERROR', 'pass or fail');
  // Kubernetes kills the pod 30 s after SIGTERM by default; the delay must leave time to close.
  const shutdownDelayMs = duration('SHUTDOWN_DELAY', 'from 0s to 20s', (ms) => ms >= 0 && ms <= 20_000);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    prometheusUrl: raw('PROMETHEUS_URL').trim(),
    prometheusTarget: (url as URL).href.replace(/\/$/, ''),
    group,
    skewThreshold: skewThreshold!,
    minConsumers: minConsumers!,
    host,
    port: port!,
    checkIntervalMs: checkIntervalMs!,
    queryTimeoutMs: queryTimeoutMs!,
    staleAfterMs: staleAfterMs!,
    skewForMs: skewForMs!,
    onPrometheusError: onPrometheusError as ErrorPolicy,
    shutdownDelayMs: shutdownDelayMs!,
  });
}

/** The URL without userinfo, or what is wrong with it. */
function parsePrometheusUrl(text: string): URL | string {
  const expected = 'an http:// or https:// URL such as http://prometheus:9090, without query or fragment';
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return expected;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '') {
    return expected;
  }
  url.username = '';
  url.password = '';
  return url;
}

/** Hides anything that may be a credential in a URL-like string, even one that does not parse. */
export function redactUserinfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/?#\s]*@/i, (_match, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

/** The configuration as logs and /status show it: durations as written, no credentials. */
export function describeConfig(config: Config): Readonly<Record<string, string | number>> {
  return {
    prometheus_url: config.prometheusTarget,
    kafka_group: config.group,
    skew_threshold: config.skewThreshold,
    min_consumers: config.minConsumers,
    host: config.host,
    port: config.port,
    check_interval: formatDuration(config.checkIntervalMs),
    query_timeout: formatDuration(config.queryTimeoutMs),
    stale_after: formatDuration(config.staleAfterMs),
    skew_for: formatDuration(config.skewForMs),
    on_prometheus_error: config.onPrometheusError,
    shutdown_delay: formatDuration(config.shutdownDelayMs),
  };
}
