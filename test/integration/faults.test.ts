// The Prometheus fault suite (issue 3, part 1): the compiled probe (node dist/main.js) as a child process, against
// a Prometheus that fails in every way the issue lists, over real sockets on 127.0.0.1. Each case runs
// healthy -> fault -> healthy again and checks what an operator relies on: the process stays up; /ready, /health
// and /status answer within 50 ms while the fault lasts; the verdict follows README "How a verdict is reached";
// the error is counted in /metrics and named in /status by its stable code; the first good evaluation after the
// fault restores the normal verdict. Value cases (NaN, +-Inf, empty, several series, scalar, warnings) are
// answers, not errors: they are held past STALE_AFTER to show that they never turn into "unknown".
// Answer times are measured by a separate sampler process (test/helpers/faults.ts startSampler), each request on a
// fresh connection; see CLIENT_LATE_LIMIT_MS for the one kind of sample that is not judged.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrometheusErrorCode } from '../../src/core/errors.js';
import { type FakeHandler, type FakePrometheus, startFakePrometheus } from '../helpers/fake-prometheus.js';
import {
  apiError,
  cutMidBody,
  errorCounts,
  headersAfter,
  hugeBody,
  matrix,
  mimirNoOrgId,
  mimirStoreConsistency,
  mimirTooManyRequests,
  neverAnswer,
  plain,
  raw,
  type Sampler,
  type Samples,
  sampleValue,
  scalars,
  startSampler,
  THANOS_STORE_DOWN_WARNING,
  thanosStoreDown,
  timedGet,
  trickle,
  values,
  vectors,
  victoriaPartial,
} from '../helpers/faults.js';
import { type Probe, startProbe } from '../helpers/process.js';
import { requireBinary } from '../helpers/real-prometheus.js';
import { balanced, startStack, TOPIC } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/wait.js';

const GROUP = 'crm-events-sse';
const STALE_AFTER_MS = 2_500;
// Fast, but not so fast that a loaded machine fakes faults: QUERY_TIMEOUT 150ms drew PROM_TIMEOUTs from a healthy
// fake here (the cold first query of a fresh process included), and so did 250ms under a load average of 8, which
// would blur the one code each case expects. STALE_AFTER leaves the stale window (last answer standing) ~0.8 s wide.
const FAST = { CHECK_INTERVAL: '700ms', QUERY_TIMEOUT: '600ms', STALE_AFTER: '2500ms', HOST: '127.0.0.1', KAFKA_GROUP: GROUP };
/** Issue 3: every answer within 50 ms while the fault lasts, measured per request on a fresh connection. */
const ANSWER_BOUND_MS = 50;
/**
 * A sample is judged only if the sampler process itself ran on time throughout it (its 5 ms timer never later than
 * this): on this shared VM an idle client was seen descheduled for 30 to 250 ms, and an answer measured across such
 * a stall says nothing about the probe. A probe that made a request wait (on Prometheus, say) is still caught: the
 * client idles on time meanwhile. Number.POSITIVE_INFINITY judges every sample.
 */
const CLIENT_LATE_LIMIT_MS = 10;
/** The sampler's pause between two rounds of /ready, /health, /status. */
const SAMPLE_PAUSE_MS = 40;
/** The test's own pause between two rounds: well under the 400 ms interval, light on a 2-core box. */
const POLL_MS = 60;
/** The most a single outlier may take: a quarter of the kubelet's default 1 s probe timeout. */
const OUTLIER_BOUND_MS = 250;
/** Wall-clock slack when /status' timestamps are compared with STALE_AFTER (the probe ages on a monotonic clock). */
const AGE_TOLERANCE_MS = 25;
/** How long the unknown verdict is watched once it has appeared. */
const HOLD_UNKNOWN_MS = 400;
/**
 * Cases run side by side, each with its own fake and probe: about a minute with 2, against 110 s one at a time.
 * With 4 the test process itself (fakes and polling) lagged up to 85 ms and answer times suffered.
 */
const CONCURRENCY = 2;
const MiB = 1024 * 1024;

const CHECKS = ['skew_ratio', 'consumer_count'] as const;
type CheckName = (typeof CHECKS)[number];
type Policy = 'pass' | 'fail';
type Endpoint = '/ready' | '/health' | '/status';
const LABELS = (check: CheckName): string => `consumergroup="${GROUP}",check="${check}"`;

const HEALTHY = values(GROUP, '1.5', '3');
const HEALTHY_MESSAGE = 'System healthy';
const NO_SKEW = `No skew data for group ${GROUP} (kafka:group_skew_ratio has no series: kafka_exporter down or not scraped, the recording rules not loaded, or no consumer group of that name)`;
const NO_CONSUMERS = `No consumer count for group ${GROUP} (kafka:group_consumer_count has no series: kafka_exporter down or not scraped, the recording rules not loaded, or no consumer group of that name)`;

interface ErrorDoc {
  code: string;
  message: string;
  at: string;
}

interface StatusCheck {
  state: string;
  ok: boolean | null;
  value: number | string | null;
  stale: boolean;
  observed_at: string | null;
  labels: Record<string, string>;
  series: number;
  message: string | null;
  last_error: ErrorDoc | null;
  consecutive_errors: number;
  warnings: string[];
}

interface StatusDoc {
  healthy: boolean;
  verdict: string;
  message: string;
  ready_status_code: number;
  checks: Record<CheckName, StatusCheck>;
  prometheus: { reachable: boolean | null; last_error: ErrorDoc | null; consecutive_errors: number };
  evaluation: { last_at: string | null; count: number };
}

interface ReadyDoc {
  healthy: boolean;
  message: string;
  verdict: string;
  checks?: Record<string, string>;
}

interface Round {
  readonly ready: { readonly status: number; readonly doc: ReadyDoc };
  readonly status: StatusDoc;
}

