// The compiled probe as a child process, as production runs it (node dist/main.js).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seedOnly } from './config.js';
import { httpRequest } from './http.js';
import { freePort, waitFor } from './wait.js';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The Node flags production runs with: package.json's config.nodeFlags (npm start; the image's ENTRYPOINT). */
export const NODE_FLAGS: readonly string[] = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { config: { nodeFlags: string } }
).config.nodeFlags.split(' ');

export interface Probe {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** The parsed log lines so far. */
  logs(): { event: string; [key: string]: unknown }[];
  /** Waits (bounded) for a log line with this event. */
  waitForLog(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(): void;
}

export function startProbe(args: string[], env: Record<string, string>): Probe {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  // Only the variables given: the caller's environment must not leak configuration into the test.
  // With the heap flags production runs with (npm start, the image's ENTRYPOINT).
  // The seed's two checks alone unless the test asks for more (helpers/config.ts).
  const child = spawn(process.execPath, [...NODE_FLAGS, MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...seedOnly(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const logs = () =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    logs,
    async waitForLog(event, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = logs().find((line) => line.event === event);
        if (found) return found;
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`no ${event} log line within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`);
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The timing the integration tests run the probe with: fast enough for a test, slow enough for a busy machine. */
export const FAST_TIMING = { HOST: '127.0.0.1', CHECK_INTERVAL: '500ms', QUERY_TIMEOUT: '400ms', STALE_AFTER: '5s' } as const;

/** The compiled probe on a free loopback port with FAST_TIMING (overridable by `env`), killed after the test. */
export async function launchProbe(t: { after(fn: () => void): void }, env: Record<string, string>): Promise<{ probe: Probe; port: number }> {
  const port = await freePort();
  const probe = startProbe([], { ...FAST_TIMING, PORT: String(port), ...env });
  t.after(() => probe.kill());
  return { probe, port };
}

/** /ready's body, as the integration tests read it. */
export interface ReadyBody {
  healthy: boolean;
  message: string;
  verdict: string;
  checks?: Record<string, string>;
  groups?: Record<string, string>;
  dry_run?: boolean;
  would_be_status_code?: number;
}

/** Polls /ready (bounded) until it answers `status` with a message matching `message`. */
export function readyBecomes(port: number, status: number, message: RegExp, timeoutMs = 20_000): Promise<ReadyBody> {
  return waitFor(
    `/ready ${status} ${message}`,
    async (seen) => {
      const answer = await httpRequest(port, '/ready');
      seen(`${answer.status} ${answer.body}`);
      const body = JSON.parse(answer.body) as ReadyBody;
      return answer.status === status && message.test(body.message) ? body : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}
