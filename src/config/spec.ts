// Every variable the probe reads, declared once: its default, its help line (--help, the README), its parser
// and its constraints. parseVariables is the one pass over them; it reads no file and no other variable,
// except CHECK_INTERVAL for the bounds that are set by it.
import { formatDuration } from '../core/duration.js';
import type { ConfigProblem } from '../core/errors.js';
import type { UnreadyLimit } from '../core/fleet.js';
import type { ErrorPolicy } from '../core/settings.js';
import { hideHeaderValues, isPem, parseHeaders, parsePrometheusUrl, redactUserinfo } from './connection.js';
import { accepted, decimal, duration, durationExpected, flag, oneOf, optionalText, type Parsed, type Parser, refused } from './parse.js';

/** What a file named by a variable must hold; it is read at start, so a typo stops start-up, not every query. */
export interface FileRequirement {
  readonly expected: string;
  readonly holds?: (text: string) => boolean;
}

/** A duration bound that depends on CHECK_INTERVAL; when it applies, its text replaces the variable's own. */
export interface IntervalBound {
  holds(ms: number, intervalMs: number): boolean;
  expected(intervalMs: number): string;
}

/** How one variable is read. */
export interface VariableSpec<T> {
  readonly default: string;
  readonly help: string;
  readonly parse: Parser<T>;
  /** What a problem shows instead of the text, when the text may hold a secret. */
  readonly redact?: (text: string) => string;
  readonly file?: FileRequirement;
  /** A setting of the seed's two checks, refused beside CHECKS_FILE: the file defines every check. */
  readonly seed?: true;
  readonly intervalBound?: IntervalBound;
}

/** Declares a variable, so that its parser's type becomes the variable's value type. */
function variable<T>(spec: VariableSpec<T>): VariableSpec<T> {
  return spec;
}

/** The longest SHUTDOWN_DELAY: with the 10 s drain after it, shutdown ends 5 s inside Kubernetes' 30 s grace. */
export const MAX_SHUTDOWN_DELAY_MS = 15_000;

const ERROR_POLICIES: readonly ErrorPolicy[] = ['pass', 'fail'];

/** FLEET_MAX_UNREADY: a whole number from 1, or a percentage above 0 and at most 100. */
function parseUnreadyLimit(text: string): Parsed<UnreadyLimit> {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(trimmed);
  if (percent !== null) {
    const value = Number(percent[1]);
    if (value > 0 && value <= 100) return accepted({ kind: 'percent', percent: value });
  } else if (/^\d+$/.test(trimmed) && Number(trimmed) >= 1) return accepted({ kind: 'count', count: Number(trimmed) });
  return refused('a whole number of replicas from 1 (such as 1), or a share of them above 0% and at most 100% (such as 25%)');
}

/** A replica's name, or null to fall back on the host name; what a host or pod name may hold. */
function replicaName(text: string): Parsed<string | null> {
  const trimmed = text.trim();
  if (trimmed === '') return accepted(null);
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/.test(trimmed) ? accepted(trimmed) : refused('a pod or host name (letters, digits, "_", "." and "-")');
}

/** The consumer groups KAFKA_GROUP names: the text as given (trimmed) and each name in order. */
export interface Groups {
  readonly group: string;
  readonly groups: readonly string[];
}

