import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { VERSION } from '../../src/version.js';
import { startFakePrometheus, vectorAnswer } from '../helpers/fake-prometheus.js';
import { httpRequest } from '../helpers/http.js';
import { NODE_FLAGS, startProbe } from '../helpers/process.js';
import { freePort } from '../helpers/wait.js';

const fast = { CHECK_INTERVAL: '200ms', QUERY_TIMEOUT: '150ms', STALE_AFTER: '1s', HOST: '127.0.0.1' };

test('--version matches package.json; --help lists every variable', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
  const version = startProbe(['--version'], {});
  assert.equal(await version.exited, 0);
  assert.equal(version.stdout(), `${pkg.version}\n`);
  const help = startProbe(['--help'], {});
  assert.equal(await help.exited, 0);
  for (const name of [
    'PROMETHEUS_URL',
    'KAFKA_GROUP',
    'SKEW_THRESHOLD',
    'MIN_CONSUMERS',
    'PORT',
    'HOST',
    'CHECK_INTERVAL',
    'QUERY_TIMEOUT',
    'STALE_AFTER',
    'SKEW_FOR',
    'ON_PROMETHEUS_ERROR',
    'healthcheck',
  ]) {
    assert.match(help.stdout(), new RegExp(name));
  }
  const unknown = startProbe(['serve-please'], {});
  assert.equal(await unknown.exited, 2);
});

test('the image runs node with the same flags as npm start and the tests', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile.distroless', import.meta.url), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  assert.deepEqual(entrypoint, ['/usr/local/bin/node', ...NODE_FLAGS, '/app/dist/main.js']);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  assert.equal(pkg.scripts.start, 'node $npm_package_config_nodeFlags dist/main.js');
});

test('bad configuration: exit 2 before listening, one line per bad variable, secrets hidden', async () => {
  const port = await freePort();
  const probe = startProbe([], {
    PORT: String(port),
    SKEW_THRESHOLD: 'NaN',
    MIN_CONSUMERS: '0',
    ON_PROMETHEUS_ERROR: 'ignore',
    QUERY_TIMEOUT: '20s',
    PROMETHEUS_URL: 'ftp://admin:s3cret@prometheus:9090',
  });
  assert.equal(await probe.exited, 2);
  const lines = probe.stderr().trim().split('\n');
  assert.deepEqual(lines.map((line) => /^invalid configuration: ([A-Z_]+)=/.exec(line)?.[1]).sort(), [
    'MIN_CONSUMERS',
    'ON_PROMETHEUS_ERROR',
    'PROMETHEUS_URL',
    'QUERY_TIMEOUT',
    'SKEW_THRESHOLD',
  ]);
  assert.match(probe.stderr(), /SKEW_THRESHOLD="NaN": expected a number >= 1/);
  assert.doesNotMatch(probe.stderr() + probe.stdout(), /s3cret/);
  assert.equal(probe.logs().length, 0, 'nothing was started');
});

test('each configuration rule stops the compiled probe with exit 2 before it listens', async () => {
  const port = await freePort();
  const cases: [string, Record<string, string>][] = [
    ['not a number', { MIN_CONSUMERS: 'two' }],
    ['negative', { SKEW_THRESHOLD: '-4' }],
    ['zero where zero makes no sense', { CHECK_INTERVAL: '0s' }],
    ['NaN threshold', { SKEW_THRESHOLD: 'NaN' }],
    ['a URL without a scheme', { PROMETHEUS_URL: 'prometheus:9090' }],
    ['a scheme other than http/https', { PROMETHEUS_URL: 'ftp://prometheus:9090' }],
    ['an unknown ON_PROMETHEUS_ERROR', { ON_PROMETHEUS_ERROR: 'ignore' }],
    ['a port out of range', { PORT: '70000' }],
    ['a query timeout not shorter than the check interval', { CHECK_INTERVAL: '5s', QUERY_TIMEOUT: '5s' }],
    ['a missing token file', { PROMETHEUS_BEARER_TOKEN_FILE: '/nonexistent/token' }],
  ];
  await Promise.all(
    cases.map(async ([rule, env]) => {
      const probe = startProbe([], { PORT: String(port), HOST: '127.0.0.1', ...env });
      assert.equal(await probe.exited, 2, rule);
      const named = probe
        .stderr()
        .trim()
        .split('\n')
        .map((line) => /^invalid configuration: ([A-Z_]+)=/.exec(line)?.[1]);
      const expected = Object.keys(env)
        .filter((name) => name !== 'PORT' || rule.includes('port'))
        .filter((name) => name !== 'CHECK_INTERVAL' || rule.includes('zero'));
      assert.deepEqual(named, expected, `${rule}: ${probe.stderr()}`);
      assert.equal(probe.logs().length, 0, `${rule}: nothing started`);
    }),
  );
});

