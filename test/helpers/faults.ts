// What a broken Prometheus does, for the fault suite (test/integration/faults.test.ts): one handler per
// misbehaviour for the shared fake (fake-prometheus.ts, which also goes down and comes back for "connection
// refused"), timed requests to the probe on fresh connections, and a sampler process that times them from outside
// the test runner.
import { spawn } from 'node:child_process';
import { request, type ServerResponse } from 'node:http';
import type { FakeHandler } from './fake-prometheus.js';

/** One series of a vector answer. */
export interface Series {
  readonly value: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export const SKEW_METRIC = 'kafka:group_skew_ratio';
export const CONSUMERS_METRIC = 'kafka:group_consumer_count';

/** Which check a query belongs to, by the recorded series it asks for. */
export function isSkewQuery(query: string): boolean {
  return query.includes(SKEW_METRIC);
}

function json(res: ServerResponse, statusCode: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A success envelope with a vector per check, labelled as the recording rules label them; extra envelope fields merged in. */
export function vectors(group: string, skew: readonly Series[], consumers: readonly Series[], extra: Readonly<Record<string, unknown>> = {}): FakeHandler {
  return (query, _req, res) => {
    const [name, series] = isSkewQuery(query) ? [SKEW_METRIC, skew] : [CONSUMERS_METRIC, consumers];
    const result = series.map((s) => ({ metric: { __name__: name, consumergroup: group, ...s.labels }, value: [Date.now() / 1000, s.value] }));
    json(res, 200, { status: 'success', data: { resultType: 'vector', result }, ...extra });
  };
}

/** One value per check, one series each: the everyday answer. */
export function values(group: string, skew: string, consumers: string): FakeHandler {
  return vectors(group, [{ value: skew }], [{ value: consumers }]);
}

/** A scalar result per check. */
export function scalars(skew: string, consumers: string): FakeHandler {
  return (query, _req, res) => json(res, 200, { status: 'success', data: { resultType: 'scalar', result: [Date.now() / 1000, isSkewQuery(query) ? skew : consumers] } });
}

/** A range-query shaped answer, which an instant check cannot judge. */
export function matrix(group: string): FakeHandler {
  return (query, _req, res) => {
    const now = Date.now() / 1000;
    const metric = { __name__: isSkewQuery(query) ? SKEW_METRIC : CONSUMERS_METRIC, consumergroup: group };
    json(res, 200, {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric,
            values: [
              [now - 1, '1'],
              [now, '1'],
            ],
          },
        ],
      },
    });
  };
}