// Key order is the --help order.
export const SPEC = {
  PROMETHEUS_URL: variable({
    default: 'http://prometheus:9090',
    help: 'Prometheus base URL (http or https, may have a path prefix)',
    parse: parsePrometheusUrl,
    redact: redactUserinfo,
  }),
  KAFKA_GROUP: variable<Groups>({
    default: 'crm-events-sse',
    help: 'consumer group to judge, or several separated by commas',
    parse: (text) => {
      const group = text.trim();
      const groups = group.split(',').map((name) => name.trim());
      if (groups.some((name) => name === '') || new Set(groups).size !== groups.length) {
        return refused('a consumer group name, or several separated by commas, each once');
      }
      return accepted({ group, groups: Object.freeze(groups) });
    },
  }),
  CHECKS_FILE: variable({
    default: '',
    help: "JSON file of checks replacing the seed's two (SIGHUP re-reads it); see README",
    parse: optionalText,
  }),
  SKEW_THRESHOLD: variable({
    default: '4.0',
    help: 'highest acceptable skew ratio, max/avg lag over partitions',
    // max/avg is never below 1, so a threshold under 1 would fail every evaluation.
    parse: decimal('a number >= 1 (max/avg lag is never below 1)', (n) => n >= 1),
    seed: true,
  }),
  SKEW_MIN_LAG: variable({
    default: '100',
    help: "skew fails only where the hottest partition's lag is also above this many messages; 0 judges the ratio alone",
    parse: decimal('a whole number of messages >= 0', (n) => Number.isInteger(n) && n >= 0),
    seed: true,
  }),
  MIN_CONSUMERS: variable({
    default: '2',
    help: 'fewest acceptable consumers in the group',
    parse: decimal('a whole number >= 1', (n) => Number.isInteger(n) && n >= 1),
    seed: true,
  }),
  PORT: variable({
    default: '9011',
    help: 'port to listen on',
    parse: decimal('a port number from 1 to 65535', (n) => Number.isInteger(n) && n >= 1 && n <= 65535),
  }),
  HOST: variable<string>({
    default: '0.0.0.0',
    help: 'address to listen on',
    parse: (text) => {
      const host = text.trim();
      return host === '' || /[\s/]/.test(host) ? refused('an address or host name to listen on, such as 0.0.0.0 or ::') : accepted(host);
    },
  }),
  CHECK_INTERVAL: variable({
    default: '10s',
    help: 'how often the checks are evaluated in the background',
    parse: duration('at least 100ms', (ms) => ms >= 100),
  }),
  QUERY_TIMEOUT: variable({
    default: '5s',
    help: 'deadline of one Prometheus query; shorter than CHECK_INTERVAL',
    parse: duration('above 0', (ms) => ms > 0),
    intervalBound: {
      holds: (ms, intervalMs) => ms < intervalMs,
      expected: (intervalMs) => durationExpected(`above 0 and shorter than CHECK_INTERVAL (${formatDuration(intervalMs)})`),
    },
  }),
  STALE_AFTER: variable({
    default: '60s',
    help: 'how long a verdict stands while Prometheus cannot be asked',
    parse: duration('above 0', (ms) => ms > 0),
    intervalBound: {
      holds: (ms, intervalMs) => ms >= intervalMs,
      expected: (intervalMs) => durationExpected(`at least CHECK_INTERVAL (${formatDuration(intervalMs)})`),
    },
  }),
  SKEW_FOR: variable({
    default: '0s',
    help: 'how long skew must stay above the threshold before /ready fails',
    // A PromQL range is whole milliseconds; 0 turns the window off.
    parse: duration('0s to turn it off', (ms) => ms >= 0),
    seed: true,
  }),
  DRAIN_GRACE: variable({
    default: '5m',
    help: 'how long skew may stay above the threshold while the hottest partition drains; 0s turns it off',
    parse: duration('0s to turn it off', (ms) => ms >= 0),
    seed: true,
  }),
  DRAIN_WINDOW: variable({
    default: '2m',
    help: "how far back the hottest partition's lag is read to tell that it is falling",
    // deriv() needs two samples in the window: less than a few seconds cannot hold two scrapes.
    parse: duration('at least 5s', (ms) => ms >= 5_000),
    seed: true,
  }),
  STALL_AFTER: variable({
    default: '5m',
    help: "a partition is stalled when the group's committed offset has not moved this long while producers wrote to it; 0s turns the check off",
    // changes() needs two samples in the window: less than a few scrapes cannot tell a stall from a gap.
    parse: duration('0s to turn it off, or at least 10s', (ms) => ms === 0 || ms >= 10_000),
    seed: true,
  }),
  MAX_LAG_SECONDS: variable<number | null>({
    default: '',
    help: 'most seconds the group may be behind its producers (lag over the production rate); unset: no such check',
    parse: (text) => {
      if (text.trim() === '') return accepted(null);
      return decimal('a number of seconds above 0, or unset', (n) => n > 0)(text);
    },
    seed: true,
  }),
  DRY_RUN: variable({
    default: 'false',
    help: 'true: /ready always answers 200; the verdict it would give is in its body, /status, /metrics and the logs',
    parse: flag('true or false'),
  }),
  ACCEPT_PARTIAL: variable({
    default: 'false',
    help: "true: judge partial answers as complete (VictoriaMetrics' isPartial, Thanos' store-down warnings) and do not send Thanos partial_response=false; false: a partial answer is the error PROM_PARTIAL and the last verdict stands",
    parse: flag('true or false'),
  }),
  ON_PROMETHEUS_ERROR: variable({
    default: 'pass',
    help: 'verdict when Prometheus has been unreachable past STALE_AFTER: pass or fail',
    parse: oneOf(ERROR_POLICIES, 'pass or fail'),
  }),
  ON_NO_DATA: variable({
    default: 'pass',
    help: 'verdict of a built-in check whose series is missing (exporter down, rules not loaded, wrong group name): pass or fail',
    parse: oneOf(ERROR_POLICIES, 'pass or fail'),
    seed: true,
  }),
  FLEET_MAX_UNREADY: variable({
    default: '1',
    help: 'most replicas a group-wide failure may make unready at once: a count, or a share such as 25% (rounded down, at least 1); 100% turns the limit off',
    parse: parseUnreadyLimit,
  }),
  FLEET_ROTATE: variable({
    default: '5m',
    help: 'how long one replica stays the unready one for a group-wide failure before the next takes its turn; at least 3 x CHECK_INTERVAL + 1s',
    parse: duration('above 0', (ms) => ms > 0),
  }),
  FLEET_LABEL: variable({
    default: 'pod',
    help: "the label that carries a replica's name on the probe's own series as Prometheus scrapes them",
    parse: (text) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(text.trim()) ? accepted(text.trim()) : refused('a Prometheus label name such as pod')),
  }),
  POD_NAME: variable({
    default: '',
    help: "this replica's name as FLEET_LABEL carries it, from the Downward API (default: HOSTNAME, then the host name)",
    parse: replicaName,
  }),
  POD_NAMESPACE: variable({
    default: '',
    help: "this replica's namespace, from the Downward API: the fleet is looked for there, and {namespace} in checks names it",
    parse: optionalText,
  }),
  SHUTDOWN_DELAY: variable({
    default: '0s',
    help: 'after SIGTERM, keep answering (with /ready 503) this long before closing; at most 15s',
    // Kubernetes kills the pod 30 s after SIGTERM by default; the delay must leave time to close.
    parse: duration(`from 0s to ${formatDuration(MAX_SHUTDOWN_DELAY_MS)}`, (ms) => ms >= 0 && ms <= MAX_SHUTDOWN_DELAY_MS),
  }),
  PROMETHEUS_BEARER_TOKEN_FILE: variable({
    default: '',
    help: 'file holding a bearer token, re-read for every query',
    parse: optionalText,
    file: { expected: 'a readable file holding a token', holds: (text) => text.trim() !== '' },
  }),
  PROMETHEUS_USERNAME: variable({
    default: '',
    help: 'basic auth user (with PROMETHEUS_PASSWORD_FILE)',
    parse: optionalText,
  }),
  PROMETHEUS_PASSWORD_FILE: variable({
    default: '',
    help: 'file holding the basic auth password, re-read for every query',
    parse: optionalText,
    file: { expected: 'a readable file holding the password' },
  }),
  PROMETHEUS_HEADERS: variable({
    default: '',
    help: 'extra headers as Name=value pairs separated by commas, e.g. X-Scope-OrgID=tenant-a',
    parse: parseHeaders,
    redact: hideHeaderValues,
  }),
  PROMETHEUS_CA_FILE: variable({
    default: '',
    help: 'PEM file of the CA that signed the Prometheus certificate (https only)',
    parse: optionalText,
    file: { expected: 'a readable PEM file of CA certificates', holds: isPem },
  }),
  PROMETHEUS_CERT_FILE: variable({
    default: '',
    help: 'PEM client certificate (with PROMETHEUS_KEY_FILE; https only)',
    parse: optionalText,
    file: { expected: 'a readable PEM certificate', holds: isPem },
  }),
  PROMETHEUS_KEY_FILE: variable({
    default: '',
    help: 'PEM private key of the client certificate',
    parse: optionalText,
    file: { expected: 'a readable PEM private key', holds: isPem },
  }),
  PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: variable({
    default: 'false',
    help: 'true turns off certificate verification (logged loudly); never in production',
    parse: flag('true or false'),
  }),
};

