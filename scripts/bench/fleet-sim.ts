// A simulated fleet for npm run bench:fleet: N probes' worth of monitors in this one process, each built as the
// server builds its own (loadConfig from an environment, configuredChecks, monitorSettings, clientFor: the real
// undici client, one Agent and so its own connections per probe), each with its own schedule. Every query goes
// through a thin counter that records when it left and how long it took: what Prometheus receives, as the probes
// send it. Nothing here changes what a monitor asks or when.
import { loadConfig } from '../../src/config/load.js';
import { scheduleOffsetMs } from '../../src/core/backoff.js';
import type { QueryResult } from '../../src/core/envelope.js';
import { configuredChecks, monitorSettings } from '../../src/core/settings.js';
import { createMonitor, type Monitor, type QueryClient } from '../../src/monitor.js';
import type { PrometheusClient } from '../../src/prometheus/client.js';
import { clientFor } from '../../src/prometheus/connect.js';

/** lockstep: every probe at offset 0 (as before issue 13, pods started together); jitter: each its own offset. */
export type Schedule = 'lockstep' | 'jitter';

/** Every query of a run, as the probes sent it (performance.now() milliseconds). */
export class QueryLog {
  /** Send times, in order. */
  readonly sent: number[] = [];
  /** Round trips of the queries that answered (successfully or not), with their send time. */
  readonly answered: { readonly at: number; readonly ms: number; readonly ok: boolean }[] = [];
  inFlight = 0;
  peakInFlight = 0;
  /** Evaluations finished (a snapshot published), with their time. */
  readonly evaluations: number[] = [];

  /** Starts counting the peak afresh (at the start of the measured window). */
  resetPeak(): void {
    this.peakInFlight = this.inFlight;
  }
}

function counted(client: PrometheusClient, log: QueryLog): QueryClient {
  return {
    async query(promql: string, signal?: AbortSignal): Promise<QueryResult> {
      const at = performance.now();
      log.sent.push(at);
      log.inFlight += 1;
      if (log.inFlight > log.peakInFlight) log.peakInFlight = log.inFlight;
      let ok = false;
      try {
        const result = await client.query(promql, signal);
        ok = true;
        return result;
      } finally {
        log.inFlight -= 1;
        // A query the stop cancelled says nothing about Prometheus.
        if (ok || signal?.aborted !== true) log.answered.push({ at, ms: performance.now() - at, ok });
      }
    },
  };
}

export interface FleetOptions {
  readonly size: number;
  readonly prometheusUrl: string;
  readonly group: string;
  readonly intervalMs: number;
  readonly queryTimeoutMs: number;
  /** Pod names are `${podPrefix}-${index}`, as a Deployment's would differ. */
  readonly podPrefix: string;
  /** lockstep: every offset 0 (no spreading, as before issue 13); jitter: each probe's offset from its name, as the server sets it. */
  readonly schedule: Schedule;
}

/** What one probe asks per evaluation while its group is healthy: its checks, and one estimates query per group. */
export interface FleetShape {
  readonly checksPerGroup: number;
  readonly groups: number;
  readonly queriesPerEvaluation: number;
  /** How often the fleet query is asked while every group-wide check passes. */
  readonly fleetRefreshMs: number | null;
}

export interface Fleet {
  readonly log: QueryLog;
  readonly shape: FleetShape;
  /** Each probe's place in the interval (MonitorOptions.scheduleOffsetMs), in ms. */
  readonly offsetsMs: readonly number[];
  /** Starts every monitor at its place in the interval; resolves once the last has started. */
  start(): Promise<void>;
  /** Stops every monitor (aborting what is in flight) and closes every client; idempotent. */
  close(): Promise<void>;
}

/** Builds the fleet: N configurations, N clients, N monitors; nothing is asked until start(). */
export function buildFleet(options: FleetOptions): Fleet {
  const log = new QueryLog();
  const probes: { monitor: Monitor; client: PrometheusClient }[] = [];
  const offsetsMs: number[] = [];
  let closing: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  let shape: FleetShape | undefined;
  for (let index = 0; index < options.size; index += 1) {
    const config = loadConfig(
      {
        PROMETHEUS_URL: options.prometheusUrl,
        KAFKA_GROUP: options.group,
        CHECK_INTERVAL: `${options.intervalMs}ms`,
        QUERY_TIMEOUT: `${options.queryTimeoutMs}ms`,
        POD_NAME: `${options.podPrefix}-${index}`,
      },
      undefined,
      () => 'bench-host',
    );
    const client = clientFor(config, undefined);
    const checks = configuredChecks(config);
    const settings = monitorSettings(config);
    shape ??= {
      checksPerGroup: checks.length / config.groups.length,
      groups: config.groups.length,
      queriesPerEvaluation: checks.length + settings.estimateGroups.length,
      fleetRefreshMs: settings.fleet?.refreshMs ?? null,
    };
    // As src/service.ts sets it (a random place only for a probe without a name, which these are not).
    const offsetMs = options.schedule === 'jitter' ? scheduleOffsetMs(config.fleet.podName, config.checkIntervalMs, Math.random()) : 0;
    offsetsMs.push(offsetMs);
    const monitor = createMonitor({
      checks,
      client: counted(client, log),
      ...settings,
      scheduleOffsetMs: offsetMs,
      onUpdate: () => log.evaluations.push(performance.now()),
    });
    probes.push({ monitor, client });
  }
  return {
    log,
    shape: shape ?? { checksPerGroup: 0, groups: 0, queriesPerEvaluation: 0, fleetRefreshMs: null },
    offsetsMs,
    start() {
      // Each probe starts at its own place in the interval (the wall time k x interval + its offset), so that its
      // first evaluation, which is at once, is already on its schedule: lockstep probes (offset 0) all start
      // together, jittered ones spread. Resolves once the last has started (within one interval).
      const wallMs = Date.now();
      return new Promise((resolve) => {
        let left = probes.length;
        if (left === 0) resolve();
        probes.forEach((probe, index) => {
          const delayMs = (((offsetsMs[index]! - wallMs) % options.intervalMs) + options.intervalMs) % options.intervalMs;
          timers.push(
            setTimeout(() => {
              if (closing !== undefined) return;
              probe.monitor.start();
              left -= 1;
              if (left === 0) resolve();
            }, delayMs),
          );
        });
      });
    },
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        await Promise.all(probes.map((probe) => probe.monitor.stop()));
        await Promise.all(probes.map((probe) => probe.client.close()));
      })();
      return closing;
    },
  };
}
