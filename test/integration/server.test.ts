import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { type Environment, loadConfig } from '../../src/config/load.js';
import type { QueryResult, Sample } from '../../src/core/envelope.js';
import { type Config, configuredChecks } from '../../src/core/settings.js';
import { createMonitor } from '../../src/monitor.js';
import { createProbeServer } from '../../src/server.js';
import { fakeClock } from '../helpers/clock.js';
import { seedOnly } from '../helpers/config.js';
import { getJson, httpRequest } from '../helpers/http.js';

/** A probe server on a real socket, fed by a monitor whose Prometheus answers `values`. */
function probe(t: TestContext, values: { skew: number[]; consumers: number[] }, env: Environment = {}) {
  return harness(t, env, (promql, config) =>
    (promql.includes('skew') ? values.skew : values.consumers).map((value, i) => ({ value, labels: { consumergroup: config.group, topic: `t${i}` } })),
  );
}

/** A probe server on a real socket, fed by a monitor with a fake clock whose Prometheus answers `answer(query)`. */
async function harness(t: TestContext, env: Environment, answer: (promql: string, config: Config) => Sample[]) {
  const config = loadConfig(seedOnly(env));
  const checks = configuredChecks(config);
  const clock = fakeClock();
  const server = createProbeServer({
    view: { phase: 'starting', snapshot: null, config, checks, version: '9.9.9', nodeVersion: process.versions.node, startedAtMs: clock.now() },
    now: clock.now,
  });
  const monitor = createMonitor({
    checks,
    client: { query: async (promql): Promise<QueryResult> => ({ resultType: 'vector', samples: answer(promql, config), warnings: [] }) },
    intervalMs: config.checkIntervalMs,
    staleAfterMs: config.staleAfterMs,
    onPrometheusError: config.onPrometheusError,
    clock,
    onUpdate: (snapshot) => server.update(snapshot),
  });
  const address: AddressInfo = await server.listen(0, '127.0.0.1');
  t.after(() => server.close(100));
  return { port: address.port, server, monitor, clock };
}

test('/ready is 503 until the first evaluation has finished, then 200 when healthy', async (t) => {
  const { port, monitor } = await probe(t, { skew: [1.2], consumers: [3] });
  const before = await httpRequest(port, '/ready');
  assert.equal(before.status, 503);
  assert.deepEqual(JSON.parse(before.body), { healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' });
  await monitor.evaluate();
  const after = await httpRequest(port, '/ready');
  assert.equal(after.status, 200);
  assert.deepEqual(JSON.parse(after.body), { healthy: true, message: 'System healthy', verdict: 'pass', checks: { skew_ratio: 'pass', consumer_count: 'pass' } });
});

test('/ready is 500 with every failure in the message', async (t) => {
  const { port, monitor } = await probe(t, { skew: [1.1, 5.2], consumers: [1] });
  await monitor.evaluate();
  const answer = await httpRequest(port, '/ready');
  assert.equal(answer.status, 500);
  const body = JSON.parse(answer.body);
  assert.equal(body.healthy, false);
  assert.equal(body.message, 'Hot-key skew high: 5.2x (topic=t1); Too few consumers: 1 < 2 (topic=t0)');
});

test('/status tells the whole picture', async (t) => {
  const { port, monitor, clock } = await probe(t, { skew: [5.2], consumers: [3] }, { PROMETHEUS_URL: 'http://user:hunter2@prom:9090' });
  await monitor.evaluate();
  await clock.advance(1_500);
  const answer = await httpRequest(port, '/status');
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)), 'prepared length, per-request uptime');
  assert.doesNotMatch(answer.body, /hunter2|user:/);
  const status = JSON.parse(answer.body);
  assert.equal(status.healthy, false);
  assert.equal(status.verdict, 'fail');
  assert.equal(status.ready_status_code, 500);
  assert.equal(status.uptime_seconds, 1.5);
  assert.equal(status.version, '9.9.9');
  assert.equal(status.config.prometheus_url, 'http://prom:9090');
  assert.deepEqual(
    {
      state: status.checks.skew_ratio.state,
      value: status.checks.skew_ratio.value,
      threshold: status.checks.skew_ratio.threshold,
      comparison: status.checks.skew_ratio.comparison,
      labels: status.checks.skew_ratio.labels,
      query: status.checks.skew_ratio.query,
      message: status.checks.skew_ratio.message,
    },
    {
      state: 'fail',
      value: 5.2,
      threshold: 4,
      comparison: '<=',
      labels: { consumergroup: 'crm-events-sse', topic: 't0' },
      query: 'kafka:group_skew_ratio{consumergroup="crm-events-sse"}',
      message: 'Hot-key skew high: 5.2x (topic=t0)',
    },
  );
  assert.equal(status.checks.consumer_count.value, 3);
  assert.equal(typeof status.checks.skew_ratio.observed_at, 'string');
  assert.deepEqual(status.prometheus, {
    url: 'http://prom:9090',
    reachable: true,
    last_success: status.checks.skew_ratio.observed_at,
    last_error: null,
    consecutive_errors: 0,
  });
});

