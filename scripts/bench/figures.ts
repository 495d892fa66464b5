// The six figures of issue 5, each measured side by side against its baseline in alternating runs (probe,
// baseline, probe, baseline, ...) and reported as table rows. Every process a figure starts is stopped before
// it returns, whether it succeeded or not.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Child, CLK_TCK, cpuMs, rawGet, rssKiB, waitForAnswer } from './procs.js';
import { type Proxy as HoldingProxy, startProxy } from './proxy.js';
import { fixed, list, median, pairedRatio, type Row, thousands } from './report.js';
import {
  ANSWERED_PATHS,
  type Bench,
  ensureAnswers,
  load,
  type Measured,
  measured,
  ms,
  percent,
  probeAndBaseline,
  problems,
  startBaseline,
  startProbe,
  using,
} from './servers.js';
import type { WrkResult } from './wrk.js';

/**
 * 1. Requests per second from the cache, /ready, /status and /metrics, against the bare server. A fresh pair of
 * processes per path: what one endpoint's load does to the heap must not be charged to the next one.
 */
export async function throughput(b: Bench): Promise<Row[]> {
  const s = b.settings;
  const rows: Row[] = [];
  for (const [path, goal] of [
    ['/ready', 0.9],
    ['/status', 0.75],
    ['/metrics', 0.75],
  ] as const) {
    rows.push(
      await using(
        () => probeAndBaseline(b),
        async ([probe, baseline]) => {
          b.progress(`throughput ${path}: ${s.runs} alternating runs of ${s.seconds} s each`);
          await load(b, probe!, path, s.warmupSeconds);
          await load(b, baseline!, path, s.warmupSeconds);
          const mine: Measured[] = [];
          const bare: Measured[] = [];
          for (let run = 0; run < s.runs; run += 1) {
            mine.push(await measured(b, probe!, path, s.seconds));
            bare.push(await measured(b, baseline!, path, s.seconds));
          }
          const [p, q] = [mine.map((r) => r.requestsPerSecond), bare.map((r) => r.requestsPerSecond)];
          const ratio = pairedRatio(p, q);
          return {
            figure: `${path} requests/s, ${s.connections} connections`,
            probe: thousands(median(p)),
            baseline: thousands(median(q)),
            ratio: fixed(ratio),
            goal: `>= ${fixed(goal)}`,
            met: ratio >= goal,
            details: [
              `probe ${list(p, thousands)}; baseline ${list(q, thousands)}${problems([...mine, ...bare])}`,
              `server on a CPU (CPU time / wall time): probe ${list(
                mine.map((r) => r.busy),
                percent,
              )}, baseline ${list(
                bare.map((r) => r.busy),
                percent,
              )}; ` +
                `waiting for a CPU held by another process: probe ${list(
                  mine.map((r) => r.waiting),
                  percent,
                )}, baseline ${list(
                  bare.map((r) => r.waiting),
                  percent,
                )}`,
              ...(median([...mine, ...bare].map((r) => r.waiting)) > 0.1
                ? ['WARNING: the servers waited for a CPU other processes held for more than 10% of the time: these runs measure a busy machine']
                : []),
              `p99 probe ${list(
                mine.map((r) => r.latencyUs.p99),
                (us) => fixed(us / 1000),
              )} ms, baseline ${list(
                bare.map((r) => r.latencyUs.p99),
                (us) => fixed(us / 1000),
              )} ms`,
            ],
          };
        },
      ),
    );
  }
  return rows;
}

/** Resolves once the probe's next evaluation has sent its queries through the proxy (bounded). */
async function nextEvaluation(proxy: HoldingProxy, timeoutMs: number): Promise<void> {
  const before = proxy.queries;
  const deadline = performance.now() + timeoutMs;
  while (proxy.queries === before) {
    if (performance.now() > deadline)
      throw new Error(`no query reached the proxy within ${timeoutMs} ms (queries ${proxy.queries}, uncounted ${proxy.uncounted}, held ${proxy.held})`);
    await sleep(5);
  }
}

const uncounted = (proxy: HoldingProxy): string =>
  proxy.uncounted === 0 ? '' : ` (WARNING: the proxy could not follow ${proxy.uncounted} connections: queries undercounted)`;

