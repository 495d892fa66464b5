// What the figures share: the settings, the servers under test started as production starts them (probe) or
// with the probe's own bytes (baseline), and load runs with how busy the server was during them.
import { existsSync, writeFileSync } from 'node:fs';
import { MAIN, NODE_FLAGS } from '../../test/helpers/process.js';
import { freePort } from '../../test/helpers/wait.js';
import type { BaselineAnswer } from './baseline.js';
import { type Child, cpuMs, type RawAnswer, rawGet, spawnChild, waitForAnswer, waitingForCpuMs } from './procs.js';
import { fixed } from './report.js';
import { failures, type WrkResult, type WrkRun } from './wrk.js';

/** Durations and counts; --quick shrinks them. */
export interface Settings {
  readonly quick: boolean;
  readonly connections: number;
  /** One throughput run, and the alternations per path. */
  readonly seconds: number;
  readonly runs: number;
  readonly warmupSeconds: number;
  readonly holdMs: number;
  readonly stallSeconds: number;
  readonly stallRuns: number;
  readonly amplificationSeconds: number;
  readonly amplificationRuns: number;
  readonly amplificationIntervalMs: number;
  readonly memoryRequests: number;
  readonly memoryRuns: number;
  readonly memoryMaxSeconds: number;
  readonly startupRuns: number;
  readonly evaluationIntervalMs: number;
  readonly evaluationWarmupSeconds: number;
  readonly evaluationWindowSeconds: number;
  readonly evaluationWindows: number;
}

/** What every figure needs. */
export interface Bench {
  readonly settings: Settings;
  readonly prometheusUrl: string;
  readonly prometheusPort: number;
  readonly group: string;
  /** The CPU the servers under test run on, and the one wrk runs on; undefined: not pinned. */
  readonly serverCpu: number | undefined;
  readonly loadCpu: number | undefined;
  /** The compiled baseline server, and where the answers it serves are written. */
  readonly baselineJs: string;
  readonly answersFile: string;
  readonly wrk: (run: WrkRun) => Promise<WrkResult>;
  progress(message: string): void;
}

// As `npm start` runs it (package.json) and the image does.
export const ANSWERED_PATHS = ['/ready', '/health', '/status', '/metrics'] as const;

export async function startProbe(b: Bench, env: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  return spawnChild('probe', [process.execPath, ...NODE_FLAGS, MAIN], {
    port,
    cpu: b.serverCpu,
    env: { PROMETHEUS_URL: b.prometheusUrl, KAFKA_GROUP: b.group, PORT: String(port), HOST: '127.0.0.1', ...env },
  });
}

export async function startBaseline(b: Bench): Promise<Child> {
  const port = await freePort();
  return spawnChild('baseline', [process.execPath, ...NODE_FLAGS, b.baselineJs, b.answersFile, String(port)], { port, cpu: b.serverCpu });
}

/** Runs `body` with the children `start` gives, and stops them all afterwards. */
export async function using<T>(start: () => Promise<Child[]>, body: (children: Child[]) => Promise<T>): Promise<T> {
  const children: Child[] = [];
  try {
    children.push(...(await start()));
    return await body(children);
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

export const load = (b: Bench, child: Child, path: string | readonly string[], seconds: number, limit?: number): Promise<WrkResult> =>
  b.wrk({ port: child.port, paths: typeof path === 'string' ? [path] : path, connections: b.settings.connections, seconds, limit, cpu: b.loadCpu });

export const problems = (results: readonly WrkResult[]): string => {
  const failed = results.reduce((sum, result) => sum + failures(result), 0);
  return failed === 0 ? '' : ` (WARNING: ${failed} requests failed or answered non-2xx)`;
};
export const ms = (us: number): string => `${fixed(us / 1000)} ms`;

/** Header lines of a raw answer, without the ones Node adds to every answer by itself. */
function appHeaders(answer: RawAnswer): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of answer.head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (!['date', 'connection', 'keep-alive'].includes(name.toLowerCase())) headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The bytes of an answer with what legitimately differs masked: Date, and /status' uptime and so its length. */
function comparable(path: string, answer: RawAnswer): string {
  let text = `${answer.head.replace(/\r\ndate: [^\r]*/i, '\r\ndate: *')}\r\n\r\n${answer.body.toString('latin1')}`;
  if (path === '/status') text = text.replace(/content-length: \d+/i, 'content-length: *').replace(/"uptime_seconds":[0-9.e+-]+ */, '"uptime_seconds":*'); // the number and its padding
  return text;
}

/**
 * Reads each answer from the healthy probe once and writes them for the baseline; then checks that the baseline
 * puts the same bytes on the wire (a throughput ratio between different answers would mean nothing).
 */
async function copyAnswers(b: Bench, probe: Child): Promise<void> {
  const answers: Record<string, BaselineAnswer> = {};
  for (const path of ANSWERED_PATHS) {
    const answer = await rawGet(probe.port, path);
    answers[path] = { statusCode: answer.statusCode, headers: appHeaders(answer), bodyBase64: answer.body.toString('base64') };
  }
  writeFileSync(b.answersFile, JSON.stringify(answers));
}

async function checkSameBytes(probe: Child, baseline: Child): Promise<void> {
  for (const path of ANSWERED_PATHS) {
    const [mine, bare] = [comparable(path, await rawGet(probe.port, path)), comparable(path, await rawGet(baseline.port, path))];
    if (mine !== bare) throw new Error(`the baseline does not answer ${path} with the probe's bytes:\n--- probe\n${mine}\n--- baseline\n${bare}`);
  }
}

/** A healthy probe on the real Prometheus, at the production configuration. */
async function healthyProbe(b: Bench): Promise<Child> {
  const probe = await startProbe(b);
  await waitForAnswer(probe, '/ready', { status: 200, intervalMs: 20 });
  return probe;
}

/** A probe and a baseline serving that probe's bytes, both fresh, checked to answer alike. */
export async function probeAndBaseline(b: Bench): Promise<Child[]> {
  const probe = await healthyProbe(b);
  await copyAnswers(b, probe);
  const baseline = await startBaseline(b);
  await waitForAnswer(baseline, '/health', { status: 200 });
  await checkSameBytes(probe, baseline);
  return [probe, baseline];
}

/** Writes the baseline's answers unless a figure before did (--only). */
export async function ensureAnswers(b: Bench): Promise<void> {
  if (existsSync(b.answersFile)) return;
  await using(
    async () => [await healthyProbe(b)],
    async ([probe]) => copyAnswers(b, probe!),
  );
}

export type Measured = WrkResult & { readonly busy: number; readonly waiting: number };

/**
 * A load run, how busy the server was meanwhile (CPU time over wall time: near 1 means the server was the
 * bottleneck, as it should be), and how long its main thread waited for a CPU other processes held.
 */
export async function measured(b: Bench, child: Child, path: string, seconds: number): Promise<Measured> {
  const [cpu0, waiting0, wall0] = [cpuMs(child.pid), waitingForCpuMs(child.pid), performance.now()];
  const result = await load(b, child, path, seconds);
  const wall = performance.now() - wall0;
  return { ...result, busy: (cpuMs(child.pid) - cpu0) / wall, waiting: (waitingForCpuMs(child.pid) - waiting0) / wall };
}
export const percent = (value: number): string => `${Math.round(value * 100)}%`;
