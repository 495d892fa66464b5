// `npm run demo`: three replicas of the probe (one sidecar per consumer pod: a, b and c) against a built-in
// simulated Prometheus that plays an incident on a loop, without Kafka or Prometheus. Loopback only.
//
// What it shows: every replica judges the same group-wide series, so a hot key, a consumer crash or a stuck
// consumer (partitions that stop committing) fails all three verdicts at once, yet only ONE replica answers /ready 500; the other two answer 200 "held ready" and say
// the verdict they would give. That is the fleet limit (FLEET_MAX_UNREADY=1): each probe learns its fleet from
// Prometheus (`max by (pod) (crm_events_health_own_unready{...})`, which the simulation answers with the three
// names and each replica's own_unready as read from its /metrics, the way Prometheus scrapes it), and all three
// pick the same replica without talking to each other. The drain (a falling lag holds /ready at 200) still works,
// and everyone is 200 again afterwards. Then a consumer gets stuck: alive and in the group, but two partitions stop
// committing while the producers write; skew and member count look fine, only stalled_partitions fails, and it
// names the partitions. The demo prints the three /ready answers side by side whenever they change.
//
//   npm run demo                      # runs until Ctrl-C; replica a listens on PORT (default 9011), b and c on free ports
//   npm run demo -- --cycles 1        # one incident, then exits 0 if all three were 200 at the start and the end,
//                                     # exactly one answered 500 in the hot key, the crash and the stall (the others
//                                     # 200 held; the stall's 500 naming the stalled partitions, and nothing else),
//                                     # and never more than one answered 500 at once
//   npm run demo -- --phase 2s        # shorter phases (default 10s, at least 500ms)
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { parseDuration } from '../src/core/duration.js';
import { createLogger } from '../src/log.js';
import { type Service, startService } from '../src/service.js';

/** A value at the start and end of a phase: it moves linearly in between. */
type Span = readonly [number, number];

interface Phase {
  readonly name: string;
  /** The skew and the consumer count. */
  readonly skew: Span;
  readonly consumers: number;
  /** The slope of the hottest partition's lag, messages a second (the drain signal). */
  readonly slope: number;
  /** The stalled partitions of TOPIC (none: the stall query answers its zero sentinel). */
  readonly stalled: readonly number[];
  /** Lag in time (kafka:group_lag_seconds, kafka:group_drain_seconds; null: no estimate) and membership changes. */
  readonly behind: Span;
  readonly drain: Span | null;
  readonly churn: number;
}

// The seed's drill: healthy, a hot key lands on one partition, a consumer crashes, scale-out, the partition
// drains, healthy again. Then the incident skew and member count both miss: a consumer stuck, its partitions not
// committing while the producers write, until its commits resume.
const SCENARIO: readonly Phase[] = [
  { name: 'healthy: lag spread evenly over 8 partitions', skew: [1.2, 1.3], consumers: 3, slope: 0, stalled: [], behind: [2, 2], drain: [1, 1], churn: 0 },
  {
    name: 'hot key: one partition holds most of the lag (group-wide: one replica of three goes unready)',
    skew: [5.2, 6.8],
    consumers: 3,
    slope: 40,
    stalled: [],
    behind: [2, 45],
    drain: null,
    churn: 0,
  },
  {
    name: 'consumer crash: only one member left (group-wide too: still one replica unready)',
    skew: [6.8, 6.8],
    consumers: 1,
    slope: 0,
    stalled: [],
    behind: [45, 90],
    drain: null,
    churn: 1,
  },
  {
    name: 'scale-out: the hot partition drains (a falling lag holds /ready at 200, for up to DRAIN_GRACE)',
    skew: [6.8, 1.4],
    consumers: 3,
    slope: -55,
    stalled: [],
    behind: [90, 4],
    drain: [120, 8],
    churn: 2,
  },
  { name: 'healthy again', skew: [1.3, 1.2], consumers: 3, slope: 0, stalled: [], behind: [3, 2], drain: [1, 1], churn: 2 },
  {
    name: 'consumer stuck: alive and in the group, but partitions 3 and 5 stop committing while producers write (skew and member count look fine)',
    skew: [1.2, 1.2],
    consumers: 3,
    slope: 0,
    stalled: [3, 5],
    behind: [2, 75],
    drain: null,
    churn: 2,
  },
  { name: 'commits resume: healthy again', skew: [1.2, 1.2], consumers: 3, slope: 0, stalled: [], behind: [3, 2], drain: [1, 1], churn: 2 },
];
const HOT_KEY = 1;
const CRASH = 2;
const STALL = 5;
const GROUP = 'crm-events-sse';
const TOPIC = 'aetherlink.events';
// STALL_AFTER is the probe's window, but the simulation decides what is stalled, not the clock: 1m reads naturally.
const STALL_AFTER = '1m';
const STALLED_MESSAGE = `Stalled: 2 partitions not committing for ${STALL_AFTER} (${TOPIC}/3, /5)`;
const NAMES = ['a', 'b', 'c'] as const;

