// Hostile HTTP clients (issue 3, part 2) against the compiled probe as production runs it (node dist/main.js), over
// raw TCP sockets on 127.0.0.1. Each case proves four things: the attacker gets a 4xx or a closed connection; a
// concurrent kubelet-like client (a worker thread asking /ready and /health on fresh connections every 100 ms) keeps
// getting 200s, each within the kubelet's 1 s timeout and nine rounds in ten within PROMPT_MS; the process stays up
// with nothing on stderr; and memory stays bounded (VmRSS, and open file descriptors back to their baseline once the
// attacker's connections are gone). Linux only: it reads /proc.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { SERVER_LIMITS } from '../../src/server.js';
import { startFakePrometheus, vectorAnswer } from '../helpers/fake-prometheus.js';
import { httpRequest } from '../helpers/http.js';
import { type Probe, startProbe } from '../helpers/process.js';
import { answerBytesQueued, type Exchange, openFds, type RawConnection, rawConnect, rawExchange, rssKiB, serverHolds } from '../helpers/raw-client.js';
import { freePort, waitFor } from '../helpers/wait.js';

/** How fast every other client must be answered while an attack runs. */
const PROMPT_MS = 200;
/**
 * The kubelet's default probe timeout: no answer may ever take longer. The machine these tests run on is shared
 * (other jobs kept 2 CPUs at a load of 3+), so one round in ten may exceed PROMPT_MS; a starved probe fails
 * round after round, since the bystander asks every 100 ms.
 */
const KUBELET_TIMEOUT_MS = 1_000;
/** Node enforces headersTimeout and requestTimeout on a timer, so a drop comes up to one interval late. */
const CHECK_MS = SERVER_LIMITS.connectionsCheckingIntervalMs;
/** Scheduling slack on a loaded 2-CPU machine. */
const SLACK_MS = 750;
const MiB = 1024;

