import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type TestContext, test } from 'node:test';
import { Agent } from 'undici';
import { PrometheusError } from '../../src/core/errors.js';
import { createPrometheusClient, type PrometheusClient, type PrometheusClientOptions } from '../../src/prometheus/client.js';
import { type FakePrometheus, startFakePrometheus } from '../helpers/fake-prometheus.js';
import { hugeBody } from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/wait.js';

// Timing tests use a small deadline; the slack absorbs a loaded CI machine, not undici's own timers.
const TIMEOUT_MS = 300;
const SLACK_MS = 700;

const VECTOR_BODY = JSON.stringify({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: { job: 'crm' }, value: [1712000000, '7'] }] },
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The shared fake Prometheus on 127.0.0.1, answering with `handler`; it records what it was sent, closed when the test ends. */
async function fakePrometheus(t: TestContext, handler: Handler): Promise<FakePrometheus> {
  const fake = await startFakePrometheus((_query, req, res) => handler(req, res));
  t.after(() => fake.close());
  return fake;
}

function client(t: TestContext, options: Partial<PrometheusClientOptions> & { url: string }): PrometheusClient {
  const created = createPrometheusClient({ timeoutMs: TIMEOUT_MS, ...options });
  t.after(() => created.close());
  return created;
}

const answer =
  (status: number, body: string, contentType = 'application/json'): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  };

/**
 * undici hands a kept-alive socket back to its pool one setImmediate after the response completes
 * (lib/dispatcher/client-h1.js onMessageComplete: "wait a full event loop cycle"); a query sent in the same
 * turn finds the connection busy and opens another. Real queries are spaced by the monitor's interval.
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Every message along the cause chain, to prove a secret reached none of them. */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth += 1) {
    parts.push(current.message, String(current.stack));
  }
  return parts.join('\n');
}

test('POSTs a form with query and timeout to the path under the prefix, and parses the answer', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = client(t, { url: `${fake.url}/prom/` });

  const result = await prometheus.query('sum(kafka_consumergroup_lag{group="crm"}) > 0');

  assert.deepEqual(result, { resultType: 'vector', samples: [{ value: 7, labels: { job: 'crm' } }], warnings: [] });
  const [request] = fake.requests;
  assert.ok(request);
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/prom/api/v1/query');
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request.headers['accept'], 'application/json');
  assert.match(request.headers['user-agent'] ?? '', /crm-events-health-probe/);
  const form = new URLSearchParams(request.body);
  assert.equal(form.get('query'), 'sum(kafka_consumergroup_lag{group="crm"}) > 0');
  assert.equal(form.get('timeout'), `${TIMEOUT_MS}ms`);
  assert.equal(prometheus.target, `${fake.url}/prom`);
});

test('two queries reuse one keep-alive connection', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = client(t, { url: fake.url });

  await prometheus.query('up');
  await nextTurn();
  await prometheus.query('up');

  assert.equal(fake.requests.length, 2);
  assert.equal(fake.connections, 1);
});

test("keepAliveMs keeps the connection across a pause longer than undici's 4 s default", async (t) => {
  // Go's net/http (Prometheus) sends no Keep-Alive hint, so without keepAliveMs a connection idle for 4 s
  // is dropped and every CHECK_INTERVAL tick would open a new one.
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  fake.server.keepAliveTimeout = 0; // like Go: no Keep-Alive hint, idle connections kept
  const prometheus = client(t, { url: fake.url, keepAliveMs: 10_000 });
  // The control: the same server and the same pause, with the client's default keep-alive.
  const control = await fakePrometheus(t, answer(200, VECTOR_BODY));
  control.server.keepAliveTimeout = 0;
  const defaults = client(t, { url: control.url });
  await Promise.all([prometheus.query('up'), defaults.query('up')]);
  assert.deepEqual([fake.openConnections(), control.openConnections()], [1, 1]);

  // The pause lasts until the default client has dropped its idle connection: long enough to lose one.
  await waitFor('the default client dropping its idle connection', async () => (control.openConnections() === 0 ? true : undefined), {
    timeoutMs: 8_000,
    intervalMs: 50,
  });
  await Promise.all([prometheus.query('up'), defaults.query('up')]);
  assert.equal(control.connections, 2, 'without keepAliveMs the second query needed a new connection');
  assert.equal(fake.connections, 1);
});