test('every answer carries no-store and nosniff; HEAD has the headers and no body', async (t) => {
  const { port, monitor } = await probe(t, { skew: [1], consumers: [2] });
  await monitor.evaluate();
  for (const path of ['/ready', '/health', '/status', '/metrics', '/nope']) {
    for (const method of ['GET', 'HEAD', 'POST']) {
      const answer = await httpRequest(port, path, { method });
      assert.equal(answer.headers['cache-control'], 'no-store', `${method} ${path}`);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff', `${method} ${path}`);
      if (method === 'HEAD') assert.equal(answer.body, '', `${method} ${path}`);
    }
  }
  const head = await httpRequest(port, '/ready', { method: 'HEAD' });
  const get = await httpRequest(port, '/ready');
  assert.equal(head.status, get.status);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)));
});

test('routing: 405 with Allow, 404 in JSON, a query string does not change the route, paths are not normalised', async (t) => {
  const { port, monitor } = await probe(t, { skew: [1], consumers: [2] });
  await monitor.evaluate();
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const answer = await httpRequest(port, '/ready', { method });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.allow, 'GET, HEAD');
    assert.equal(JSON.parse(answer.body).error, 'method_not_allowed');
  }
  assert.equal((await httpRequest(port, '/ready?verbose=1&x')).status, 200);
  assert.equal((await httpRequest(port, '/health?')).status, 200);
  for (const path of ['/', '/ready/', '/ready/../status', '//ready', '/ready%00', '/READY', '/metrics.txt']) {
    const answer = await httpRequest(port, path);
    assert.equal(answer.status, 404, path);
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(JSON.parse(answer.body).error, 'not_found');
  }
});

test('/health stays 200 while shutting down; /ready turns 503 and asks clients to close', async (t) => {
  const { port, monitor, server } = await probe(t, { skew: [1], consumers: [2] });
  await monitor.evaluate();
  server.setPhase('shutting_down');
  const ready = await httpRequest(port, '/ready');
  assert.equal(ready.status, 503);
  assert.equal(JSON.parse(ready.body).message, 'Shutting down');
  assert.equal(ready.headers.connection, 'close');
  assert.equal((await httpRequest(port, '/health')).status, 200);
  assert.equal(JSON.parse((await httpRequest(port, '/status')).body).phase, 'shutting_down');
});

test('/ready stays under 4 KiB whatever the group name', async (t) => {
  // Long, made of control characters JSON writes as 6 bytes each, and of characters outside the BMP.
  for (const group of ['g'.repeat(20_000), '\x01'.repeat(2_000), '😀'.repeat(3_000)]) {
    // ON_NO_DATA=fail: the no-data message names the group, so the long name is in the message to be cut.
    const { port, monitor } = await probe(t, { skew: [9, 9, 9], consumers: [] }, { KAFKA_GROUP: group, ON_NO_DATA: 'fail' });
    await monitor.evaluate();
    const answer = await httpRequest(port, '/ready');
    assert.equal(answer.status, 500);
    assert.ok(Buffer.byteLength(answer.body) < 4096, `${Buffer.byteLength(answer.body)} bytes`);
    const message = (JSON.parse(answer.body) as { message: string }).message;
    assert.ok(message.endsWith('…'));
    assert.doesNotMatch(message, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, 'no surrogate pair cut in half');
  }
});

test('/metrics is the text format, served from the cache', async (t) => {
  const { port, monitor } = await probe(t, { skew: [2.5], consumers: [3] });
  await monitor.evaluate();
  const answer = await httpRequest(port, '/metrics');
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(answer.body, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 1$/m);
  assert.match(answer.body, /^crm_events_health_skew_ratio\{consumergroup="crm-events-sse"\} 2.5$/m);
  assert.match(answer.body, /^crm_events_health_consumer_count\{consumergroup="crm-events-sse"\} 3$/m);
});

/** An evaluated probe whose Prometheus answers one series, labelled topic="t", per value of `answer(query)`. */
async function probeAnswering(t: TestContext, env: Environment, answer: (promql: string) => number[]): Promise<number> {
  const { port, monitor } = await harness(t, env, (promql) => answer(promql).map((value) => ({ value, labels: { topic: 't' } })));
  await monitor.evaluate();
  return port;
}

