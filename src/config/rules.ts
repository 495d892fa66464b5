// The rules between variables, run after every variable has been parsed on its own. Pure: each sees the
// environment and the checked variables, never a file.
import { formatDuration } from '../core/duration.js';
import { authorizationHeaderProblems, authProblems, type ConnectionInputs, certificatePairProblems, hasUserinfo, httpsOnlyProblems } from './connection.js';
import { type CheckedVariables, type Environment, SPEC, textOf, VARIABLE_NAMES, type VariableName, valueOr } from './spec.js';

/** A variable a rule refuses; the problem shows the variable's text unless the rule gives `value`. */
export interface RuleProblem {
  readonly variable: VariableName;
  readonly expected: string;
  readonly value?: string;
}

/** A rule between variables: the problems it finds, none when it holds or when what it relates was refused. */
export type Rule = (env: Environment, variables: CheckedVariables) => readonly RuleProblem[];

/** The seed's settings beside CHECKS_FILE would silently do nothing: the file defines every check. */
export const seedsBesideChecksFile: Rule = (env, variables) => {
  if (valueOr(variables.CHECKS_FILE, null) === null) return [];
  return VARIABLE_NAMES.filter((name) => SPEC[name].seed === true && env[name] !== undefined).map((name) => ({
    variable: name,
    expected: 'unset when CHECKS_FILE is set (the file defines every check)',
  }));
};

/** The connection variables as the connection rules see them. */
export function connectionInputs(env: Environment, variables: CheckedVariables): ConnectionInputs {
  return {
    url: valueOr(variables.PROMETHEUS_URL, null),
    userinfoInUrl: hasUserinfo(textOf(env, 'PROMETHEUS_URL')),
    bearerTokenFile: valueOr(variables.PROMETHEUS_BEARER_TOKEN_FILE, null),
    username: valueOr(variables.PROMETHEUS_USERNAME, null),
    passwordFile: valueOr(variables.PROMETHEUS_PASSWORD_FILE, null),
    headers: valueOr(variables.PROMETHEUS_HEADERS, null),
    caFile: valueOr(variables.PROMETHEUS_CA_FILE, null),
    certFile: valueOr(variables.PROMETHEUS_CERT_FILE, null),
    keyFile: valueOr(variables.PROMETHEUS_KEY_FILE, null),
    insecureSkipVerify: valueOr(variables.PROMETHEUS_TLS_INSECURE_SKIP_VERIFY, false),
  };
}

export const authCombinations: Rule = (env, variables) => authProblems(connectionInputs(env, variables));
export const authorizationHeader: Rule = (env, variables) => authorizationHeaderProblems(connectionInputs(env, variables));
export const certificatePair: Rule = (env, variables) => certificatePairProblems(connectionInputs(env, variables));
export const tlsOnlyWithHttps: Rule = (env, variables) => httpsOnlyProblems(connectionInputs(env, variables));

/** The shortest turn: the replica whose turn begins waits about one interval for the one leaving. */
export function shortestRotationMs(intervalMs: number): number {
  return 3 * intervalMs + 1_000;
}

/**
 * A FLEET_ROTATE that is set must be longer than the handover between turns. Left unset, its default (5m) is
 * raised to that instead (a CHECK_INTERVAL of minutes is legitimate and must not need a second setting).
 */
export const rotationOutlastsHandover: Rule = (env, variables) => {
  const rotateMs = valueOr(variables.FLEET_ROTATE, null);
  const intervalMs = valueOr(variables.CHECK_INTERVAL, null);
  if (env.FLEET_ROTATE === undefined || rotateMs === null || intervalMs === null || rotateMs >= shortestRotationMs(intervalMs)) return [];
  return [
    { variable: 'FLEET_ROTATE', expected: `a duration such as 500ms, 10s or 5m, at least 3 x CHECK_INTERVAL + 1s (${formatDuration(shortestRotationMs(intervalMs))})` },
  ];
};