/** Asks the probe's three endpoints round after round; /health is asserted on the spot. */
function observer(port: number) {
  // The test runner's own view of the answer times: it includes this busy process' event-loop delays, so it is
  // reported beside the sampler's, never asserted.
  const times: Record<Endpoint, number[]> = { '/ready': [], '/health': [], '/status': [] };
  const timed = async (path: Endpoint) => {
    const answer = await timedGet(port, path);
    times[path].push(answer.ms);
    return answer;
  };
  return {
    times,
    /** /ready, /health and /status once each, in turn, each on its own connection. */
    async round(): Promise<Round> {
      const ready = await timed('/ready');
      const health = await timed('/health');
      assert.equal(health.status, 200, `/health: ${health.body}`);
      assert.equal(health.body, '{"status":"ok"}');
      const status = await timed('/status');
      assert.equal(status.status, 200, '/status is always 200');
      return { ready: { status: ready.status, doc: JSON.parse(ready.body) as ReadyDoc }, status: JSON.parse(status.body) as StatusDoc };
    },
  };
}

const ENDPOINTS: readonly Endpoint[] = ['/ready', '/health', '/status'];

/** A sampler process on the probe's three endpoints, started now and killed with the test at the latest. */
function sample(t: TestContext, port: number): Sampler {
  const sampler = startSampler(port, ENDPOINTS, SAMPLE_PAUSE_MS);
  t.after(() => sampler.kill());
  return sampler;
}

/**
 * Every judged answer of every endpoint within ANSWER_BOUND_MS, as the sampler measured it: the whole request, on a
 * fresh connection, from a client process that does nothing else; nothing is subtracted. Samples during which the
 * sampler itself was descheduled (CLIENT_LATE_LIMIT_MS) are listed in the diagnostics, not judged, and at least 5
 * judged ones per endpoint are required. The diagnostics also give the worst of all samples and the test runner's
 * own view.
 */