// orders is healthy; billing has one consumer.
const twoGroups = (promql: string): number[] => (promql.includes('skew') ? [1.5] : promql.includes('"billing"') ? [1] : [3]);

test('several groups: /ready fails if any fails and names it; ?group= answers for one; an unknown group is a 404', async (t) => {
  const port = await probeAnswering(t, { KAFKA_GROUP: 'orders,billing' }, twoGroups);
  const all = await getJson(port, '/ready');
  assert.equal(all.status, 500);
  assert.deepEqual(all.json, {
    healthy: false,
    message: 'billing: Too few consumers: 1 < 2 (topic=t)',
    verdict: 'fail',
    checks: { 'orders/skew_ratio': 'pass', 'orders/consumer_count': 'pass', 'billing/skew_ratio': 'pass', 'billing/consumer_count': 'fail' },
    groups: { orders: 'pass', billing: 'fail' },
  });
  const orders = await getJson(port, '/ready?group=orders');
  assert.deepEqual([orders.status, orders.json.message], [200, 'System healthy']);
  const billing = await getJson(port, '/ready?group=billing');
  assert.deepEqual([billing.status, billing.json.message], [500, 'Too few consumers: 1 < 2 (topic=t)']);
  const nope = await getJson(port, '/ready?group=nope');
  assert.deepEqual([nope.status, nope.json], [404, { error: 'unknown_group', message: 'No consumer group "nope"; groups: "orders", "billing"' }]);

  const status = (await getJson<{ checks: Record<string, { group: string; name: string }>; groups: Record<string, { healthy: boolean }> }>(port, '/status')).json;
  assert.deepEqual(Object.keys(status.checks), ['orders/skew_ratio', 'orders/consumer_count', 'billing/skew_ratio', 'billing/consumer_count']);
  assert.deepEqual([status.checks['billing/consumer_count']!.group, status.checks['billing/consumer_count']!.name], ['billing', 'consumer_count']);
  assert.deepEqual(Object.fromEntries(Object.entries(status.groups).map(([g, v]) => [g, v.healthy])), { orders: true, billing: false });
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_status\{consumergroup="orders"\} 1$/m);
  assert.match(metrics, /^crm_events_health_status\{consumergroup="billing"\} 0$/m);
  assert.match(metrics, /^crm_events_health_consumer_count\{consumergroup="billing"\} 1$/m);
  assert.match(metrics, /^crm_events_health_check_state\{consumergroup="billing",check="consumer_count",state="fail"\} 1$/m);
});

