// Integration-test harness for the second real backend: Debian's `victoria-metrics` (single-node VictoriaMetrics,
// which serves the Prometheus query API at /api/v1/query) scraping the kafka_exporter stand-in itself
// (-promscrape.config), and Debian's `vmalert` evaluating the repository's own rules file against it and writing
// the recorded series back by remote write. vmalert refuses to start on a rules file with alerting rules unless it
// has a notifier, so a loopback node:http server stands in for Alertmanager and records what it is sent.
// Everything listens on 127.0.0.1 only, every wait is bounded, and no process outlives the test process.
//
// Flags checked against `victoria-metrics -help` and `vmalert -help` of Debian's package 1.79.5+ds1-2+b5
// (`-version` prints nothing there: the Debian build carries no version stamp; `dpkg -l victoria-metrics` shows it).
// 1.79 has no `-notifier.blackhole` (added later upstream), hence the stand-in notifier.

import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { answers, type Daemon, daemon, killOnExit, startOnFreePort } from './daemon.js';
import { type FakeExporter, startExporter } from './real-prometheus.js';
import { RULES } from './stack.js';
import { findBinary, requireFound } from './tools.js';

/** The version the flags below were checked against (Debian bookworm's package). */
export const VICTORIA_VERSION = '1.79.5';

/**
 * How far back VictoriaMetrics hides samples from queries whose time is "now" (-search.latencyOffset, 30s by
 * default: a fresh sample would be invisible for half a minute). 1s: a query sees what was written a second ago.
 */
export const LATENCY_OFFSET = '1s';

/**
 * Both binaries (`victoria-metrics` and `vmalert`), or undefined after skipping the test. Under CI=true a missing
 * binary fails the test instead: a CI job that silently skips its integration tests proves nothing.
 */
export function requireVictoria(t: TestContext): { readonly victoria: string; readonly vmalert: string } | undefined {
  const victoria = findBinary('victoria-metrics');
  const vmalert = findBinary('vmalert');
  if (victoria !== undefined && vmalert !== undefined) return { victoria, vmalert };
  const missing = [victoria === undefined ? 'victoria-metrics' : undefined, vmalert === undefined ? 'vmalert' : undefined].filter((name) => name !== undefined);
  requireFound(
    t,
    undefined,
    `*** ${missing.join(' and ')} NOT FOUND in /usr/bin or PATH: tests against the real VictoriaMetrics cannot run. ` +
      'Install them with: apt-get install victoria-metrics (it brings vmalert and vmagent) ***',
  );
  return undefined;
}

/** One POST vmalert made to the stand-in notifier (Alertmanager's /api/v2/alerts, a JSON array of alerts). */
export interface Notification {
  readonly path: string;
  readonly body: unknown;
}

/** VictoriaMetrics with vmalert in front of it. stop()/start() keep the port and the data dir; close() deletes them. */
export interface RealVictoria {
  /** VictoriaMetrics' own URL: the Prometheus query API is at /api/v1/query. The probe's PROMETHEUS_URL. */
  readonly url: string;
  readonly port: number;
  /** vmalert's URL (its /api/v1/rules lists the groups and each rule's last error). */
  readonly vmalertUrl: string;
  /** Everything vmalert sent to the notifier so far (alerts firing or resolved). */
  readonly notifications: readonly Notification[];
  /** Stops victoria-metrics alone (SIGTERM, SIGKILL after 5 s); vmalert keeps running and fails its evaluations. */
  stop(): Promise<void>;
  /** Starts victoria-metrics again on the same port and data dir and waits for /health. No-op while running. */
  start(): Promise<void>;
  /** Stops vmalert and victoria-metrics and the notifier, and deletes the temp dir. Idempotent. */
  close(): Promise<void>;
  /** The last 64 KiB of each process' stderr (both log there), for failure messages. */
  logs(): string;
}

export interface VictoriaOptions {
  /** host:port targets, scraped as job "kafka" from static_configs. */
  readonly scrapeTargets: readonly string[];
  /** Rule files for vmalert, resolved against the current directory. None: vmalert is not started. */
  readonly ruleFiles?: readonly string[];
  /** Scrape and evaluation interval in seconds; default 1. */
  readonly intervalSeconds?: number;
}

// Both answer GET /health with 200 "OK" once their HTTP server is up (VictoriaMetrics has opened its storage before
// it listens; vmalert has read and validated its rules).
const healthOk = (port: number) => answers(`http://127.0.0.1:${port}/health`, (status, body) => status === 200 && body.trim() === 'OK');

/** The stand-in Alertmanager: answers every POST 200 and records it. */
async function startNotifier(notifications: Notification[]): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'POST') {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // kept as text
        }
        notifications.push({ path: request.url ?? '/', body });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  return server;
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeAllConnections();
  await closed;
}

/**
 * Starts victoria-metrics in a fresh temp dir on 127.0.0.1:<free port>, scraping `scrapeTargets`, and (with rule
 * files) vmalert evaluating them against it, each waited for until its /health answers OK.
 */
