// `node dist/main.js check`: every check evaluated once, with the server's configuration, client, policies and
// messages, for an exec healthcheck, a script or CI ("is the group healthy before I deploy?"). No server starts
// and nothing is left running.
import { limitVerdict } from '../core/readiness.js';
import { renderStatusHead, uptimeTail } from '../core/render.js';
import { type Config, configuredChecks, monitorSettings } from '../core/settings.js';
import { createMonitor, type QueryClient } from '../monitor.js';
import { VERSION } from '../version.js';

/** 0 healthy, 1 unhealthy, 3 Prometheus could not be asked (2, bad configuration, is main's). */
export type CheckExitCode = 0 | 1 | 3;

export interface CheckRun {
  readonly exitCode: CheckExitCode;
  /** The /ready message, or the /status document with `json`. */
  readonly output: string;
}

export async function runCheck(config: Config, client: QueryClient, options: { json: boolean; now?: () => number }): Promise<CheckRun> {
  const now = options.now ?? Date.now;
  const startedAtMs = now();
  // One answer has no history: a breach is judged as it stands, since a `for` could never elapse here.
  const checks = configuredChecks(config).map((check) => ({ ...check, forMs: 0 }));
  const monitor = createMonitor({
    checks,
    client,
    ...monitorSettings(config),
  });
  const snapshot = await monitor.evaluate();
  const verdict = snapshot!.verdict;
  // A certain failure is an answer; an error is not, whatever ON_PROMETHEUS_ERROR would make /ready say. A
  // group-wide failure that the fleet limit holds ready is answered as /ready answers it: 0, saying so.
  const failed = verdict.checks.some((check) => !check.ok && check.state !== 'unknown');
  const unknown = verdict.checks.some((check) => check.state === 'unknown');
  const limited = limitVerdict(verdict, config.onPrometheusError, snapshot!.fleet?.decision ?? null);
  const exitCode: CheckExitCode = failed ? (limited.held ? 0 : 1) : unknown ? 3 : 0;
  const output = options.json
    ? `${renderStatusHead({ phase: 'running', snapshot, config, checks, version: VERSION, nodeVersion: process.versions.node, startedAtMs })}${uptimeTail(startedAtMs, now())}`
    : unknown && !failed
      ? verdict.checks.find((check) => check.state === 'unknown')!.reason!
      : limited.message;
  return { exitCode, output };
}