function assertFast(t: TestContext, samples: Samples, runner: Record<Endpoint, number[]>, readyStatuses: readonly number[]): void {
  const worst = (list: readonly number[]): string => (list.length === 0 ? '-' : Math.max(...list).toFixed(1));
  const judged = (path: Endpoint): number[] => (samples.times[path] ?? []).filter((_, i) => (samples.clientLateMs[path]?.[i] ?? 0) <= CLIENT_LATE_LIMIT_MS);
  const unjudged = ENDPOINTS.flatMap((path) =>
    (samples.times[path] ?? []).flatMap((ms, i) => {
      const late = samples.clientLateMs[path]?.[i] ?? 0;
      return late > CLIENT_LATE_LIMIT_MS ? [`${path} ${ms.toFixed(1)} ms (sampler late ${late.toFixed(0)} ms)`] : [];
    }),
  );
  const summary = ENDPOINTS.map((path) => `${path} max ${worst(judged(path))} ms (n=${judged(path).length})`).join(', ');
  t.diagnostic(
    `answer times during the fault: ${summary}; all samples: ${ENDPOINTS.map((path) => `${path} ${worst(samples.times[path] ?? [])}`).join(', ')} ms; ` +
      `test runner's view: ${ENDPOINTS.map((path) => `${path} ${worst(runner[path])}`).join(', ')} ms` +
      (unjudged.length === 0 ? '' : `; not judged, the sampler itself stalled: ${unjudged.join(', ')}`),
  );
  assert.deepEqual(samples.errors, [], 'every request was answered');
  for (const path of ENDPOINTS) {
    const times = judged(path);
    assert.ok(times.length >= 5, `${path}: only ${times.length} answers could be judged (load average ${loadAverage()}): ${unjudged.join(', ')}`);
    // One isolated outlier per endpoint and case is a scheduling hiccup of this shared 2-core machine (a GC pause
    // or the kernel running someone else), seen even in cases where Prometheus answers well; a probe that made
    // requests wait would be slow on every sample of the fault. The outlier is still bounded by OUTLIER_BOUND_MS.
    const slow = times.filter((ms) => ms >= ANSWER_BOUND_MS).map((ms) => ms.toFixed(1));
    if (slow.length === 1) t.diagnostic(`${path}: one outlier of ${slow[0]} ms (load average ${loadAverage()})`);
    assert.ok(
      slow.length <= 1 && times.every((ms) => ms < OUTLIER_BOUND_MS),
      `${path} answers above ${ANSWER_BOUND_MS} ms while the client ran on time: ${slow.join(', ')}; ${summary}; load average ${loadAverage()}`,
    );
    const allowed = path === '/ready' ? readyStatuses : [200];
    const unexpected = (samples.statuses[path] ?? []).filter((status) => !allowed.includes(status));
    assert.deepEqual(unexpected, [], `${path} statuses`);
  }
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

async function launch(t: TestContext, url: string, env: Record<string, string> = {}): Promise<{ probe: Probe; port: number }> {
  const port = await freePort();
  const probe = startProbe([], { ...FAST, PROMETHEUS_URL: url, PORT: String(port), ...env });
  t.after(async () => {
    // A probe that ended before the test stopped it explains any error above (connection refused, say).
    if (!stoppedByTest.has(probe) && (probe.child.exitCode !== null || probe.child.signalCode !== null)) {
      t.diagnostic(`the probe ended early: exit code ${probe.child.exitCode}, signal ${probe.child.signalCode}; stderr: ${probe.stderr()}`);
    }
    probe.kill();
    await probe.exited;
  });
  await probe.waitForLog('listening');
  return { probe, port };
}

async function statusOf(port: number): Promise<StatusDoc> {
  return JSON.parse((await timedGet(port, '/status')).body) as StatusDoc;
}

async function metricsOf(port: number): Promise<string> {
  const answer = await timedGet(port, '/metrics');
  assert.equal(answer.status, 200);
  return answer.body;
}

function readyHealthy(port: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(
    `/ready 200 "${HEALTHY_MESSAGE}"`,
    async (seen) => {
      const answer = await timedGet(port, '/ready');
      seen(`${answer.status} ${answer.body}`);
      return answer.status === 200 && (JSON.parse(answer.body) as ReadyDoc).message === HEALTHY_MESSAGE ? true : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** Counters that went up between two /metrics bodies, as "check code" -> increase. */
function risen(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const increases = new Map<string, number>();
  for (const [key, value] of after) {
    const increase = value - (before.get(key) ?? 0);
    if (increase !== 0) increases.set(key, increase);
  }
  return increases;
}

const stoppedByTest = new WeakSet<Probe>();

/** The process is still the one we started, wrote nothing to stderr, and stops cleanly on SIGTERM. */
async function stillUpThenStops(probe: Probe): Promise<void> {
  assert.equal(probe.child.exitCode, null, `the probe exited: ${probe.stderr()}`);
  assert.equal(probe.child.signalCode, null);
  assert.equal(probe.stderr(), '', 'nothing on stderr (no warning, no unhandled error)');
  stoppedByTest.add(probe);
  probe.child.kill('SIGTERM');
  const exit = await Promise.race([probe.exited, sleep(5_000, 'still running 5 s after SIGTERM', { ref: false })]);
  assert.equal(exit, 0);
}

/** A fault as one run sees it: switched on, switched off, and what to check about the fake afterwards. */
interface Fault {
  inject(): Promise<void> | void;
  heal?(): Promise<void> | void;
  /** Runs once the probe has recovered; returns a line for the diagnostics, if any. */
  verify?(): Promise<string | undefined>;
}

/**
 * After recovery the probe holds its keep-alive connections and nothing else: every query it gave up on (about
 * ten per case) has had its socket closed, however the fake misbehaved. The pool is one connection per query of
 * an evaluation, plus at most two that undici opens when a query comes while a socket is on its way back to the
 * pool (idle ones close after undici's 4 s keep-alive timeout).
 */
const MAX_POOLED_CONNECTIONS = 4;

async function noConnectionLeft(fake: FakePrometheus): Promise<string> {
  // A socket the probe has just destroyed takes a moment to be seen closed here.
  const open = await waitFor(
    `at most ${MAX_POOLED_CONNECTIONS} connections open on the fake`,
    async (seen) => {
      seen(fake.openConnections());
      return fake.openConnections() <= MAX_POOLED_CONNECTIONS ? fake.openConnections() : undefined;
    },
    { timeoutMs: 2_000, intervalMs: 20 },
  );
  return `${open} connection(s) open on the fake after recovery, for ${fake.queries.length} queries`;
}

interface FaultRun {
  readonly url: string;
  readonly code: PrometheusErrorCode;
  readonly policy: Policy;
  readonly fault: Fault;
  /** The fault is there before the first evaluation: no answer ever stood. */
  readonly fromStart?: boolean;
  readonly readyTimeoutMs?: number;
  readonly healTimeoutMs?: number;
  /** Codes the last error may also have once healed: a real Prometheus answers 503 while it starts (PROM_UNAVAILABLE). */
  readonly whileHealing?: readonly PrometheusErrorCode[];
}

/** healthy -> fault -> (unknown for a while) -> healthy, with every assertion of the issue. */
async function exerciseFault(t: TestContext, run: FaultRun): Promise<void> {
  const { code, policy } = run;
  const { probe, port } = await launch(t, run.url, { ON_PROMETHEUS_ERROR: policy });
  let before = new Map<string, number>();
  const watch = observer(port);
  let injected: Promise<void> = Promise.resolve();
  let sampler: Sampler;
  if (run.fromStart) {
    await waitFor('the first evaluation', async () => ((await statusOf(port)).evaluation.count >= 1 ? true : undefined), { intervalMs: 20 });
    sampler = sample(t, port);
  } else {
    await readyHealthy(port, run.readyTimeoutMs);
    before = errorCounts(await metricsOf(port));
    sampler = sample(t, port);
    // Not awaited yet: stopping a real Prometheus takes a moment, and the probe is watched meanwhile.
    injected = Promise.resolve(run.fault.inject());
  }

  // The fault, watched round after round until the verdict has been unknown for HOLD_UNKNOWN_MS.
  const expectedReadyStatus = policy === 'pass' ? 200 : 500;
  const unknownMessage = new RegExp(`unknown: Prometheus could not be asked \\(${code}: .*; ON_PROMETHEUS_ERROR=${policy}`);
  const deadline = performance.now() + 10_000;
  let unknownSince: number | undefined;
  /** The evaluation that first showed "unknown": the hold lasts until a later one has been judged too. */
  let unknownAtCount = Number.POSITIVE_INFINITY;
  let staleRounds = 0;
  let unknownReadyRounds = 0;
  let last: StatusDoc | undefined;
  // With no answer ever, the verdict is unknown from the first round: watched a little longer for the sampler.
  const holdMs = run.fromStart ? STALE_AFTER_MS : HOLD_UNKNOWN_MS;
  const holding = (): boolean => unknownSince === undefined || performance.now() - unknownSince < holdMs || (last?.evaluation.count ?? 0) <= unknownAtCount;
  for (let rounds = 0; holding(); rounds += 1) {
    assert.ok(performance.now() < deadline, `the verdict did not turn unknown within 10 s; last /status: ${JSON.stringify(last)}`);
    if (rounds > 0) await sleep(POLL_MS);
    const { ready, status } = await watch.round();
    last = status;
    const seen = `/ready ${ready.status} ${JSON.stringify(ready.doc)}\n/status ${JSON.stringify(status)}`;

    // /ready: a fault never makes the verdict "fail": either the last answer stands, or it is unknown and the
    // policy decides. Once unknown, it stays unknown while the fault lasts.
    if (ready.doc.verdict === 'unknown') {
      unknownReadyRounds += 1;
      assert.equal(ready.status, expectedReadyStatus, seen);
      assert.equal(ready.doc.healthy, policy === 'pass', seen);
      assert.match(ready.doc.message, unknownMessage, seen);
      // Both checks normally; one may still stand for one more evaluation if the fault began between its two queries.
      const states = Object.values(ready.doc.checks ?? {});
      assert.ok(states.length === 2 && states.includes('unknown') && states.every((s) => s === 'unknown' || s === 'pass'), seen);
    } else {
      assert.equal(unknownSince, undefined, `/ready left "unknown" while the fault lasts\n${seen}`);
      assert.equal(ready.doc.verdict, 'pass', seen);
      assert.equal(ready.status, 200, seen);
      assert.match(ready.doc.message, new RegExp(`^${HEALTHY_MESSAGE}(?: \\(last known; Prometheus failing: ${code}\\))?$`), seen);
    }

    // /status: the same, judged by the probe's own clock: an answer younger than STALE_AFTER stands (stale),
    // an older one (or none) is unknown.
    if (status.prometheus.consecutive_errors === 0) {
      assert.equal(unknownSince, undefined, `an evaluation succeeded during the fault\n${seen}`);
      assert.equal(status.message, HEALTHY_MESSAGE, seen);
      continue;
    }
    assert.equal(status.prometheus.reachable, false, seen);
    assert.equal(status.prometheus.last_error?.code, code, `prometheus.last_error names the fault\n${seen}`);
    let unknownChecks = 0;
    for (const name of CHECKS) {
      const check = status.checks[name];
      if (check.consecutive_errors === 0) continue; // the fault began between this evaluation's two queries
      assert.equal(check.last_error?.code, code, `checks.${name}.last_error names the fault\n${seen}`);
      // The probe ages answers on its monotonic clock; /status shows wall times, hence a little tolerance.
      const evaluatedAtMs = Date.parse(status.evaluation.last_at ?? '');
      const ageMs = check.observed_at === null ? Number.POSITIVE_INFINITY : evaluatedAtMs - Date.parse(check.observed_at);
      if (check.state !== 'unknown') {
        staleRounds += 1;
        assert.ok(ageMs < STALE_AFTER_MS + AGE_TOLERANCE_MS, `${name}: still standing ${ageMs} ms after its answer\n${seen}`);
        assert.equal(check.state, 'pass', `${name}: the last answer stands\n${seen}`);
        assert.equal(check.stale, true, seen);
      } else {
        unknownChecks += 1;
        assert.ok(ageMs >= STALE_AFTER_MS - AGE_TOLERANCE_MS, `${name}: unknown only ${ageMs} ms after its answer\n${seen}`);
        assert.equal(check.ok, policy === 'pass', seen);
        assert.match(check.message ?? '', new RegExp(`^Prometheus could not be asked \\(${code}: `), seen);
      }
    }
    if (unknownChecks > 0) {
      unknownSince ??= performance.now();
      unknownAtCount = Math.min(unknownAtCount, status.evaluation.count);
      assert.equal(status.verdict, 'unknown', seen);
      assert.equal(status.ready_status_code, expectedReadyStatus, seen);
      assert.equal(status.healthy, policy === 'pass', seen);
    } else {
      assert.equal(unknownSince, undefined, `/status left "unknown" while the fault lasts\n${seen}`);
      assert.equal(status.verdict, 'pass', seen);
      assert.equal(status.ready_status_code, 200, seen);
    }
  }
  await injected;
  if (!run.fromStart) assert.ok(staleRounds > 0, 'the last answer stood (stale) before STALE_AFTER had passed');
  assert.ok(unknownReadyRounds > 0, '/ready was seen answering "unknown"');

  // /status and /metrics name the fault by its code, while it lasts.
  const during = await statusOf(port);
  assert.equal(during.prometheus.last_error?.code, code);
  for (const name of CHECKS) assert.equal(during.checks[name].last_error?.code, code, `checks.${name}.last_error`);
  const metrics = await metricsOf(port);
  const increases = risen(before, errorCounts(metrics));
  t.diagnostic(`errors counted during the fault: ${[...increases].map(([key, n]) => `${key} +${n}`).join(', ')}`);
  for (const name of CHECKS) {
    assert.ok((increases.get(`${name} ${code}`) ?? 0) > 0, `errors_total{check="${name}",code="${code}"} rose: ${JSON.stringify([...increases])}`);
    assert.equal(sampleValue(metrics, 'crm_events_health_check_state', `${LABELS(name)},state="unknown"`), 1);
  }
  for (const [key] of increases) assert.equal(key.split(' ')[1], code, `only the fault's code rose: ${JSON.stringify([...increases])}`);
  assert.equal(sampleValue(metrics, 'crm_events_health_status', `consumergroup="${GROUP}"`), policy === 'pass' ? 1 : 0);
  // One log line when errors begin, not one per failed evaluation.
  const errorLines = probe.logs().filter((line) => line.event === 'prometheus_error');
  assert.equal(errorLines.length, 1, JSON.stringify(errorLines));
  assert.deepEqual(errorLines[0]!['codes'], [code]);

  if (run.fault.heal !== undefined) {
    // The fault ends: every round is still timed until the probe has recovered. The first evaluation that
    // succeeds must give the normal verdict at once; with a fake, every evaluation that began after the switch
    // succeeds (the one in flight at the switch may still fail).
    const switchedAt = (await statusOf(port)).evaluation.count;
    const healing = Promise.resolve(run.fault.heal());
    const healDeadline = performance.now() + (run.healTimeoutMs ?? 5_000);
    let recovered: StatusDoc | undefined;
    while (recovered === undefined) {
      assert.ok(performance.now() < healDeadline, `no good evaluation after the fault; last /status: ${JSON.stringify(last)}`);
      const { status } = await watch.round();
      last = status;
      if (status.prometheus.consecutive_errors === 0) recovered = status;
      else if (run.healTimeoutMs === undefined) {
        assert.ok(status.evaluation.count < switchedAt + 3, `evaluation ${status.evaluation.count} failed after the fault ended (${switchedAt} before)`);
      }
      if (recovered === undefined) await sleep(POLL_MS);
    }
    await healing;
    const context = JSON.stringify(recovered);
    assert.equal(recovered.verdict, 'pass', context);
    assert.equal(recovered.healthy, true, context);
    assert.equal(recovered.ready_status_code, 200, context);
    assert.equal(recovered.message, HEALTHY_MESSAGE, context);
    assert.equal(recovered.prometheus.reachable, true, context);
    for (const name of CHECKS) {
      assert.equal(recovered.checks[name].state, 'pass', context);
      assert.equal(recovered.checks[name].stale, false, context);
      assert.equal(recovered.checks[name].consecutive_errors, 0, context);
      const lastCode = recovered.checks[name].last_error?.code;
      assert.ok(
        lastCode === code || (lastCode !== undefined && (run.whileHealing ?? []).includes(lastCode as PrometheusErrorCode)),
        `the last error stays visible after recovery: ${lastCode}`,
      );
    }
    const ready = await timedGet(port, '/ready');
    assert.equal(ready.status, 200, ready.body);
    assert.equal((JSON.parse(ready.body) as ReadyDoc).message, HEALTHY_MESSAGE);
    await probe.waitForLog('prometheus_recovered', 2_000);
  }
  const samples = await sampler.stop();
  const verified = await run.fault.verify?.();
  if (verified !== undefined) t.diagnostic(verified);
  await stillUpThenStops(probe);
  // Last, so that a busy machine cannot hide a failure of anything above.
  assertFast(t, samples, watch.times, [200, expectedReadyStatus]);
}

/** A fault of the fake's handler: switched on by swapping the handler, off by swapping the healthy one back. */
function swap(make: () => FakeHandler) {
  return (fake: FakePrometheus): Fault => ({
    inject: () => {
      fake.handle = make();
    },
    heal: () => {
      fake.handle = HEALTHY;
    },
    verify: () => noConnectionLeft(fake),
  });
}

/** 50 MiB, cut off at the 1 MiB cap: the fake must see the probe hang up before it has written everything. */
function huge(announce: boolean) {
  return (fake: FakePrometheus): Fault => {
    const totalBytes = 50 * MiB;
    const body = hugeBody(totalBytes, announce);
    return {
      ...swap(() => body.handle)(fake),
      async verify() {
        const connections = await noConnectionLeft(fake);
        await waitFor('every 50 MiB answer to end', async () => (body.responses.every((r) => r.done) ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 });
        assert.ok(body.responses.length >= 2, `${body.responses.length} answers`);
        for (const response of body.responses) {
          assert.ok(response.closedEarly, `the probe hung up before the end: ${JSON.stringify(response)}`);
          assert.ok(response.writtenBytes < totalBytes, `wrote ${response.writtenBytes} of ${totalBytes} bytes`);
        }
        const most = Math.max(...body.responses.map((r) => r.writtenBytes));
        return `${body.responses.length} answers of 50 MiB each cut off; the most written before the hang-up: ${(most / MiB).toFixed(2)} MiB; ${connections}`;
      },
    };
  };
}

const REASONS: Readonly<Record<number, string>> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable' };
/** nginx's own error page, as a proxy in front of Prometheus sends it. */
const HTML = (status: number): string =>
  `<html>\r\n<head><title>${status} ${REASONS[status]}</title></head>\r\n<body>\r\n<center><h1>${status} ${REASONS[status]}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
const TRUNCATED_JSON = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"consumergroup":"${GROUP}"},"value":[1764156878.5,"3`;
const FULL_JSON = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { consumergroup: GROUP }, value: [1764156878.5, '3'] }] } });

