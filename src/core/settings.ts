// The resolved configuration as the core sees it: what it holds, and how it is shown. Parsing it from the
// environment and reading files is the edge's work (src/config/); this file only describes the result.
import { type CheckDefinition, type CheckTemplate, instantiate } from './checks.js';
import { formatDuration } from './duration.js';
import { FLEET_STANDS_FOR_MS, type FleetLearning, fleetQuery, formatUnreadyLimit, type UnreadyLimit } from './fleet.js';

export type ErrorPolicy = 'pass' | 'fail';

/** The resolved configuration. `prometheusUrl` may carry credentials: show `prometheusTarget` instead. */
export interface Config {
  readonly prometheusUrl: string;
  /** PROMETHEUS_URL without userinfo, query or fragment: the form that logs and /status may show. */
  readonly prometheusTarget: string;
  /** KAFKA_GROUP as given (trimmed): the consumergroup label of the probe's own series. */
  readonly group: string;
  /** The consumer groups judged, in the order given. */
  readonly groups: readonly string[];
  /** CHECKS_FILE, or null for the seed's two checks. */
  readonly checksFile: string | null;
  /** The checks for every group: the file's, or the seed's two. */
  readonly checks: readonly CheckTemplate[];
  readonly skewThreshold: number;
  readonly minConsumers: number;
  readonly host: string;
  readonly port: number;
  readonly checkIntervalMs: number;
  readonly queryTimeoutMs: number;
  readonly staleAfterMs: number;
  readonly skewForMs: number;
  readonly drainGraceMs: number;
  readonly drainWindowMs: number;
  /** SKEW_MIN_LAG: messages the hottest partition must hold before skew counts. */
  readonly skewMinLag: number;
  /** STALL_AFTER: 0 when the stall check is off. */
  readonly stallAfterMs: number;
  /** MAX_LAG_SECONDS, or null when that check is off. */
  readonly maxLagSeconds: number | null;
  readonly onPrometheusError: ErrorPolicy;
  /** ACCEPT_PARTIAL: partial answers are judged as complete, and Thanos is not asked for partial_response=false. */
  readonly acceptPartial: boolean;
  /** ON_NO_DATA: the verdict of a built-in check with no series. */
  readonly onNoData: ErrorPolicy;
  /** The blast-radius limit and how this replica is named in the fleet. */
  readonly fleet: FleetConfig;
  /** /ready answers 200 whatever the verdict, which the body, the logs and /metrics still show. */
  readonly dryRun: boolean;
  readonly shutdownDelayMs: number;
  /** How to authenticate to Prometheus and trust it; files are re-read when used, so rotated secrets work. */
  readonly connection: Connection;
}

/** FLEET_MAX_UNREADY, FLEET_ROTATE, FLEET_LABEL, POD_NAME (or the host name) and POD_NAMESPACE. */
export interface FleetConfig {
  readonly maxUnready: UnreadyLimit;
  readonly rotateMs: number;
  readonly label: string;
  readonly podName: string;
  readonly podNamespace: string | null;
}

/** Credentials and TLS for Prometheus. Holds file paths and header values, never file contents. */
export interface Connection {
  readonly bearerTokenFile: string | null;
  readonly username: string | null;
  readonly passwordFile: string | null;
  /** Extra headers (a tenant's X-Scope-OrgID); values may be secret and are never shown. */
  readonly headers: Readonly<Record<string, string>>;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly insecureSkipVerify: boolean;
}