const { values } = parseArgs({ options: { phase: { type: 'string', default: '10s' }, cycles: { type: 'string' } } });
const parsedPhase = parseDuration(values.phase ?? '10s');
const cycles = values.cycles === undefined ? Number.POSITIVE_INFINITY : Number(values.cycles);
if (parsedPhase === undefined || parsedPhase < 500 || !(cycles >= 1)) {
  process.stderr.write('usage: npm run demo -- [--phase 10s] [--cycles N]   (--phase at least 500ms)\n');
  process.exit(2);
}
const phaseMs: number = parsedPhase;

// The incident starts once all three probes are up and have seen their fleet; until then everything is healthy.
let startedMs: number | null = null;
function current(): { phase: Phase; index: number; progress: number; cycle: number } {
  const elapsed = startedMs === null ? 0 : Date.now() - startedMs;
  const step = Math.floor(elapsed / phaseMs);
  const index = step % SCENARIO.length;
  return { phase: SCENARIO[index]!, index, progress: (elapsed % phaseMs) / phaseMs, cycle: Math.floor(step / SCENARIO.length) };
}

/** Where a span stands at `progress` (0 to 1) through its phase. */
function at(span: Span, progress: number): number {
  return span[0] + (span[1] - span[0]) * progress;
}

// What the simulated Prometheus last scraped from each replica's /metrics: 1 when unready for its own reasons.
const ownUnready = new Map<string, number>();

type Series = { metric: Record<string, string>; value: [number, string] };

/** What the simulated Prometheus answers to one query, as the real recording rules would at this moment. */
function simulate(query: string): Series[] {
  const { phase, progress } = current();
  const now = Date.now() / 1000;
  const series = (metric: Record<string, string>, value: number): Series => ({ metric, value: [now, String(Number(value.toFixed(3)))] });
  const topic = { consumergroup: GROUP, topic: TOPIC };
  // The fleet: one sample per replica, labelled by its pod name.
  if (query.includes('crm_events_health_own_unready')) return NAMES.map((pod) => series({ pod }, ownUnready.get(pod) ?? 0));
  // Stalled partitions: one series per stalled partition valued by its lag (growing: the producers write), or the
  // zero sentinel without labels when none is stalled.
  if (query.includes('kafka:group_partition_lag') && query.includes('changes(kafka:group_committed_offset')) {
    if (phase.stalled.length === 0) return [series({}, 0)];
    return phase.stalled.map((partition) => series({ ...topic, partition: String(partition) }, Math.round(400 + 2_600 * progress)));
  }
  // Lag in time and churn: the estimates query asks for all three by name; a MAX_LAG_SECONDS check for one.
  if (query.includes('kafka:group_lag_seconds') || query.includes('kafka:group_drain_seconds') || query.includes('kafka:group_membership_changes')) {
    // Tagged as the probe's query tags them (label_replace ... "estimate"), so that `or` keeps all three.
    const estimates: [string, string, number | null][] = [
      ['kafka:group_lag_seconds', 'behind', at(phase.behind, progress)],
      ['kafka:group_drain_seconds', 'drain', phase.drain === null ? null : at(phase.drain, progress)],
      ['kafka:group_membership_changes', 'churn', phase.churn],
    ];
    return estimates.flatMap(([name, kind, value]) =>
      value === null || !query.includes(name)
        ? []
        : [series({ __name__: name, consumergroup: GROUP, ...(query.includes('label_replace') ? { estimate: kind } : {}) }, value)],
    );
  }
  // The slope of the hottest partition's lag: the drain signal (rising during the hot key, falling in the scale-out).
  if (query.includes('deriv(kafka:group_max_lag')) return [series(topic, phase.slope)];
  // The skew, with or without the SKEW_MIN_LAG floor (which names kafka:group_max_lag, without deriv).
  if (query.includes('kafka:group_skew_ratio')) return [series(topic, at(phase.skew, progress))];
  if (query.includes('kafka:group_consumer_count')) return [series({ consumergroup: GROUP }, phase.consumers)];
  return [];
}

// The simulated Prometheus: the recorded series as the real rules would answer them (see simulate()).
const prometheus = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    const result = simulate(new URLSearchParams(body).get('query') ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
});
await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
const prometheusUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;