const request = (path: string, method = 'GET', extraHeaders = ''): string => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extraHeaders}\r\n`;

/**
 * A request far over the header limit (more than one socket read) is refused: the connection is closed, and what
 * arrived, if anything, is one 431. Node writes the 431 and destroys the socket with the client's unread bytes still
 * queued, so the kernel answers with a reset that may overtake the 431: the issue asks for "431 or a closed
 * connection", and a sender of megabytes of headers is no probe client that needs the status.
 */
function assertRefused(exchange: Exchange, name: string): void {
  assert.ok(exchange.closed, `${name}: closed`);
  assert.ok(exchange.responses.length <= 1 && exchange.responses.every((r) => r.status === 431), `${name}: ${JSON.stringify(exchange.received.slice(0, 200))}`);
}

interface Target {
  readonly port: number;
  readonly pid: number;
  readonly probe: Probe;
  /** A raw connection, destroyed when the test ends whatever happens. */
  connect(options?: { readonly paused?: boolean }): Promise<RawConnection>;
  exchange(bytes: string | Buffer, options?: Parameters<typeof rawExchange>[2]): Promise<Exchange>;
  rssKiB(): number;
  /** Open file descriptors, leaving out the probe's own connections to the fake Prometheus. */
  fds(): number;
  /** The process is still running and has written nothing to stderr. */
  assertUp(): void;
  /** Waits (bounded) until the open file descriptors are back to `baseline`. */
  fdsBackTo(baseline: number, timeoutMs?: number): Promise<void>;
}

/** The compiled probe against a fake Prometheus answering healthy values, with /ready at 200. */
async function startTarget(t: TestContext): Promise<Target> {
  const prometheus = await startFakePrometheus(vectorAnswer((query) => (query.includes('skew') ? '1.5' : '3')));
  t.after(() => prometheus.close());
  const port = await freePort();
  const probe = startProbe([], { HOST: '127.0.0.1', PORT: String(port), PROMETHEUS_URL: prometheus.url, CHECK_INTERVAL: '1s', QUERY_TIMEOUT: '500ms' });
  const connections = new Set<RawConnection>();
  t.after(() => {
    for (const connection of connections) connection.destroy();
    probe.kill();
  });
  await probe.waitForLog('listening');
  await waitFor(
    '/ready 200',
    async (seen) => {
      const answer = await httpRequest(port, '/ready');
      seen(answer.status);
      return answer.status === 200 ? true : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 50 },
  );
  const pid = probe.child.pid!;
  const target: Target = {
    port,
    pid,
    probe,
    async connect(options) {
      const connection = await rawConnect(port, options);
      connections.add(connection);
      return connection;
    },
    exchange: (bytes, options) => rawExchange(port, bytes, options),
    rssKiB: () => rssKiB(pid),
    fds: () => openFds(pid, prometheus.port),
    assertUp() {
      assert.equal(probe.child.exitCode, null, `the probe exited; stderr:\n${probe.stderr()}`);
      assert.equal(probe.child.signalCode, null);
      assert.equal(probe.stderr(), '', 'nothing on stderr');
    },
    async fdsBackTo(baseline, timeoutMs = 3_000) {
      await waitFor(
        `open fds back to ${baseline}`,
        async (seen) => {
          const fds = openFds(pid, prometheus.port);
          seen(fds);
          return fds <= baseline ? true : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    },
  };
  return target;
}

interface Sample {
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly error?: string;
}

// Runs in its own thread, so that the attacker's work in the test's main thread cannot delay its measurements.
const BYSTANDER = `
const { parentPort, workerData } = require('node:worker_threads');
const { get } = require('node:http');
const { port, intervalMs, timeoutMs, minRounds, maxRounds } = workerData;
let stopping = false;
parentPort.on('message', () => { stopping = true; });
const ask = (path) => new Promise((resolve) => {
  const started = performance.now();
  const done = (status, error) => resolve({ path, status, ms: Math.round((performance.now() - started) * 10) / 10, error });
  const req = get({ host: '127.0.0.1', port, path, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
    res.resume();
    res.on('end', () => done(res.statusCode));
    res.on('error', (e) => done(0, e.code || e.message));
  });
  req.on('error', (e) => done(0, e.code || e.message));
});
(async () => {
  await Promise.all([ask('/ready'), ask('/health')]); // warm-up, not measured
  parentPort.postMessage('ready');
  const samples = [];
  for (let round = 0; round < maxRounds && !(stopping && round >= minRounds); round++) {
    samples.push(...(await Promise.all([ask('/ready'), ask('/health')])));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  parentPort.postMessage(samples);
})();
`;

interface Bystander {
  /**
   * Stops asking (after at least 10 rounds) and returns every answer it got. Asserts every answer was a 200 within
   * KUBELET_TIMEOUT_MS, and that at most one round in ten took longer than `promptMs` (PROMPT_MS unless said).
   */
  stop(during: string, promptMs?: number): Promise<Sample[]>;
}

/** A kubelet-like client asking /ready and /health on fresh connections every 100 ms (at most 90 s). */
async function startBystander(t: TestContext, port: number): Promise<Bystander> {
  const worker = new Worker(BYSTANDER, { eval: true, execArgv: [], workerData: { port, intervalMs: 100, timeoutMs: 2_000, minRounds: 10, maxRounds: 900 } });
  t.after(() => worker.terminate());
  const messages: unknown[] = [];
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (messages.length > 0) return resolve(messages.shift());
      worker.once('message', () => resolve(messages.shift()));
      worker.once('error', reject);
    });
  worker.on('message', (message: unknown) => messages.push(message));
  assert.equal(await next(), 'ready');
  return {
    async stop(during, promptMs = PROMPT_MS) {
      worker.postMessage('stop');
      const samples = (await next()) as Sample[];
      await worker.terminate();
      assert.ok(samples.length >= 20, `the bystander asked only ${samples.length} times during ${during}`);
      const failed = samples.filter((sample) => sample.status !== 200 || sample.ms > KUBELET_TIMEOUT_MS);
      assert.deepEqual(failed, [], `during ${during}, ${failed.length} of ${samples.length} answers to a normal client were not a 200 within ${KUBELET_TIMEOUT_MS} ms`);
      // Samples come in rounds of two (/ready and /health asked together).
      const rounds = samples.length / 2;
      const slowRounds = Array.from({ length: rounds }, (_, i) => samples.slice(2 * i, 2 * i + 2)).filter((round) => round.some((sample) => sample.ms > promptMs));
      assert.ok(
        slowRounds.length <= Math.floor(rounds / 10),
        `during ${during}, ${slowRounds.length} of ${rounds} rounds took over ${promptMs} ms: ${JSON.stringify(slowRounds)}`,
      );
      return samples;
    },
  };
}

/** "slowest X ms over N answers", for the diagnostics. */
const slowest = (samples: readonly Sample[]): string => `slowest ${Math.max(...samples.map((sample) => sample.ms))} ms over ${samples.length} answers`;

/** A small deterministic PRNG (mulberry32), so that a failing fuzz case can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) results.push(...(await Promise.all(items.slice(i, i + limit).map(work))));
  return results;
}

test('malformed request lines and framing: 400 and closed at once, never a crash', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);

  const rejected: [string, string | Buffer][] = [
    ['binary garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])],
    ['a method alone', 'GET\r\n\r\n'],
    ['no request target', 'GET HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['HTTP/1.2', 'GET /ready HTTP/1.2\r\nHost: x\r\n\r\n'],
    ['HTTP/3.0', 'GET /ready HTTP/3.0\r\nHost: x\r\n\r\n'],
    ['HTTP/9.9', 'GET /ready HTTP/9.9\r\nHost: x\r\n\r\n'],
    ['lower-case protocol', 'GET /ready http/1.1\r\nHost: x\r\n\r\n'],
    ['not HTTP at all', 'GET /ready SPDY/3\r\nHost: x\r\n\r\n'],
    ['NUL in the method', 'G\0T /ready HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['NUL in the target', 'GET /re\0ady HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['NUL in a header name', 'GET /ready HTTP/1.1\r\nHost: x\r\nX-\0: y\r\n\r\n'],
    ['NUL in a header value', 'GET /ready HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
    ['a control byte in the target', 'GET /re\x01ady HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['raw bytes above 0x7f in the target', Buffer.concat([Buffer.from('GET /ready'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')])],
    ['a space in the target', 'GET /re ady HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['bare LF line ends', 'GET /ready HTTP/1.1\nHost: x\n\n'],
    ['a bare CR', 'GET /ready HTTP/1.1\rHost: x\r\n\r\n'],
    ['a header without a colon', 'GET /ready HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n'],
    ['an obsolete folded header', 'GET /ready HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n'],
    ['HTTP/1.1 without Host', 'GET /ready HTTP/1.1\r\n\r\n'],
    ['two Content-Lengths', 'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['Content-Length and chunked (smuggling)', 'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a negative Content-Length', 'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ];
  const outcomes = await inBatches(rejected, 10, async ([name, bytes]) => {
    const started = performance.now();
    const exchange = await target.exchange(bytes, { waitMs: 2_000 });
    return { name, exchange, ms: performance.now() - started };
  });
  for (const { name, exchange, ms } of outcomes) {
    assert.deepEqual(
      exchange.responses.map((r) => r.status),
      [400],
      `${name}: ${JSON.stringify(exchange.received)}`,
    );
    assert.ok(exchange.closed, `${name}: the connection is closed`);
    assert.ok(ms < 1_000, `${name}: closed at once, not by a timeout (${Math.round(ms)} ms)`);
  }

  // A framing error inside a body comes after the headers, and the probe answers a GET as soon as its headers end:
  // the answer stands and the connection is closed at the error.
  const badChunk = await target.exchange('GET /ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n', { waitMs: 2_000 });
  assert.deepEqual([badChunk.responses.map((r) => r.status), badChunk.closed], [[200], true], 'a bad chunk size');

  // llhttp accepts these two and Node answers them as HTTP/1.1, closing afterwards: harmless, and pinned here.
  for (const [name, bytes] of [
    ['HTTP/2.0 in an HTTP/1 request line', 'GET /ready HTTP/2.0\r\nHost: x\r\n\r\n'],
    ['an HTTP/0.9-style request line (no version)', 'GET /ready\r\n\r\n'],
  ] as const) {
    const exchange = await target.exchange(bytes, { waitMs: 2_000 });
    assert.deepEqual(
      exchange.responses.map((r) => [r.status, r.headers.get('connection')]),
      [[200, 'close']],
      name,
    );
    assert.ok(exchange.closed, name);
  }

  // CONNECT without a 'connect' listener: Node closes the socket without a word.
  const connect = await target.exchange('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', { waitMs: 2_000 });
  assert.deepEqual([connect.received, connect.closed], ['', true], 'CONNECT: closed, no tunnel');

  // Seeded mutations of a valid request: whatever the bytes, a well-formed answer or a closed connection.
  const valid = Buffer.from(request('/ready'));
  const next = random(20261126);
  const mutants = Array.from({ length: 300 }, () => {
    const bytes = Buffer.from(valid);
    for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips -= 1) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    return bytes;
  });
  const tally = new Map<string, number>();
  await inBatches(mutants, 30, async (bytes) => {
    // A mutant that broke the final CRLFCRLF is an incomplete request: Node waits for the rest (the slowloris test
    // shows it gives up after headersTimeout); 300 ms tells that apart from an answer.
    const exchange = await target.exchange(bytes, { responses: 1, waitMs: 300 });
    const statuses = exchange.responses.map((r) => r.status);
    for (const status of statuses) assert.ok([200, 400, 404, 405, 431].includes(status), `mutant ${JSON.stringify(bytes.toString('latin1'))} got ${status}`);
    const key = statuses.length > 0 ? String(statuses[0]) : exchange.closed ? 'closed silently' : 'incomplete, still waiting';
    tally.set(key, (tally.get(key) ?? 0) + 1);
  });
  t.diagnostic(`300 mutants: ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);

  const samples = await bystander.stop('malformed requests');
  target.assertUp();
  await target.fdsBackTo(fds);
  const grownKiB = target.rssKiB() - rss;
  // Nothing is kept per rejected request: what grows is V8's heap before it collects the garbage.
  assert.ok(grownKiB < 16 * MiB, `RSS grew ${grownKiB} KiB`);
  t.diagnostic(`${outcomes.length + 303} hostile connections; bystander ${slowest(samples)}; RSS ${rss} -> ${rss + grownKiB} KiB; fds ${fds}`);
});