/** The name of a variable the probe reads. */
export type VariableName = keyof typeof SPEC;
/** The process environment, or a test's stand-in for it. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Every variable name, in the spec's order. */
export const VARIABLE_NAMES = Object.keys(SPEC) as readonly VariableName[];

/** A record of every variable, in the spec's order, each value from `each`: the one place that builds one. */
function byVariable<Record_ extends { readonly [Name in VariableName]: unknown }>(each: (name: VariableName) => unknown): Record_ {
  // A heterogeneous record cannot be typed entry by entry: the caller's `each` answers for its entries' types.
  return Object.fromEntries(VARIABLE_NAMES.map((name) => [name, each(name)])) as Record_;
}

/** Every variable the probe reads, with its default and help: the single source for --help and the README. */
export const VARIABLES = byVariable<{ readonly [Name in VariableName]: { readonly default: string; readonly help: string } }>((name) => ({
  default: SPEC[name].default,
  help: SPEC[name].help,
}));

/** The value type a variable's parser produces. */
export type ValueOf<Name extends VariableName> = (typeof SPEC)[Name] extends VariableSpec<infer T> ? T : never;

/** A value, or the problems that refuse it. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Every variable, checked. */
export type CheckedVariables = { readonly [Name in VariableName]: Checked<ValueOf<Name>> };