interface FaultCase {
  readonly name: string;
  readonly code: PrometheusErrorCode;
  readonly fault: (fake: FakePrometheus) => Fault;
  /** ON_PROMETHEUS_ERROR values to run it with; `fail` for one fault of each kind. */
  readonly policies?: readonly Policy[];
}

const BOTH: readonly Policy[] = ['pass', 'fail'];

/** A 429 with Retry-After: 1 (a proxy in front of Mimir adds one): the probe waits that second between evaluations. */
function honoursRetryAfter(fake: FakePrometheus): Fault {
  const times: number[] = [];
  const refuse = mimirTooManyRequests('1');
  const base = swap(() => (query, req, res, body) => {
    times.push(performance.now());
    refuse(query, req, res, body);
  })(fake);
  return {
    ...base,
    async verify() {
      // The two queries of one evaluation arrive together; evaluations are the requests after a pause.
      const starts = times.filter((at, i) => i === 0 || at - times[i - 1]! > 300);
      const gaps = starts.slice(1).map((at, i) => Math.round(at - starts[i]!));
      assert.ok(gaps.length >= 2, `only ${starts.length} evaluations were refused`);
      // 700 ms interval, Retry-After 1 s: every refused evaluation waits at least the second (less timer slack).
      assert.ok(
        gaps.every((gap) => gap >= 950),
        `gaps between refused evaluations: ${gaps.join(', ')} ms`,
      );
      return `refused evaluations ${gaps.join(', ')} ms apart (Retry-After: 1); ${await noConnectionLeft(fake)}`;
    },
  };
}