test('header sections over 8 KiB: 431 and closed, never buffered; a section just under the limit is served', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);
  const limit = SERVER_LIMITS.maxHeaderSize;

  const under = await target.exchange(request('/ready', 'GET', `X-Pad: ${'a'.repeat(limit - 300)}\r\n`), { responses: 1 });
  assert.deepEqual(
    under.responses.map((r) => r.status),
    [200],
    'a header section under the limit is served',
  );

  for (const [name, bytes] of [
    ['one header over the limit', request('/ready', 'GET', `X-Big: ${'a'.repeat(limit + 100)}\r\n`)],
    ['3,000 small headers', request('/ready', 'GET', 'X-A: b\r\n'.repeat(3_000))],
  ] as const) {
    const exchange = await target.exchange(bytes);
    assert.deepEqual(
      exchange.responses.map((r) => r.status),
      [431],
      name,
    );
    assert.ok(exchange.closed, `${name}: closed`);
  }
  assertRefused(await target.exchange(request('/ready', 'GET', `X-Big: ${'a'.repeat(1024 * 1024)}\r\n`)), '1 MiB of header bytes');

  // Sent in 512-byte pieces: the 431 comes as soon as the limit is passed, not when the section ends.
  const stream = await target.connect();
  stream.write('GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ');
  let sent = 0;
  for (let piece = 0; piece < 64 && !stream.closed(); piece += 1) {
    stream.write('a'.repeat(512));
    sent += 512;
    await sleep(10);
  }
  await stream.waitClosed(2_000);
  assert.deepEqual(
    stream.responses().map((r) => r.status),
    [431],
  );
  assert.ok(sent <= limit + 8 * 512, `cut off after ${sent} bytes`);

  // 50 clients at once, each pushing 1 MiB of one header: llhttp counts, it never keeps more than the limit.
  const flood = await Promise.all(Array.from({ length: 50 }, () => target.exchange(request('/ready', 'GET', `X-Big: ${'b'.repeat(1024 * 1024)}\r\n`))));
  flood.forEach((exchange, i) => assertRefused(exchange, `flood client ${i}`));
  t.diagnostic(`flood: ${flood.filter((e) => e.responses.length === 1).length} of 50 read their 431 before the reset`);

  const samples = await bystander.stop('oversized header sections');
  target.assertUp();
  await target.fdsBackTo(fds);
  const grownKiB = target.rssKiB() - rss;
  // 53 MiB of headers went in; if Node kept them, RSS would grow by about that much.
  assert.ok(grownKiB < 16 * MiB, `RSS grew ${grownKiB} KiB`);
  t.diagnostic(`bystander ${slowest(samples)}; RSS ${rss} -> ${rss + grownKiB} KiB after 53 MiB of headers`);
});

