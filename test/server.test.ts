import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { AddressInfo } from 'node:net';
import { defaultChecks } from '../src/checks.js';
import { loadConfig, type Environment } from '../src/config.js';
import type { QueryResult } from '../src/envelope.js';
import { createMonitor } from '../src/monitor.js';
import { createProbeServer } from '../src/server.js';
import { fakeClock } from './helpers/clock.js';
import { httpRequest } from './helpers/http.js';

/** A probe server on a real socket, fed by a monitor whose Prometheus answers `values`. */
async function probe(t: TestContext, values: { skew: number[]; consumers: number[] }, env: Environment = {}) {
  const config = loadConfig(env);
  const checks = defaultChecks(config);
  const clock = fakeClock();
  const server = createProbeServer({
    view: { phase: 'starting', snapshot: null, config, checks, version: '9.9.9', startedAtMs: clock.now() },
    now: clock.now,
  });
  const monitor = createMonitor({
    checks,
    client: {
      query: async (promql): Promise<QueryResult> => ({
        resultType: 'vector',
        samples: (promql.includes('skew') ? values.skew : values.consumers).map((value, i) => ({ value, labels: { consumergroup: config.group, topic: `t${i}` } })),
        warnings: [],
      }),
    },
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
    const { port, monitor } = await probe(t, { skew: [9, 9, 9], consumers: [] }, { KAFKA_GROUP: group });
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
