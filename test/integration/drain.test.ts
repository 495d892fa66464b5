// Issue 6, items 5 and 6, against the real thing: Debian's Prometheus evaluating the shipped recording rules over
// an exporter with kafka_exporter's metric names, and the compiled probe (node dist/main.js) asking it.
//
// 5. A drain is not a failure: hot key, /ready 500, scale-out, lag falls, /ready 200 while it falls; 500 again
//    when it stops falling or when DRAIN_GRACE is spent; DRAIN_GRACE=0s turns it off.
// 6. Dry run: /ready always 200, the would-be verdict in the body, /status, /metrics and the log.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { startFakePrometheus } from '../helpers/fake-prometheus.js';
import { neverAnswer } from '../helpers/faults.js';
import { getJson, httpRequest } from '../helpers/http.js';
import { launchProbe, type Probe, type ReadyBody, readyBecomes, startProbe } from '../helpers/process.js';
import { type FakeExporter, instantVector, requireBinary } from '../helpers/real-prometheus.js';
import { balanced, startStack, TOPIC } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/wait.js';

const GROUP = 'crm-events-sse';
const HOT_PARTITION = 0;
/** The slope of the hottest partition's lag, as the probe asks for it with DRAIN_WINDOW=10s. */
const TREND = `deriv(kafka:group_max_lag{consumergroup="${GROUP}"}[10s])`;
// Short windows: Prometheus scrapes and evaluates every second (the helper's default), the probe reads the trend
// over 10 s (DRAIN_WINDOW's minimum is 5 s) and evaluates twice a second.
const DRAIN_ENV = { DRAIN_WINDOW: '10s' } as const;

interface Status {
  healthy: boolean;
  verdict: string;
  message: string;
  ready_status_code: number;
  dry_run: boolean;
  evaluation: { count: number };
  checks: Record<
    string,
    {
      state: string;
      ok: boolean | null;
      value: number | null;
      message: string | null;
      drain: { query: string; grace: string; falling: boolean; since: string | null } | null;
    }
  >;
}

/** Exporter, real Prometheus and the compiled probe, all on loopback; everything is stopped after the test. */
async function stack(t: TestContext, env: Record<string, string> = {}) {
  const { exporter, prometheus } = await startStack(t, (fresh) => balanced(fresh, GROUP));
  const { probe, port } = await launchProbe(t, { PROMETHEUS_URL: prometheus.url, KAFKA_GROUP: GROUP, ...env });
  return { exporter, prometheus, probe, port };
}

/**
 * Steers the hot partition's lag on a timer: `perSecond` > 0 a hot key (the lag rises at every scrape), < 0 a
 * drain (it falls steadily), 0 flat. Five steps a second, so every 1 s scrape sees the trend. The lag never goes
 * below FLOOR: with the 7 other partitions at 10, skew = 8 * lag / (lag + 70) stays above 6.4 (threshold 4), so
 * the breach lasts the whole drain and only the trend decides. The timer is cleared after the test.
 */
