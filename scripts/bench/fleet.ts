// npm run bench:fleet: what a fleet of probes costs Prometheus (issue 13, item 5). Every replica of a consumer runs
// its own probe, so Prometheus receives replicas x (queries per evaluation) every CHECK_INTERVAL; started together
// (a Deployment's rollout), they also ask together. This script simulates 10, 100, 500 and 1000 probes in this one
// process (scripts/bench/fleet-sim.ts: the project's createMonitor, loadConfig and real undici client, one client
// per probe) against Debian's real Prometheus with the project's rules over a fake kafka_exporter, in two schedules
// side by side: lockstep (every probe starts at the same moment) and jitter (first ticks spread evenly over the
// interval). Each run restarts Prometheus (same data directory), so its own summaries and its process' CPU time
// cover that run alone; runs alternate between the schedules and repeat, and the figures are medians, the
// comparison the median of per-pair ratios (jitter over the lockstep run next to it). Every wait is bounded, and
// Prometheus is stopped at the end, on error or Ctrl-C too.
//
//   node --import tsx scripts/bench/fleet.ts [--quick] [--write] [--pin] [--sizes 10,100] [--repeats 3]
//     --quick      10 and 50 probes, a 1 s interval, one pair of short runs (CI: proves the script works)
//     --write      also write the section into BENCHMARKS.md
//     --pin        pin Prometheus to cpu 0 and this process (the fleet, the exporter) to cpu 1; off by default: on a
//                  shared machine a pinned Prometheus cannot move off a CPU a neighbour holds, and starves
//     --sizes      fleet sizes to run (default 10,100,500,1000)
//     --repeats    pairs of runs per size (default 3)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type FakeExporter, instantVector, prometheusBinary, type RealPrometheus, startExporter, startPrometheus } from '../../test/helpers/real-prometheus.js';
import { balanced, RULES } from '../../test/helpers/stack.js';
import { waitFor } from '../../test/helpers/wait.js';
import { buildFleet, type FleetShape, type Schedule } from './fleet-sim.js';
import { cpuMs } from './procs.js';
import { childPid, type Exposition, scrapeSelf, sumOf } from './prometheus-self.js';
import { fixed, list, median, writeSection } from './report.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GROUP = 'crm-events-sse';
const PROMETHEUS_CPU = 0;
const HARNESS_CPU = 1;
const BURST_WINDOW_MS = 100;
const MAX_CONNECTIONS = 16_384;
/** Pod names as a Deployment's ReplicaSet makes them: `${POD_PREFIX}-${index}` here. */
const POD_PREFIX = 'crm-events-sse-7d9f8c6b5';

interface Settings {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly intervalMs: number;
  /** Measured window: whole intervals, from one interval after the last probe started. */
  readonly windowIntervals: number;
  readonly repeats: number;
  /** Prometheus' scrape and rule evaluation interval. */
  readonly evaluationSeconds: number;
}

const FULL: Settings = { quick: false, sizes: [10, 100, 500, 1000], intervalMs: 5_000, windowIntervals: 3, repeats: 3, evaluationSeconds: 5 };
const QUICK: Settings = { quick: true, sizes: [10, 50], intervalMs: 1_000, windowIntervals: 2, repeats: 1, evaluationSeconds: 1 };

const args = process.argv.slice(2);
const { values } = parseArgs({
  args,
  options: { quick: { type: 'boolean' }, write: { type: 'boolean' }, pin: { type: 'boolean' }, sizes: { type: 'string' }, repeats: { type: 'string' } },
  strict: true,
});
const base = values.quick === true ? QUICK : FULL;
const settings: Settings = {
  ...base,
  sizes: values.sizes === undefined ? base.sizes : values.sizes.split(',').map(Number),
  repeats: values.repeats === undefined ? base.repeats : Number(values.repeats),
};
if (!settings.sizes.every((size) => Number.isInteger(size) && size >= 1 && size <= 2_000) || !(Number.isInteger(settings.repeats) && settings.repeats >= 1)) {
  process.stderr.write('bench:fleet: --sizes takes whole numbers from 1 to 2000, comma-separated; --repeats a whole number from 1\n');
  process.exit(2);
}
const started = performance.now();
const progress = (message: string): void => {
  process.stderr.write(`[bench:fleet ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
};
const firstLine = (command: string, commandArgs: readonly string[]): string => {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n')[0]!.trim();
};
const pin = values.pin === true && Number(firstLine('nproc', [])) >= 2 && spawnSync('taskset', ['--version']).status === 0;
const taskset = (cpu: number, pid: number): void => {
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid} failed`);
};