test('very long request targets: 431 (Node counts the request line against maxHeaderSize; no 414) and closed', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const bystander = await startBystander(t, target.port);

  for (const size of [100_000, 1_000_000]) assertRefused(await target.exchange(request(`/ready?${'a'.repeat(size)}`)), `${size}-byte target`);
  assertRefused(await target.exchange(request(`/${'r'.repeat(100_000)}`)), 'a 100 KB path');
  const over = await target.exchange(request(`/ready?${'a'.repeat(SERVER_LIMITS.maxHeaderSize)}`));
  assert.deepEqual(
    over.responses.map((r) => r.status),
    [431],
    'a target just over the limit',
  );
  assert.ok(over.closed);
  // A long query string under the limit is simply ignored by the router.
  const fits = await target.exchange(request(`/ready?${'a'.repeat(7_000)}`), { responses: 1 });
  assert.deepEqual(
    fits.responses.map((r) => r.status),
    [200],
  );

  const samples = await bystander.stop('long URLs');
  target.assertUp();
  await target.fdsBackTo(fds);
  t.diagnostic(`bystander ${slowest(samples)}`);
});

test('slowloris: trickled or silent header sections are dropped with 408 after headersTimeout; a trickled body after requestTimeout', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);

  const header = 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Slow: ' + 'a'.repeat(500);
  const trickling = await Promise.all(Array.from({ length: 20 }, () => target.connect()));
  const silent = await Promise.all(Array.from({ length: 20 }, () => target.connect()));
  // A first request answered at once, then a second one trickled on the same keep-alive connection.
  const second = await Promise.all(Array.from({ length: 10 }, () => target.connect()));
  for (const connection of second) connection.write(`${request('/health')}GET /health HTTP/1.1\r\n`);
  // Headers complete at once, then a declared 1 MB body trickled: the GET is answered, the body is not awaited.
  const body = await Promise.all(Array.from({ length: 5 }, () => target.connect()));
  for (const connection of body) connection.write(request('/health', 'GET', 'Content-Length: 1000000\r\n'));

  // One byte per connection every 200 ms, for at most 13 s.
  let offset = 0;
  const ticker = setInterval(() => {
    for (const connection of trickling) connection.write(header[offset % header.length]!);
    for (const connection of second) connection.write('X');
    for (const connection of body) connection.write('x');
    offset += 1;
  }, 200);
  t.after(() => clearInterval(ticker));

  const headerDeadline = SERVER_LIMITS.headersTimeoutMs + CHECK_MS + SLACK_MS;
  const requestDeadline = SERVER_LIMITS.requestTimeoutMs + CHECK_MS + SLACK_MS;
  await Promise.all([...trickling, ...silent, ...second].map((connection) => connection.waitClosed(headerDeadline + 500)));
  await Promise.all(body.map((connection) => connection.waitClosed(requestDeadline + 500)));
  clearInterval(ticker);

  const lifetimes = (connections: RawConnection[]): number[] => connections.map((c) => Math.round(c.closedAt()! - c.openedAt));
  for (const [name, connections, statuses, from, to] of [
    ['trickled headers', trickling, [408], SERVER_LIMITS.headersTimeoutMs, headerDeadline],
    ['silent connections', silent, [408], SERVER_LIMITS.headersTimeoutMs, headerDeadline],
    ['a second request trickled', second, [200, 408], SERVER_LIMITS.headersTimeoutMs, headerDeadline],
    // Node answers the GET at once and dumps the body it does not want; requestTimeout ends the upload, and Node
    // writes its 408 after the complete 200 (surprising, but the 200 was whole and the client is gone anyway).
    ['a trickled body', body, [200, 408], SERVER_LIMITS.requestTimeoutMs, requestDeadline],
  ] as const) {
    for (const connection of connections)
      assert.deepEqual(
        connection.responses().map((r) => r.status),
        statuses,
        `${name}: ${JSON.stringify(connection.received().slice(-200))}`,
      );
    const times = lifetimes(connections);
    // The deadline counts from when Node accepted the socket, a moment before our 'connect' event.
    assert.ok(
      Math.min(...times) >= from - 100 && Math.max(...times) <= to,
      `${name}: dropped after ${Math.min(...times)}..${Math.max(...times)} ms, expected ${from}..${to}`,
    );
    t.diagnostic(`${name}: dropped after ${Math.min(...times)}..${Math.max(...times)} ms`);
  }

  const samples = await bystander.stop('slowloris');
  target.assertUp();
  await target.fdsBackTo(fds);
  const grownKiB = target.rssKiB() - rss;
  assert.ok(grownKiB < 16 * MiB, `RSS grew ${grownKiB} KiB`);
  t.diagnostic(`bystander ${slowest(samples)}; RSS ${rss} -> ${rss + grownKiB} KiB`);
});

