#!/usr/bin/env node
// The entry point: the only place that reads process.env and argv, writes to the console, and handles signals.
import { runCheck } from './cli/check.js';
import { healthcheck } from './cli/healthcheck.js';
import { sendReload } from './cli/reload.js';
import { USAGE } from './cli/usage.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem, messageOf } from './core/errors.js';
import type { Config } from './core/settings.js';
import { createLogger } from './log.js';
import { type TlsOptions, tlsOptions } from './prometheus/credentials.js';
import { startService } from './service.js';
import { VERSION } from './version.js';

// Leaves time to exit inside the 2 s the command promises.
const HEALTHCHECK_BUDGET_MS = 1_800;

/** Exit codes: 0 done, 1 unhealthy or failed, 2 bad configuration or usage. */
async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (command === 'healthcheck') {
    const config = configOrExit(1); // Docker reserves exit code 2
    // Docker and kubelet time the whole command: Node's own start-up is taken out of the 2 s budget.
    const timeoutMs = Math.max(100, Math.round(HEALTHCHECK_BUDGET_MS - performance.now()));
    const result = await healthcheck({ host: config.host, port: config.port, path: rest[0] ?? '/health', timeoutMs });
    if (result.exitCode !== 0) process.stderr.write(`unhealthy: ${result.detail}\n`);
    process.exit(result.exitCode);
  }
  if (command === 'check') {
    const json = rest.includes('--json');
    const unknownFlag = rest.find((arg) => arg !== '--json');
    if (unknownFlag !== undefined) usageError(`unknown option ${JSON.stringify(unknownFlag)} for check`);
    const config = configOrExit(2);
    const { clientFor } = await import('./prometheus/connect.js');
    const client = clientFor(config, tlsOrExit(config));
    const result = await runCheck(config, client, { json });
    await client.close();
    process.stdout.write(`${result.output}\n`);
    process.exit(result.exitCode);
  }
  if (command === 'reload') {
    const result = sendReload(rest);
    if (result.exitCode === 2) usageError(result.message);
    (result.exitCode === 0 ? process.stdout : process.stderr).write(`${result.message}\n`);
    if (result.exitCode !== 0) process.exit(result.exitCode);
    return;
  }
  if (command !== undefined) {
    process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    process.exit(2);
  }

  const config = configOrExit(2);
  const log = createLogger((line) => process.stdout.write(line));
  const starting = startService({ config, log });
  // As PID 1 in a container Node does not stop on SIGTERM by itself: without these, `docker stop` waits for SIGKILL.
  // Installed before start-up ends: the server already answers while undici loads, and a signal then must still
  // shut down gracefully rather than kill the process.
  const onSignal = (signal: NodeJS.Signals): void => {
    starting
      .then((service) => service.shutdown(signal))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`shutdown failed: ${messageOf(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // Node's default for SIGHUP is to exit: here it re-reads CHECKS_FILE and the TLS files instead.
  process.on('SIGHUP', () => {
    starting.then((service) => service.reload()).catch((error: unknown) => log.log('error', 'reload_failed', { error: messageOf(error) }));
  });
  try {
    await starting;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithProblems(error, 2); // TLS material that does not parse is found when the client is built
  }
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function tlsOrExit(config: Config): TlsOptions | undefined {
  try {
    return tlsOptions(config.connection);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithProblems(error, 2);
  }
}

function configOrExit(exitCode: number): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithProblems(error, exitCode);
  }
}

function exitWithProblems(error: ConfigError, exitCode: number): never {
  for (const problem of error.problems) {
    process.stderr.write(`invalid configuration: ${formatProblem(problem)}\n`);
  }
  process.exit(exitCode);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`fatal: ${messageOf(error)}\n`);
  process.exit(1);
});