/** One run: one fleet size, one schedule, on a freshly restarted Prometheus. */
interface Run {
  readonly size: number;
  readonly schedule: Schedule;
  readonly seconds: number;
  /** Queries the interval implies in the window (checks and estimates; the fleet query is counted apart). */
  readonly expected: number;
  /** Queries Prometheus counted (prometheus_http_requests_total{handler="/api/v1/query"}), and the probes sent. */
  readonly received: number;
  readonly sent: number;
  readonly evaluations: number;
  readonly expectedEvaluations: number;
  /** CPU-seconds per second: Prometheus (utime + stime of its process), and this process (the fleet). */
  readonly prometheusCpu: number;
  readonly harnessCpu: number;
  /** Prometheus' engine summary, inner_eval and queue_time slices, over this Prometheus process' life: the run, warm-up included (ms). */
  readonly innerP50: number;
  readonly innerP99: number;
  readonly queueP99: number;
  /** Share of the window's API queries slower than 100 ms (prometheus_http_request_duration_seconds, le="0.1"). */
  readonly over100ms: number;
  /** Round trips as the probes saw them, queries sent in the window (ms). */
  readonly roundTripP50: number;
  readonly roundTripP99: number;
  readonly maxPerBurstWindow: number;
  readonly peakInFlight: number;
  readonly errors: number;
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** The most send times in any window of `widthMs` (sorted input, two pointers). */
function busiestWindow(times: readonly number[], widthMs: number): number {
  let best = 0;
  let first = 0;
  for (let last = 0; last < times.length; last += 1) {
    while (times[last]! - times[first]! >= widthMs) first += 1;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

const summaryMs = (samples: Exposition, slice: string, q: string): number =>
  sumOf(samples, 'prometheus_engine_query_duration_seconds', [`slice="${slice}"`, `quantile="${q}"`]) * 1000;
const QUERY_HANDLER = 'handler="/api/v1/query"';

async function restartPrometheus(prometheus: RealPrometheus): Promise<number> {
  await prometheus.stop();
  await prometheus.start();
  const pid = childPid('prometheus');
  if (pin) taskset(PROMETHEUS_CPU, pid);
  // The data directory is kept: the recorded series are there again as soon as the TSDB is open.
  await waitFor(
    'the recorded series after the restart',
    async () => ((await instantVector(prometheus.url, `kafka:group_skew_ratio{consumergroup="${GROUP}"}`)).length > 0 ? true : undefined),
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return pid;
}

async function oneRun(prometheus: RealPrometheus, size: number, schedule: Schedule, s: Settings): Promise<Run> {
  const interval = s.intervalMs;
  const pid = await restartPrometheus(prometheus);
  const fleet = buildFleet({ size, prometheusUrl: prometheus.url, group: GROUP, intervalMs: interval, queryTimeoutMs: interval / 2, podPrefix: POD_PREFIX, schedule });
  try {
    await fleet.start();
    const warm = performance.now() + interval;
    // The window starts half-way between two ticks of the offset-0 grid (wall times k x interval), so a lockstep
    // burst falls inside it, never on an edge, and has half an interval (its QUERY_TIMEOUT) to finish.
    const wallAtWarm = Date.now() + (warm - performance.now());
    await sleep(warm + ((((interval / 2 - wallAtWarm) % interval) + interval) % interval) - performance.now());
    const before = { at: performance.now(), self: await scrapeSelf(prometheus.url), cpu: cpuMs(pid), harness: process.cpuUsage() };
    const marks = { sent: fleet.log.sent.length, evaluations: fleet.log.evaluations.length };
    fleet.log.resetPeak();
    progress(`  window opens (${fleet.log.sent.length} queries sent so far)`);
    await sleep(before.at + s.windowIntervals * interval - performance.now());
    const after = { at: performance.now(), self: await scrapeSelf(prometheus.url), cpu: cpuMs(pid), harness: process.cpuUsage(before.harness) };
    const peakInFlight = fleet.log.peakInFlight;
    const sent = fleet.log.sent.slice(marks.sent).filter((at) => at < after.at);
    const evaluations = fleet.log.evaluations.slice(marks.evaluations).filter((at) => at < after.at).length;
    await fleet.close();
    const wall = after.at - before.at;
    const answered = fleet.log.answered.filter((query) => query.at >= before.at && query.at < after.at);
    const counter = (samples: Exposition): number => sumOf(samples, 'prometheus_http_requests_total', [QUERY_HANDLER]);
    const histogram = (samples: Exposition, suffix: string, le?: string): number =>
      sumOf(samples, `prometheus_http_request_duration_seconds_${suffix}`, [QUERY_HANDLER, ...(le === undefined ? [] : [`le="${le}"`])]);
    const apiQueries = histogram(after.self, 'count') - histogram(before.self, 'count');
    const fast = histogram(after.self, 'bucket', '0.1') - histogram(before.self, 'bucket', '0.1');
    return {
      size,
      schedule,
      seconds: wall / 1000,
      expected: (size * fleet.shape.queriesPerEvaluation * wall) / interval,
      received: counter(after.self) - counter(before.self),
      sent: sent.length,
      evaluations,
      expectedEvaluations: (size * wall) / interval,
      prometheusCpu: (after.cpu - before.cpu) / wall,
      harnessCpu: (after.harness.user + after.harness.system) / 1000 / wall,
      innerP50: summaryMs(after.self, 'inner_eval', '0.5'),
      innerP99: summaryMs(after.self, 'inner_eval', '0.99'),
      queueP99: summaryMs(after.self, 'queue_time', '0.99'),
      over100ms: apiQueries === 0 ? 0 : (apiQueries - fast) / apiQueries,
      roundTripP50: quantile(
        answered.map((query) => query.ms),
        0.5,
      ),
      roundTripP99: quantile(
        answered.map((query) => query.ms),
        0.99,
      ),
      maxPerBurstWindow: busiestWindow(sent, BURST_WINDOW_MS),
      peakInFlight,
      errors: answered.filter((query) => !query.ok).length,
    };
  } finally {
    await fleet.close();
  }
}

const ms = (value: number): string => fixed(value, value < 10 ? 2 : value < 100 ? 1 : 0);
const rate = (value: number): string => fixed(value, value < 10 ? 2 : 1);
const percentOf = (value: number): string => `${fixed(value * 100, 1)}%`;

/** The median of one figure over the runs of a size and schedule. */
const med = (runs: readonly Run[], figure: (run: Run) => number): number => median(runs.map(figure));

/** Jitter over lockstep, pair by pair (the runs of a repeat ran next to each other), then the median. */
function pairRatio(lockstep: readonly Run[], jitter: readonly Run[], figure: (run: Run) => number): number {
  return median(jitter.map((run, index) => figure(run) / figure(lockstep[index]!)));
}

function render(options: { runs: readonly Run[]; s: Settings; shape: FleetShape; command: string; date: string; cpus: string; loads: readonly number[] }): string {
  const { runs, s, shape } = options;
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' }).stdout ?? '';
  const cpuModel = /^Model name:\s*(.+)$/m.exec(lscpu)?.[1]?.trim() ?? 'unknown model';
  const prometheusVersion = firstLine(prometheusBinary() ?? 'prometheus', ['--version']).replace(/^prometheus, version (\S+).*/, 'Prometheus $1');
  const interval = s.intervalMs / 1000;
  const rows: string[] = [];
  const ratios: string[] = [];
  for (const size of s.sizes) {
    const lockstep = runs.filter((run) => run.size === size && run.schedule === 'lockstep');
    const jitter = runs.filter((run) => run.size === size && run.schedule === 'jitter');
    for (const [schedule, group] of [
      ['lockstep', lockstep],
      ['jitter', jitter],
    ] as const) {
      rows.push(
        `| ${size} | ${schedule} | ${rate(med(group, (r) => r.expected / r.seconds))} | ${rate(med(group, (r) => r.received / r.seconds))} | ` +
          `${fixed(
            med(group, (r) => r.prometheusCpu),
            3,
          )} | ${ms(med(group, (r) => r.innerP50))} / ${ms(med(group, (r) => r.innerP99))} | ` +
          `${ms(med(group, (r) => r.queueP99))} | ${ms(med(group, (r) => r.roundTripP50))} / ${ms(med(group, (r) => r.roundTripP99))} | ` +
          `${percentOf(med(group, (r) => r.over100ms))} | ${fixed(
            med(group, (r) => r.maxPerBurstWindow),
            0,
          )} | ${fixed(
            med(group, (r) => r.peakInFlight),
            0,
          )} | ` +
          `${fixed(
            med(group, (r) => r.harnessCpu),
            2,
          )} | ${group.reduce((sum, r) => sum + r.errors, 0)} |`,
      );
    }
    ratios.push(
      `| ${size} | ${fixed(pairRatio(lockstep, jitter, (r) => r.received / r.seconds))} | ${fixed(pairRatio(lockstep, jitter, (r) => r.prometheusCpu))} | ` +
        `${fixed(pairRatio(lockstep, jitter, (r) => r.innerP99))} | ${fixed(pairRatio(lockstep, jitter, (r) => r.roundTripP99))} | ` +
        `${fixed(pairRatio(lockstep, jitter, (r) => r.maxPerBurstWindow))} | ${fixed(pairRatio(lockstep, jitter, (r) => r.peakInFlight))} |`,
    );
  }
  const detail = (run: Run): string =>
    `${run.size} ${run.schedule}: ${fixed(run.seconds, 1)} s, received ${run.received} (probes sent ${run.sent}, the interval implies ${fixed(run.expected, 0)}), ` +
    `${run.evaluations} evaluations of ${fixed(run.expectedEvaluations, 0)} due, CPU ${fixed(run.prometheusCpu, 3)}, ` +
    `inner_eval ${ms(run.innerP50)} / ${ms(run.innerP99)} ms, queue p99 ${ms(run.queueP99)} ms, round trip ${ms(run.roundTripP50)} / ${ms(run.roundTripP99)} ms, ` +
    `max ${run.maxPerBurstWindow} in 100 ms, ${run.peakInFlight} in flight, harness ${fixed(run.harnessCpu, 2)} CPU, ${run.errors} errors`;
  const behind = runs.filter((run) => run.evaluations < 0.95 * run.expectedEvaluations || Math.abs(run.received - run.sent) > 0.05 * run.sent + 2);
  return [
    `### ${s.quick ? 'Fleet, quick run (tiny durations: proves the script works, the figures mean little)' : 'Fleet figures'}`,
    '',
    `- Date: ${options.date}`,
    `- Machine: ${options.cpus} CPUs (nproc), ${cpuModel}; load average ${list(options.loads, (v) => fixed(v))} (start, end)`,
    `- Node ${process.version}, ${prometheusVersion} with --web.max-connections=${MAX_CONNECTIONS} (default 512) and --query.max-concurrency=20 (the default)`,
    `- Command: \`${options.command}\``,
    `- Each probe: \`createMonitor\` with \`loadConfig({ KAFKA_GROUP: '${GROUP}', CHECK_INTERVAL: '${interval}s', QUERY_TIMEOUT: '${interval / 2}s', POD_NAME: ... })\`, ` +
      `its own undici client (\`clientFor\`); per evaluation ${shape.queriesPerEvaluation} queries (${shape.checksPerGroup} checks + 1 estimates, ${shape.groups} group), ` +
      `the fleet query every ${fixed((shape.fleetRefreshMs ?? 0) / 1000, 0)} s (outside the measured window), no drain query (healthy group).`,
    `- Schedules: lockstep, \`scheduleOffsetMs\` 0 for every probe (what a fleet started together did before issue 13); ` +
      `jitter, each probe's offset from its pod name (\`scheduleOffsetMs(POD_NAME, ...)\` of src/core/backoff.ts, as src/service.ts sets it). ` +
      'Each probe is started at its own place in the interval, so that its first evaluation (always at once) is already on its schedule. ' +
      `Each run: Prometheus restarted (same data; its summaries and CPU time then cover this run alone), the fleet started, one interval of warm-up, ` +
      `then ${s.windowIntervals} intervals (${s.windowIntervals * interval} s) measured, starting half-way between two ticks of the offset-0 grid. ` +
      `${s.repeats} pair(s) per size, the sizes interleaved, the order within a pair alternating.`,
    `- ${pin ? `Prometheus pinned to cpu ${PROMETHEUS_CPU} (taskset -a; one core), this process (the fleet, the fake exporter) to cpu ${HARNESS_CPU}.` : 'Not pinned to CPUs (no --pin): Prometheus may use both.'} ` +
      `Prometheus scrapes the exporter and evaluates the rules (${s.evaluationSeconds} s) all along.`,
    '',
    `| probes | schedule | queries/s implied | received/s | Prometheus CPU (s/s) | inner_eval p50 / p99 (ms) | queue_time p99 (ms) | round trip p50 / p99 (ms) | > 100 ms | max in 100 ms | peak in flight | fleet process CPU | errors |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Jitter over lockstep (median of per-pair ratios; below 1: jitter costs less):',
    '',
    '| probes | received/s | Prometheus CPU | inner_eval p99 | round trip p99 | max in 100 ms | peak in flight |',
    '|---|---|---|---|---|---|---|',
    ...ratios,
    '',
    behind.length === 0
      ? 'The fleet kept up in every run: every due evaluation ran, and Prometheus counted what the probes sent (within 5%).'
      : `WARNING: in ${behind.length} run(s) the fleet fell behind (fewer than 95% of the due evaluations) or Prometheus counted other than the probes sent: see below.`,
    '',
    'Runs, in the order they ran:',
    '',
    ...runs.map((run) => `- ${detail(run)}`),
    '',
  ].join('\n');
}

const BEGIN = '<!-- bench-fleet:begin (written by npm run bench:fleet -- --write) -->';
const END = '<!-- bench-fleet:end -->';

let exporter: FakeExporter | undefined;
let prometheus: RealPrometheus | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`bench:fleet: ${signal}, stopping\n`);
    process.exit(130); // real-prometheus.ts kills its Prometheus on 'exit'
  });
}
try {
  if (prometheusBinary() === undefined) throw new Error('prometheus not found: apt-get install prometheus');
  const s = settings;
  const loads = [Number(firstLine('cat', ['/proc/loadavg']).split(' ')[0])];
  const cpus = firstLine('nproc', []); // before pinning: nproc counts the CPUs this process may use
  const date = new Date().toISOString();
  // Pinned first: Prometheus, our child, inherits cpu 1 (Go then runs it with GOMAXPROCS=1) and moves to cpu 0.
  if (pin) taskset(HARNESS_CPU, process.pid);
  exporter = await startExporter();
  balanced(exporter, GROUP);
  progress('starting the real Prometheus with the project rules');
  // A probe holds one keep-alive connection per query it asks at once (4): past 128 probes the default limit of 512
  // would leave the rest waiting in the accept queue (see BENCHMARKS.md). Raised, so that the cost is what is measured.
  prometheus = await startPrometheus({
    scrapeTargets: [exporter.target],
    ruleFiles: [RULES],
    intervalSeconds: s.evaluationSeconds,
    extraArgs: [`--web.max-connections=${MAX_CONNECTIONS}`],
  });
  const url = prometheus.url;
  await waitFor('the recorded series', async () => ((await instantVector(url, `kafka:group_skew_ratio{consumergroup="${GROUP}"}`)).length > 0 ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  // What one probe asks, from a fleet of one that never starts.
  const sample = buildFleet({
    size: 1,
    prometheusUrl: url,
    group: GROUP,
    intervalMs: s.intervalMs,
    queryTimeoutMs: s.intervalMs / 2,
    podPrefix: POD_PREFIX,
    schedule: 'jitter',
  });
  const shape: FleetShape = sample.shape;
  await sample.close();
  const runs: Run[] = [];
  for (let repeat = 0; repeat < s.repeats; repeat += 1) {
    for (const [index, size] of s.sizes.entries()) {
      const order: Schedule[] = (repeat + index) % 2 === 0 ? ['lockstep', 'jitter'] : ['jitter', 'lockstep'];
      for (const schedule of order) {
        progress(`${size} probes, ${schedule} (pair ${repeat + 1} of ${s.repeats})`);
        const run = await oneRun(prometheus, size, schedule, s);
        runs.push(run);
        progress(
          `  received ${fixed(run.received / run.seconds, 1)}/s (implied ${fixed(run.expected / run.seconds, 1)}), CPU ${fixed(run.prometheusCpu, 3)}, ` +
            `round trip p99 ${ms(run.roundTripP99)} ms, max ${run.maxPerBurstWindow} in 100 ms, ${run.errors} errors, harness ${fixed(run.harnessCpu, 2)}`,
        );
      }
    }
  }
  loads.push(Number(firstLine('cat', ['/proc/loadavg']).split(' ')[0]));
  const section = render({ runs, s, shape, command: `node --import tsx scripts/bench/fleet.ts${args.length > 0 ? ` ${args.join(' ')}` : ''}`, date, cpus, loads });
  process.stdout.write(`${section}\n`);
  if (values.write === true) {
    writeSection(join(REPO, 'BENCHMARKS.md'), section, { begin: BEGIN, end: END });
    progress('written into BENCHMARKS.md');
  }
  progress('done');
} catch (error) {
  process.stderr.write(`bench:fleet failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await prometheus?.close();
  await exporter?.close();
}