/** The configuration as logs and /status show it: durations as written, no credentials. */
export function describeConfig(config: Config): Readonly<Record<string, string | number | boolean>> {
  return {
    prometheus_url: config.prometheusTarget,
    kafka_group: config.group,
    ...(config.checksFile === null ? { skew_threshold: config.skewThreshold, min_consumers: config.minConsumers } : { checks_file: config.checksFile }),
    host: config.host,
    port: config.port,
    check_interval: formatDuration(config.checkIntervalMs),
    query_timeout: formatDuration(config.queryTimeoutMs),
    stale_after: formatDuration(config.staleAfterMs),
    ...(config.checksFile === null
      ? {
          skew_for: formatDuration(config.skewForMs),
          skew_min_lag: config.skewMinLag,
          drain_grace: formatDuration(config.drainGraceMs),
          drain_window: formatDuration(config.drainWindowMs),
          stall_after: formatDuration(config.stallAfterMs),
          ...(config.maxLagSeconds === null ? {} : { max_lag_seconds: config.maxLagSeconds }),
        }
      : {}),
    on_prometheus_error: config.onPrometheusError,
    accept_partial: config.acceptPartial,
    ...(config.checksFile === null ? { on_no_data: config.onNoData } : {}),
    fleet_max_unready: formatUnreadyLimit(config.fleet.maxUnready),
    fleet_rotate: formatDuration(config.fleet.rotateMs),
    fleet_label: config.fleet.label,
    pod_name: config.fleet.podName,
    ...(config.fleet.podNamespace === null ? {} : { pod_namespace: config.fleet.podNamespace }),
    dry_run: config.dryRun,
    shutdown_delay: formatDuration(config.shutdownDelayMs),
    ...describeConnection(config.connection),
  };
}

/** The connection settings that are set: paths and names only, never a secret or a header value. */
function describeConnection(connection: Connection): Record<string, string | boolean> {
  const shown: Record<string, string | boolean> = {};
  if (connection.bearerTokenFile !== null) shown.bearer_token_file = connection.bearerTokenFile;
  if (connection.username !== null) shown.username = connection.username;
  if (connection.passwordFile !== null) shown.password_file = connection.passwordFile;
  if (Object.keys(connection.headers).length > 0) shown.headers = describeHeaders(connection.headers);
  if (connection.caFile !== null) shown.ca_file = connection.caFile;
  if (connection.certFile !== null) shown.cert_file = connection.certFile;
  if (connection.keyFile !== null) shown.key_file = connection.keyFile;
  if (connection.insecureSkipVerify) shown.tls_insecure_skip_verify = true;
  return shown;
}

/** The monitor's timing and error policy as the configuration sets them (the server and `check` share them). */
export function monitorSettings(config: Config): {
  intervalMs: number;
  staleAfterMs: number;
  onPrometheusError: ErrorPolicy;
  dryRun: boolean;
  fleet?: FleetLearning;
  estimateGroups: readonly string[];
} {
  const fleet = fleetLearning(config);
  return {
    intervalMs: config.checkIntervalMs,
    staleAfterMs: config.staleAfterMs,
    onPrometheusError: config.onPrometheusError,
    dryRun: config.dryRun,
    ...(fleet === undefined ? {} : { fleet }),
    // The estimates read the built-in recording rules: with a checks file they are the file's business.
    estimateGroups: config.checksFile === null ? config.groups : [],
  };
}

/**
 * How the fleet is learned and the limit applied; undefined when FLEET_MAX_UNREADY=100% (no limit, and no query).
 * A replica whose turn begins waits for the one leaving: its next evaluation (one interval, plus one query) and
 * half a second of clock difference between nodes.
 */
export function fleetLearning(config: Config): FleetLearning | undefined {
  const { maxUnready } = config.fleet;
  if (maxUnready.kind === 'percent' && maxUnready.percent >= 100) return undefined;
  return {
    settings: { self: config.fleet.podName, maxUnready, rotateMs: config.fleet.rotateMs, handoverMs: config.checkIntervalMs + config.queryTimeoutMs + 500 },
    query: fleetQuery(config.groups, config.fleet.label, config.fleet.podNamespace),
    label: config.fleet.label,
    standsForMs: FLEET_STANDS_FOR_MS,
    refreshMs: Math.min(60_000, 10 * config.checkIntervalMs),
  };
}

/** Header names with their values hidden: `name=***,...`. */
export function describeHeaders(headers: Readonly<Record<string, string>>): string {
  return Object.keys(headers)
    .map((name) => `${name}=***`)
    .join(',');
}

/** The checks the configuration asks for: the checks file's, or the seed's two, for every group. */
export function configuredChecks(config: Config): readonly CheckDefinition[] {
  return checksFor(config, config.checks);
}

/** Templates bound to the configured groups and to this replica's names ({pod}, {namespace}). */
export function checksFor(config: Config, templates: readonly CheckTemplate[]): readonly CheckDefinition[] {
  return instantiate(templates, config.groups, { pod: config.fleet.podName, namespace: config.fleet.podNamespace });
}
