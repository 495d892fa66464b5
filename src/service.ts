// The probe assembled: client, monitor and server, started and stopped as one. Tests start it in-process
// with a fake clock or client; main starts it with the real ones.
import type { AddressInfo } from 'node:net';
import { defaultChecks, type CheckDefinition } from './checks.js';
import { describeConfig, monitorSettings, type Config } from './config.js';
import { createMonitor, systemClock, type Clock, type Monitor, type QueryClient } from './monitor.js';
import { tlsOptions } from './credentials.js';
import type { Logger } from './log.js';
import { createProbeServer, type ProbeServer } from './server.js';
import { VERSION } from './version.js';

export interface ServiceOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Replaces the undici client (tests of faults a real Prometheus cannot produce). */
  readonly client?: QueryClient & { close?(): Promise<void> };
  readonly checks?: readonly CheckDefinition[];
}

export interface Service {
  readonly address: AddressInfo;
  readonly server: ProbeServer;
  readonly monitor: Monitor;
  /** /ready turns 503, then after SHUTDOWN_DELAY the server closes; resolves when everything has stopped. */
  shutdown(reason: string): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const checks = options.checks ?? defaultChecks(config);
  // Reads and checks the TLS files now: a bad one throws a ConfigError before anything listens.
  const tls = options.client === undefined ? tlsOptions(config.connection) : undefined;
  const server = createProbeServer({
    view: { phase: 'starting', snapshot: null, config, checks, version: VERSION, startedAtMs: clock.now() },
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
  const client = options.client ?? (await import('./client.js')).clientFor(config, tls);
  const monitor = createMonitor({
    checks,
    client,
    ...monitorSettings(config),
    clock,
    log,
    onUpdate: (snapshot) => server.update(snapshot),
  });
  monitor.start();

  let stopping: Promise<void> | undefined;
  return {
    address,
    server,
    monitor,
    shutdown(reason) {
      stopping ??= (async () => {
        log.log('info', 'shutdown_begun', { reason, delay_ms: config.shutdownDelayMs });
        server.setPhase('shutting_down');
        await monitor.stop();
        if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
        await server.close();
        await client.close?.();
        log.log('info', 'shutdown_complete', {});
      })();
      return stopping;
    },
  };
}