const FAULTS: readonly FaultCase[] = [
  {
    name: 'connection refused',
    code: 'PROM_NETWORK',
    policies: BOTH,
    fault: (fake) => ({ inject: () => fake.down(), heal: () => fake.up(), verify: () => noConnectionLeft(fake) }),
  },
  // The two 50 MiB cases are far apart in this list: run side by side they would disturb each other's answer times.
  { name: 'a 50 MiB body with its content-length', code: 'PROM_TOO_LARGE', fault: huge(true) },
  { name: 'accepts and never answers', code: 'PROM_TIMEOUT', policies: BOTH, fault: swap(() => neverAnswer) },
  { name: 'headers, then the body trickled', code: 'PROM_TIMEOUT', fault: swap(() => trickle(20)) },
  { name: '10 s before the headers', code: 'PROM_TIMEOUT', fault: swap(() => headersAfter(10_000, HEALTHY)) },
  ...[500, 502, 503].map(
    (status): FaultCase => ({
      name: `${status} with an HTML body`,
      // 503 is a refusal of its own (issue 13): the probe backs off, and the verdict stands as for any error.
      code: status === 503 ? 'PROM_UNAVAILABLE' : 'PROM_HTTP_STATUS',
      policies: status === 503 ? BOTH : undefined,
      fault: swap(() => raw(status, HTML(status), 'text/html')),
    }),
  ),
  // The backends beside Prometheus (issue 13), each answer shaped as its source writes it (test/helpers/faults.ts).
  { name: 'Mimir/Cortex 429 "too many outstanding requests" (plain text)', code: 'PROM_OVERLOADED', policies: BOTH, fault: swap(() => mimirTooManyRequests()) },
  { name: 'a 429 with Retry-After: 1 (honoured)', code: 'PROM_OVERLOADED', fault: honoursRetryAfter },
  { name: 'Mimir/Cortex 401 "no org id" (plain text)', code: 'PROM_AUTH', fault: swap(() => mimirNoOrgId) },
  { name: 'Mimir 422 store consistency check failed', code: 'PROM_API_ERROR', fault: swap(() => mimirStoreConsistency) },
  { name: 'a 500 in plain text', code: 'PROM_HTTP_STATUS', fault: swap(() => plain(500, 'rpc error: code = Unavailable desc = transport is closing\n')) },
  { name: 'VictoriaMetrics "isPartial": true', code: 'PROM_PARTIAL', policies: BOTH, fault: swap(() => victoriaPartial(GROUP, '1.5', '1')) },
  { name: 'Thanos: a store down, its error as a warning', code: 'PROM_PARTIAL', fault: swap(() => thanosStoreDown(GROUP, '1.5', '1')) },
  {
    name: '200 with a body that is not JSON',
    code: 'PROM_BAD_JSON',
    policies: BOTH,
    fault: swap(() => raw(200, '<html><body>Prometheus Time Series Collection and Processing Server</body></html>', 'text/html')),
  },
  { name: 'truncated JSON', code: 'PROM_BAD_JSON', fault: swap(() => raw(200, TRUNCATED_JSON)) },
  { name: 'the connection cut in the middle of the body', code: 'PROM_NETWORK', fault: swap(() => cutMidBody(FULL_JSON)) },
  {
    name: 'valid JSON of the wrong shape',
    code: 'PROM_BAD_RESPONSE',
    fault: swap(() => raw(200, JSON.stringify({ status: 'success', data: { resultType: 'vector', result: { metric: {}, value: [1764156878.5, '3'] } } }))),
  },
  {
    name: '400 {"status":"error","errorType":"bad_data"}',
    code: 'PROM_API_ERROR',
    policies: BOTH,
    fault: swap(() => apiError(400, 'bad_data', 'invalid parameter "query": 1:24: parse error: unexpected "}" in label matching')),
  },
  {
    name: '422 execution error',
    code: 'PROM_API_ERROR',
    fault: swap(() => apiError(422, 'execution', 'query processing would load too many samples into memory in query execution')),
  },
  { name: 'a 50 MiB body, chunked', code: 'PROM_TOO_LARGE', policies: BOTH, fault: huge(false) },
  { name: 'a matrix result', code: 'PROM_BAD_RESPONSE', policies: BOTH, fault: swap(() => matrix(GROUP)) },
];

