// Soak: a bounded number of requests across every endpoint of the compiled probe while a fake Prometheus flaps
// between healthy, unhealthy, refused, failing and silent. Passes when the probe answered everything, its
// resident memory at the end is within 10% of what it was after the first 100,000 requests, and its open
// file descriptors are back where they started. Loopback only; bounded in count and in time.
//
//   npm run soak                          # 1,000,000 requests (the figure recorded in BENCHMARKS.md)
//   npm run soak -- --requests 200000     # the short form CI runs (memory compared at 100,000 and at the end)
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { type FakeHandler, startFakePrometheus } from '../test/helpers/fake-prometheus.js';
import { startProbe } from '../test/helpers/process.js';
import { freePort, waitFor } from '../test/helpers/wait.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    connections: { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '900' },
    'flap-ms': { type: 'string', default: '1000' },
    // Extra NODE_OPTIONS for the probe; startProbe already runs it with production's heap cap
    // (package.json's config.nodeFlags, as `npm start` and the image use; see README, Memory).
    'node-options': { type: 'string', default: '' },
  },
});
const total = Number(values.requests);
const connections = Number(values.connections);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;
const flapMs = Number(values['flap-ms']);
if (!(total >= 1000) || !(connections >= 1 && connections <= 256)) throw new Error('--requests >= 1000, --connections 1..256');

const vector =
  (value: string): FakeHandler =>
  (_query, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { topic: 't' }, value: [0, value] }] } }));
  };
// One cycle of Prometheus' moods; the verdict changes with them, so the cached answers are re-rendered often.
const MOODS: [string, FakeHandler][] = [
  ['healthy', vector('3')],
  ['unhealthy', vector('1')],
  ['refused', (_q, req) => req.socket.destroy()],
  ['error 500', (_q, _req, res) => res.writeHead(500, { 'content-type': 'text/html' }).end('<html>oops</html>')],
  ['silent', () => {}],
  ['not json', (_q, _req, res) => res.writeHead(200).end('{"status":')],
];

const prometheus = await startFakePrometheus(MOODS[0]![1]);
let mood = 0;
const flapper = setInterval(() => {
  mood = (mood + 1) % MOODS.length;
  prometheus.handle = MOODS[mood]![1];
}, flapMs);

const port = await freePort();
const probe = startProbe([], {
  NODE_OPTIONS: values['node-options'] ?? '',
  PROMETHEUS_URL: prometheus.url,
  PORT: String(port),
  HOST: '127.0.0.1',
  CHECK_INTERVAL: '200ms',
  QUERY_TIMEOUT: '150ms',
  STALE_AFTER: '1s',
});
const pid = probe.child.pid!;
const rssKiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const fds = (): number => readdirSync(`/proc/${pid}/fd`).length;

try {
  await probe.waitForLog('verdict_changed');
  const fdsAtStart = fds();
  const rssAtStart = rssKiB();
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const paths = ['/ready', '/health', '/status', '/metrics', '/ready?verbose'];
  const statuses = new Map<number, number>();
  let sent = 0;
  let failed = 0;
  // The yardstick: memory after the first 100,000 requests (or half a shorter run), once warmed up.
  const baselineAt = Math.min(100_000, Math.floor(total / 2));
  let rssAtBaseline = 0;
  const rssEveryTenth: number[] = [];
  const get = (path: string): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
          resolve();
        });
      });
      req.on('error', () => {
        failed += 1;
        resolve();
      });
      req.end();
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (sent < total && Date.now() < deadline) {
        const n = sent++;
        await get(paths[n % paths.length]!);
        if (n % Math.floor(total / 10) === 0 && n > 0) rssEveryTenth.push(rssKiB());
        if (n === baselineAt) rssAtBaseline = rssKiB();
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const rssAtEnd = rssKiB();
  agent.destroy();
  // The server closes its side at once or after keepAliveTimeout (5 s).
  const fdsAtEnd = await waitFor(
    'file descriptors back to the start',
    async (seen) => {
      const now = fds();
      seen(now);
      return now <= fdsAtStart ? now : undefined;
    },
    { timeoutMs: 10_000 },
  ).catch(() => fds());

  const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
  const rssGrowth = (rssAtEnd - rssAtBaseline) / rssAtBaseline;
  const report = {
    requests: sent,
    answered,
    failed,
    statuses: Object.fromEntries(statuses),
    seconds,
    requests_per_second: Math.round(answered / seconds),
    rss_kib: { start: rssAtStart, [`after_${baselineAt}`]: rssAtBaseline, end: rssAtEnd, every_tenth: rssEveryTenth },
    rss_growth_since_baseline: Number(rssGrowth.toFixed(4)),
    fds: { start: fdsAtStart, end: fdsAtEnd },
    prometheus_queries: prometheus.queries.length,
    node: process.versions.node,
    probe_node_options: values['node-options'],
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const problems = [
    sent < total ? `only ${sent} of ${total} requests were sent before --max-seconds` : '',
    failed > 0 || answered !== sent ? `${failed} requests failed` : '',
    rssGrowth > 0.1 ? `resident memory grew ${(rssGrowth * 100).toFixed(1)}% after the first ${baselineAt} requests` : '',
    fdsAtEnd > fdsAtStart ? `file descriptors ${fdsAtStart} -> ${fdsAtEnd}` : '',
    probe.child.exitCode !== null ? 'the probe died' : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    process.stderr.write(`soak failed: ${problems.join('; ')}\n`);
    process.exitCode = 1;
  }
} finally {
  clearInterval(flapper);
  probe.child.kill('SIGTERM');
  await probe.exited;
  await prometheus.close();
}