test('500 idle keep-alive connections, twice: a fresh client is served meanwhile; all close after keepAliveTimeout; fds return', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);
  const count = 500;
  const report: string[] = [];

  for (let round = 1; round <= 2; round += 1) {
    const idle = await inBatches(
      Array.from({ length: count }, (_, i) => i),
      100,
      async () => {
        const connection = await target.connect();
        connection.write(request('/health'));
        await connection.waitResponses(1, 5_000);
        return connection;
      },
    );
    const answeredAt = performance.now();
    const heldFds = target.fds();
    const openRss = target.rssKiB();
    assert.ok(heldFds >= fds + count, `all ${count} connections are held open (${heldFds} fds)`);
    assert.ok(idle.every((connection) => connection.responses()[0]?.headers.get('keep-alive') === `timeout=${SERVER_LIMITS.keepAliveTimeoutMs / 1000}`));

    // While they are all open, a fresh client is served promptly (the bystander also asks every 100 ms).
    for (const path of ['/ready', '/health', '/status', '/metrics']) {
      const started = performance.now();
      const answer = await httpRequest(target.port, path);
      const ms = performance.now() - started;
      assert.equal(answer.status, 200, path);
      assert.ok(ms < PROMPT_MS, `${path} took ${Math.round(ms)} ms with ${count} idle connections open`);
    }

    // Node closes an idle keep-alive socket keepAliveTimeout + 1 s after its last answer (the extra second is
    // Node's own margin against racing a client that reuses the socket just as the server closes it).
    const deadline = SERVER_LIMITS.keepAliveTimeoutMs + 1_000 + SLACK_MS;
    await Promise.all(idle.map((connection) => connection.waitClosed(deadline + 1_000)));
    const closedAfter = idle.map((connection) => connection.closedAt()! - answeredAt);
    assert.ok(Math.max(...closedAfter) <= deadline, `the last one closed ${Math.round(Math.max(...closedAfter))} ms after the answers`);
    assert.ok(
      idle.every((connection) => connection.error() === undefined),
      'closed with a FIN, not reset',
    );
    await target.fdsBackTo(fds);
    report.push(
      `round ${round}: open ${heldFds} fds, RSS ${openRss} KiB; closed ${Math.round(Math.min(...closedAfter))}..${Math.round(Math.max(...closedAfter))} ms after the answers; then ${target.fds()} fds, RSS ${target.rssKiB()} KiB`,
    );
  }

  const samples = await bystander.stop('500 idle keep-alive connections');
  target.assertUp();
  const grownKiB = target.rssKiB() - rss;
  // Measured: an idle connection costs ~12 KiB (socket, parser, libuv handle); V8 then grows its heap in steps
  // before collecting, so two rounds show ~+15 MiB that a third round barely adds to. 32 MiB is 32 KiB per
  // connection per round: a leak of one 64 KiB read buffer, or of each connection's objects, would exceed it.
  assert.ok(grownKiB < 32 * MiB, `RSS grew ${grownKiB} KiB`);
  t.diagnostic(`baseline ${fds} fds, RSS ${rss} KiB; ${report.join('; ')}; bystander ${slowest(samples)}`);
});

