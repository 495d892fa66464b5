// npm run bench: where the probe stands against the physical limit of its platform (issue 5). Each figure is
// measured in this one run side by side with a baseline (a bare node:http server answering the same bytes, the
// same probe with Prometheus healthy, an idle probe, the interval's arithmetic), as the median of alternating
// runs, and printed as a Markdown section; --write also puts it into BENCHMARKS.md. Load comes from wrk on
// loopback; Prometheus is the real one (Debian's package) with the project's rules. Every run is bounded in time
// (and in count where it counts requests); every process started here is stopped at the end, on error too.
//
//   node --import tsx scripts/bench.ts [--quick] [--write] [--no-build] [--no-pin] [--only 1,4]
//     --quick     tiny durations and counts (CI: proves the script works; the figures mean little)
//     --write     also write the section into BENCHMARKS.md
//     --no-build  use dist/ as it is instead of running `npm run build` first
//     --no-pin    do not pin the servers to cpu 0 and wrk and the harness to cpu 1
//     --only 1,4  only these figures: 1 throughput, 2 stalled Prometheus, 3 amplification, 4 memory, 5 start-up,
//                 6 evaluation cost (while working on one of them; BENCHMARKS.md wants the whole run)
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MAIN, NODE_FLAGS } from '../test/helpers/process.js';
import { type FakeExporter, instantVector, prometheusBinary, type RealPrometheus, startExporter, startPrometheus } from '../test/helpers/real-prometheus.js';
import { waitFor } from '../test/helpers/wait.js';
import { amplification, evaluationCost, memory, stalledPrometheus, startup, throughput } from './bench/figures.js';
import { killAllNow } from './bench/procs.js';
import { type Machine, type Row, renderSection, writeSection } from './bench/report.js';
import type { Bench, Settings } from './bench/servers.js';
import { wrkRunner } from './bench/wrk.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RULES = join(REPO, 'monitoring', 'prometheus-crm-events-rules.yml');
const GROUP = 'crm-events-sse';
const TOPIC = 'aetherlink.events';
const SERVER_CPU = 0;
const LOAD_CPU = 1;

const FULL: Settings = {
  quick: false,
  connections: 32,
  seconds: 5,
  runs: 5,
  warmupSeconds: 1,
  holdMs: 10_000,
  stallSeconds: 10, // one CHECK_INTERVAL: each run holds one whole evaluation
  stallRuns: 3,
  amplificationSeconds: 10,
  amplificationRuns: 3,
  amplificationIntervalMs: 500,
  memoryRequests: 1_000_000,
  memoryRuns: 3,
  memoryMaxSeconds: 300,
  startupRuns: 7,
  evaluationIntervalMs: 200,
  evaluationWarmupSeconds: 5,
  evaluationWindowSeconds: 20,
  evaluationWindows: 3,
};
const QUICK: Settings = {
  ...FULL,
  quick: true,
  seconds: 1,
  runs: 3,
  stallSeconds: 1,
  stallRuns: 1,
  amplificationSeconds: 2,
  amplificationRuns: 2,
  memoryRequests: 20_000,
  memoryRuns: 2,
  memoryMaxSeconds: 30,
  startupRuns: 3,
  evaluationWarmupSeconds: 1,
  evaluationWindowSeconds: 2,
  evaluationWindows: 2,
};

const args = process.argv.slice(2);
const { values } = parseArgs({
  args,
  options: { quick: { type: 'boolean' }, write: { type: 'boolean' }, 'no-build': { type: 'boolean' }, 'no-pin': { type: 'boolean' }, only: { type: 'string' } },
  strict: true,
});
const only = new Set((values.only ?? '1,2,3,4,5,6').split(',').map(Number));
if ([...only].some((figure) => !(Number.isInteger(figure) && figure >= 1 && figure <= 6))) {
  process.stderr.write(`bench: --only takes figure numbers 1 to 6, comma-separated; got ${values.only}\n`);
  process.exit(2);
}
const settings = values.quick === true ? QUICK : FULL;
const started = performance.now();
const progress = (message: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
};