function metricSum(text: string, name: string, labelMatch = ''): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labelMatch))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** 2. /ready p99 with Prometheus held 10 s behind a proxy, against the same probe with the proxy passing through. */
export async function stalledPrometheus(b: Bench): Promise<Row> {
  const s = b.settings;
  const proxy = await startProxy({ targetPort: b.prometheusPort, holdMs: s.holdMs });
  try {
    return await using(
      async () => [await startProbe(b, { PROMETHEUS_URL: proxy.url })],
      async ([probe]) => {
        await waitForAnswer(probe!, '/ready', { status: 200, intervalMs: 20 });
        b.progress(`stalled Prometheus: ${s.stallRuns} alternating runs of ${s.stallSeconds} s, each from the start of an evaluation`);
        await load(b, probe!, '/ready', s.warmupSeconds);
        const stalled: WrkResult[] = [];
        const passing: WrkResult[] = [];
        // Both kinds of run begin as an evaluation begins (CHECK_INTERVAL is the default 10 s), so a stalled run
        // holds the 5 s of waiting, both timeouts and the render that follows them.
        // The bound: the second evaluation after start comes on the probe's schedule grid, between one and two
        // intervals after the first (README, "The schedule"), and every later one an interval apart; 5 s spare.
        const bound = 2 * 10_000 + 5_000;
        for (let run = 0; run < s.stallRuns; run += 1) {
          proxy.mode = 'hold';
          await nextEvaluation(proxy, bound);
          stalled.push(await load(b, probe!, '/ready', s.stallSeconds));
          proxy.mode = 'pass';
          await nextEvaluation(proxy, bound);
          passing.push(await load(b, probe!, '/ready', s.stallSeconds));
        }
        const metrics = (await rawGet(probe!.port, '/metrics')).body.toString();
        const timeouts = metricSum(metrics, 'crm_events_health_check_errors_total', 'code="PROM_TIMEOUT"');
        const [p, q] = [stalled.map((r) => r.latencyUs.p99), passing.map((r) => r.latencyUs.p99)];
        const ratio = pairedRatio(p, q);
        return {
          figure: `/ready p99, ${s.connections} connections, Prometheus held ${s.holdMs / 1000} s vs passed through`,
          probe: ms(median(p)),
          baseline: ms(median(q)),
          ratio: fixed(ratio),
          goal: '<= 1.50 and < 10 ms',
          met: ratio <= 1.5 && median(p) < 10_000,
          details: [
            `p99 held ${list(p, (us) => fixed(us / 1000))} ms; passed through ${list(q, (us) => fixed(us / 1000))} ms${problems([...stalled, ...passing])}`,
            `p50 held ${list(
              stalled.map((r) => r.latencyUs.p50),
              (us) => fixed(us / 1000),
            )} ms; requests/s held ${list(
              stalled.map((r) => r.requestsPerSecond),
              thousands,
            )}, passed through ${list(
              passing.map((r) => r.requestsPerSecond),
              thousands,
            )}`,
            `the probe counted ${timeouts} query timeouts (PROM_TIMEOUT); the proxy dropped ${proxy.dropped} held answer chunks when the probe gave up${uncounted(proxy)}`,
          ],
        };
      },
    );
  } finally {
    await proxy.close();
  }
}

