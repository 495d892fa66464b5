// The environment, parsed and validated once at start-up (af/envalid's approach): every variable is parsed on
// its own (spec.ts), the files they name are read (files.ts), the rules between them run (rules.ts), and every
// problem is collected, so one run names them all. Nothing here reads process.env: main passes it in.

import { hostname as osHostname } from 'node:os';
import { type CheckTemplate, seedTemplates } from '../core/checks.js';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import type { Config } from '../core/settings.js';
import { type ConfigFiles, type FilesRead, nodeFiles, readFiles } from './files.js';
import {
  authCombinations,
  authorizationHeader,
  certificatePair,
  type Rule,
  rotationOutlastsHandover,
  seedsBesideChecksFile,
  shortestRotationMs,
  tlsOnlyWithHttps,
} from './rules.js';
import { type AcceptedVariables, allAccepted, type CheckedVariables, type Environment, parseVariables, textOf, type VariableName } from './spec.js';

export { redactUserinfo } from './connection.js';
export { type ConfigFiles, readChecks } from './files.js';
export { type Environment, MAX_SHUTDOWN_DELAY_MS, VARIABLES, type VariableName } from './spec.js';

// The order problems are reported in, by concern: what is judged and when, the checks, shutdown, then the
// connection. A variable stands for its own problems (its text, or the file it names); a rule for what it finds.
const REPORT_ORDER = [
  'PROMETHEUS_URL',
  'KAFKA_GROUP',
  'SKEW_THRESHOLD',
  'SKEW_MIN_LAG',
  'MIN_CONSUMERS',
  'PORT',
  'HOST',
  'CHECK_INTERVAL',
  'QUERY_TIMEOUT',
  'STALE_AFTER',
  'SKEW_FOR',
  'DRAIN_GRACE',
  'DRAIN_WINDOW',
  'STALL_AFTER',
  'MAX_LAG_SECONDS',
  'DRY_RUN',
  seedsBesideChecksFile,
  'CHECKS_FILE',
  'ON_PROMETHEUS_ERROR',
  'ACCEPT_PARTIAL',
  'ON_NO_DATA',
  'FLEET_MAX_UNREADY',
  'FLEET_ROTATE',
  rotationOutlastsHandover,
  'FLEET_LABEL',
  'POD_NAME',
  'POD_NAMESPACE',
  'SHUTDOWN_DELAY',
  'PROMETHEUS_BEARER_TOKEN_FILE',
  'PROMETHEUS_PASSWORD_FILE',
  'PROMETHEUS_USERNAME',
  authCombinations,
  'PROMETHEUS_HEADERS',
  authorizationHeader,
  'PROMETHEUS_CA_FILE',
  'PROMETHEUS_CERT_FILE',
  'PROMETHEUS_KEY_FILE',
  certificatePair,
  'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY',
  tlsOnlyWithHttps,
] as const satisfies readonly (VariableName | Rule)[];

// A variable left out of REPORT_ORDER would have its problems dropped: this fails to compile if one is.
type Unreported = Exclude<VariableName, (typeof REPORT_ORDER)[number]>;
const everyVariableReported: [Unreported] extends [never] ? true : Unreported = true;
void everyVariableReported;

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: Environment, files: ConfigFiles = nodeFiles, hostname: () => string = osHostname): Config {
  const variables = parseVariables(env);
  const read = readFiles(env, variables, files);
  const problems = problemsInOrder(env, variables, read);
  const config = problems.length === 0 ? assemble(variables, read, env.HOSTNAME?.trim() || hostname()) : undefined;
  if (config === undefined) throw new ConfigError(problems);
  return config;
}

function problemsInOrder(env: Environment, variables: CheckedVariables, read: FilesRead): ConfigProblem[] {
  return REPORT_ORDER.flatMap((step): readonly ConfigProblem[] => {
    if (typeof step === 'function') {
      return step(env, variables).map(({ variable, expected, value }) => ({ variable, value: value ?? textOf(env, variable), expected }));
    }
    const checked = variables[step];
    return [...(checked.ok ? [] : checked.problems), ...(read.problems[step] ?? [])];
  });
}

