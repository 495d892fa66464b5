// The probe assembled: client, monitor and server, started and stopped as one. Tests start it in-process
// with a fake clock or client; main starts it with the real ones.
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import { readChecks, type ConfigFiles } from './config/load.js';
import { instantiate, type CheckDefinition } from './core/checks.js';
import { ConfigError, formatProblem, messageOf } from './core/errors.js';
import { configuredChecks, describeConfig, monitorSettings, type Config } from './core/settings.js';
import type { Logger } from './log.js';
import { createMonitor, type Monitor, type QueryClient } from './monitor.js';
import { tlsOptions } from './prometheus/credentials.js';
import { createProbeServer, type ProbeServer } from './server.js';
import { VERSION } from './version.js';

export interface ServiceOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Replaces the undici client (tests of faults a real Prometheus cannot produce). */
  readonly client?: QueryClient & { close?(): Promise<void> };
  readonly checks?: readonly CheckDefinition[];
  /** Where a reload reads CHECKS_FILE and the TLS files (tests pass their own). */
  readonly files?: ConfigFiles;
}

type Client = QueryClient & { close?(): Promise<void> };

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
  const clock = options.clock ?? systemClock;
  let checks = options.checks ?? configuredChecks(config);
  // Reads and checks the TLS files now: a bad one throws a ConfigError before anything listens.
  const tls = options.client === undefined ? tlsOptions(config.connection) : undefined;
  const server = createProbeServer({
    view: { phase: 'starting', snapshot: null, config, checks, version: VERSION, nodeVersion: process.versions.node, startedAtMs: clock.now() },
    now: clock.now,
    log,
  });

  log.log('info', 'starting', { version: VERSION, node: process.versions.node, config: describeConfig(config), checks: checks.map((c) => ({ name: c.name, query: c.query })) });
  if (config.connection.insecureSkipVerify) {
    log.log('warn', 'tls_verification_disabled', {
      message: 'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY=true: the Prometheus certificate is NOT verified; anyone on the path can answer in its place',
    });
  }
  const address = await server.listen(config.port, config.host);
  log.log('info', 'listening', { address: address.address, port: address.port });

  // /health answers from here on; /ready says "starting" until the first evaluation. undici loads only now.
  const clientFor = options.client === undefined ? (await import('./prometheus/connect.js')).clientFor : undefined;
  let client: Client = options.client ?? clientFor!(config, tls);
  const monitor = createMonitor({
    checks,
    // Through a reference, so that a reload can swap the client (new TLS material) under the monitor.
    client: { query: (promql, signal) => client.query(promql, signal) },
    ...monitorSettings(config),
    clock,
    log,
    onUpdate: (snapshot) => server.update(snapshot),
  });
  monitor.start();

  let stopping: Promise<void> | undefined;
  let reloading = Promise.resolve({ ok: true, error: null as string | null });

  async function reloadNow(): Promise<{ ok: boolean; error: string | null }> {
    const refuse = (error: string): { ok: false; error: string } => {
      log.log('error', 'reload_failed', { error, kept: 'the previous checks and TLS settings' });
      server.setReload({ atMs: clock.now(), ok: false, error });
      return { ok: false, error };
    };
    // Queued before a SIGTERM: give up. (Nothing below awaits before the client is swapped, so no later check.)
    if (stopping !== undefined) return { ok: false, error: 'shutting down' };
    let next = checks;
    if (config.checksFile !== null && options.checks === undefined) {
      const read = readChecks(config.checksFile, config.groups.length > 1, options.files);
      if (!read.ok) return refuse(read.problems.map(formatProblem).join('; '));
      next = instantiate(read.templates, config.groups);
    }
    let nextClient: Client | undefined;
    if (clientFor !== undefined) {
      try {
        nextClient = clientFor(config, tlsOptions(config.connection, options.files?.readFile));
      } catch (error) {
        return refuse(error instanceof ConfigError ? error.problems.map(formatProblem).join('; ') : messageOf(error));
      }
    }
    const previous = client;
    if (nextClient !== undefined) client = nextClient;
    checks = next;
    server.setReload({ atMs: clock.now(), ok: true, error: null });
    log.log('info', 'reloaded', { checks: next.map((c) => ({ id: c.id, query: c.query })) });
    await monitor.replaceChecks(next);
    // Only now that the new checks have been evaluated: before, /ready/NEW would combine no judgement into a 200,
    // and /status would show new thresholds beside the old checks' states.
    server.setChecks(next);
    if (nextClient !== undefined) await previous.close?.();
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
        await client.close?.();
        log.log('info', 'shutdown_complete', {});
      })();
      return stopping;
    },
  };
}