/** 3. Queries Prometheus receives during a run at full load on every endpoint, against an idle run and the interval. */
export async function amplification(b: Bench): Promise<Row> {
  const s = b.settings;
  const interval = s.amplificationIntervalMs;
  const proxy = await startProxy({ targetPort: b.prometheusPort, holdMs: 0 });
  try {
    return await using(
      async () => [await startProbe(b, { PROMETHEUS_URL: proxy.url, CHECK_INTERVAL: `${interval}ms`, QUERY_TIMEOUT: `${Math.floor(interval * 0.8)}ms` })],
      async ([probe]) => {
        await waitForAnswer(probe!, '/ready', { status: 200, intervalMs: 20 });
        b.progress(`amplification: ${s.amplificationRuns} alternating runs of ${s.amplificationSeconds} s, loaded and idle`);
        // What one evaluation asks depends on the configuration (the built-in checks, the lag estimates, the fleet
        // query once a minute), so it is measured: queries over evaluations (/status evaluation.count) in the idle runs.
        const evaluations = async (): Promise<number> =>
          (JSON.parse((await rawGet(probe!.port, '/status')).body.toString()) as { evaluation: { count: number } }).evaluation.count;
        type Run = { queries: number; evaluations: number; seconds: number };
        const loaded: (Run & { rps: number })[] = [];
        const idle: Run[] = [];
        const results: WrkResult[] = [];
        for (let run = 0; run < s.amplificationRuns; run += 1) {
          let [q0, e0, t0] = [proxy.queries, await evaluations(), performance.now()];
          const result = await load(b, probe!, ANSWERED_PATHS, s.amplificationSeconds);
          results.push(result);
          loaded.push({ queries: proxy.queries - q0, evaluations: (await evaluations()) - e0, seconds: (performance.now() - t0) / 1000, rps: result.requestsPerSecond });
          [q0, e0, t0] = [proxy.queries, await evaluations(), performance.now()];
          await sleep(s.amplificationSeconds * 1000);
          idle.push({ queries: proxy.queries - q0, evaluations: (await evaluations()) - e0, seconds: (performance.now() - t0) / 1000 });
        }
        const sum = (runs: readonly Run[], key: 'queries' | 'evaluations'): number => runs.reduce((total, r) => total + r[key], 0);
        const perEvaluation = sum(idle, 'queries') / Math.max(1, sum(idle, 'evaluations'));
        // The schedule's own rate: one evaluation per interval, each asking perEvaluation queries.
        const implied = (run: Run): number => ((run.seconds * 1000) / interval) * perEvaluation;
        // Amplification is asking more under load; one evaluation more or less falls on the edges of a run.
        const worst = Math.max(...loaded.map((run) => run.queries - implied(run)));
        const [p, e] = [median(loaded.map((run) => run.queries)), median(loaded.map(implied))];
        return {
          figure: `Prometheus queries in ${s.amplificationSeconds} s at full load (CHECK_INTERVAL ${interval}ms, the default checks)`,
          probe: fixed(p, 0),
          baseline: `${fixed(e, 1)} implied (idle run: ${fixed(median(idle.map((run) => run.queries)), 0)})`,
          ratio: fixed(p / e),
          goal: 'at most implied + one evaluation',
          met: worst <= perEvaluation,
          details: [
            `${fixed(perEvaluation, 2)} queries per evaluation (idle runs: ${sum(idle, 'queries')} queries over ${sum(idle, 'evaluations')} evaluations)`,
            `loaded ${list(
              loaded.map((run) => run.queries),
              String,
            )} queries over ${list(
              loaded.map((run) => run.evaluations),
              String,
            )} evaluations (implied ${list(loaded.map(implied), (v) => fixed(v, 1))}) at ${list(
              loaded.map((run) => run.rps),
              thousands,
            )} requests/s over /ready, /health, /status, /metrics${problems(results)}`,
            `idle ${list(
              idle.map((run) => run.queries),
              String,
            )} queries over ${list(
              idle.map((run) => run.evaluations),
              String,
            )} evaluations (implied ${list(idle.map(implied), (v) => fixed(v, 1))}); most above implied in a loaded run: ${fixed(worst, 1)}${uncounted(proxy)}`,
          ],
        };
      },
    );
  } finally {
    await proxy.close();
  }
}