/** An answer that is not an error: the verdict it gives, held past STALE_AFTER. */
interface ValueCase {
  readonly name: string;
  readonly handle: FakeHandler;
  readonly status: 200 | 500;
  readonly message: string;
  readonly states: Readonly<Record<CheckName, string>>;
  readonly verify?: (status: StatusDoc, metrics: string) => void;
  /** More settings for the probe. */
  readonly env?: Readonly<Record<string, string>>;
}

const WARNING = 'PromQL warning: encountered a mix of histograms and floats for metric name "kafka_consumergroup_lag"';
const INFO = 'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "kafka_consumergroup_lag"';

const VALUES: readonly ValueCase[] = [
  {
    name: 'warnings in a success',
    handle: vectors(GROUP, [{ value: '1.5', labels: { topic: TOPIC } }], [{ value: '3' }], { warnings: [WARNING], infos: [INFO] }),
    status: 200,
    message: HEALTHY_MESSAGE,
    states: { skew_ratio: 'pass', consumer_count: 'pass' },
    verify: (status) => {
      for (const name of CHECKS) assert.deepEqual(status.checks[name].warnings, [WARNING, `info: ${INFO}`], `${name}.warnings`);
    },
  },
  {
    // ACCEPT_PARTIAL=true: a partial answer is judged as complete (here: one consumer of two seen, so it fails),
    // and the store's warning is shown as any warning.
    name: 'ACCEPT_PARTIAL=true: Thanos with a store down is judged, its warning shown',
    env: { ACCEPT_PARTIAL: 'true' },
    handle: thanosStoreDown(GROUP, '1.5', '1'),
    status: 500,
    message: 'Too few consumers: 1 < 2',
    states: { skew_ratio: 'pass', consumer_count: 'fail' },
    verify: (status) => {
      for (const name of CHECKS) assert.deepEqual(status.checks[name].warnings, [THANOS_STORE_DOWN_WARNING], `${name}.warnings`);
    },
  },
  {
    name: 'ACCEPT_PARTIAL=true: VictoriaMetrics isPartial is judged',
    env: { ACCEPT_PARTIAL: 'true' },
    handle: victoriaPartial(GROUP, '1.5', '3'),
    status: 200,
    message: HEALTHY_MESSAGE,
    states: { skew_ratio: 'pass', consumer_count: 'pass' },
  },
  {
    name: '"NaN" values: no data under ON_NO_DATA=fail (both fail; the message names the likely causes)',
    env: { ON_NO_DATA: 'fail' },
    handle: values(GROUP, 'NaN', 'NaN'),
    status: 500,
    message: `${NO_SKEW}; ${NO_CONSUMERS}`,
    states: { skew_ratio: 'no_data', consumer_count: 'no_data' },
    verify: (status, metrics) => {
      assert.equal(status.checks.skew_ratio.ok, false);
      assert.equal(status.checks.consumer_count.ok, false);
      for (const name of CHECKS) assert.equal(status.checks[name].value, null);
      assert.doesNotMatch(metrics, /^crm_events_health_(?:skew_ratio|consumer_count)\{/m, 'no gauge for no data');
    },
  },
  {
    name: '"+Inf" values: skew fails, consumer_count passes',
    handle: values(GROUP, '+Inf', '+Inf'),
    status: 500,
    message: 'Hot-key skew high: +Infx',
    states: { skew_ratio: 'fail', consumer_count: 'pass' },
    verify: (status, metrics) => {
      for (const name of CHECKS) assert.equal(status.checks[name].value, '+Inf');
      assert.match(metrics, new RegExp(`^crm_events_health_skew_ratio\\{consumergroup="${GROUP}"\\} \\+Inf$`, 'm'));
    },
  },
  {
    name: '"-Inf" values: skew passes, consumer_count fails',
    handle: values(GROUP, '-Inf', '-Inf'),
    status: 500,
    message: 'Too few consumers: -Inf < 2',
    states: { skew_ratio: 'pass', consumer_count: 'fail' },
    verify: (status) => {
      for (const name of CHECKS) assert.equal(status.checks[name].value, '-Inf');
    },
  },
  {
    name: 'an empty vector: no data under ON_NO_DATA=fail (both fail; the message names the likely causes)',
    env: { ON_NO_DATA: 'fail' },
    handle: vectors(GROUP, [], []),
    status: 500,
    message: `${NO_SKEW}; ${NO_CONSUMERS}`,
    states: { skew_ratio: 'no_data', consumer_count: 'no_data' },
    verify: (status) => {
      for (const name of CHECKS) assert.equal(status.checks[name].series, 0);
    },
  },
  {
    name: 'several series: the worst decides and /status names it',
    handle: vectors(
      GROUP,
      [
        { value: '1.2', labels: { topic: 'aetherlink.events' } },
        { value: '6.5', labels: { topic: 'aetherlink.audit' } },
        { value: 'NaN', labels: { topic: 'aetherlink.idle' } },
        { value: '2', labels: { topic: 'aetherlink.retry' } },
      ],
      [
        { value: '3', labels: { exporter: 'kafka-exporter-a' } },
        { value: '1', labels: { exporter: 'kafka-exporter-b' } },
      ],
    ),
    status: 500,
    message: 'Hot-key skew high: 6.5x (topic=aetherlink.audit); Too few consumers: 1 < 2 (exporter=kafka-exporter-b)',
    states: { skew_ratio: 'fail', consumer_count: 'fail' },
    verify: (status) => {
      const { skew_ratio: skew, consumer_count: consumers } = status.checks;
      assert.equal(skew.value, 6.5);
      assert.deepEqual(skew.labels, { __name__: 'kafka:group_skew_ratio', consumergroup: GROUP, topic: 'aetherlink.audit' });
      assert.equal(skew.series, 3, 'the NaN series is no data');
      assert.equal(consumers.value, 1);
      assert.deepEqual(consumers.labels, { __name__: 'kafka:group_consumer_count', consumergroup: GROUP, exporter: 'kafka-exporter-b' });
      assert.equal(consumers.series, 2);
    },
  },
  {
    name: 'scalar results are judged like one series',
    handle: scalars('5.25', '3'),
    status: 500,
    message: 'Hot-key skew high: 5.25x',
    states: { skew_ratio: 'fail', consumer_count: 'pass' },
    verify: (status) => {
      assert.equal(status.checks.skew_ratio.value, 5.25);
      assert.equal(status.checks.consumer_count.value, 3);
      for (const name of CHECKS) {
        assert.deepEqual(status.checks[name].labels, {});
        assert.equal(status.checks[name].series, 1);
      }
    },
  },
];

/** healthy -> an answer -> healthy: the answer's verdict, never an error, never stale. */
async function exerciseValue(t: TestContext, value: ValueCase): Promise<void> {
  const fake = await startFakePrometheus(HEALTHY);
  t.after(() => fake.close());
  const { probe, port } = await launch(t, fake.url, value.env);
  await readyHealthy(port);
  const before = errorCounts(await metricsOf(port));
  const switchedAt = (await statusOf(port)).evaluation.count;
  const switchedAtMs = Date.now();
  fake.handle = value.handle;

  // Evaluation switchedAt + 1 may have asked before the switch; from switchedAt + 2 on, every one sees the answer.
  const watch = observer(port);
  const sampler = sample(t, port);
  const deadline = performance.now() + 10_000;
  let settledAt: number | undefined;
  let settled: StatusDoc | undefined;
  let settledCount = Number.POSITIVE_INFINITY;
  // Held past STALE_AFTER, and over at least two more evaluations: the probe had every chance to turn it unknown.
  while (settledAt === undefined || performance.now() - settledAt < STALE_AFTER_MS + 300 || settled!.evaluation.count < settledCount + 2) {
    assert.ok(performance.now() < deadline, 'the answer was not judged within 10 s');
    const { ready, status } = await watch.round();
    const seen = `/ready ${ready.status} ${JSON.stringify(ready.doc)}\n/status ${JSON.stringify(status)}`;
    if (settledAt !== undefined) {
      assert.equal(ready.status, value.status, seen);
      assert.equal(ready.doc.message, value.message, seen);
      assert.equal(ready.doc.verdict, value.status === 200 ? 'pass' : 'fail', seen);
      assert.deepEqual(ready.doc.checks, value.states, seen);
    }
    if (status.evaluation.count >= switchedAt + 2) {
      settledAt ??= performance.now();
      settledCount = Math.min(settledCount, status.evaluation.count);
      settled = status;
      assert.equal(status.ready_status_code, value.status, seen);
      assert.equal(status.message, value.message, seen);
      assert.equal(status.prometheus.consecutive_errors, 0, `an answer is not an error\n${seen}`);
      assert.equal(status.prometheus.reachable, true, seen);
      for (const name of CHECKS) {
        assert.equal(status.checks[name].state, value.states[name], `${name}\n${seen}`);
        assert.equal(status.checks[name].stale, false, seen);
        const lastError = status.checks[name].last_error;
        assert.ok(lastError === null || Date.parse(lastError.at) < switchedAtMs, `no error since the switch\n${seen}`);
      }
    }
    await sleep(POLL_MS);
  }
  const metrics = await metricsOf(port);
  assert.deepEqual([...risen(before, errorCounts(metrics))], [], 'no error was counted');
  value.verify?.(settled!, metrics);
  const samples = await sampler.stop();

  // Back to the everyday answer: the first evaluation that sees it restores the verdict.
  const healedAt = (await statusOf(port)).evaluation.count;
  fake.handle = HEALTHY;
  const recovered = await waitFor(
    `evaluation ${healedAt + 2}`,
    async () => {
      const status = await statusOf(port);
      return status.evaluation.count >= healedAt + 2 ? status : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 20 },
  );
  assert.equal(recovered.ready_status_code, 200, JSON.stringify(recovered));
  assert.equal(recovered.message, HEALTHY_MESSAGE);
  for (const name of CHECKS) assert.deepEqual(recovered.checks[name].warnings, []);
  await readyHealthy(port, 1_000);
  await stillUpThenStops(probe);
  assertFast(t, samples, watch.times, [200, value.status]);
}

describe('Prometheus faults against the compiled probe', { concurrency: CONCURRENCY }, () => {
  for (const policy of BOTH) {
    for (const fault of FAULTS.filter((f) => (f.policies ?? ['pass']).includes(policy))) {
      it(`${fault.name} -> ${fault.code}, ON_PROMETHEUS_ERROR=${policy}`, async (t) => {
        const fake = await startFakePrometheus(HEALTHY);
        t.after(() => fake.close());
        await exerciseFault(t, { url: fake.url, code: fault.code, policy, fault: fault.fault(fake) });
      });
    }
  }

  for (const policy of BOTH) {
    it(`a host name that does not resolve -> PROM_DNS from the first evaluation, ON_PROMETHEUS_ERROR=${policy}`, async (t) => {
      // The URL is fixed for the life of the process, so this fault can neither begin nor end mid-run.
      await exerciseFault(t, { url: 'http://something.invalid:9090', code: 'PROM_DNS', policy, fromStart: true, fault: { inject: () => {} } });
    });
  }

  for (const value of VALUES) {
    it(`${value.name} (not an error)`, (t) => exerciseValue(t, value));
  }
});

// stop() aborts the evaluation in flight; the aborted queries once counted as PROM_TIMEOUT and logged a
// `prometheus_error` ("cancelled by the caller") at every shutdown that interrupted a query (fixed in 71b9f67,
// unit-tested in monitor.test.ts). Here the compiled probe, a slow Prometheus and a real SIGTERM.
describe('shutdown during a query', () => {
  it('SIGTERM while a query is in flight is not reported as a Prometheus error', async (t) => {
    let inFlight = 0;
    // Slow but within the deadline: 1.5 s to answer, QUERY_TIMEOUT 2 s, so no real timeout can happen.
    const slow = headersAfter(1_500, HEALTHY);
    const fake = await startFakePrometheus((query, req, res, body) => {
      inFlight += 1;
      res.on('close', () => (inFlight -= 1));
      slow(query, req, res, body);
    });
    t.after(() => fake.close());
    const { probe } = await launch(t, fake.url, { CHECK_INTERVAL: '3s', QUERY_TIMEOUT: '2s', STALE_AFTER: '10s' });
    await probe.waitForLog('verdict_changed');
    // The second evaluation starts 3 to 6 s after the first (one interval, then the replica's place in the interval:
    // README "The schedule: no lockstep"): SIGTERM once its queries have reached the fake.
    // At least the two checks' queries (the built-in checks also ask one for lag in time, the fleet limit one more).
    await waitFor('a query in flight', async () => (inFlight >= 2 ? true : undefined), { timeoutMs: 8_000, intervalMs: 10 });
    stoppedByTest.add(probe);
    probe.child.kill('SIGTERM');
    assert.equal(await probe.exited, 0);
    const errors = probe.logs().filter((line) => line.event === 'prometheus_error');
    assert.deepEqual(errors, [], 'shutting down is not a Prometheus error');
  });
});

// Alone: starting Prometheus takes a few seconds of CPU, which would disturb the answer times of other cases.
describe('a real Prometheus', () => {
  it('killed in the middle of a run and started again -> PROM_NETWORK', async (t) => {
    if (requireBinary(t, 'prometheus') === undefined) return;
    const { prometheus } = await startStack(t, (exporter) => balanced(exporter, GROUP));
    await exerciseFault(t, {
      url: prometheus.url,
      code: 'PROM_NETWORK',
      policy: 'pass',
      // Its HTTP server shuts down gracefully: the probe's idle keep-alive connection is closed, the next connect
      // is refused. Restarting, it may answer 503 until its TSDB is ready: recovery waits past that.
      readyTimeoutMs: 20_000,
      healTimeoutMs: 30_000,
      whileHealing: ['PROM_UNAVAILABLE'],
      fault: { inject: () => prometheus.stop(), heal: () => prometheus.start() },
    });
  });
});