const FLOOR = 300;
function hotPartition(t: TestContext, exporter: FakeExporter, start: number) {
  let lag = start;
  let perTick = 0;
  exporter.setLag(GROUP, TOPIC, HOT_PARTITION, lag);
  const timer = setInterval(() => {
    lag = Math.max(FLOOR, lag + perTick);
    exporter.setLag(GROUP, TOPIC, HOT_PARTITION, lag);
  }, 200);
  t.after(() => clearInterval(timer));
  return {
    /** Lag change per second; a multiple of 5. */
    rate(perSecond: number): void {
      perTick = perSecond / 5;
    },
    get lag(): number {
      return lag;
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}

async function status(port: number): Promise<Status> {
  const answer = await getJson<Status>(port, '/status');
  assert.equal(answer.status, 200);
  return answer.json;
}

/**
 * /ready once the probe has finished the evaluation after the one /status shows now: an answer it gave after
 * judging afresh, not the same snapshot read again.
 */
async function readyAfterNextEvaluation(port: number) {
  const before = (await status(port)).evaluation.count;
  await waitFor(
    `evaluation ${before + 1}`,
    async (seen) => {
      const count = (await status(port)).evaluation.count;
      seen(count);
      return count > before ? true : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 50 },
  );
  return httpRequest(port, '/ready');
}

/** The slope Prometheus itself reports for the hot topic (what the probe's drain query returns). */
async function trend(prometheusUrl: string): Promise<number | undefined> {
  const samples = await instantVector(prometheusUrl, TREND);
  return samples.find((sample) => sample.labels.topic === TOPIC)?.value;
}

/** Waits until Prometheus reports the hot topic's lag rising (> 0) or falling (< 0). */
function trendBecomes(prometheusUrl: string, sign: 1 | -1, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    `${TREND} ${sign > 0 ? '> 0' : '< 0'}`,
    async (seen) => {
      const value = await trend(prometheusUrl);
      seen(value);
      return value !== undefined && Math.sign(value) === sign ? value : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * drain.since is the monotonic start of the drain shown as wall time (the wall time of the last answer less the
 * monotonic age), so two renderings of one instant may differ by a millisecond of clock rounding.
 */
function assertSameInstant(actual: string | null | undefined, expected: string | null | undefined, why: string): void {
  assert.ok(actual != null && expected != null, `${why}: ${actual} vs ${expected}`);
  assert.ok(Math.abs(Date.parse(actual) - Date.parse(expected)) <= 50, `${why}: ${actual} vs ${expected}`);
}

const HOT = /^Hot-key skew high: \d+(\.\d+)?x \(topic=aetherlink\.events\)$/;
const draining = (grace: string): RegExp =>
  new RegExp(`^System healthy \\(Hot-key skew high: \\d+(\\.\\d+)?x \\(topic=aetherlink\\.events\\) \\(draining for \\d+s of grace ${grace}\\)\\)$`);

test('drain: hot key /ready 500, scale-out and a falling lag /ready 200 (draining), the fall stops /ready 500', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { exporter, prometheus, probe, port } = await stack(t, DRAIN_ENV);
  await readyBecomes(port, 200, /^System healthy$/);
  const calm = await status(port);
  assert.deepEqual(calm.checks.skew_ratio!.drain, { query: TREND, grace: '5m', falling: false, since: null });
  assert.equal(calm.checks.consumer_count!.drain, null);

  // A hot key: one partition's lag jumps and keeps rising.
  const hot = hotPartition(t, exporter, 2000);
  hot.rate(+50);
  const failing = await readyBecomes(port, 500, HOT);
  assert.equal(failing.checks?.skew_ratio, 'fail');
  await trendBecomes(prometheus.url, 1);
  const rising = await status(port);
  assert.equal(rising.checks.skew_ratio!.state, 'fail');
  assert.equal(rising.checks.skew_ratio!.drain!.falling, false);
  assert.ok(rising.checks.skew_ratio!.value! > 4, JSON.stringify(rising.checks.skew_ratio));
  // And it stays 500 while the lag rises, evaluation after evaluation: a rising hot key is not a drain.
  for (let i = 0; i < 4; i += 1) {
    const answer = await readyAfterNextEvaluation(port);
    assert.equal(answer.status, 500, answer.body);
  }

  // Scale-out: more consumers, and the hot partition's lag falls steadily.
  exporter.setMembers(GROUP, 6);
  hot.rate(-50);
  const fallingFrom = hot.lag;
  const drained = await readyBecomes(port, 200, draining('5m'), 30_000);
  assert.equal(drained.healthy, true);
  assert.equal(drained.verdict, 'pass');
  assert.equal(drained.checks?.skew_ratio, 'draining');
  const during = await status(port);
  assert.equal(during.checks.skew_ratio!.state, 'draining', JSON.stringify(during.checks.skew_ratio));
  assert.equal(during.checks.skew_ratio!.ok, true);
  assert.equal(during.checks.skew_ratio!.drain!.falling, true);
  assert.ok(during.checks.skew_ratio!.drain!.since !== null);
  assert.ok(during.checks.skew_ratio!.value! > 4, 'skew is still above the threshold: only the trend passes it');
  assert.equal(during.ready_status_code, 200);
  const line = await waitFor('verdict_changed to a draining pass', async () =>
    probe.logs().find((entry) => entry.event === 'verdict_changed' && entry.healthy === true && /draining for/.test(String(entry.message))),
  );
  assert.equal(line.to, 'pass');

  // /ready stays 200 as long as the lag keeps falling (still hot all along), evaluation after evaluation.
  for (let i = 0; i < 6; i += 1) {
    const answer = await readyAfterNextEvaluation(port);
    assert.equal(answer.status, 200, answer.body);
    assert.match((JSON.parse(answer.body) as ReadyBody).message, draining('5m'));
  }
  assert.ok(hot.lag < fallingFrom - 200 && hot.lag > FLOOR, `the lag fell from ${fallingFrom} to ${hot.lag} and is still hot`);
  assert.ok((await trend(prometheus.url))! < 0);

  // The fall stops with the partition still hot: once the window holds no fall, /ready fails again.
  hot.rate(0);
  const stopped = await readyBecomes(port, 500, HOT, 30_000);
  assert.equal(stopped.checks?.skew_ratio, 'fail');
  const after = await status(port);
  assert.equal(after.checks.skew_ratio!.state, 'fail');
  assert.equal(after.checks.skew_ratio!.drain!.falling, false);
  assert.ok(after.checks.skew_ratio!.value! > 4);

  // It falls again within the same breach: draining again, but on the grace that began with the first fall (the
  // grace is spent once per breach, so a lag that falls and stalls in turn cannot pass for ever).
  const firstSince = during.checks.skew_ratio!.drain!.since!;
  assertSameInstant(after.checks.skew_ratio!.drain!.since, firstSince, 'the grace began with the first fall');
  hot.rate(-50);
  const again = await readyBecomes(port, 200, draining('5m'), 30_000);
  const drainedFor = Number(/draining for (\d+)s/.exec(again.message)![1]);
  const sinceFirst = (Date.now() - Date.parse(firstSince)) / 1000;
  assert.ok(drainedFor >= sinceFirst - 2 && drainedFor <= sinceFirst + 1, `draining for ${drainedFor}s, ${sinceFirst}s after the first fall`);
  assertSameInstant((await status(port)).checks.skew_ratio!.drain!.since, firstSince, 'the grace began with the first fall');
});

test('drain: DRAIN_GRACE is counted from the first falling answer; a drain longer than it fails /ready', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { exporter, port } = await stack(t, { ...DRAIN_ENV, DRAIN_GRACE: '8s' });
  await readyBecomes(port, 200, /^System healthy$/);

  const hot = hotPartition(t, exporter, 2000);
  hot.rate(+50);
  await readyBecomes(port, 500, HOT);

  exporter.setMembers(GROUP, 6);
  hot.rate(-50);
  await readyBecomes(port, 200, draining('8s'), 30_000);
  const during = await status(port);
  assert.equal(during.checks.skew_ratio!.state, 'draining');
  const since = Date.parse(during.checks.skew_ratio!.drain!.since!);
  assert.ok(Number.isFinite(since), JSON.stringify(during.checks.skew_ratio!.drain));

  // The lag keeps falling, but for longer than the grace.
  const spent = await readyBecomes(port, 500, /^Hot-key skew high: \d+(\.\d+)?x \(topic=aetherlink\.events\) \(still draining after grace 8s\)$/, 25_000);
  assert.equal(spent.checks?.skew_ratio, 'fail');
  const elapsed = Date.now() - since;
  assert.ok(elapsed >= 7_900, `failed ${elapsed} ms after the drain began, not before the 8 s grace`);
  const after = await status(port);
  assert.equal(after.checks.skew_ratio!.state, 'fail');
  assert.equal(after.checks.skew_ratio!.drain!.falling, true, 'still falling: the grace, not the trend, failed it');
  assertSameInstant(after.checks.skew_ratio!.drain!.since, during.checks.skew_ratio!.drain!.since, 'one grace per breach');
  assert.ok(hot.lag > FLOOR, `still falling (lag ${hot.lag})`);
});

test('drain: DRAIN_GRACE=0s turns it off; a falling hot partition still fails /ready', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { exporter, prometheus, port } = await stack(t, { ...DRAIN_ENV, DRAIN_GRACE: '0s' });
  await readyBecomes(port, 200, /^System healthy$/);
  assert.equal((await status(port)).checks.skew_ratio!.drain, null);

  const hot = hotPartition(t, exporter, 2000);
  await readyBecomes(port, 500, HOT);
  exporter.setMembers(GROUP, 6);
  hot.rate(-50);
  // Prometheus sees the drain (the trend the probe would ask for is negative) ...
  await trendBecomes(prometheus.url, -1);
  // ... and /ready fails all the same, for as many evaluations as we look.
  for (let i = 0; i < 8; i += 1) {
    const answer = await readyAfterNextEvaluation(port);
    assert.equal(answer.status, 500, answer.body);
    assert.match((JSON.parse(answer.body) as ReadyBody).message, HOT);
  }
  const after = await status(port);
  assert.equal(after.checks.skew_ratio!.state, 'fail');
  assert.ok((await trend(prometheus.url))! < 0, 'the lag was falling throughout');
});

test('dry run: /ready answers 200 with the would-be verdict; /status, /metrics and the log carry it', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { exporter, probe, port } = await stack(t, { DRY_RUN: 'true' });

  const healthy = await readyBecomes(port, 200, /^System healthy$/);
  assert.equal(healthy.healthy, true);
  assert.equal(healthy.dry_run, true);
  assert.equal(healthy.would_be_status_code, 200);

  // A hot key: max/avg = 400 / ((400 + 7 * 10) / 8) = 6.8085...; a fixed lag does not fall, so it is no drain.
  exporter.setLag(GROUP, TOPIC, HOT_PARTITION, 400);
  const hot = await readyBecomes(port, 200, /^Hot-key skew high: 6\.81x \(topic=aetherlink\.events\)$/);
  assert.equal(hot.healthy, false);
  assert.equal(hot.verdict, 'fail');
  assert.equal(hot.dry_run, true);
  assert.equal(hot.would_be_status_code, 500);
  assert.equal(hot.checks?.skew_ratio, 'fail');

  const doc = await status(port);
  assert.equal(doc.dry_run, true);
  assert.equal(doc.healthy, false);
  assert.equal(doc.verdict, 'fail');
  assert.equal(doc.checks.skew_ratio!.state, 'fail');

  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_dry_run 1$/m);
  assert.match(metrics, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m);

  const failed = await waitFor('verdict_changed to the hot key', async () =>
    probe.logs().find((entry) => entry.event === 'verdict_changed' && entry.to === 'fail' && String(entry.message).startsWith('Hot-key')),
  );
  assert.equal(failed.dry_run, true, JSON.stringify(failed));
  assert.equal(failed.would_be_status_code, 500, JSON.stringify(failed));
  assert.equal(failed.healthy, false);
  assert.equal(failed.message, 'Hot-key skew high: 6.81x (topic=aetherlink.events)');
  // Every verdict change says what /ready would have answered (before the rules' first evaluation the group had no
  // consumers reported: a would-be 500 at start-up too).
  for (const change of probe.logs().filter((entry) => entry.event === 'verdict_changed')) {
    assert.equal(change.dry_run, true, JSON.stringify(change));
    assert.equal(change.would_be_status_code, change.healthy === true ? 200 : 500, JSON.stringify(change));
  }

  // Recovery: the would-be verdict turns healthy everywhere too.
  exporter.setLag(GROUP, TOPIC, HOT_PARTITION, 10);
  const recovered = await readyBecomes(port, 200, /^System healthy$/);
  assert.equal(recovered.healthy, true);
  assert.equal(recovered.would_be_status_code, 200);
  assert.match((await httpRequest(port, '/metrics')).body, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 1$/m);
  const passed = await waitFor('verdict_changed back to pass', async () => {
    const changes = probe.logs().filter((entry) => entry.event === 'verdict_changed');
    const hotAt = changes.findIndex((entry) => String(entry.message).startsWith('Hot-key'));
    return changes.slice(hotAt + 1).find((entry) => entry.to === 'pass');
  });
  assert.equal(passed.dry_run, true);
  assert.equal(passed.would_be_status_code, 200);
});