export async function startVictoria(options: VictoriaOptions): Promise<RealVictoria> {
  const victoriaBinary = findBinary('victoria-metrics');
  const vmalertBinary = findBinary('vmalert');
  if (victoriaBinary === undefined || vmalertBinary === undefined) throw new Error('victoria-metrics or vmalert not found (apt-get install victoria-metrics)');
  const intervalSeconds = options.intervalSeconds ?? 1;
  if (!(intervalSeconds > 0)) throw new RangeError(`intervalSeconds must be > 0, got ${intervalSeconds}`);
  const interval = `${Math.max(1, Math.round(intervalSeconds * 1000))}ms`;

  const dir = await mkdtemp(join(tmpdir(), 'real-victoria-'));
  const scrapeFile = join(dir, 'scrape.yml');
  const dataDir = join(dir, 'data');
  // A Prometheus-format scrape config (VictoriaMetrics reads its scrape_configs); JSON is YAML.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval },
    scrape_configs: [{ job_name: 'kafka', static_configs: [{ targets: [...options.scrapeTargets] }] }],
  };
  await writeFile(scrapeFile, `${JSON.stringify(config, null, 2)}\n`);

  const notifications: Notification[] = [];
  let notifier: Server | undefined;
  // Every daemon ever made, ports that were taken included: the signal hooks kill them all.
  const daemons: Daemon[] = [];
  let victoria: Daemon | undefined;
  let vmalert: Daemon | undefined;
  let closed = false;

  const removeHooks = killOnExit(() => {
    for (const made of daemons) made.killNow();
    rmSync(dir, { recursive: true, force: true });
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // vmalert first, so that it does not log a failed evaluation for every second VictoriaMetrics is gone.
    for (const made of [...daemons].reverse()) await made.stop();
    if (notifier !== undefined) await closeServer(notifier);
    removeHooks();
    rmSync(dir, { recursive: true, force: true });
  };

  const remember = (made: Daemon): void => {
    daemons.push(made);
  };
  try {
    const started = await startOnFreePort(
      (port) =>
        daemon({
          name: 'victoria-metrics',
          binary: victoriaBinary,
          args: [
            `-httpListenAddr=127.0.0.1:${port}`,
            `-storageDataPath=${dataDir}`,
            // The smallest retention 1.79 accepts is a day ("1d"); the temp dir is deleted anyway.
            '-retentionPeriod=1d',
            `-search.latencyOffset=${LATENCY_OFFSET}`,
            `-promscrape.config=${scrapeFile}`,
          ],
          ready: healthOk(port),
        }),
      remember,
    );
    victoria = started.daemon;
    const vmPort = started.port;

    let vmalertPort = 0;
    if ((options.ruleFiles ?? []).length > 0) {
      notifier = await startNotifier(notifications);
      const notifierPort = (notifier.address() as AddressInfo).port;
      const rules = (options.ruleFiles ?? []).map((file) => `-rule=${resolve(file)}`);
      const alert = await startOnFreePort(
        (port) =>
          daemon({
            name: 'vmalert',
            binary: vmalertBinary,
            args: [
              ...rules,
              `-datasource.url=http://127.0.0.1:${vmPort}`,
              // Recorded series (and the alerts' ALERTS series) are written back to VictoriaMetrics.
              `-remoteWrite.url=http://127.0.0.1:${vmPort}`,
              // 5s by default: every recorded sample would reach VictoriaMetrics up to 5 s late.
              '-remoteWrite.flushInterval=500ms',
              `-evaluationInterval=${interval}`,
              // Required when the rules include alerts (vmalert 1.79 exits: "config contains alerting rules but
              // neither `-notifier.url` nor `-notifier.config` aren't set").
              `-notifier.url=http://127.0.0.1:${notifierPort}`,
              `-httpListenAddr=127.0.0.1:${port}`,
            ],
            ready: healthOk(port),
          }),
        remember,
      );
      vmalert = alert.daemon;
      vmalertPort = alert.port;
    }

    return {
      url: `http://127.0.0.1:${vmPort}`,
      port: vmPort,
      vmalertUrl: `http://127.0.0.1:${vmalertPort}`,
      notifications,
      stop: () => started.daemon.stop(),
      start: async () => {
        if (closed) throw new Error('this VictoriaMetrics was closed');
        await started.daemon.start();
      },
      close,
      logs: () => [victoria, vmalert].map((d) => (d === undefined ? '' : `--- ${d.name} ---\n${d.logs()}`)).join('\n'),
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The stack.ts stack with VictoriaMetrics and vmalert in place of Prometheus. */
export interface VictoriaStack {
  readonly exporter: FakeExporter;
  readonly victoria: RealVictoria;
  /** Stops vmalert and VictoriaMetrics, then the exporter. */
  close(): Promise<void>;
}

/**
 * Starts the exporter, lets `prepare` set its series (so that the first scrape sees them), then VictoriaMetrics
 * scraping it and vmalert evaluating the shipped rules (stack.ts RULES). With `t`, all are stopped after that test.
 */
export async function startVictoriaStack(t?: Pick<TestContext, 'after'>, prepare?: (exporter: FakeExporter) => void): Promise<VictoriaStack> {
  const exporter = await startExporter();
  let victoria: RealVictoria;
  try {
    prepare?.(exporter);
    victoria = await startVictoria({ scrapeTargets: [exporter.target], ruleFiles: [RULES] });
  } catch (error) {
    await exporter.close();
    throw error;
  }
  const stack: VictoriaStack = {
    exporter,
    victoria,
    close: async () => {
      await victoria.close();
      await exporter.close();
    },
  };
  t?.after(() => stack.close());
  return stack;
}