test('serves all four endpoints against Prometheus, then SIGTERM: /ready 503 while draining, exit 0', async (t) => {
  const prometheus = await startFakePrometheus(vectorAnswer((query) => (query.includes('skew') ? '1.5' : '3')));
  t.after(() => prometheus.close());
  const port = await freePort();
  const probe = startProbe([], { ...fast, PORT: String(port), PROMETHEUS_URL: prometheus.url, SHUTDOWN_DELAY: '1s' });
  t.after(() => probe.kill());
  await probe.waitForLog('verdict_changed');
  const ready = await httpRequest(port, '/ready');
  assert.equal(ready.status, 200, ready.body);
  assert.equal(JSON.parse(ready.body).message, 'System healthy');
  assert.equal((await httpRequest(port, '/health')).status, 200);
  assert.equal(JSON.parse((await httpRequest(port, '/status')).body).checks.consumer_count.value, 3);
  assert.match((await httpRequest(port, '/metrics')).body, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 1$/m);

  const started = Date.now();
  probe.child.kill('SIGTERM');
  await probe.waitForLog('shutdown_begun');
  const draining = await httpRequest(port, '/ready');
  assert.equal(draining.status, 503);
  assert.equal((await httpRequest(port, '/health')).status, 200, 'liveness stays 200 while shutting down');
  assert.equal(await probe.exited, 0);
  assert.ok(Date.now() - started < 5_000, 'well inside the 30 s grace period');
  assert.ok(probe.logs().some((line) => line.event === 'shutdown_complete'));
});

test("probe requests never reach Prometheus: the query rate is the check interval's alone", async (t) => {
  const prometheus = await startFakePrometheus(vectorAnswer((query) => (query.includes('skew') ? '1.5' : '3')));
  t.after(() => prometheus.close());
  const port = await freePort();
  const probe = startProbe([], { HOST: '127.0.0.1', PORT: String(port), PROMETHEUS_URL: prometheus.url, CHECK_INTERVAL: '500ms', QUERY_TIMEOUT: '400ms' });
  t.after(() => probe.kill());
  await probe.waitForLog('verdict_changed');
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const before = prometheus.queries.length;
  const started = Date.now();
  let answered = 0;
  // 2,000 requests across every endpoint, bounded in time too.
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; i < 250 && Date.now() - started < 20_000; i += 1) {
        const path = ['/ready', '/status', '/metrics', '/health'][(worker + i) % 4]!;
        await new Promise<void>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path, agent }, (res) => {
            res.resume();
            res.on('end', () => {
              answered += 1;
              resolve();
            });
          }).on('error', reject);
        });
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const queries = prometheus.queries.length - before;
  // Two checks every 500 ms, whatever the load: at most one more evaluation than the time allows.
  const allowed = 2 * (Math.floor(seconds / 0.5) + 2);
  assert.equal(answered, 2_000);
  assert.ok(queries <= allowed, `${queries} queries in ${seconds} s under load; the interval allows ${allowed}`);
});

test('SIGINT stops it too, with an idle keep-alive connection open', async (t) => {
  const prometheus = await startFakePrometheus(vectorAnswer(() => '3'));
  t.after(() => prometheus.close());
  const port = await freePort();
  const probe = startProbe([], { ...fast, PORT: String(port), PROMETHEUS_URL: prometheus.url });
  t.after(() => probe.kill());
  await probe.waitForLog('listening');
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  await new Promise<void>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  const started = Date.now();
  probe.child.kill('SIGINT');
  assert.equal(await probe.exited, 0);
  assert.ok(Date.now() - started < 3_000, 'the idle connection did not hold the exit');
});

test('healthcheck: 0 when the local /health answers 200, 1 when nothing listens or the path is not 200; never serves', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 500);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;

  const healthy = startProbe(['healthcheck'], { PORT: String(port) }); // HOST defaults to 0.0.0.0: asks 127.0.0.1
  assert.equal(await healthy.exited, 0);
  const ready = startProbe(['healthcheck', '/ready'], { PORT: String(port) });
  assert.equal(await ready.exited, 1);
  assert.match(ready.stderr(), /\/ready answered 500/);
  const nobody = startProbe(['healthcheck'], { PORT: String(await freePort()) });
  assert.equal(await nobody.exited, 1);
  assert.equal(nobody.logs().length, 0, 'no server was started');
});

test('healthcheck gives up within 2 s of being started when the server never answers', async (t) => {
  const silent = createServer(() => {}); // accepts, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    silent.closeAllConnections();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const started = Date.now();
  const probe = startProbe(['healthcheck'], { PORT: String((silent.address() as AddressInfo).port) });
  assert.equal(await probe.exited, 1);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1_000 && elapsed < 2_000, `${elapsed} ms from spawn to exit`);
});

test('reload [PID] sends SIGHUP: the probe reloads and keeps serving (Node alone would have exited)', async (t) => {
  const prometheus = await startFakePrometheus(vectorAnswer((query) => (query.includes('skew') ? '1.5' : '3')));
  t.after(() => prometheus.close());
  const port = await freePort();
  const probe = startProbe([], { ...fast, PORT: String(port), PROMETHEUS_URL: prometheus.url });
  t.after(() => probe.kill());
  await probe.waitForLog('verdict_changed');

  const reload = startProbe(['reload', String(probe.child.pid)], {});
  assert.equal(await reload.exited, 0, reload.stderr());
  assert.match(reload.stdout(), /^sent SIGHUP to process \d+/);
  await probe.waitForLog('reloaded');
  assert.equal(probe.child.exitCode, null, 'still running');
  assert.equal((await httpRequest(port, '/ready')).status, 200);
  assert.equal(JSON.parse((await httpRequest(port, '/status')).body).reload.ok, true);

  const nobody = startProbe(['reload', '999999999'], {});
  assert.equal(await nobody.exited, 1);
  assert.match(nobody.stderr(), /cannot signal process 999999999: ESRCH/);
  const usage = startProbe(['reload', 'x'], {});
  assert.equal(await usage.exited, 2);
});