test('bodies on GET are read and dropped: the connection stays usable for the next pipelined request', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);

  for (const [name, first] of [
    ['a Content-Length body', request('/ready', 'GET', 'Content-Length: 5\r\n') + 'hello'],
    ['a chunked body', request('/ready', 'GET', 'Transfer-Encoding: chunked\r\n') + '5\r\nhello\r\n0\r\n\r\n'],
    ['a body with Expect: 100-continue', request('/ready', 'GET', 'Expect: 100-continue\r\nContent-Length: 5\r\n') + 'hello'],
  ] as const) {
    const connection = await target.connect();
    connection.write(first + request('/health'));
    const expected = name.includes('100-continue') ? [100, 200, 200] : [200, 200];
    const responses = await connection.waitResponses(expected.length, 2_000);
    assert.deepEqual(
      responses.map((r) => r.status),
      expected,
      name,
    );
    assert.equal(responses.at(-1)!.body, '{"status":"ok"}', name);
    // Still open: a further request on the same connection is answered (a closed one would time out here).
    connection.write(request('/health'));
    const further = await connection.waitResponses(expected.length + 1, 2_000);
    assert.equal(further.at(-1)!.status, 200, name);
    assert.ok(!connection.closed(), `${name}: still open`);
    connection.destroy();
  }

  // 256 MiB on a GET, then a pipelined request: Node discards the body as it streams and never holds it.
  const bodyMiB = 256;
  const big = await target.connect();
  big.write(request('/ready', 'GET', `Content-Length: ${bodyMiB * 1024 * 1024}\r\n`));
  const mebibyte = Buffer.alloc(1024 * 1024, 'z');
  for (let i = 0; i < bodyMiB; i += 1) big.write(mebibyte);
  big.write(request('/health'));
  const answers = await big.waitResponses(2, 10_000);
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 200],
  );
  big.destroy();

  const samples = await bystander.stop('bodies on GET');
  target.assertUp();
  await target.fdsBackTo(fds);
  const grownKiB = target.rssKiB() - rss;
  // The 64 KiB chunks Node reads and drops are collected only under external-memory pressure, so RSS rises and
  // then plateaus (measured: +14 MiB after a 32 MiB body, +36 after 128, +48 after 512). A body held would add 256.
  assert.ok(grownKiB < 64 * MiB, `RSS grew ${grownKiB} KiB after a ${bodyMiB} MiB body`);
  t.diagnostic(`bystander ${slowest(samples)}; RSS ${rss} -> ${rss + grownKiB} KiB`);
});

test('methods: known but unsupported ones get 405 with Allow and keep the connection; invalid tokens get 400', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const bystander = await startBystander(t, target.port);

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PURGE', 'PROPFIND', 'SEARCH', 'LOCK']) {
    const connection = await target.connect();
    connection.write(request('/ready', method, 'Content-Length: 0\r\n') + request('/health'));
    const [refused, next] = await connection.waitResponses(2, 2_000);
    assert.equal(refused!.status, 405, method);
    assert.equal(refused!.headers.get('allow'), 'GET, HEAD', method);
    assert.equal(JSON.parse(refused!.body).error, 'method_not_allowed');
    assert.equal(next!.status, 200, `${method}: the connection is still usable`);
    connection.destroy();
  }
  // The router looks the path up first: an unknown path is a 404 whatever the method.
  const unknownPath = await target.exchange(request('/nope', 'DELETE'), { responses: 1 });
  assert.deepEqual(
    unknownPath.responses.map((r) => r.status),
    [404],
  );

  const head = await target.exchange(request('/ready', 'HEAD') + request('/health'), { responses: 2, bodiless: new Set([0]) });
  assert.deepEqual(
    head.responses.map((r) => [r.status, r.body.length]),
    [
      [200, 0],
      [200, 15],
    ],
    'HEAD: headers only',
  );

  // llhttp knows a fixed list of methods; anything else is not a token it accepts.
  for (const method of ['FOO', 'get', 'Get', 'G@T', 'GETT', 'GE', 'BREW', `${'A'.repeat(300)}`]) {
    const exchange = await target.exchange(request('/ready', method));
    assert.deepEqual(
      exchange.responses.map((r) => r.status),
      [400],
      method,
    );
    assert.ok(exchange.closed, method);
  }

  // Without an 'upgrade' listener Node answers an Upgrade request as a plain request.
  for (const protocol of ['websocket', 'h2c']) {
    const exchange = await target.exchange(request('/ready', 'GET', `Connection: Upgrade\r\nUpgrade: ${protocol}\r\n`), { responses: 1 });
    assert.deepEqual(
      exchange.responses.map((r) => r.status),
      [200],
      protocol,
    );
  }

  const samples = await bystander.stop('unknown methods');
  target.assertUp();
  await target.fdsBackTo(fds);
  t.diagnostic(`bystander ${slowest(samples)}`);
});

