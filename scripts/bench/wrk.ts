// wrk (Debian's package) as the load generator: one run, bounded in time (and in count when asked), its figures
// read from a Lua `done` hook that prints them as JSON rather than from wrk's human-formatted summary.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What one wrk run measured. */
export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Socket errors (connect, read, write, timeout) and non-2xx/3xx answers. */
  readonly errors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number; readonly status: number };
  readonly latencyUs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly p999: number; readonly max: number };
}

export interface WrkRun {
  readonly port: number;
  /** One path, or several taken in turn request by request. */
  readonly paths: readonly string[];
  readonly connections: number;
  /** Whole seconds (wrk's -d has no finer unit). */
  readonly seconds: number;
  /** Stop after this many answers (the run still ends at `seconds` at the latest). */
  readonly limit?: number;
  /** Run wrk under `taskset -c <cpu>`. */
  readonly cpu?: number;
}

const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;

// Arguments after "--": the answer limit (0 for none), then the paths. `request` is defined only for several paths
// and `response` only with a limit: each hook makes wrk do per-request work in Lua.
const SCRIPTS = {
  plain: DONE,
  limit: `
local limit = 0
local n = 0
init = function(args) limit = tonumber(args[1]) end
response = function(status, headers, body)
  n = n + 1
  if n == limit then
    io.write("BENCH_LIMIT_REACHED\\n")
    io.flush()
    wrk.thread:stop()
  end
end
${DONE}`,
  rotate: `
local paths = {}
local i = 0
init = function(args) for k = 2, #args do paths[#paths + 1] = args[k] end end
request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
${DONE}`,
} as const;

/** Writes the Lua scripts into `dir`; returns a runner. */
export function wrkRunner(dir: string): (run: WrkRun) => Promise<WrkResult> {
  const files = Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, text]) => {
      const file = join(dir, `wrk-${name}.lua`);
      writeFileSync(file, text);
      return [name, file];
    }),
  ) as Record<keyof typeof SCRIPTS, string>;

  return (run) => {
    if (run.limit !== undefined && run.paths.length > 1) throw new Error('a limit with several paths is not supported');
    const script = run.limit !== undefined ? files.limit : run.paths.length > 1 ? files.rotate : files.plain;
    const wrkArgs = ['wrk', '-t1', `-c${run.connections}`, `-d${run.seconds}s`, '--timeout', '2s', '--latency', '-s', script];
    wrkArgs.push(`http://127.0.0.1:${run.port}${run.paths[0]}`, '--', String(run.limit ?? 0), ...run.paths);
    const argv = run.cpu === undefined ? wrkArgs : ['taskset', '-c', String(run.cpu), ...wrkArgs];
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let interrupted = false;
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        // wrk sleeps for the whole -d even once its thread has stopped; SIGINT ends the sleep and it reports.
        if (!interrupted && out.includes('BENCH_LIMIT_REACHED')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), (run.seconds + 15) * 1000);
      child.once('error', (error) => {
        clearTimeout(killer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(killer);
        const line = /BENCH_RESULT (\{.*\})/.exec(out)?.[1];
        if (code !== 0 || line === undefined) {
          reject(new Error(`wrk failed (${signal ?? `exit ${code}`}): ${argv.join(' ')}\n${out}`));
          return;
        }
        const parsed = JSON.parse(line) as { requests: number; duration_us: number; errors: WrkResult['errors']; latency_us: WrkResult['latencyUs'] };
        const seconds = parsed.duration_us / 1e6;
        resolve({ requests: parsed.requests, seconds, requestsPerSecond: parsed.requests / seconds, errors: parsed.errors, latencyUs: parsed.latency_us });
      });
    });
  };
}

/** How many requests of a run failed in any way. */
export function failures(result: WrkResult): number {
  const e = result.errors;
  return e.connect + e.read + e.write + e.timeout + e.status;
}
