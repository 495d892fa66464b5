// Integration-test harness: Debian's real `prometheus` on loopback, scraping a fake kafka_exporter that the test
// steers. Everything listens on 127.0.0.1 only, every wait is bounded, and no Prometheus outlives the test process.

import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { answers, type Daemon, daemon, killOnExit, startOnFreePort } from './daemon.js';
import { findBinary, requireFound } from './tools.js';

/** Path of the real Prometheus server: /usr/bin/prometheus, else the first one on PATH. */
export function prometheusBinary(): string | undefined {
  return findBinary('prometheus');
}

/**
 * The binary's path, or undefined after skipping the test. Under CI=true a missing binary fails the test instead:
 * a CI job that silently skips its integration tests proves nothing.
 */
export function requireBinary(t: TestContext, name: 'prometheus' | 'promtool'): string | undefined {
  return requireFound(
    t,
    findBinary(name),
    `*** ${name} NOT FOUND in /usr/bin or PATH: tests against the real Prometheus cannot run. Install it with: apt-get install prometheus (it brings promtool) ***`,
  );
}

/** A running Prometheus. stop()/start() keep the port and the data dir; close() also deletes them. */
export interface RealPrometheus {
  readonly url: string;
  readonly port: number;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process has exited. Data is kept for start(). */
  stop(): Promise<void>;
  /** Starts again on the same port and data dir and waits for /-/ready. No-op while running. */
  start(): Promise<void>;
  /** stop() and delete the temp dir (config and TSDB). Idempotent; the instance cannot start again. */
  close(): Promise<void>;
  /** The last 64 KiB of the process' stderr (Prometheus logs there), for failure messages. */
  logs(): string;
}

/** How to run the real Prometheus. */
export interface PrometheusOptions {
  /** host:port targets, scraped as job "kafka" from static_configs (no service discovery). */
  readonly scrapeTargets: readonly string[];
  /** Rule files, resolved against the current directory. */
  readonly ruleFiles?: readonly string[];
  /** Scrape and rule evaluation interval; default 1. */
  readonly intervalSeconds?: number;
  /** Passed as --web.config.file (TLS, basic auth). */
  readonly webConfigFile?: string;
  readonly extraArgs?: readonly string[];
  /** More targets, scraped as job "probes", each with its own target labels (a pod name, as Kubernetes would add). */
  readonly labelledTargets?: readonly { readonly target: string; readonly labels: Readonly<Record<string, string>> }[];
}

/** Starts Prometheus in a fresh temp dir on 127.0.0.1:<free port> and waits until /-/ready answers 200. */
export async function startPrometheus(options: PrometheusOptions): Promise<RealPrometheus> {
  const binary = prometheusBinary();
  if (binary === undefined) throw new Error('prometheus binary not found (apt-get install prometheus)');
  const intervalSeconds = options.intervalSeconds ?? 1;
  if (!(intervalSeconds > 0)) throw new RangeError(`intervalSeconds must be > 0, got ${intervalSeconds}`);
  const interval = `${Math.max(1, Math.round(intervalSeconds * 1000))}ms`;

  const dir = await mkdtemp(join(tmpdir(), 'real-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  const dataDir = join(dir, 'data');
  // JSON is YAML: no hand-rolled YAML quoting of paths and targets.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: (options.ruleFiles ?? []).map((file) => resolve(file)),
    scrape_configs: [
      { job_name: 'kafka', static_configs: [{ targets: [...options.scrapeTargets] }] },
      ...(options.labelledTargets === undefined || options.labelledTargets.length === 0
        ? []
        : [{ job_name: 'probes', static_configs: options.labelledTargets.map(({ target, labels }) => ({ targets: [target], labels: { ...labels } })) }]),
    ],
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const made: Daemon[] = [];
  let closed = false;
  const removeHooks = killOnExit(() => {
    for (const one of made) one.killNow();
    rmSync(dir, { recursive: true, force: true });
  });
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const one of made) await one.stop();
    removeHooks();
    rmSync(dir, { recursive: true, force: true });
  };

  const make = (port: number): Daemon =>
    daemon({
      name: 'prometheus',
      binary,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Lets a test POST /-/reload after rewriting prometheus.yml; the listener is loopback-only.
        '--web.enable-lifecycle',
        ...(options.webConfigFile === undefined ? [] : [`--web.config.file=${options.webConfigFile}`]),
        ...(options.extraArgs ?? []),
      ],
      // TLS or auth in front of /-/ready: Prometheus says in its log when it is ready.
      ready:
        options.webConfigFile === undefined
          ? answers(`http://127.0.0.1:${port}/-/ready`, (status) => status === 200)
          : async (stderrTail) => stderrTail.includes('Server is ready to receive web requests'),
    });

  let started: { daemon: Daemon; port: number };
  try {
    started = await startOnFreePort(make, (one) => made.push(one));
  } catch (error) {
    await close();
    throw error;
  }
  const { port } = started;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () => started.daemon.stop(),
    start: async () => {
      if (closed) throw new Error('this Prometheus was closed');
      await started.daemon.start();
    },
    close,
    logs: () => started.daemon.logs(),
  };
}

