// The probe assembled: client, monitor and server, started, reloaded and stopped as one. main starts it; the
// pieces are tested on their own (monitor with a fake clock, server on real sockets) and together as a process.
import type { AddressInfo } from 'node:net';
import { systemClock } from './clock.js';
import { readChecks } from './config/load.js';
import { scheduleOffsetMs } from './core/backoff.js';
import type { CheckDefinition } from './core/checks.js';
import { ConfigError, formatProblem, messageOf } from './core/errors.js';
import { formatUnreadyLimit } from './core/fleet.js';
import { type Config, checksFor, configuredChecks, describeConfig, fleetLearning, monitorSettings } from './core/settings.js';
import type { Logger } from './log.js';
import { createMonitor, type Monitor, type QueryClient } from './monitor.js';
import { type TlsOptions, tlsOptions } from './prometheus/credentials.js';
import { createProbeServer, type ProbeServer } from './server.js';
import { VERSION } from './version.js';

export interface ServiceOptions {
  readonly config: Config;
  readonly log: Logger;
}

/** The Prometheus client as the service holds it: a reload may replace it. */
type Client = QueryClient & { close(): Promise<void> };

export interface Service {
  readonly address: AddressInfo;
  readonly server: ProbeServer;
  readonly monitor: Monitor;
  /** /ready turns 503, then after SHUTDOWN_DELAY the server closes; resolves when everything has stopped. */
  shutdown(reason: string): Promise<void>;
  /**
   * SIGHUP: reads CHECKS_FILE and the TLS files again. New checks replace the old ones, evaluated at once; a file
   * that does not parse keeps everything as it was, and the log and /status say why. Token and password files
   * need no reload: every query reads them.
   */
  reload(): Promise<{ ok: boolean; error: string | null }>;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const { config, log } = options;
  const clock = systemClock;
  let checks = configuredChecks(config);
  // Reads and checks the TLS files now: a bad one throws a ConfigError before anything listens.
  const tls = tlsOptions(config.connection);
  const server = createProbeServer({
    view: { phase: 'starting', snapshot: null, config, checks, version: VERSION, nodeVersion: process.versions.node, startedAtMs: clock.now() },
    now: clock.now,
    log,
  });

  log.log('info', 'starting', {
    version: VERSION,
    node: process.versions.node,
    config: describeConfig(config),
    checks: checks.map((c) => ({ name: c.name, query: c.query })),
  });
  const fleet = fleetLearning(config);
  log.log(
    'info',
    'fleet',
    fleet === undefined
      ? { limit: 'off', message: 'FLEET_MAX_UNREADY=100%: a group-wide failure makes every replica unready' }
      : {
          self: fleet.settings.self,
          max_unready: formatUnreadyLimit(config.fleet.maxUnready),
          label: fleet.label,
          message: `the fleet is learned from Prometheus (${fleet.query}); until it is seen this replica behaves as a fleet of one`,
        },
  );
  if (config.connection.insecureSkipVerify) {
    log.log('warn', 'tls_verification_disabled', {
      message: 'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY=true: the Prometheus certificate is NOT verified; anyone on the path can answer in its place',
    });
  }
  const address = await server.listen(config.port, config.host);
  log.log('info', 'listening', { address: address.address, port: address.port });

  // /health answers from here on; /ready says "starting" until the first evaluation. undici loads only now.
  const { clientFor } = await import('./prometheus/connect.js');
  let client: Client = clientFor(config, tls);
  const monitor = createMonitor({
    checks,
    // Through a reference, so that a reload can swap the client (new TLS material) under the monitor.
    client: { query: (promql, signal) => client.query(promql, signal) },
    ...monitorSettings(config),
    // Replicas started together do not ask together: each has its own place in the interval, from its name.
    scheduleOffsetMs: scheduleOffsetMs(config.fleet.podName, config.checkIntervalMs, Math.random()),
    clock,
    log,
    onUpdate: (snapshot) => server.update(snapshot),
  });
  monitor.start();

  let stopping: Promise<void> | undefined;
  let reloading = Promise.resolve({ ok: true, error: null as string | null });

  async function reloadNow(): Promise<{ ok: boolean; error: string | null }> {
    // Queued before a SIGTERM: give up. (Nothing below awaits before the client is swapped, so no later check.)
    if (stopping !== undefined) return { ok: false, error: 'shutting down' };
    const next = readReload(config, clientFor);
    if (!next.ok) {
      log.log('error', 'reload_failed', { error: next.error, kept: 'the previous checks and TLS settings' });
      server.setReload({ atMs: clock.now(), ok: false, error: next.error });
      return { ok: false, error: next.error };
    }
    const previous = client;
    client = next.client;
    checks = next.checks ?? checks;
    server.setReload({ atMs: clock.now(), ok: true, error: null });
    log.log('info', 'reloaded', { checks: checks.map((c) => ({ id: c.id, query: c.query })) });
    await monitor.replaceChecks(checks);
    // Only now that the new checks have been evaluated: before, /ready/NEW would combine no judgement into a 200,
    // and /status would show new thresholds beside the old checks' states.
    server.setChecks(checks);
    await previous.close();
    return { ok: true, error: null };
  }

  return {
    reload() {
      if (stopping !== undefined) return Promise.resolve({ ok: false, error: 'shutting down' });
      // One at a time: a burst of SIGHUPs reloads in turn, never interleaved.
      reloading = reloading.then(reloadNow, reloadNow);
      return reloading;
    },
    address,
    server,
    monitor,
    shutdown(reason) {
      stopping ??= (async () => {
        log.log('info', 'shutdown_begun', { reason, delay_ms: config.shutdownDelayMs });
        server.setPhase('shutting_down');
        await monitor.stop();
        // A reload under way finishes (or gives up) before the client it may have swapped in is closed.
        await reloading.catch(() => undefined);
        if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
        await server.close();
        await client.close();
        log.log('info', 'shutdown_complete', {});
      })();
      return stopping;
    },
  };
}

/**
 * What a reload would put in place: CHECKS_FILE read again (when there is one) and a client built from the TLS
 * files read again, or why it is refused, in which case everything stays as it was.
 */
function readReload(
  config: Config,
  clientFor: (config: Config, tls: TlsOptions | undefined) => Client,
): { ok: true; checks: readonly CheckDefinition[] | null; client: Client } | { ok: false; error: string } {
  let checks: readonly CheckDefinition[] | null = null;
  if (config.checksFile !== null) {
    const read = readChecks(config.checksFile, config.groups.length > 1);
    if (!read.ok) return { ok: false, error: read.problems.map(formatProblem).join('; ') };
    checks = checksFor(config, read.templates);
  }
  try {
    return { ok: true, checks, client: clientFor(config, tlsOptions(config.connection)) };
  } catch (error) {
    return { ok: false, error: error instanceof ConfigError ? error.problems.map(formatProblem).join('; ') : messageOf(error) };
  }
}