test('dry run: /ready is 200 while starting, with would_be_status_code 503', async (t) => {
  // No Prometheus needed: the fake that accepts and never answers holds the first evaluation for QUERY_TIMEOUT
  // (4 s), long enough to ask /ready while the probe is still starting.
  const blackHole = await startFakePrometheus(neverAnswer);
  t.after(() => blackHole.close());
  const port = await freePort();
  const probe: Probe = startProbe([], {
    PROMETHEUS_URL: blackHole.url,
    KAFKA_GROUP: GROUP,
    PORT: String(port),
    HOST: '127.0.0.1',
    CHECK_INTERVAL: '5s',
    QUERY_TIMEOUT: '4s',
    DRY_RUN: 'true',
  });
  t.after(() => probe.kill());

  const starting = await waitFor(
    '/ready while starting',
    async (seen) => {
      const answer = await httpRequest(port, '/ready');
      seen(`${answer.status} ${answer.body}`);
      return { status: answer.status, body: JSON.parse(answer.body) as ReadyBody };
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.equal(starting.status, 200);
  assert.equal(starting.body.verdict, 'starting', JSON.stringify(starting.body));
  assert.equal(starting.body.healthy, false);
  assert.equal(starting.body.dry_run, true);
  assert.equal(starting.body.would_be_status_code, 503);
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_dry_run 1$/m);
  assert.doesNotMatch(metrics, /^crm_events_health_status\{/m, 'no verdict yet, no status sample');
});