/** A loopback port that was free a moment ago (bound to port 0, read, closed). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Replica a on PORT (the only variable read from the environment), b and c on free ports. Short intervals keep
// the demo quick; a rotation of an hour keeps the same replica the unready one for the whole demo.
const firstPort = process.env.PORT ?? '9011';
const ports = [firstPort, String(await freePort()), String(await freePort())];
const quiet = createLogger(() => undefined); // /status tells everything; the log lines would drown the table
const replicas: { name: string; base: string; service: Service }[] = [];
for (const [i, name] of NAMES.entries()) {
  const config = loadConfig({
    PROMETHEUS_URL: prometheusUrl,
    KAFKA_GROUP: GROUP,
    HOST: '127.0.0.1',
    PORT: ports[i],
    POD_NAME: name,
    CHECK_INTERVAL: '250ms',
    QUERY_TIMEOUT: '200ms',
    FLEET_MAX_UNREADY: '1',
    FLEET_ROTATE: '1h',
    FLEET_LABEL: 'pod',
    STALL_AFTER,
  });
  const service = await startService({ config, log: quiet });
  replicas.push({ name, base: `http://${config.host}:${service.address.port}`, service });
}

// Prometheus scrapes every probe: read each replica's own_unready from its /metrics, four times a second.
let running = true;
const scraping = (async () => {
  while (running) {
    await Promise.all(
      replicas.map(async ({ name, base }) => {
        try {
          const text = await (await fetch(`${base}/metrics`)).text();
          const value = /^crm_events_health_own_unready\{[^}]*\} (\S+)$/m.exec(text)?.[1];
          if (value !== undefined) ownUnready.set(name, Number(value));
        } catch {
          // A replica that does not answer keeps its last value, as Prometheus keeps the last sample a while.
        }
      }),
    );
    await sleep(250);
  }
})();

interface Answer {
  readonly status: number;
  readonly held: boolean;
  readonly message: string;
  readonly verdict: string;
}

async function ask(base: string): Promise<Answer> {
  try {
    const res = await fetch(`${base}/ready`);
    const body = (await res.json()) as { message?: string; verdict?: string; held_ready?: boolean };
    return { status: res.status, held: body.held_ready === true, message: body.message ?? '', verdict: body.verdict ?? '' };
  } catch (error) {
    return { status: 0, held: false, message: `GET /ready failed: ${String(error)}`, verdict: 'unreachable' };
  }
}

// Wait (bounded) until every replica answers 200 and has seen the three-replica fleet: before that a probe
// behaves as a fleet of one, which is not what this demo is about.
const readyBy = Date.now() + 15_000;
for (;;) {
  const states = await Promise.all(
    replicas.map(async ({ base }) => {
      const ready = await ask(base);
      try {
        const status = (await (await fetch(`${base}/status`)).json()) as { fleet?: { source?: string; replicas?: string[] } | null };
        return ready.status === 200 && status.fleet?.source === 'prometheus' && status.fleet.replicas?.length === NAMES.length;
      } catch {
        return false;
      }
    }),
  );
  if (states.every(Boolean)) break;
  if (Date.now() > readyBy) {
    process.stderr.write('the three probes did not all become ready with a fleet of three within 15s\n');
    process.exit(1);
  }
  await sleep(100);
}
startedMs = Date.now();

const [first] = replicas;
process.stdout.write(
  `Simulated Prometheus at ${prometheusUrl}; three probes, one per consumer pod, FLEET_MAX_UNREADY=1:\n` +
    replicas.map(({ name, base }) => `  ${name}  ${base}\n`).join('') +
    `Try: curl -i ${first!.base}/ready   curl ${first!.base}/status   curl ${first!.base}/metrics\n` +
    `Each line is the three replicas' /ready side by side ("held" = 200 held ready by the fleet limit), then the verdict.\n` +
    `Each probe evaluates every 250ms on its own clock, so for a moment a change has reached some replicas only.\n` +
    `The probes' own log lines are kept quiet here; /status tells everything.\n\n`,
);

/** The verdict itself, without what the fleet limit adds to it. */
function verdictOf(answer: Answer): string {
  if (answer.held) {
    const at = answer.message.indexOf('; the verdict: ');
    return at < 0 ? answer.message : answer.message.slice(at + '; the verdict: '.length);
  }
  const at = answer.message.lastIndexOf(' (unready: ');
  return at < 0 ? answer.message : answer.message.slice(0, at);
}

function cell(name: string, answer: Answer): string {
  return `${name} ${answer.status === 0 ? 'down' : answer.status}${answer.held ? ' held' : ''}`.padEnd(10);
}

// What --cycles judges: all 200 at the start and the end; in the hot key, the crash and the stall, a moment with
// exactly one 500 and the other two 200 held (in the stall, the 500 for the stalled partitions alone, named);
// never more than one 500 at once after the first hot-key 500.
let firstAll200: boolean | null = null;
let lastAll200 = false;
const oneOfThree = new Map<number, Set<string>>([
  [HOT_KEY, new Set()],
  [CRASH, new Set()],
  [STALL, new Set()],
]);
let sawHotKey500 = false;
let maxConcurrent500 = 0;