test('userinfo becomes Basic auth and appears in neither target nor errors', async (t) => {
  const fake = await fakePrometheus(t, answer(502, '<html>Bad Gateway</html>', 'text/html'));
  const prometheus = client(t, { url: `http://al%20ice:s3cr%40t%3Apw@${fake.url.slice('http://'.length)}` });

  const error = await prometheus.query('up').then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );

  assert.ok(error instanceof PrometheusError);
  assert.equal(error.code, 'PROM_HTTP_STATUS');
  const expected = `Basic ${Buffer.from('al ice:s3cr@t:pw').toString('base64')}`;
  assert.equal(fake.requests[0]?.headers.authorization, expected);
  assert.equal(prometheus.target, fake.url);
  for (const secret of ['s3cr', 'al ice', 'al%20ice']) assert.ok(!messages(error).includes(secret), secret);
});

test('userinfo stays out of transport errors too', async (t) => {
  const port = await freePort();
  const prometheus = client(t, { url: `http://bob:hunter2@127.0.0.1:${port}` });

  const error = await prometheus.query('up').then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );

  assert.ok(error instanceof PrometheusError);
  assert.equal(prometheus.target, `http://127.0.0.1:${port}`);
  assert.ok(!messages(error).includes('hunter2'));
  assert.ok(!messages(error).includes('bob'));
});

test('computed headers are asked for on every query and replace the URL credentials', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  let calls = 0;
  const prometheus = client(t, {
    url: `http://user:pw@${fake.url.slice('http://'.length)}`,
    headers: () => {
      calls += 1;
      return { Authorization: `Bearer token-${calls}`, 'X-Scope-OrgID': 'crm' };
    },
  });

  await prometheus.query('up');
  await prometheus.query('up');

  assert.equal(calls, 2);
  assert.equal(fake.requests[0]?.headers.authorization, 'Bearer token-1');
  assert.equal(fake.requests[1]?.headers.authorization, 'Bearer token-2');
  assert.equal(fake.requests[1]?.headers['x-scope-orgid'], 'crm');
});

test('headers that cannot be computed -> PROM_AUTH, nothing sent', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = client(t, {
    url: fake.url,
    headers: () => {
      throw new Error('ENOENT: no such file, open /var/run/secrets/token');
    },
  });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_AUTH' });
  assert.equal(fake.requests.length, 0);
});

test('connection refused -> PROM_NETWORK naming the target', async (t) => {
  const port = await freePort();
  const prometheus = client(t, { url: `http://127.0.0.1:${port}` });

  await assert.rejects(prometheus.query('up'), {
    name: 'PrometheusError',
    code: 'PROM_NETWORK',
    message: `Prometheus at http://127.0.0.1:${port} refused the connection (ECONNREFUSED)`,
  });
});

test('server closes the socket without answering -> PROM_NETWORK', async (t) => {
  const fake = await fakePrometheus(t, (req) => req.socket.destroy());
  const prometheus = client(t, { url: fake.url });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_NETWORK' });
});

test('a host name that does not resolve -> PROM_DNS', async (t) => {
  // RFC 6761: .invalid never resolves, and the local resolver knows it without asking anyone.
  const prometheus = client(t, { url: 'http://no-such-host.invalid:9090', timeoutMs: 5000 });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_DNS' });
});

test('https to a plain HTTP server -> PROM_TLS', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = client(t, { url: fake.url.replace('http:', 'https:'), timeoutMs: 5000 });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_TLS' });
});

test('server accepts and never answers -> PROM_TIMEOUT at the deadline', async (t) => {
  const fake = await fakePrometheus(t, () => {});
  const prometheus = client(t, { url: fake.url });

  const started = performance.now();
  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_TIMEOUT' });
  const elapsedMs = performance.now() - started;

  assert.ok(elapsedMs >= TIMEOUT_MS - 20, `rejected after ${elapsedMs} ms`);
  assert.ok(elapsedMs < TIMEOUT_MS + SLACK_MS, `rejected after ${elapsedMs} ms`);
});