test('odd paths are 404s: no normalisation, no traversal, absolute-form included', async (t) => {
  const target = await startTarget(t);
  const bystander = await startBystander(t, target.port);
  const notFound = [
    '/ready/../status',
    '/ready/..%2Fstatus',
    '//ready',
    '/ready%00',
    '/ready%2F..',
    '/ready/',
    '/READY',
    '/./ready',
    '/%72eady',
    '/ready%20',
    '/ready;x',
    '/ready#x',
    '*',
    '/',
    '/health/../ready',
  ];
  // Absolute-form, as sent to proxies: Node's req.url is the whole URL ("http://x/ready"), and the router matches
  // paths exactly, so it is a 404. RFC 9112 §3.2.2 asks servers to accept it; the probe is no proxy and no probe
  // client (kubelet, Docker, curl, Prometheus) sends it, so 404 is kept rather than trusting a client-chosen authority.
  notFound.push('http://x/ready', 'http://127.0.0.1/ready?x=1', 'HTTP://x/health');

  const connection = await target.connect();
  connection.write(notFound.map((path) => request(path)).join(''));
  const responses = await connection.waitResponses(notFound.length, 5_000);
  notFound.forEach((path, i) => {
    assert.equal(responses[i]!.status, 404, path);
    assert.equal(JSON.parse(responses[i]!.body).error, 'not_found', `${path}: the 404 document, not another endpoint's`);
  });
  connection.destroy();

  const found = await target.exchange(request('/ready?x=../status') + request('/health?') + request('/status?a=%00'), { responses: 3 });
  assert.deepEqual(
    found.responses.map((r) => r.status),
    [200, 200, 200],
    'a query string never changes the route',
  );
  assert.equal(JSON.parse(found.responses[0]!.body).message, 'System healthy');

  const samples = await bystander.stop('odd paths');
  target.assertUp();
  t.diagnostic(`bystander ${slowest(samples)}`);
});

test('pipelined requests are answered in order, up to maxPipelinedRequests at a time', async (t) => {
  const target = await startTarget(t);
  const bystander = await startBystander(t, target.port);
  const pipeline: [string, string, number][] = [
    ['GET', '/ready', 200],
    ['GET', '/health', 200],
    ['GET', '/status', 200],
    ['GET', '/metrics', 200],
    ['HEAD', '/ready', 200],
    ['GET', '/nope', 404],
    ['DELETE', '/ready', 405],
    ['HEAD', '/metrics', 200],
    ['GET', '/ready?x', 200],
    ['GET', '/health', 200],
  ];
  const bodiless = new Set(pipeline.flatMap(([method], i) => (method === 'HEAD' ? [i] : [])));
  for (let repeat = 0; repeat < 3; repeat += 1) {
    const exchange = await target.exchange(pipeline.map(([method, path]) => request(path, method)).join(''), { responses: pipeline.length, bodiless });
    assert.deepEqual(
      exchange.responses.map((r) => r.status),
      pipeline.map(([, , status]) => status),
    );
    assert.match(exchange.responses[3]!.body, /^# HELP crm_events_health_status/);
    assert.equal(exchange.responses[9]!.body, '{"status":"ok"}');
  }

  // Up to maxPipelinedRequests unanswered requests per connection are served; one more and the connection is
  // destroyed, with whatever answers were still queued behind the first (a client retries on a new connection).
  const limit = SERVER_LIMITS.maxPipelinedRequests;
  const full = await target.exchange(request('/health').repeat(limit), { responses: limit, waitMs: 3_000 });
  assert.equal(full.responses.length, limit, `${limit} pipelined requests are all answered`);
  assert.ok(!full.closed, 'and the connection stays open');
  const over = await target.exchange(request('/health').repeat(limit + 1), { waitMs: 3_000 });
  assert.ok(over.closed, `${limit + 1} pipelined requests: the connection is closed`);
  assert.ok(over.responses.length < limit, `${over.responses.length} answers before the close`);
  // The count is of unanswered requests, not of requests: one keep-alive connection asking one at a time is never cut.
  const sequential = await target.connect();
  for (let i = 1; i <= 4 * limit; i += 1) {
    sequential.write(request('/health'));
    await sequential.waitResponses(i, 2_000);
  }
  assert.ok(!sequential.closed());
  sequential.destroy();
  t.diagnostic(`${limit + 1} pipelined: ${over.responses.length} answer(s), then closed; ${4 * limit} one at a time on one connection: all answered`);

  const samples = await bystander.stop('pipelining');
  target.assertUp();
  t.diagnostic(`bystander ${slowest(samples)}`);
});

test('pipelining floods that never read are cut off, and their answers are not kept', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);

  // Each flooder pipelines 2,500 requests (160 KB; each exactly 64 bytes, so that a 64 KiB read ends on a request
  // boundary and no half-read request arms headersTimeout), never reads, and stays connected. Node parses and
  // answers a whole read (~1,000 requests) at a time and keeps the answers a client has not taken (~4 MiB): before
  // maxPipelinedRequests, for as long as the client stayed connected, since no timeout applied.
  let line = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ';
  line += `${'p'.repeat(64 - line.length - 4)}\r\n\r\n`;
  assert.equal(line.length, 64);
  // One flooder at a time. Each costs the probe's only thread its first 64 KiB read, parsed whole before the
  // limit can act: ~1,000 requests, 15-60 ms on an idle machine, up to ~450 ms measured here under other jobs'
  // load, and a concurrent client waits behind it (five at once: up to ~670 ms). That is raw CPU, the same with or
  // without the limit; the limit bounds memory. So here the bystander is held to the kubelet's timeout only.
  const waves = 10;
  const flooders: RawConnection[] = [];
  let peakKiB = rss;
  for (let wave = 1; wave <= waves; wave += 1) {
    const flooder = await target.connect({ paused: true });
    flooders.push(flooder);
    flooder.write(line.repeat(2_500));
    // A client that never reads does not see the server's FIN: ask the kernel whether the server still holds it.
    await waitFor(
      `flooder ${wave} cut off`,
      async () => {
        peakKiB = Math.max(peakKiB, target.rssKiB());
        return serverHolds(target.port, [flooder.socket.localPort!]).length === 0 ? true : undefined;
      },
      { timeoutMs: 3_000, intervalMs: 50 },
    );
  }
  const afterKiB = target.rssKiB();
  t.diagnostic(`${waves} pipelining flooders, one after another, all cut off; RSS ${rss} KiB, peak ${peakKiB}, after ${afterKiB}`);

  const samples = await bystander.stop('pipelining floods', KUBELET_TIMEOUT_MS);
  target.assertUp();
  await target.fdsBackTo(fds);
  // Before a flooder is cut off Node has parsed one 64 KiB read of its requests: ~1,000 request objects, garbage
  // once the socket is gone, but V8 grows its heap for the bursts before collecting (measured +3..22 MiB). 4 MiB a
  // flooder is what each one's kept answers cost on top of that when they were kept.
  assert.ok(afterKiB - rss < 4 * waves * MiB, `RSS ${afterKiB - rss} KiB above the baseline after ${waves} flooders`);
  t.diagnostic(`bystander ${slowest(samples)}`);
});