/** 4. Resident memory after N /ready requests on a fresh process, and the CPU those requests took. */
export async function memory(b: Bench): Promise<Row[]> {
  const s = b.settings;
  await ensureAnswers(b);
  b.progress(`memory: ${s.memoryRuns} alternating runs of ${thousands(s.memoryRequests)} /ready requests on a fresh process`);
  type Run = { rssBeforeKiB: number; rssKiB: number; cpuPerThousandMs: number; requests: number; result: WrkResult };
  const one = (start: () => Promise<Child>, path: string, status: number | undefined): Promise<Run> =>
    using(
      async () => [await start()],
      async ([child]) => {
        await waitForAnswer(child!, path, { status, intervalMs: 20 });
        const [rssBeforeKiB, cpu0] = [rssKiB(child!.pid), cpuMs(child!.pid)];
        const result = await load(b, child!, '/ready', s.memoryMaxSeconds, s.memoryRequests);
        const [rss, cpu1] = [rssKiB(child!.pid), cpuMs(child!.pid)];
        return { rssBeforeKiB, rssKiB: rss, cpuPerThousandMs: ((cpu1 - cpu0) / result.requests) * 1000, requests: result.requests, result };
      },
    );
  const mine: Run[] = [];
  const bare: Run[] = [];
  for (let run = 0; run < s.memoryRuns; run += 1) {
    mine.push(await one(() => startProbe(b), '/ready', 200));
    bare.push(await one(() => startBaseline(b), '/health', 200));
  }
  const mib = (kib: number): string => `${fixed(kib / 1024, 1)} MiB`;
  const short = [...mine, ...bare].filter((run) => run.requests < s.memoryRequests).length;
  const warning = short === 0 ? '' : ` (WARNING: ${short} runs ended at ${s.memoryMaxSeconds} s before ${thousands(s.memoryRequests)} answers)`;
  const rssRatio = pairedRatio(
    mine.map((r) => r.rssKiB),
    bare.map((r) => r.rssKiB),
  );
  const cpuRatio = pairedRatio(
    mine.map((r) => r.cpuPerThousandMs),
    bare.map((r) => r.cpuPerThousandMs),
  );
  return [
    {
      figure: `resident memory (VmRSS) after ${thousands(s.memoryRequests)} /ready requests`,
      probe: mib(median(mine.map((r) => r.rssKiB))),
      baseline: mib(median(bare.map((r) => r.rssKiB))),
      ratio: fixed(rssRatio),
      goal: '<= 1.30',
      met: rssRatio <= 1.3,
      details: [
        `probe ${list(
          mine.map((r) => r.rssKiB),
          (kib) => fixed(kib / 1024, 1),
        )} MiB (before the load ${list(
          mine.map((r) => r.rssBeforeKiB),
          (kib) => fixed(kib / 1024, 1),
        )}); ` +
          `baseline ${list(
            bare.map((r) => r.rssKiB),
            (kib) => fixed(kib / 1024, 1),
          )} MiB (before ${list(
            bare.map((r) => r.rssBeforeKiB),
            (kib) => fixed(kib / 1024, 1),
          )})${warning}${problems([...mine, ...bare].map((r) => r.result))}`,
      ],
    },
    {
      figure: 'CPU time per 1,000 /ready requests (utime+stime, same runs)',
      probe: `${fixed(median(mine.map((r) => r.cpuPerThousandMs)))} ms`,
      baseline: `${fixed(median(bare.map((r) => r.cpuPerThousandMs)))} ms`,
      ratio: fixed(cpuRatio),
      goal: 'reported',
      met: undefined,
      details: [
        `probe ${list(
          mine.map((r) => r.cpuPerThousandMs),
          (v) => fixed(v),
        )} ms; baseline ${list(
          bare.map((r) => r.cpuPerThousandMs),
          (v) => fixed(v),
        )} ms`,
      ],
    },
  ];
}

/** 5. Spawn to the first 200 on /health (and /ready) against the bare server's spawn to its first answer. */
export async function startup(b: Bench): Promise<Row[]> {
  const s = b.settings;
  await ensureAnswers(b);
  b.progress(`start-up: ${s.startupRuns} alternating spawns`);
  const health: number[] = [];
  const ready: number[] = [];
  const bare: number[] = [];
  for (let run = 0; run < s.startupRuns; run += 1) {
    await using(
      async () => [await startProbe(b)],
      async ([probe]) => {
        health.push((await waitForAnswer(probe!, '/health', { status: 200, intervalMs: 1 })) - probe!.spawnedAt);
        ready.push((await waitForAnswer(probe!, '/ready', { status: 200, intervalMs: 1 })) - probe!.spawnedAt);
      },
    );
    await using(
      async () => [await startBaseline(b)],
      async ([baseline]) => {
        bare.push((await waitForAnswer(baseline!, '/health', { intervalMs: 1 })) - baseline!.spawnedAt);
      },
    );
  }
  const healthRatio = pairedRatio(health, bare);
  const msList = (values: readonly number[]): string => `${list(values, (v) => fixed(v, 0))} ms`;
  return [
    {
      figure: 'start-up: spawn to the first 200 on /health',
      probe: `${fixed(median(health), 0)} ms`,
      baseline: `${fixed(median(bare), 0)} ms`,
      ratio: fixed(healthRatio),
      goal: '<= 1.50',
      met: healthRatio <= 1.5,
      details: [`probe ${msList(health)}; baseline ${msList(bare)} (polled every ~1 ms on fresh connections)`],
    },
    {
      figure: 'start-up: spawn to the first 200 on /ready, real Prometheus',
      probe: `${fixed(median(ready), 0)} ms`,
      baseline: `${fixed(median(bare), 0)} ms`,
      ratio: fixed(pairedRatio(ready, bare)),
      goal: 'reported',
      met: undefined,
      details: [`probe ${msList(ready)} (the first evaluation's queries included)`],
    },
  ];
}