test('headers sent, then the body trickled byte by byte -> PROM_TIMEOUT at the deadline', async (t) => {
  const fake = await fakePrometheus(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    let writes = 0;
    // Each byte arrives well within undici's bodyTimeout, so only the whole-request deadline can stop this.
    const timer = setInterval(() => {
      writes += 1;
      if (writes > 1000) clearInterval(timer);
      else res.write(' ');
    }, 20);
    res.on('close', () => clearInterval(timer));
  });
  const prometheus = client(t, { url: fake.url });

  const started = performance.now();
  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_TIMEOUT' });
  const elapsedMs = performance.now() - started;

  assert.ok(elapsedMs < TIMEOUT_MS + SLACK_MS, `rejected after ${elapsedMs} ms`);
});

test('a body past the cap without content-length -> PROM_TOO_LARGE, and the connection is cut', async (t) => {
  const totalBytes = 50 * 1024 * 1024;
  const body = hugeBody(totalBytes, false); // chunked: no content-length
  const fake = await startFakePrometheus(body.handle);
  t.after(() => fake.close());
  const prometheus = client(t, { url: fake.url, maxResponseBytes: 64 * 1024, timeoutMs: 10_000 });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_TOO_LARGE' });

  const [response] = await waitFor('the answer to end', async () => (body.responses[0]?.done === true ? body.responses : undefined), {
    timeoutMs: 5_000,
    intervalMs: 20,
  });
  assert.equal(response?.closedEarly, true, 'the server saw the client hang up');
  assert.ok(response.writtenBytes < totalBytes, `the server wrote ${response.writtenBytes} bytes`);
});

test('content-length past the cap -> PROM_TOO_LARGE before the body arrives', async (t) => {
  const fake = await fakePrometheus(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
    res.write('{'); // and never the rest: waiting for it would end in PROM_TIMEOUT instead
  });
  const prometheus = client(t, { url: fake.url, maxResponseBytes: 64 * 1024, timeoutMs: 5000 });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_TOO_LARGE' });
});

for (const [statusCode, code] of [
  [500, 'PROM_HTTP_STATUS'],
  [502, 'PROM_HTTP_STATUS'],
  [503, 'PROM_UNAVAILABLE'],
  [429, 'PROM_OVERLOADED'],
] as const) {
  test(`${statusCode} with an HTML page -> ${code}, with a short excerpt`, async (t) => {
    const fake = await fakePrometheus(t, answer(statusCode, `<html><h1>${statusCode}</h1><p>try later</p></html>`, 'text/html'));
    const prometheus = client(t, { url: fake.url });

    await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code, statusCode, message: new RegExp(`: ${statusCode} try later$`) });
  });
}

test('429 and 503 carry Retry-After, in seconds or as an HTTP date', async (t) => {
  let retryAfter = '7';
  const fake = await fakePrometheus(t, (_req, res) => {
    res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': retryAfter });
    res.end('too many outstanding requests\n');
  });
  const prometheus = client(t, { url: fake.url });
  await assert.rejects(prometheus.query('up'), { code: 'PROM_OVERLOADED', retryAfterMs: 7_000 });
  await nextTurn();
  retryAfter = new Date(Date.now() + 60_000).toUTCString();
  await assert.rejects(prometheus.query('up'), (error: unknown) => {
    assert.ok(error instanceof PrometheusError);
    // Whole seconds in the date, and the clocks of the test and the client a moment apart.
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 57_000 && error.retryAfterMs <= 60_000, String(error.retryAfterMs));
    return true;
  });
});

