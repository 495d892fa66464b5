// No leaks: with secrets configured every way the probe takes them, drive every endpoint through every kind of
// answer, including a hostile Prometheus (or proxy) that echoes the request's credentials back in its errors
// and warnings, and search everything the probe printed or served.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type FakeHandler, startFakePrometheus } from '../helpers/fake-prometheus.js';
import { httpRequest } from '../helpers/http.js';
import { startProbe } from '../helpers/process.js';
import { freePort, waitFor } from '../helpers/wait.js';

/** What the request carried that identifies the caller, quoted back in the answer. */
const echoed = (req: Parameters<FakeHandler>[1]): string =>
  `auth=${req.headers.authorization ?? ''} key=${req.headers['x-api-key'] ?? ''} tenant=${req.headers['x-scope-orgid'] ?? ''}`;

const MODES: Record<string, FakeHandler> = {
  healthy: (query, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const value = query.includes('skew') ? '1.5' : '3';
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, value] }] } }));
  },
  warnings: (_query, req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ status: 'success', warnings: [`partial response; ${echoed(req)}`], data: { resultType: 'vector', result: [{ metric: {}, value: [0, '3'] }] } }),
    );
  },
  apiError: (_query, req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `rejected ${echoed(req)}` }));
  },
  proxyError: (_query, req, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end(`<html><body>Bad gateway for ${echoed(req)}</body></html>`);
  },
  unauthorized: (_query, req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' });
    res.end(JSON.stringify({ status: 'error', errorType: 'unauthorized', error: `bad credentials ${echoed(req)}` }));
  },
  badJson: (_query, req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"status":"success","data": ${echoed(req)}`);
  },
  silent: () => {}, // never answers: a timeout
  // Plain text and HTML error bodies are quoted as a short excerpt (issue 13): the excerpt must be scrubbed before
  // it is cut, so the credentials are placed across the 120-character cut as well as inside it.
  plainText: (_query, req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`upstream error for ${echoed(req)}\n`);
  },
  overloaded: (_query, req, res) => {
    res.writeHead(429, { 'content-type': 'text/html', 'retry-after': '0' });
    res.end(`<html><body><h1>429</h1><p>${'q'.repeat(99)} ${echoed(req)}</p></body></html>`);
  },
  unavailable: (_query, req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end(`no healthy upstream ${echoed(req)}`);
  },
};

test('no password, token, header value or URL userinfo in logs, /status, /metrics, /ready or errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-leaks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), 'tok-7f3a9c2e1d\n');
  writeFileSync(join(dir, 'password'), 'pw-b81d55ce90\n');

  const prometheus = await startFakePrometheus(MODES.healthy!);
  t.after(() => prometheus.close());
  const hostPort = prometheus.url.replace('http://', '');
  const setups: { name: string; env: Record<string, string>; secrets: string[] }[] = [
    {
      name: 'userinfo in the URL and an API key header',
      env: { PROMETHEUS_URL: `http://probe-user:url-pw-4e1b77@${hostPort}`, PROMETHEUS_HEADERS: 'X-Api-Key=key-90c1e2d3' },
      secrets: ['url-pw-4e1b77', 'key-90c1e2d3', Buffer.from('probe-user:url-pw-4e1b77').toString('base64')],
    },
    {
      name: 'a password file and a tenant',
      env: {
        PROMETHEUS_URL: prometheus.url,
        PROMETHEUS_USERNAME: 'probe',
        PROMETHEUS_PASSWORD_FILE: join(dir, 'password'),
        PROMETHEUS_HEADERS: 'X-Scope-OrgID=tenant-5d2c',
      },
      secrets: ['pw-b81d55ce90', 'tenant-5d2c', Buffer.from('probe:pw-b81d55ce90').toString('base64')],
    },
    {
      name: 'a bearer token file',
      env: { PROMETHEUS_URL: prometheus.url, PROMETHEUS_BEARER_TOKEN_FILE: join(dir, 'token') },
      secrets: ['tok-7f3a9c2e1d'],
    },
    {
      // Mimir and Cortex behind a bearer-token proxy: both echoed back by the plain-text and HTML error bodies.
      name: 'a bearer token file and a tenant',
      env: { PROMETHEUS_URL: prometheus.url, PROMETHEUS_BEARER_TOKEN_FILE: join(dir, 'token'), PROMETHEUS_HEADERS: 'X-Scope-OrgID=tenant-a41f09' },
      secrets: ['tok-7f3a9c2e1d', 'tenant-a41f09', 'tok-7f3a', 'tenant-a4'],
    },
  ];
  const probes = await Promise.all(
    setups.map(async (setup) => {
      const port = await freePort();
      const probe = startProbe([], { CHECK_INTERVAL: '200ms', QUERY_TIMEOUT: '150ms', STALE_AFTER: '400ms', HOST: '127.0.0.1', PORT: String(port), ...setup.env });
      t.after(() => probe.kill());
      await probe.waitForLog('verdict_changed');
      return { ...setup, probe, port, served: [] as string[] };
    }),
  );

  const evaluations = async (port: number): Promise<number> =>
    (JSON.parse((await httpRequest(port, '/status')).body) as { evaluation: { count: number } }).evaluation.count;
  for (const [mode, handler] of Object.entries(MODES)) {
    prometheus.handle = handler;
    for (const probe of probes) {
      // Two evaluations in this mode, so its answers are what every endpoint now shows.
      const start = await evaluations(probe.port);
      await waitFor(`${probe.name}: two evaluations in mode ${mode}`, async () => ((await evaluations(probe.port)) >= start + 2 ? true : undefined));
      for (const path of ['/ready', '/health', '/status', '/metrics', '/missing']) {
        const answer = await httpRequest(probe.port, path);
        probe.served.push(`${mode} ${path} ${answer.status} ${JSON.stringify(answer.headers)} ${answer.body}`);
      }
    }
  }

  for (const { name, probe, served, secrets } of probes) {
    probe.child.kill('SIGTERM');
    assert.equal(await probe.exited, 0);
    const everything = [probe.stdout(), probe.stderr(), ...served].join('\n');
    // The hostile modes did reach /status: the test would prove nothing if errors were never shown.
    assert.match(everything, /PROM_API_ERROR/);
    assert.match(everything, /PROM_AUTH/);
    assert.match(everything, /partial response/);
    assert.match(everything, /PROM_OVERLOADED/);
    assert.match(everything, /PROM_UNAVAILABLE/);
    // The excerpts are shown, with the credentials in them replaced.
    assert.match(everything, /PROM_HTTP_STATUS.*upstream error for auth=\*\*\*/);
    assert.match(everything, /no healthy upstream auth=/);
    for (const secret of secrets) assert.ok(!everything.includes(secret), `${name}: ${secret} appears in the output`);
  }
});