function findBinary(name: string): string | undefined {
  for (const directory of ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)]) {
    try {
      accessSync(join(directory, name), constants.X_OK);
      return join(directory, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a command with its output on our stderr (stdout is the report); throws unless it exits 0. */
function run(command: string, commandArgs: readonly string[], quiet = false): void {
  const result = spawnSync(command, commandArgs, { cwd: REPO, stdio: ['ignore', quiet ? 'ignore' : 2, 2] });
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
}

const firstLine = (command: string, commandArgs: readonly string[]): string => {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n')[0]!.trim();
};

function machine(): Machine {
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' }).stdout ?? '';
  return {
    date: new Date().toISOString(),
    cpus: firstLine('nproc', []),
    cpuModel: /^Model name:\s*(.+)$/m.exec(lscpu)?.[1]?.trim() ?? 'unknown model',
    kernel: release(),
    node: process.version,
    wrk: firstLine('wrk', ['-v']).replace(/\s*\[.*$/, ''),
    prometheus: firstLine(prometheusBinary() ?? 'prometheus', ['--version']).replace(/^prometheus, version (\S+).*/, 'Prometheus $1'),
    loadAverage: `${loadavg()[0]!.toFixed(2)} at the start`,
  };
}

/** The baseline compiled by the project's tsc into `dir`: plain node runs it, with no loader in its memory or start-up. */
function compileBaseline(dir: string): string {
  const outDir = join(dir, 'baseline');
  mkdirSync(outDir);
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  const tsconfig = join(dir, 'tsconfig.baseline.json');
  const compilerOptions = { rootDir: join(REPO, 'scripts', 'bench'), outDir, sourceMap: false, noEmit: false, typeRoots: [join(REPO, 'node_modules', '@types')] };
  writeFileSync(tsconfig, JSON.stringify({ extends: join(REPO, 'tsconfig.json'), compilerOptions, files: [join(REPO, 'scripts', 'bench', 'baseline.ts')], include: [] }));
  run(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', tsconfig]);
  return join(outDir, 'baseline.js');
}

const missing = ['wrk', 'prometheus'].filter((name) => findBinary(name) === undefined);
if (missing.length > 0) {
  process.stderr.write(`bench: ${missing.join(' and ')} not found: apt-get install ${missing.join(' ')}\n`);
  process.exit(2);
}
const pin = values['no-pin'] !== true && findBinary('taskset') !== undefined && Number(firstLine('nproc', [])) >= 2;

const tmp = mkdtempSync(join(tmpdir(), 'bench-'));
// However the run ends: no server, wrk or Prometheus outlives it (real-prometheus.ts hooks 'exit' for its own).
process.on('exit', () => {
  killAllNow();
  rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping everything\n`);
    process.exit(130);
  });
}

let exporter: FakeExporter | undefined;
let prometheus: RealPrometheus | undefined;
try {
  if (values['no-build'] !== true) {
    progress('npm run build');
    run('npm', ['run', 'build']);
  }
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (or drop --no-build)`);
  const baselineJs = compileBaseline(tmp);
  const host = machine(); // before pinning: nproc counts the CPUs this process may use
  // The harness (this process, and so Prometheus, the exporter and the proxies) shares cpu 1 with wrk; the server
  // under test, probe or baseline alike, has cpu 0 to itself.
  if (pin) run('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], true);

  exporter = await startExporter();
  for (let partition = 0; partition < 8; partition += 1) exporter.setLag(GROUP, TOPIC, partition, 10);
  exporter.setMembers(GROUP, 3);
  progress('starting the real Prometheus with the project rules');
  prometheus = await startPrometheus({ scrapeTargets: [exporter.target], ruleFiles: [RULES] });
  // A fresh Prometheus records the series only after a few scrapes and rule evaluations: start no probe before.
  const prometheusUrl = prometheus.url;
  await waitFor(
    'the recorded series',
    async () => {
      const series = await Promise.all(
        ['kafka:group_skew_ratio', 'kafka:group_consumer_count'].map((name) => instantVector(prometheusUrl, `${name}{consumergroup="${GROUP}"}`)),
      );
      return series.every((samples) => samples.length > 0) ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );

  const bench: Bench = {
    settings,
    prometheusUrl,
    prometheusPort: prometheus.port,
    group: GROUP,
    serverCpu: pin ? SERVER_CPU : undefined,
    loadCpu: pin ? LOAD_CPU : undefined,
    baselineJs,
    answersFile: join(tmp, 'answers.json'),
    wrk: wrkRunner(tmp),
    progress,
  };
  const figures: readonly (() => Promise<Row | Row[]>)[] = [
    () => throughput(bench),
    () => stalledPrometheus(bench),
    () => amplification(bench),
    () => memory(bench),
    () => startup(bench),
    () => evaluationCost(bench),
  ];
  const rows: Row[] = [];
  for (const [index, figure] of figures.entries()) if (only.has(index + 1)) rows.push(...[await figure()].flat());

  const s = settings;
  const onCpu = (cpu: number): string => (pin ? `taskset -c ${cpu} ` : '');
  const section = renderSection({
    machine: { ...host, loadAverage: `${host.loadAverage}, ${loadavg()[0]!.toFixed(2)} at the end` },
    command: `node --import tsx scripts/bench.ts${args.length > 0 ? ` ${args.join(' ')}` : ''}`,
    quick: s.quick,
    method: [
      `Servers under test: \`${onCpu(SERVER_CPU)}node ${NODE_FLAGS.join(' ')} dist/main.js\` (as \`npm start\`) and the baseline, ` +
        `\`${onCpu(SERVER_CPU)}node ${NODE_FLAGS.join(' ')} baseline.js\` (scripts/bench/baseline.ts compiled): node:http with default options, ` +
        "answering each path with the bytes the probe gave for it (checked equal on the wire but for Date and /status' uptime).",
      `Load: \`${onCpu(LOAD_CPU)}wrk -t1 -c${s.connections} -d${s.seconds}s --timeout 2s --latency\` on 127.0.0.1 (the same for both sides); ` +
        (pin ? `the harness (this script, Prometheus, the fake exporter, the proxy) also on cpu ${LOAD_CPU}.` : 'not pinned to CPUs (--no-pin, no taskset, or one CPU).'),
      `Prometheus ${prometheusUrl} with monitoring/prometheus-crm-events-rules.yml, scraping a fake kafka_exporter with a balanced, healthy group; every probe starts after the recorded series exist.`,
      `Each figure: the median of alternating runs (probe, baseline, probe, baseline, ...; ${s.runs} pairs for throughput, ${s.stallRuns} for the stall, ${s.memoryRuns} for memory, ${s.startupRuns} for start-up) ` +
        'after one warm-up run of each where load is involved; a ratio is the median of the per-pair ratios (each probe run over the baseline run right after it).',
    ],
    rows,
  });
  process.stdout.write(`${section}\n`);
  if (values.write === true) {
    writeSection(join(REPO, 'BENCHMARKS.md'), section);
    progress('written into BENCHMARKS.md');
  }
  progress('done');
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  killAllNow();
  await prometheus?.close();
  await exporter?.close();
}