/** A stand-in for danielqsj/kafka_exporter: serves its metric names and labels from values the test sets. */
export interface FakeExporter {
  /** 127.0.0.1:port, as a Prometheus scrape target. */
  readonly target: string;
  /** How many times /metrics was served. */
  readonly scrapes: number;
  /** -1 is what the exporter reports for a partition without a committed offset. */
  setLag(group: string, topic: string, partition: number, lag: number): void;
  setMembers(group: string, members: number): void;
  /**
   * A partition as kafka_exporter reports it: the group's committed offset (kafka_consumergroup_current_offset, -1
   * without one), the partition's end offset (kafka_topic_partition_current_offset), and the lag, end - committed
   * (-1 without a committed offset), exactly as the exporter derives it.
   */
  setOffsets(group: string, topic: string, partition: number, committed: number, end: number): void;
  /** Drops every series; Prometheus then marks them stale at its next scrape. */
  clear(): void;
  close(): Promise<void>;
}

interface LagSample {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

// The exposition format's escaping (prom-client lib/registry.js does the same).
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function renderExposition(lags: Iterable<LagSample>, members: Iterable<[string, number]>): string {
  const lines: string[] = [];
  const lagLines = [...lags].map(
    (s) =>
      `kafka_consumergroup_lag{consumergroup="${escapeLabelValue(s.group)}",partition="${s.partition}",` + `topic="${escapeLabelValue(s.topic)}"} ${formatValue(s.lag)}`,
  );
  if (lagLines.length > 0) {
    lines.push('# HELP kafka_consumergroup_lag Current Approximate Lag of a ConsumerGroup at Topic/Partition');
    lines.push('# TYPE kafka_consumergroup_lag gauge', ...lagLines);
  }
  const memberLines = [...members].map(([group, count]) => `kafka_consumergroup_members{consumergroup="${escapeLabelValue(group)}"} ${formatValue(count)}`);
  if (memberLines.length > 0) {
    lines.push('# HELP kafka_consumergroup_members Amount of members in a consumer group');
    lines.push('# TYPE kafka_consumergroup_members gauge', ...memberLines);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** kafka_exporter's offset series (kafka_exporter.go: kafka_consumergroup_current_offset, kafka_topic_partition_current_offset). */
function renderOffsets(committed: Iterable<LagSample>, ends: Iterable<{ readonly topic: string; readonly partition: number; readonly end: number }>): string {
  const lines: string[] = [];
  const committedLines = [...committed].map(
    (s) =>
      `kafka_consumergroup_current_offset{consumergroup="${escapeLabelValue(s.group)}",partition="${s.partition}",topic="${escapeLabelValue(s.topic)}"} ${formatValue(s.lag)}`,
  );
  if (committedLines.length > 0) {
    lines.push('# HELP kafka_consumergroup_current_offset Current Offset of a ConsumerGroup at Topic/Partition');
    lines.push('# TYPE kafka_consumergroup_current_offset gauge', ...committedLines);
  }
  const endLines = [...ends].map((s) => `kafka_topic_partition_current_offset{partition="${s.partition}",topic="${escapeLabelValue(s.topic)}"} ${formatValue(s.end)}`);
  if (endLines.length > 0) {
    lines.push('# HELP kafka_topic_partition_current_offset Current Offset of a Broker at Topic/Partition');
    lines.push('# TYPE kafka_topic_partition_current_offset gauge', ...endLines);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Starts a fake kafka_exporter on 127.0.0.1:<ephemeral port>, serving /metrics in text format 0.0.4. */
export async function startExporter(): Promise<FakeExporter> {
  const lags = new Map<string, LagSample>();
  const members = new Map<string, number>();
  const committedOffsets = new Map<string, LagSample>();
  const endOffsets = new Map<string, { readonly topic: string; readonly partition: number; readonly end: number }>();
  let scrapes = 0;

  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    scrapes += 1;
    const body = renderExposition(lags.values(), members.entries()) + renderOffsets(committedOffsets.values(), endOffsets.values());
    response.writeHead(200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const { port } = server.address() as AddressInfo;

  return {
    target: `127.0.0.1:${port}`,
    get scrapes() {
      return scrapes;
    },
    setLag(group, topic, partition, lag) {
      if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`bad partition ${partition}`);
      lags.set(JSON.stringify([group, topic, partition]), { group, topic, partition, lag });
    },
    setMembers(group, count) {
      members.set(group, count);
    },
    setOffsets(group, topic, partition, committed, end) {
      if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`bad partition ${partition}`);
      const key = JSON.stringify([group, topic, partition]);
      committedOffsets.set(key, { group, topic, partition, lag: committed });
      endOffsets.set(JSON.stringify([topic, partition]), { topic, partition, end });
      lags.set(key, { group, topic, partition, lag: committed < 0 ? -1 : end - committed });
    },
    clear() {
      lags.clear();
      members.clear();
      committedOffsets.clear();
      endOffsets.clear();
    },
    async close() {
      // Prometheus scrapes over keep-alive connections; close() alone would wait for them to idle out.
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** POSTs an instant query and returns the envelope's `data`; throws on a non-2xx answer or status "error". */
export async function instantQuery(prometheusUrl: string, promql: string): Promise<unknown> {
  const response = await fetch(`${prometheusUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: promql }).toString(),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  let envelope: { status?: unknown; data?: unknown; errorType?: unknown; error?: unknown };
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    throw new Error(`query ${promql}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok || envelope.status !== 'success') {
    throw new Error(`query ${promql}: HTTP ${response.status} ${String(envelope.errorType)}: ${String(envelope.error)}`);
  }
  return envelope.data;
}

/** One element of an instant vector, with the value parsed ("NaN", "+Inf" and "-Inf" included). */
export interface VectorSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseSampleValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

/** instantQuery() for queries that must return a vector of float samples. */
export async function instantVector(prometheusUrl: string, promql: string): Promise<VectorSample[]> {
  const data = (await instantQuery(prometheusUrl, promql)) as { resultType?: unknown; result?: unknown };
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new Error(`query ${promql}: expected a vector, got ${JSON.stringify(data).slice(0, 200)}`);
  }
  return data.result.map((element: { metric?: Record<string, string>; value?: [number, string] }) => {
    const raw = element.value?.[1];
    if (typeof raw !== 'string') throw new Error(`query ${promql}: sample without a float value`);
    return { labels: element.metric ?? {}, value: parseSampleValue(raw) };
  });
}