/** 6. CPU per check cycle: a probe evaluating every 200 ms, minus an idle probe over the same windows. */
export async function evaluationCost(b: Bench): Promise<Row> {
  const s = b.settings;
  const interval = s.evaluationIntervalMs;
  return using(
    async () => [
      await startProbe(b, { CHECK_INTERVAL: `${interval}ms`, QUERY_TIMEOUT: `${Math.floor(interval * 0.75)}ms` }),
      await startProbe(b, { CHECK_INTERVAL: '10m', STALE_AFTER: '10m' }),
    ],
    async ([busy, idle]) => {
      await waitForAnswer(busy!, '/ready', { status: 200, intervalMs: 20 });
      await waitForAnswer(idle!, '/ready', { status: 200, intervalMs: 20 });
      b.progress(`evaluation cost: ${s.evaluationWindows} windows of ${s.evaluationWindowSeconds} s, busy and idle probe side by side`);
      await sleep(s.evaluationWarmupSeconds * 1000);
      const read = async (child: Child): Promise<{ cpu: number; evaluations: number; errors: number }> => {
        const metrics = (await rawGet(child.port, '/metrics')).body.toString();
        return {
          cpu: cpuMs(child.pid),
          evaluations: metricSum(metrics, 'crm_events_health_evaluations_total'),
          errors: metricSum(metrics, 'crm_events_health_check_errors_total'),
        };
      };
      const windows: { net: number; gross: number; idle: number; cycles: number; errors: number }[] = [];
      for (let window = 0; window < s.evaluationWindows; window += 1) {
        const [busy0, idle0] = [await read(busy!), await read(idle!)];
        await sleep(s.evaluationWindowSeconds * 1000);
        const [busy1, idle1] = [await read(busy!), await read(idle!)];
        const cycles = busy1.evaluations - busy0.evaluations;
        const [busyCpu, idleCpu] = [busy1.cpu - busy0.cpu, idle1.cpu - idle0.cpu];
        windows.push({ net: (busyCpu - idleCpu) / cycles, gross: busyCpu / cycles, idle: idleCpu / cycles, cycles, errors: busy1.errors - busy0.errors });
      }
      const failed = windows.reduce((sum, w) => sum + w.errors, 0);
      return {
        figure: `CPU per check cycle (the default checks' queries, judge, render; CHECK_INTERVAL ${interval}ms)`,
        probe: `${fixed(median(windows.map((w) => w.net)))} ms net (${fixed(median(windows.map((w) => w.gross)))} gross)`,
        baseline: `${fixed(median(windows.map((w) => w.idle)))} ms (idle probe, same time)`,
        ratio: '-',
        goal: 'reported',
        met: undefined,
        details: [
          `net ${list(
            windows.map((w) => w.net),
            (v) => fixed(v),
          )} ms over ${list(
            windows.map((w) => w.cycles),
            String,
          )} cycles; ` +
            `resolution ${fixed(1000 / CLK_TCK / (windows[0]?.cycles ?? 1), 3)} ms per cycle (${CLK_TCK} ticks/s)${failed === 0 ? '' : ` (WARNING: ${failed} queries failed)`}`,
        ],
      };
    },
  );
}
