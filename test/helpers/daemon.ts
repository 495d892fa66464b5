// A real server the tests start and stop (Prometheus, VictoriaMetrics, vmalert): a child process on loopback that
// can be stopped and started again with the same arguments, waited for (bounded) until it says it is ready, and
// never left running when the test process ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './wait.js';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_BYTES = 64 * 1024;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface DaemonSpec {
  /** For messages: "<name> exited before it was ready". */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  /** Asked every 50 ms after a start, with the stderr so far, until true (or READY_TIMEOUT_MS). */
  ready(stderrTail: string): Promise<boolean>;
}

/** A child process that can be stopped and started again with the same arguments. */
export interface Daemon {
  readonly name: string;
  /** Starts the process and waits until it is ready; no-op while running. Stops it again if it never gets ready. */
  start(): Promise<void>;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL without waiting: the last resort of the exit hooks. */
  killNow(): void;
  /** The last 64 KiB of the process' stderr (these servers log there), for failure messages. */
  logs(): string;
  running(): boolean;
}

export function daemon(spec: DaemonSpec): Daemon {
  let child: ChildProcess | undefined;
  let exit: Promise<void> = Promise.resolve();
  let exitStatus: string | undefined; // set once the current child has exited
  let stderrTail = '';

  const launch = (): void => {
    stderrTail = '';
    exitStatus = undefined;
    const spawned = spawn(spec.binary, spec.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = spawned;
    spawned.stderr?.setEncoding('utf8');
    spawned.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    exit = new Promise<void>((done) => {
      spawned.once('exit', (code, signal) => {
        exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
        if (child === spawned) child = undefined;
        done();
      });
      spawned.once('error', (error) => {
        exitStatus = `spawn error: ${error.message}`;
        if (child === spawned) child = undefined;
        done();
      });
    });
    // A forgotten instance must not keep the test process alive; the exit hooks (killOnExit) kill it.
    spawned.unref();
    (spawned.stderr as { unref?: () => void } | null)?.unref?.();
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined) return;
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await exit;
    } finally {
      clearTimeout(timer);
    }
  };

  const waitReady = async (): Promise<void> => {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (exitStatus !== undefined) throw new Error(`${spec.name} exited before it was ready (${exitStatus}); stderr:\n${stderrTail}`);
      if (await spec.ready(stderrTail)) return;
      await sleep(50);
    }
    await stop();
    throw new Error(`${spec.name} not ready within ${READY_TIMEOUT_MS} ms; stderr:\n${stderrTail}`);
  };

  return {
    name: spec.name,
    async start() {
      if (child !== undefined) return;
      launch();
      await waitReady();
    },
    stop,
    killNow: () => child?.kill('SIGKILL'),
    logs: () => stderrTail,
    running: () => child !== undefined,
  };
}

/** A readiness test for DaemonSpec.ready: GET `url` (1 s at most) answers as `accept` wants; false while not listening. */
export function answers(url: string, accept: (status: number, body: string) => boolean): () => Promise<boolean> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return accept(response.status, await response.text());
    } catch {
      return false;
    }
  };
}

/**
 * The last resort when a test forgets close() or the process is interrupted: `killNow` runs at exit and on
 * SIGINT, SIGTERM and SIGHUP. Returns the function that removes these hooks (close() calls it).
 */
export function killOnExit(killNow: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    killNow();
    removeHooks();
    // Ours was the only handler: re-raise so the default action (terminate) still happens.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const removeHooks = (): void => {
    process.off('exit', killNow);
    for (const signal of FORWARDED_SIGNALS) process.off(signal, onSignal);
  };
  process.on('exit', killNow);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, onSignal);
  return removeHooks;
}

/**
 * Makes a daemon for a free loopback port and starts it. freePort() can race with another process taking the port
 * before the daemon binds it: then it tries a new port, three times in all. Every daemon made is handed to
 * `made` first, so that the exit hooks kill it whatever happens next.
 */
export async function startOnFreePort(make: (port: number) => Daemon, made: (daemon: Daemon) => void): Promise<{ daemon: Daemon; port: number }> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const candidate = make(port);
    made(candidate);
    try {
      await candidate.start();
      return { daemon: candidate, port };
    } catch (error) {
      if (attempt < 3 && candidate.logs().includes('address already in use')) continue;
      throw error;
    }
  }
}
