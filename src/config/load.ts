// The environment, parsed and validated once at start-up. Every problem is collected, so one run names them all
// (af/envalid's approach); nothing here reads process.env: main passes it in.
import { readFileSync } from 'node:fs';
import { seedTemplates, type CheckTemplate } from '../core/checks.js';
import { parseChecksFile } from '../core/checksfile.js';
import { formatDuration, MAX_TIMER_MS, parseDuration } from '../core/duration.js';
import { ConfigError, errnoOf, type ConfigProblem } from '../core/errors.js';
import { describeHeaders, type Config, type Connection, type ErrorPolicy } from '../core/settings.js';

/** Every variable the probe reads, with its default: the single source for --help and the README. */
export const VARIABLES = {
  PROMETHEUS_URL: { default: 'http://prometheus:9090', help: 'Prometheus base URL (http or https, may have a path prefix)' },
  KAFKA_GROUP: { default: 'crm-events-sse', help: 'consumer group to judge, or several separated by commas' },
  CHECKS_FILE: { default: '', help: 'JSON file of checks replacing the seed\'s two (SIGHUP re-reads it); see README' },
  SKEW_THRESHOLD: { default: '4.0', help: 'highest acceptable skew ratio, max/avg lag over partitions' },
  MIN_CONSUMERS: { default: '2', help: 'fewest acceptable consumers in the group' },
  PORT: { default: '9011', help: 'port to listen on' },
  HOST: { default: '0.0.0.0', help: 'address to listen on' },
  CHECK_INTERVAL: { default: '10s', help: 'how often the checks are evaluated in the background' },
  QUERY_TIMEOUT: { default: '5s', help: 'deadline of one Prometheus query; shorter than CHECK_INTERVAL' },
  STALE_AFTER: { default: '60s', help: 'how long a verdict stands while Prometheus cannot be asked' },
  SKEW_FOR: { default: '0s', help: 'how long skew must stay above the threshold before /ready fails' },
  DRAIN_GRACE: { default: '5m', help: 'how long skew may stay above the threshold while the hottest partition drains; 0s turns it off' },
  DRAIN_WINDOW: { default: '2m', help: 'how far back the hottest partition\'s lag is read to tell that it is falling' },
  DRY_RUN: { default: 'false', help: 'true: /ready always answers 200; the verdict it would give is in its body, /status, /metrics and the logs' },
  ON_PROMETHEUS_ERROR: { default: 'pass', help: 'verdict when Prometheus has been unreachable past STALE_AFTER: pass or fail' },
  SHUTDOWN_DELAY: { default: '0s', help: 'after SIGTERM, keep answering (with /ready 503) this long before closing; at most 15s' },
  PROMETHEUS_BEARER_TOKEN_FILE: { default: '', help: 'file holding a bearer token, re-read for every query' },
  PROMETHEUS_USERNAME: { default: '', help: 'basic auth user (with PROMETHEUS_PASSWORD_FILE)' },
  PROMETHEUS_PASSWORD_FILE: { default: '', help: 'file holding the basic auth password, re-read for every query' },
  PROMETHEUS_HEADERS: { default: '', help: 'extra headers as Name=value pairs separated by commas, e.g. X-Scope-OrgID=tenant-a' },
  PROMETHEUS_CA_FILE: { default: '', help: 'PEM file of the CA that signed the Prometheus certificate (https only)' },
  PROMETHEUS_CERT_FILE: { default: '', help: 'PEM client certificate (with PROMETHEUS_KEY_FILE; https only)' },
  PROMETHEUS_KEY_FILE: { default: '', help: 'PEM private key of the client certificate' },
  PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: { default: 'false', help: 'true turns off certificate verification (logged loudly); never in production' },
} as const;

export type VariableName = keyof typeof VARIABLES;
export type Environment = Readonly<Record<string, string | undefined>>;

const DURATION = 'a duration such as 500ms, 10s or 5m';
/** The longest SHUTDOWN_DELAY: with the 10 s drain after it, shutdown ends 5 s inside Kubernetes' 30 s grace. */
export const MAX_SHUTDOWN_DELAY_MS = 15_000;

/** The file access configuration needs; tests may pass their own. */
export interface ConfigFiles {
  readFile(path: string): string;
}