test('/ready?verbose writes /readyz lines; /ready/NAME and ?exclude= select checks; unknown names are answered', async (t) => {
  const port = await probeAnswering(t, {}, (promql) => (promql.includes('skew') ? [1.5] : [1]));
  const verbose = await httpRequest(port, '/ready?verbose');
  assert.equal(verbose.status, 500);
  assert.equal(verbose.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(verbose.body, '[+]skew_ratio ok\n[-]consumer_count failed: Too few consumers: 1 < 2 (topic=t)\nready check failed\n');

  const excluded = await httpRequest(port, '/ready?verbose&exclude=consumer_count');
  assert.equal(excluded.status, 200);
  assert.equal(excluded.body, '[+]skew_ratio ok\n[+]consumer_count excluded: ok\nready check passed\n');
  assert.deepEqual((await getJson(port, '/ready?exclude=consumer_count')).json, {
    healthy: true,
    message: 'System healthy',
    verdict: 'pass',
    checks: { skew_ratio: 'pass' },
  });

  const one = await getJson(port, '/ready/skew_ratio');
  assert.deepEqual([one.status, one.json.checks], [200, { skew_ratio: 'pass' }]);
  assert.equal((await httpRequest(port, '/ready/consumer_count?verbose')).body, '[-]consumer_count failed: Too few consumers: 1 < 2 (topic=t)\nready check failed\n');
  assert.equal((await httpRequest(port, '/ready/consumer_count', { method: 'HEAD' })).status, 500);

  const unknown = await getJson(port, '/ready/skew');
  assert.deepEqual([unknown.status, unknown.json], [404, { error: 'unknown_check', message: 'No check "skew"; checks: "skew_ratio", "consumer_count"' }]);
  const badExclude = await getJson(port, '/ready?exclude=consumer_count,consumers');
  assert.deepEqual([badExclude.status, badExclude.json.error], [400, 'unknown_check']);
  assert.match(String(badExclude.json.message), /Cannot exclude "consumers"/);
  assert.equal((await httpRequest(port, '/ready?verbose&exclude=nope')).body, 'Cannot exclude "nope": no such check; checks: "skew_ratio", "consumer_count"\n');
  assert.equal((await httpRequest(port, '/ready/skew_ratio', { method: 'POST' })).status, 405);
  for (const path of ['/ready?exclude=skew_ratio,consumer_count', '/ready/skew_ratio?exclude=skew_ratio']) {
    const nothing = await getJson(port, path);
    assert.deepEqual([nothing.status, nothing.json.error], [400, 'nothing_selected'], path);
  }
});

test('/status answers application/health+json when asked; the seed JSON stays the default', async (t) => {
  const port = await probeAnswering(t, {}, (promql) => (promql.includes('skew') ? [5.5] : [3]));
  const health = await httpRequest(port, '/status', { headers: { accept: 'application/health+json, application/json;q=0.5' } });
  assert.equal(health.status, 503, 'fail is a 5xx in the draft');
  assert.equal(health.headers['content-type'], 'application/health+json');
  assert.equal(health.headers.vary, 'accept');
  const document = JSON.parse(health.body);
  assert.equal(document.status, 'fail');
  assert.equal(document.output, 'Hot-key skew high: 5.5x (topic=t)');
  assert.deepEqual(document.checks['crm-events-sse:skew_ratio'][0], {
    componentId: 'crm-events-sse',
    componentType: 'kafka-consumer-group',
    observedValue: 5.5,
    observedUnit: 'ratio',
    status: 'fail',
    time: document.checks['crm-events-sse:skew_ratio'][0].time,
    output: 'Hot-key skew high: 5.5x (topic=t)',
  });
  assert.equal(document.checks['crm-events-sse:consumer_count'][0].status, 'pass');
  assert.ok(!Number.isNaN(Date.parse(document.checks['crm-events-sse:skew_ratio'][0].time)));

  for (const accept of [undefined, 'application/json', '*/*', 'application/health+json;q=0']) {
    const plain = await httpRequest(port, '/status', { headers: accept === undefined ? {} : { accept } });
    assert.equal(plain.headers['content-type'], 'application/json; charset=utf-8', String(accept));
    assert.equal(plain.status, 200);
    assert.equal(JSON.parse(plain.body).checks.skew_ratio.value, 5.5);
  }
});

test('DRY_RUN: /ready answers 200 with the verdict it would give; /metrics says both', async (t) => {
  const port = await probeAnswering(t, { DRY_RUN: 'true' }, (promql) => (promql.includes('skew') ? [5.5] : [3]));
  const ready = await getJson(port, '/ready');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.json, {
    healthy: false,
    message: 'Hot-key skew high: 5.5x (topic=t)',
    verdict: 'fail',
    checks: { skew_ratio: 'fail', consumer_count: 'pass' },
    dry_run: true,
    would_be_status_code: 500,
  });
  assert.equal(
    (await httpRequest(port, '/ready?verbose')).body,
    '[-]skew_ratio failed: Hot-key skew high: 5.5x (topic=t)\n[+]consumer_count ok\nready check failed (DRY_RUN: answering 200 instead of 500)\n',
  );
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m);
  assert.match(metrics, /^crm_events_health_dry_run 1$/m);
  const status = (await getJson(port, '/status')).json;
  assert.deepEqual([status.dry_run, status.ready_status_code, status.healthy], [true, 200, false]);
});

test('a draining skew breach passes /ready and says so; the trend is asked only while skew breaches', async (t) => {
  const asked: string[] = [];
  const port = await probeAnswering(t, {}, (promql) => {
    asked.push(promql);
    return promql.startsWith('deriv(') ? [-3.5] : promql.includes('skew') ? [7] : [3];
  });
  const ready = await getJson(port, '/ready');
  assert.equal(ready.status, 200);
  assert.equal(ready.json.message, 'System healthy (Hot-key skew high: 7x (topic=t) (draining for 0s of grace 5m))');
  assert.deepEqual(ready.json.checks, { skew_ratio: 'draining', consumer_count: 'pass' });
  assert.deepEqual(asked, [
    'kafka:group_skew_ratio{consumergroup="crm-events-sse"}',
    'kafka:group_consumer_count{consumergroup="crm-events-sse"}',
    'deriv(kafka:group_max_lag{consumergroup="crm-events-sse"}[2m])',
  ]);
  const skew = ((await getJson(port, '/status')).json.checks as Record<string, { drain: { falling: boolean; grace: string } }>).skew_ratio!;
  assert.deepEqual([skew.drain.falling, skew.drain.grace], [true, '5m']);

  const healthy: string[] = [];
  await probeAnswering(t, {}, (promql) => {
    healthy.push(promql);
    return promql.includes('skew') ? [1.5] : [3];
  });
  assert.equal(healthy.length, 2, 'no trend query while skew is below the threshold');
});