test('a client that stops reading: an unread answer ends with keepAliveTimeout, a stuck one with idleTimeout', async (t) => {
  const target = await startTarget(t);
  const fds = target.fds();
  const rss = target.rssKiB();
  const bystander = await startBystander(t, target.port);

  // One request, never read: the answer fits the socket buffers, so it is finished and keepAliveTimeout applies.
  const lazy = await target.connect({ paused: true });
  lazy.write(request('/metrics'));
  const lazyPort = lazy.socket.localPort!;

  // Pace /metrics requests a few at a time (under maxPipelinedRequests), never reading, until every buffer between
  // the two ends is full (~4 MiB of kernel memory) and an answer is stuck half-written; then go quiet. No other
  // timeout covers this state: the request is complete (no headersTimeout or requestTimeout) and the answer is
  // unfinished (no keep-alive timer yet).
  const stuck = await target.connect({ paused: true });
  const stuckPort = stuck.socket.localPort!;
  let queued = -1;
  let batches = 0;
  let stalledAt = 0;
  for (; batches < 300; batches += 1) {
    stuck.write(request('/metrics').repeat(8));
    await sleep(30);
    const now = answerBytesQueued(stuckPort, target.port);
    // No growth: full, or the probe merely busy for a moment. Full only if nothing moves for a quiet 300 ms.
    if (now === queued) {
      stalledAt = performance.now();
      await sleep(300);
      if (answerBytesQueued(stuckPort, target.port) === now) break;
    }
    queued = answerBytesQueued(stuckPort, target.port);
  }
  assert.ok(batches < 300 && queued > 1024 * 1024, `the buffers filled (${queued} bytes queued after ${batches} batches)`);
  assert.ok(serverHolds(target.port, [stuckPort]).length > 0, 'the server still holds the stuck connection when the client goes quiet');

  await waitFor('the lazy reader closed by keepAliveTimeout', async () => (serverHolds(target.port, [lazyPort]).length > 0 ? undefined : true), {
    timeoutMs: SERVER_LIMITS.keepAliveTimeoutMs + 1_000 + SLACK_MS + 1_000,
    intervalMs: 100,
  });
  // Node's socket timer forgives one period if the write queue moved since the last write (net.js _onTimeout),
  // so a stuck answer is dropped between one and two idle timeouts after the last progress.
  await waitFor('the stuck connection closed by the server', async () => (serverHolds(target.port, [stuckPort]).length > 0 ? undefined : true), {
    timeoutMs: 2 * SERVER_LIMITS.idleTimeoutMs + 2_000,
    intervalMs: 100,
  });
  const stuckFor = performance.now() - stalledAt;
  assert.ok(stuckFor >= SERVER_LIMITS.idleTimeoutMs - 500, `closed ${Math.round(stuckFor)} ms after it stalled: by the idle timeout, not before`);

  const samples = await bystander.stop('clients that stop reading');
  target.assertUp();
  await target.fdsBackTo(fds);
  const grownKiB = target.rssKiB() - rss;
  assert.ok(grownKiB < 16 * MiB, `RSS grew ${grownKiB} KiB`);
  t.diagnostic(
    `stuck: ${queued} bytes queued in the kernel after ${batches} batches of 8, dropped ${Math.round(stuckFor)} ms after the client went quiet; bystander ${slowest(samples)}; RSS ${rss} -> ${rss + grownKiB} KiB`,
  );
});