test('every query asks partial_response=false (Thanos), beside query and timeout; ACCEPT_PARTIAL=true leaves it out', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  await client(t, { url: fake.url }).query('up');
  await client(t, { url: fake.url, acceptPartial: true }).query('up');
  const [strict, lenient] = fake.requests.map((request) => new URLSearchParams(request.body));
  assert.deepEqual([...strict!.keys()], ['query', 'timeout', 'partial_response']);
  assert.equal(strict!.get('partial_response'), 'false');
  assert.equal(lenient!.has('partial_response'), false);
});

test('a partial answer is PROM_PARTIAL; with acceptPartial it is judged', async (t) => {
  const partial = JSON.stringify({ status: 'success', isPartial: true, data: { resultType: 'vector', result: [{ metric: {}, value: [1712000000, '7'] }] } });
  const fake = await fakePrometheus(t, answer(200, partial));
  await assert.rejects(client(t, { url: fake.url }).query('up'), { code: 'PROM_PARTIAL' });
  assert.equal((await client(t, { url: fake.url, acceptPartial: true }).query('up')).samples[0]?.value, 7);
});

test('401 -> PROM_AUTH', async (t) => {
  const fake = await fakePrometheus(t, answer(401, 'Unauthorized', 'text/plain'));
  const prometheus = client(t, { url: fake.url });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_AUTH', statusCode: 401 });
});

test('200 with a body that is not JSON -> PROM_BAD_JSON', async (t) => {
  const fake = await fakePrometheus(t, answer(200, '<html>login</html>', 'text/html'));
  const prometheus = client(t, { url: fake.url });

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_BAD_JSON' });
});

test('400 bad_data envelope -> PROM_API_ERROR with errorType', async (t) => {
  const envelope = JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:4: parse error: unexpected "}"' });
  const fake = await fakePrometheus(t, answer(400, envelope));
  const prometheus = client(t, { url: fake.url });

  await assert.rejects(prometheus.query('up}'), {
    name: 'PrometheusError',
    code: 'PROM_API_ERROR',
    statusCode: 400,
    errorType: 'bad_data',
  });
});

test('the caller aborting mid-request -> PROM_TIMEOUT before the deadline', async (t) => {
  const fake = await fakePrometheus(t, () => {});
  const prometheus = client(t, { url: fake.url, timeoutMs: 10_000 });
  const controller = new AbortController();

  const started = performance.now();
  const pending = prometheus.query('up', controller.signal);
  setTimeout(() => controller.abort(), 50).unref();
  await assert.rejects(pending, { name: 'PrometheusError', code: 'PROM_TIMEOUT', message: /cancelled/ });

  assert.ok(performance.now() - started < 2000);
});

test('an already aborted signal -> PROM_TIMEOUT, nothing sent', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = client(t, { url: fake.url });

  await assert.rejects(prometheus.query('up', AbortSignal.abort()), { name: 'PrometheusError', code: 'PROM_TIMEOUT' });
  assert.equal(fake.requests.length, 0);
});

test('close() leaves an injected dispatcher open', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const dispatcher = new Agent();
  t.after(() => dispatcher.close());

  const first = createPrometheusClient({ url: fake.url, timeoutMs: TIMEOUT_MS, dispatcher });
  await first.query('up');
  await first.close();
  await first.close(); // idempotent
  await nextTurn();

  const second = createPrometheusClient({ url: fake.url, timeoutMs: TIMEOUT_MS, dispatcher });
  assert.equal((await second.query('up')).samples.length, 1);
  assert.equal(fake.connections, 1, 'the injected agent kept its connection');
});

test('a closed owned agent refuses further queries with a PrometheusError', async (t) => {
  const fake = await fakePrometheus(t, answer(200, VECTOR_BODY));
  const prometheus = createPrometheusClient({ url: fake.url, timeoutMs: TIMEOUT_MS });
  await prometheus.close();

  await assert.rejects(prometheus.query('up'), { name: 'PrometheusError', code: 'PROM_NETWORK' });
});

test('an invalid URL is refused without echoing it', () => {
  assert.throws(
    () => createPrometheusClient({ url: 'http://user:hunter2@[bad', timeoutMs: TIMEOUT_MS }),
    (error: unknown) => error instanceof TypeError && !error.message.includes('hunter2'),
  );
});