const nodeFiles: ConfigFiles = { readFile: (path) => readFileSync(path, 'utf8') };

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: Environment, files: ConfigFiles = nodeFiles): Config {
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
  // Node's timers hold at most 2^31-1 ms (24.8 days); a longer one fires after 1 ms, every time.
  const duration = (name: VariableName, expected: string, accept: (ms: number) => boolean): number | undefined => {
    const ms = parseDuration(raw(name));
    return ms !== undefined && ms <= MAX_TIMER_MS && accept(ms) ? ms : reject(name, `${DURATION}, ${expected}`);
  };

  const url = parsePrometheusUrl(raw('PROMETHEUS_URL'));
  if (typeof url === 'string') reject('PROMETHEUS_URL', url, redactUserinfo(raw('PROMETHEUS_URL')));

  const group = raw('KAFKA_GROUP').trim();
  const groups = group.split(',').map((name) => name.trim());
  if (groups.some((name) => name === '') || new Set(groups).size !== groups.length) {
    reject('KAFKA_GROUP', 'a consumer group name, or several separated by commas, each once');
  }

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
  const drainGraceMs = duration('DRAIN_GRACE', '0s to turn it off', (ms) => ms >= 0);
  // deriv() needs two samples in the window: less than a few seconds cannot hold two scrapes.
  const drainWindowMs = duration('DRAIN_WINDOW', 'at least 5s', (ms) => ms >= 5_000);
  const dryRunText = raw('DRY_RUN').trim().toLowerCase();
  if (dryRunText !== 'true' && dryRunText !== 'false') reject('DRY_RUN', 'true or false');

  const checksFile = raw('CHECKS_FILE').trim() === '' ? null : raw('CHECKS_FILE').trim();
  let checks: readonly CheckTemplate[] | undefined;
  if (checksFile !== null) {
    // The file defines every check: a seed setting beside it would silently do nothing.
    for (const name of ['SKEW_THRESHOLD', 'MIN_CONSUMERS', 'SKEW_FOR', 'DRAIN_GRACE', 'DRAIN_WINDOW'] as const) {
      if (env[name] !== undefined) reject(name, 'unset when CHECKS_FILE is set (the file defines every check)');
    }
    const read = readChecks(checksFile, groups.length > 1, files);
    if (read.ok) checks = read.templates;
    else for (const problem of read.problems) problems.push(problem);
  } else if (skewThreshold !== undefined && minConsumers !== undefined && skewForMs !== undefined && drainGraceMs !== undefined && drainWindowMs !== undefined) {
    checks = seedTemplates({ skewThreshold, minConsumers, skewForMs, drainGraceMs, drainWindowMs });
  }
  const onPrometheusError = raw('ON_PROMETHEUS_ERROR').trim();
  if (onPrometheusError !== 'pass' && onPrometheusError !== 'fail') reject('ON_PROMETHEUS_ERROR', 'pass or fail');
  // Kubernetes kills the pod 30 s after SIGTERM by default; the delay must leave time to close.
  const shutdownDelayMs = duration('SHUTDOWN_DELAY', `from 0s to ${formatDuration(MAX_SHUTDOWN_DELAY_MS)}`, (ms) => ms >= 0 && ms <= MAX_SHUTDOWN_DELAY_MS);

  const connection = parseConnection(raw, reject, files, typeof url === 'string' ? undefined : url);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    prometheusUrl: raw('PROMETHEUS_URL').trim(),
    prometheusTarget: (url as URL).href.replace(/\/$/, ''),
    group,
    groups: Object.freeze(groups),
    checksFile,
    checks: checks!,
    skewThreshold: skewThreshold!,
    minConsumers: minConsumers!,
    host,
    port: port!,
    checkIntervalMs: checkIntervalMs!,
    queryTimeoutMs: queryTimeoutMs!,
    staleAfterMs: staleAfterMs!,
    skewForMs: skewForMs!,
    drainGraceMs: drainGraceMs!,
    drainWindowMs: drainWindowMs!,
    onPrometheusError: onPrometheusError as ErrorPolicy,
    dryRun: dryRunText === 'true',
    shutdownDelayMs: shutdownDelayMs!,
    connection: connection!,
  });
}

/**
 * The checks of CHECKS_FILE, or the problems that stop start-up (and that a reload keeps the old checks for),
 * each naming the file, the check and the field.
 */
export function readChecks(path: string, severalGroups: boolean, files: ConfigFiles = nodeFiles): { ok: true; templates: readonly CheckTemplate[] } | { ok: false; problems: readonly ConfigProblem[] } {
  let text: string;
  try {
    text = files.readFile(path);
  } catch (error) {
    return { ok: false, problems: [{ variable: 'CHECKS_FILE', value: path, expected: `a readable JSON file of checks (${errnoOf(error, 'unreadable')})` }] };
  }
  const parsed = parseChecksFile(text, { severalGroups });
  if (parsed.ok) return parsed;
  return { ok: false, problems: parsed.problems.map((expected) => ({ variable: 'CHECKS_FILE', value: path, expected })) };
}

// Header names as RFC 9110 tokens; those that would break the request itself are refused.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

