// `npm run demo`: the probe against a built-in simulated Prometheus that plays a hot-key incident on a loop,
// so a newcomer sees /ready go 200, 500, 200 without Kafka or Prometheus. Loopback only.
//
//   npm run demo                      # runs until Ctrl-C; the probe listens on PORT (default 9011)
//   npm run demo -- --cycles 1        # one incident, then exits 0 if /ready went 200, 500, 200
//   npm run demo -- --phase 2s        # shorter phases (default 10s)
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { parseDuration } from '../src/core/duration.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/service.js';

interface Phase {
  readonly name: string;
  /** Skew at the start and end of the phase (it moves linearly), and the consumer count. */
  readonly skew: readonly [number, number];
  readonly consumers: number;
}

// The seed's drill: healthy, a hot key lands on one partition, scale-out, the partition drains, healthy again.
const SCENARIO: readonly Phase[] = [
  { name: 'healthy: lag spread evenly over 8 partitions', skew: [1.2, 1.3], consumers: 3 },
  { name: 'hot key: one partition holds most of the lag', skew: [5.2, 6.8], consumers: 3 },
  { name: 'consumer crash: only one member left', skew: [6.8, 6.8], consumers: 1 },
  { name: 'scale-out: the hot partition drains (a falling lag holds /ready at 200, for up to DRAIN_GRACE)', skew: [6.8, 1.4], consumers: 3 },
  { name: 'healthy again', skew: [1.3, 1.2], consumers: 3 },
];

const { values } = parseArgs({ options: { phase: { type: 'string', default: '10s' }, cycles: { type: 'string' } } });
const phaseMs = parseDuration(values.phase ?? '10s');
const cycles = values.cycles === undefined ? Number.POSITIVE_INFINITY : Number(values.cycles);
if (phaseMs === undefined || phaseMs < 500 || !(cycles >= 1)) {
  process.stderr.write('usage: npm run demo -- [--phase 10s] [--cycles N]\n');
  process.exit(2);
}

let startedMs = Date.now();
function current(): { phase: Phase; index: number; skew: number; cycle: number } {
  const elapsed = Date.now() - startedMs;
  const step = Math.floor(elapsed / phaseMs!);
  const index = step % SCENARIO.length;
  const phase = SCENARIO[index]!;
  const progress = (elapsed % phaseMs!) / phaseMs!;
  return { phase, index, skew: phase.skew[0] + (phase.skew[1] - phase.skew[0]) * progress, cycle: Math.floor(step / SCENARIO.length) };
}

// The simulated Prometheus: answers the two recorded series as the real rules would, and the slope of the hot
// partition's lag (the drain signal): rising during the hot key, falling during the scale-out.
const SLOPE_PER_PHASE = [0, 40, 0, -55, 0];
const prometheus = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    const query = new URLSearchParams(body).get('query') ?? '';
    const { phase, index, skew } = current();
    const at = Date.now() / 1000;
    const result = query.includes('kafka:group_skew_ratio')
      ? [{ metric: { consumergroup: 'crm-events-sse', topic: 'aetherlink.events' }, value: [at, skew.toFixed(3)] }]
      : query.includes('kafka:group_consumer_count')
        ? [{ metric: { consumergroup: 'crm-events-sse' }, value: [at, String(phase.consumers)] }]
        : query.startsWith('deriv(kafka:group_max_lag')
          ? [{ metric: { consumergroup: 'crm-events-sse', topic: 'aetherlink.events' }, value: [at, String(SLOPE_PER_PHASE[index])] }]
          : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
});
await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
const prometheusUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;

const config = loadConfig({
  CHECK_INTERVAL: '1s',
  QUERY_TIMEOUT: '500ms',
  HOST: '127.0.0.1',
  ...process.env,
  PROMETHEUS_URL: prometheusUrl,
  KAFKA_GROUP: 'crm-events-sse',
});
const logLines: string[] = [];
const service = await startService({ config, log: createLogger((line) => logLines.push(line)) });
const base = `http://${config.host}:${service.address.port}`;
startedMs = Date.now(); // the incident starts once the probe is up
process.stdout.write(
  `Simulated Prometheus at ${prometheusUrl}; probe at ${base}\n` +
    `Try: curl -i ${base}/ready   curl ${base}/status   curl ${base}/metrics\n` +
    `The probe's own log lines are kept quiet here; /status tells everything.\n\n`,
);

// Watch /ready once a second, the way a kubelet would, and print what it says.
const seen: number[] = [];
let lastPhase = -1;
const timer = setInterval(() => {
  const { phase, index, cycle } = current();
  if (cycle >= cycles) {
    void finish();
    return;
  }
  if (index !== lastPhase) {
    process.stdout.write(`--- ${phase.name}\n`);
    lastPhase = index;
  }
  fetch(`${base}/ready`)
    .then(async (res) => {
      const body = (await res.json()) as { message: string };
      if (seen.at(-1) !== res.status) seen.push(res.status);
      process.stdout.write(`GET /ready -> ${res.status} ${body.message}\n`);
    })
    .catch((error: unknown) => process.stdout.write(`GET /ready failed: ${String(error)}\n`));
}, Math.min(1_000, phaseMs / 4)); // several looks per phase, so short phases are seen too

let finishing = false;
async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  clearInterval(timer);
  await service.shutdown('demo finished');
  prometheus.close();
  // One incident shows healthy, then unhealthy, then healthy again.
  const sawIncident = seen.join(',').includes('200,500') && seen.at(-1) === 200;
  process.stdout.write(`\n/ready went ${seen.join(' -> ')}${sawIncident ? '' : ' (expected 200 -> 500 -> 200)'}\n`);
  process.exit(sawIncident ? 0 : 1);
}
process.once('SIGINT', () => void finish());
process.once('SIGTERM', () => void finish());