/** Every variable with its value: what CheckedVariables is once none was refused. */
export type AcceptedVariables = { readonly [Name in VariableName]: { readonly ok: true; readonly value: ValueOf<Name> } };

/** A variable's text: the environment's, or the default when unset. */
export function textOf(env: Environment, name: VariableName): string {
  return env[name] ?? SPEC[name].default;
}

/** The value of a checked variable, or `fallback` when it was refused. */
export function valueOr<T, Fallback>(checked: Checked<T>, fallback: Fallback): T | Fallback {
  return checked.ok ? checked.value : fallback;
}

/** Whether no variable was refused: then the compiler knows every value is there. */
export function allAccepted(variables: CheckedVariables): variables is AcceptedVariables {
  return Object.values(variables).every((checked) => checked.ok);
}

/** The one pass: every variable parsed alone, then held to CHECK_INTERVAL where its spec says so. */
export function parseVariables(env: Environment): CheckedVariables {
  const intervalMs = SPEC.CHECK_INTERVAL.parse(textOf(env, 'CHECK_INTERVAL'));
  return byVariable<CheckedVariables>((name) => {
    const spec: VariableSpec<unknown> = SPEC[name];
    const text = textOf(env, name);
    const parsed = parseWithinInterval(spec, text, intervalMs.ok ? intervalMs.value : null);
    return parsed.ok ? parsed : { ok: false, problems: [{ variable: name, value: spec.redact?.(text) ?? text, expected: parsed.expected }] };
  });
}

/** A variable's value, or what was expected: the bound's text when CHECK_INTERVAL is known, so one problem names it all. */
function parseWithinInterval(spec: VariableSpec<unknown>, text: string, intervalMs: number | null): Parsed<unknown> {
  const parsed = spec.parse(text);
  const bound = spec.intervalBound;
  if (bound === undefined || intervalMs === null) return parsed;
  // Only durations carry a bound; the type test keeps a misplaced one from comparing anything else.
  if (parsed.ok && typeof parsed.value === 'number' && bound.holds(parsed.value, intervalMs)) return parsed;
  return refused(bound.expected(intervalMs));
}