let lastPhase = -1;
let lastKey = '';
let lastPrintMs = 0;
async function watch(): Promise<void> {
  // Several looks per phase, the way a kubelet would look (only faster), one round at a time.
  while (running) {
    const { phase, index, cycle } = current();
    if (cycle >= cycles) return;
    const answers = await Promise.all(replicas.map(({ base }) => ask(base)));
    const fives = answers.filter((answer) => answer.status === 500).length;
    const all200 = answers.every((answer) => answer.status === 200 && !answer.held);
    firstAll200 ??= all200;
    lastAll200 = all200;
    if (index === HOT_KEY && fives > 0) sawHotKey500 = true;
    if (sawHotKey500) maxConcurrent500 = Math.max(maxConcurrent500, fives);
    const held = answers.filter((answer) => answer.status === 200 && answer.held).length;
    const unready = replicas.filter((_, i) => answers[i]!.status === 500).map(({ name }) => name);
    const failing = answers.find((answer) => answer.status === 500);
    const stallOnly = index !== STALL || (failing !== undefined && verdictOf(failing) === STALLED_MESSAGE);
    if (fives === 1 && held === NAMES.length - 1 && stallOnly) oneOfThree.get(index)?.add(unready[0]!);

    const newPhase = index !== lastPhase;
    if (newPhase) {
      process.stdout.write(`--- ${phase.name}\n`);
      lastPhase = index;
    }
    const key = answers.map((answer) => `${answer.status}${answer.held}${answer.verdict}`).join(',');
    const now = Date.now();
    if (newPhase || key !== lastKey || now - lastPrintMs >= 1_000) {
      const shown = answers.find((answer) => answer.status === 500) ?? answers.find((answer) => answer.held) ?? answers[0]!;
      process.stdout.write(`${replicas.map(({ name }, i) => cell(name, answers[i]!)).join(' | ')}  ${verdictOf(shown)}\n`);
      if (key !== lastKey) {
        // Once per change: why the one is unready and why the others are not.
        const out = replicas.findIndex((_, i) => answers[i]!.status === 500);
        const kept = replicas.findIndex((_, i) => answers[i]!.held);
        if (out >= 0 && kept >= 0) {
          const why = answers[out]!.message.slice(answers[out]!.message.lastIndexOf(' (unready: ') + 2, -1);
          process.stdout.write(`    ${replicas[out]!.name} says: ${why}\n`);
          process.stdout.write(`    ${replicas[kept]!.name} says: ${answers[kept]!.message.split('; the verdict: ')[0]}\n`);
        }
      }
      lastKey = key;
      lastPrintMs = now;
    }
    await sleep(100);
  }
}

let finishing = false;
async function finish(interrupted: boolean): Promise<void> {
  if (finishing) return;
  finishing = true;
  running = false;
  await scraping;
  await Promise.all(replicas.map(({ service }) => service.shutdown('demo finished')));
  prometheus.close();
  const names = (phase: number): string => [...(oneOfThree.get(phase) ?? [])].join(', ') || 'none';
  const hotKey = oneOfThree.get(HOT_KEY)!.size > 0;
  const crash = oneOfThree.get(CRASH)!.size > 0;
  const stall = oneOfThree.get(STALL)!.size > 0;
  const ok = firstAll200 === true && lastAll200 && hotKey && crash && stall && maxConcurrent500 === 1;
  process.stdout.write(
    `\nSummary: all 200 at the start: ${firstAll200 === true ? 'yes' : 'no'}; ` +
      `hot key: exactly one of three answered 500 (${names(HOT_KEY)}), the others 200 held: ${hotKey ? 'yes' : 'no'}; ` +
      `consumer crash: ${crash ? `one 500 (${names(CRASH)})` : 'no single 500'}; ` +
      `consumer stuck: ${stall ? `one 500 (${names(STALL)}) "${STALLED_MESSAGE}", the others 200 held` : `no single 500 saying "${STALLED_MESSAGE}"`}; ` +
      `most 500s at once: ${maxConcurrent500} of ${NAMES.length}; all 200 at the end: ${lastAll200 ? 'yes' : 'no'}` +
      `${ok ? ' -> OK' : interrupted ? '' : ' -> FAILED (expected all 200, then exactly one 500 of three, then all 200)'}\n`,
  );
  process.exit(interrupted || ok ? 0 : 1);
}
process.once('SIGINT', () => void finish(true));
process.once('SIGTERM', () => void finish(true));
await watch();
await finish(false);