function parseConnection(
  raw: (name: VariableName) => string,
  reject: (name: VariableName, expected: string, value?: string) => undefined,
  files: ConfigFiles,
  url: URL | undefined,
): Connection | undefined {
  let problems = 0;
  const fail = (name: VariableName, expected: string, value?: string): void => {
    problems += 1;
    reject(name, expected, value);
  };
  const optional = (name: VariableName): string | null => (raw(name).trim() === '' ? null : raw(name).trim());
  // A file must be readable now, so a typo stops start-up instead of failing every query later.
  const readable = (name: VariableName, what: string, accept: (text: string) => boolean = () => true): string | null => {
    const path = optional(name);
    if (path === null) return null;
    try {
      if (!accept(files.readFile(path))) fail(name, what);
    } catch (error) {
      fail(name, `${what} (${errnoOf(error, 'unreadable')})`);
    }
    return path;
  };
  const isPem = (text: string): boolean => text.includes('-----BEGIN ');

  const bearerTokenFile = readable('PROMETHEUS_BEARER_TOKEN_FILE', 'a readable file holding a token', (text) => text.trim() !== '');
  const username = optional('PROMETHEUS_USERNAME');
  const passwordFile = readable('PROMETHEUS_PASSWORD_FILE', 'a readable file holding the password');
  const userinfoInUrl = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw('PROMETHEUS_URL').trim());
  if (username !== null && passwordFile === null) fail('PROMETHEUS_PASSWORD_FILE', 'a readable file when PROMETHEUS_USERNAME is set', '');
  if (username === null && passwordFile !== null) fail('PROMETHEUS_USERNAME', 'a user name when PROMETHEUS_PASSWORD_FILE is set', '');
  if (username !== null && userinfoInUrl) fail('PROMETHEUS_USERNAME', 'unset when PROMETHEUS_URL carries user:password@');
  if (bearerTokenFile !== null && (username !== null || userinfoInUrl)) {
    fail('PROMETHEUS_BEARER_TOKEN_FILE', 'unset when basic auth is configured (PROMETHEUS_USERNAME or user:password@ in PROMETHEUS_URL): choose one');
  }

  const headers = parseHeaders(raw('PROMETHEUS_HEADERS'));
  if (typeof headers === 'string') {
    fail('PROMETHEUS_HEADERS', 'comma-separated Name=value pairs, each name once, not Host, Content-Type, Content-Length or hop-by-hop headers', headers);
  } else if ('authorization' in headers && (bearerTokenFile !== null || username !== null || userinfoInUrl)) {
    fail('PROMETHEUS_HEADERS', 'no Authorization header when another kind of auth is configured', describeHeaders(headers));
  }

  const caFile = readable('PROMETHEUS_CA_FILE', 'a readable PEM file of CA certificates', isPem);
  const certFile = readable('PROMETHEUS_CERT_FILE', 'a readable PEM certificate', isPem);
  const keyFile = readable('PROMETHEUS_KEY_FILE', 'a readable PEM private key', isPem);
  if (certFile !== null && keyFile === null) fail('PROMETHEUS_KEY_FILE', 'the private key of PROMETHEUS_CERT_FILE', '');
  if (certFile === null && keyFile !== null) fail('PROMETHEUS_CERT_FILE', 'the certificate of PROMETHEUS_KEY_FILE', '');
  const insecureText = raw('PROMETHEUS_TLS_INSECURE_SKIP_VERIFY').trim().toLowerCase();
  if (insecureText !== 'true' && insecureText !== 'false') fail('PROMETHEUS_TLS_INSECURE_SKIP_VERIFY', 'true or false');
  const insecureSkipVerify = insecureText === 'true';
  if (url?.protocol === 'http:') {
    for (const name of ['PROMETHEUS_CA_FILE', 'PROMETHEUS_CERT_FILE', 'PROMETHEUS_KEY_FILE'] as const) {
      if (optional(name) !== null) fail(name, 'set only with an https:// PROMETHEUS_URL');
    }
    if (insecureSkipVerify) fail('PROMETHEUS_TLS_INSECURE_SKIP_VERIFY', 'true only with an https:// PROMETHEUS_URL');
  }
  if (problems > 0 || typeof headers === 'string') return undefined;
  return { bearerTokenFile, username, passwordFile, headers, caFile, certFile, keyFile, insecureSkipVerify };
}

/** `Name=value,Name2=value2` as lower-cased names, or the redacted text when it is not valid. */
function parseHeaders(text: string): Record<string, string> | string {
  const headers: Record<string, string> = {};
  if (text.trim() === '') return headers;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq === -1 ? undefined : eq).trim();
    const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
    const lower = name.toLowerCase();
    if (eq === -1 || !TOKEN.test(name) || /[\r\n\0]/.test(value) || RESERVED_HEADERS.has(lower) || lower in headers) {
      // Values may be secret: the error shows the names only.
      return text.split(',').map((p) => `${p.split('=')[0]!.trim()}=***`).join(',');
    }
    headers[lower] = value;
  }
  return headers;
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

/**
 * Hides anything that may be a credential in a URL-like string, even one that does not parse: everything
 * between the scheme and the last "@" (a password may hold "/", "#", "?" or spaces).
 */
export function redactUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at === -1) return text;
  const scheme = /^\s*[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  return `${scheme.trim()}***${text.slice(at)}`;
}