/** The Config, once every variable was accepted and the checks are known; undefined otherwise. */
function assemble(variables: CheckedVariables, read: FilesRead, hostname: string): Config | undefined {
  if (!allAccepted(variables)) return undefined;
  const checks = checksOf(variables, read);
  if (checks === undefined) return undefined;
  const { value: url } = variables.PROMETHEUS_URL;
  const { value: kafka } = variables.KAFKA_GROUP;
  return Object.freeze({
    prometheusUrl: url.given,
    prometheusTarget: url.target,
    group: kafka.group,
    groups: kafka.groups,
    checksFile: variables.CHECKS_FILE.value,
    checks,
    skewThreshold: variables.SKEW_THRESHOLD.value,
    minConsumers: variables.MIN_CONSUMERS.value,
    host: variables.HOST.value,
    port: variables.PORT.value,
    checkIntervalMs: variables.CHECK_INTERVAL.value,
    queryTimeoutMs: variables.QUERY_TIMEOUT.value,
    staleAfterMs: variables.STALE_AFTER.value,
    skewForMs: variables.SKEW_FOR.value,
    drainGraceMs: variables.DRAIN_GRACE.value,
    drainWindowMs: variables.DRAIN_WINDOW.value,
    skewMinLag: variables.SKEW_MIN_LAG.value,
    stallAfterMs: variables.STALL_AFTER.value,
    maxLagSeconds: variables.MAX_LAG_SECONDS.value,
    onPrometheusError: variables.ON_PROMETHEUS_ERROR.value,
    acceptPartial: variables.ACCEPT_PARTIAL.value,
    onNoData: variables.ON_NO_DATA.value,
    fleet: {
      maxUnready: variables.FLEET_MAX_UNREADY.value,
      rotateMs: Math.max(variables.FLEET_ROTATE.value, shortestRotationMs(variables.CHECK_INTERVAL.value)),
      label: variables.FLEET_LABEL.value,
      podName: variables.POD_NAME.value ?? hostname,
      podNamespace: variables.POD_NAMESPACE.value,
    },
    dryRun: variables.DRY_RUN.value,
    shutdownDelayMs: variables.SHUTDOWN_DELAY.value,
    connection: {
      bearerTokenFile: variables.PROMETHEUS_BEARER_TOKEN_FILE.value,
      username: variables.PROMETHEUS_USERNAME.value,
      passwordFile: variables.PROMETHEUS_PASSWORD_FILE.value,
      headers: variables.PROMETHEUS_HEADERS.value,
      caFile: variables.PROMETHEUS_CA_FILE.value,
      certFile: variables.PROMETHEUS_CERT_FILE.value,
      keyFile: variables.PROMETHEUS_KEY_FILE.value,
      insecureSkipVerify: variables.PROMETHEUS_TLS_INSECURE_SKIP_VERIFY.value,
    },
  });
}

/** The checks file's templates, or the seed's two built from the seed settings; undefined when the file was refused. */
function checksOf(variables: AcceptedVariables, read: FilesRead): readonly CheckTemplate[] | undefined {
  if (read.checks === null) {
    return seedTemplates({
      skewThreshold: variables.SKEW_THRESHOLD.value,
      minConsumers: variables.MIN_CONSUMERS.value,
      skewForMs: variables.SKEW_FOR.value,
      drainGraceMs: variables.DRAIN_GRACE.value,
      drainWindowMs: variables.DRAIN_WINDOW.value,
      onNoData: variables.ON_NO_DATA.value,
      skewMinLag: variables.SKEW_MIN_LAG.value,
      stallAfterMs: variables.STALL_AFTER.value,
      maxLagSeconds: variables.MAX_LAG_SECONDS.value,
    });
  }
  return read.checks.ok ? read.checks.value : undefined;
}