/** Any status with any body, as given. */
export function raw(statusCode: number, body: string, contentType = 'application/json'): FakeHandler {
  return (_query, _req, res) => {
    res.writeHead(statusCode, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

/** Any status with a plain-text body and extra headers (Retry-After, say), as Go's http.Error writes it. */
export function plain(statusCode: number, body: string, headers: Readonly<Record<string, string>> = {}): FakeHandler {
  return (_query, _req, res) => {
    res.writeHead(statusCode, {
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  };
}

// The answers of the backends beside Prometheus that serve its API, each copied from the backend's own source.

/**
 * Grafana Mimir and Cortex, query-frontend queue full: HTTP 429, text/plain "too many outstanding requests".
 * grafana/mimir pkg/frontend/v1/frontend.go and cortexproject/cortex pkg/frontend/v1/frontend.go:
 * `errTooManyRequest = httpgrpc.Errorf(http.StatusTooManyRequests, "too many outstanding requests")`, written by
 * pkg/frontend/transport/handler.go writeError -> httpgrpc server.WriteError, which is Go's http.Error (a newline
 * appended). They send no Retry-After; `retryAfter` adds one, as a proxy in front may.
 */
export function mimirTooManyRequests(retryAfter?: string): FakeHandler {
  return plain(429, 'too many outstanding requests\n', retryAfter === undefined ? {} : { 'retry-after': retryAfter });
}

/**
 * Grafana Mimir and Cortex without X-Scope-OrgID: HTTP 401, text/plain "no org id". grafana/dskit
 * middleware/http_auth.go AuthenticateUser: `http.Error(w, err.Error(), http.StatusUnauthorized)` with
 * user.ErrNoOrgID = "no org id" (weaveworks/common user/id.go, carried into dskit).
 */
export const mimirNoOrgId: FakeHandler = plain(401, 'no org id\n');

/**
 * Grafana Mimir when no store-gateway could serve some blocks (a transient store error): HTTP 422 with
 * Prometheus' error envelope, errorType "execution". Text from grafana/mimir pkg/querier/blocks_store_queryable.go
 * newStoreConsistencyCheckFailedError (its test TestBlocksStoreQueryableErrMsgs); the 422 is Prometheus' own
 * mapping of an execution error (web/api/v1/api.go), which Mimir's querier API keeps.
 */
export const mimirStoreConsistency: FakeHandler = (_query, _req, res) =>
  json(res, 422, {
    status: 'error',
    errorType: 'execution',
    error:
      'expanding series: the consistency check failed because some blocks were not queried (err-mimir-store-consistency-check-failed). The non-queried blocks are: 01HNQ6X8Z2YB3J1V0E4W9K7M5R',
  });

/**
 * VictoriaMetrics cluster with a vmstorage node down: a success with `"isPartial":true` beside status and data.
 * VictoriaMetrics/VictoriaMetrics app/vmselect/prometheus/query_response.qtpl QueryResponse writes
 * `"status":"success","isPartial":{% if isPartial %}true{% else %}false{% endif %},"data":{...}` (v1.47.0 CHANGELOG:
 * "isPartial":true "if the response contains partial data because of a part of vmstorage nodes were unavailable").
 */
export function victoriaPartial(group: string, skew: string, consumers: string): FakeHandler {
  return vectors(group, [{ value: skew }], [{ value: consumers }], { isPartial: true });
}

/**
 * Thanos Query with a store down, partial responses on (its default): a success with the store's error as a warning.
 * thanos-io/thanos pkg/store/proxy_merge.go (commit bb390a8): `errors.Wrapf(err, "receive series from %s", st)`
 * sent as storepb.NewWarnSeriesResponse, which the querier returns in the API's `warnings`. The store's String() is
 * "Addr: <addr> LabelSets: <sets> MinTime: <t> MaxTime: <t>".
 */
export const THANOS_STORE_DOWN_WARNING =
  'receive series from Addr: 10.42.3.17:10901 LabelSets: {prometheus="monitoring/k8s", prometheus_replica="prometheus-k8s-1"} MinTime: 1764100000000 MaxTime: 9223372036854775807: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.42.3.17:10901: connect: connection refused"';

export function thanosStoreDown(group: string, skew: string, consumers: string): FakeHandler {
  return vectors(group, [{ value: skew }], [{ value: consumers }], { warnings: [THANOS_STORE_DOWN_WARNING] });
}

/** Prometheus' own error envelope. */
export function apiError(statusCode: number, errorType: string, error: string): FakeHandler {
  return (_query, _req, res) => json(res, statusCode, { status: 'error', errorType, error });
}

/** Reads the request, then says nothing: the socket stays open until the client gives up. */
export const neverAnswer: FakeHandler = () => {};

/** Headers at once, then one byte of body every `everyMs`, forever (until the client hangs up). */
export function trickle(everyMs: number): FakeHandler {
  return (_query, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    const timer = setInterval(() => res.write(' '), everyMs);
    res.on('close', () => clearInterval(timer));
  };
}

/** Headers only after `delayMs`, then `then`'s answer; nothing if the client has gone. */
export function headersAfter(delayMs: number, then: FakeHandler): FakeHandler {
  return (query, req, res, body) => {
    const timer = setTimeout(() => then(query, req, res, body), delayMs);
    res.on('close', () => clearTimeout(timer));
  };
}

/** Announces a body, sends half of it, and drops the connection. */
export function cutMidBody(body: string): FakeHandler {
  return (_query, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.write(body.slice(0, Math.floor(body.length / 2)), () => res.destroy());
  };
}

/** What one response of hugeBody() managed to write before it ended. */
export interface HugeResponse {
  writtenBytes: number;
  /** The client hung up before the whole body was written. */
  closedEarly: boolean;
  done: boolean;
}

/**
 * A `totalBytes` answer of JSON whitespace, written in 64 KiB chunks with back-pressure so that it is produced
 * only as fast as the client reads it; without content-length (chunked) unless `announce` is set.
 */
export function hugeBody(totalBytes: number, announce: boolean): { handle: FakeHandler; responses: HugeResponse[] } {
  const responses: HugeResponse[] = [];
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const handle: FakeHandler = (_query, _req, res) => {
    const record: HugeResponse = { writtenBytes: 0, closedEarly: false, done: false };
    responses.push(record);
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    res.writeHead(200, { 'content-type': 'application/json', ...(announce ? { 'content-length': String(totalBytes) } : {}) });
    void (async () => {
      // Bounded: at most totalBytes / chunk.length writes, and it stops as soon as the client hangs up.
      while (record.writtenBytes < totalBytes && !closed) {
        const piece = chunk.subarray(0, Math.min(chunk.length, totalBytes - record.writtenBytes));
        record.writtenBytes += piece.length;
        if (!res.write(piece)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      if (!closed) res.end();
      record.closedEarly = closed && record.writtenBytes < totalBytes;
      record.done = true;
    })();
  };
  return { handle, responses };
}

/** An answer of the probe and how long it took: connect, request, and the whole body, on a fresh connection. */
export interface TimedAnswer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

export function timedGet(port: number, path: string, timeoutMs = 2_000): Promise<TimedAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `crm_events_health_check_errors_total` by "check code", from a /metrics body. */
export function errorCounts(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of metrics.matchAll(/^crm_events_health_check_errors_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    counts.set(`${labels['check']} ${labels['code']}`, Number(match[2]));
  }
  return counts;
}

/** The value of `name{labels}` in a /metrics body (labels exactly as written there), or undefined when absent. */
export function sampleValue(metrics: string, name: string, labels: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** What a sampler measured: every answer time per path, the statuses seen, and any request that failed. */
export interface Samples {
  readonly times: Record<string, number[]>;
  /** For each time, the sampler's own worst event-loop delay during that request: how late the client itself was. */
  readonly clientLateMs: Record<string, number[]>;
  readonly statuses: Record<string, number[]>;
  readonly errors: string[];
}

export interface Sampler {
  /** Stops after the round in progress and returns what was measured. */
  stop(): Promise<Samples>;
  /** Ends the child at once (cleanup). */
  kill(): void;
}

// Runs in its own Node process: a client that does nothing else, as a kubelet is to the probe. Each request is
// a fresh connection, timed from request() to the last byte of the body.
const SAMPLER_SCRIPT = `
const http = require('node:http');
const [port, pauseMs, ...paths] = process.argv.slice(1);
const times = Object.fromEntries(paths.map((p) => [p, []]));
const clientLateMs = Object.fromEntries(paths.map((p) => [p, []]));
const statuses = Object.fromEntries(paths.map((p) => [p, []]));
const errors = [];
let stopping = false;
// Reported beside each time, never subtracted: it tells a descheduled client from a slow probe.
const lags = [];
let last = performance.now();
const lagTimer = setInterval(() => {
  const now = performance.now();
  if (now - last - 5 > 2) lags.push([now, now - last - 5]);
  last = now;
}, 5);
const lateDuring = (from, to) => Math.max(0, ...lags.filter(([at, lag]) => at >= from && at - lag <= to).map(([, lag]) => lag));
process.stdin.on('end', () => { stopping = true; });
process.stdin.resume();
const get = (path) => new Promise((resolve) => {
  const started = performance.now();
  const req = http.request({ host: '127.0.0.1', port: Number(port), path, agent: false, signal: AbortSignal.timeout(2000) }, (res) => {
    res.resume();
    res.on('end', () => resolve({ ms: performance.now() - started, started, status: res.statusCode }));
    res.on('error', (e) => resolve({ error: path + ': ' + e.message }));
  });
  req.on('error', (e) => resolve({ error: path + ': ' + e.message }));
  req.end();
});
(async () => {
  while (!stopping) {
    for (const path of paths) {
      const answer = await get(path);
      // The lag timer may not have run yet for a delay at the very end of the request: let it.
      await new Promise((r) => setTimeout(r, 6));
      if (answer.error) errors.push(answer.error);
      else {
        times[path].push(answer.ms);
        clientLateMs[path].push(lateDuring(answer.started, answer.started + answer.ms));
        statuses[path].push(answer.status);
      }
      if (lags.length > 1000) lags.splice(0, 500);
    }
    await new Promise((r) => setTimeout(r, Number(pauseMs)));
  }
  clearInterval(lagTimer);
  process.stdout.write(JSON.stringify({ times, clientLateMs, statuses, errors }));
})();
`;

/** Starts a sampler process that asks `paths` of the probe in turn, pausing `pauseMs` between rounds. */
export function startSampler(port: number, paths: readonly string[], pauseMs: number): Sampler {
  const child = spawn(process.execPath, ['-e', SAMPLER_SCRIPT, String(port), String(pauseMs), ...paths], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the sampler exited with ${code}: ${err}`);
      return JSON.parse(out) as Samples;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
