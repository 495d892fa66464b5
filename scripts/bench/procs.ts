// The servers under test as child processes, pinned to a CPU when asked; what /proc says about them; and raw
// HTTP/1.1 over loopback, so that what is compared is the bytes on the wire. Every child is registered and
// killed when the benchmark ends, however it ends.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 16 * 1024;

/** A server under test. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly process: ChildProcess;
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number;
  /** The last 16 KiB of stdout and stderr, for error messages. */
  output(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every child still running (the 'exit' and signal hooks of bench.ts call it). */
export function killAllNow(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Spawns `argv` with only PATH and `env` in its environment (the caller's must not configure the probe), under
 * `taskset -c <cpu>` when cpu is given: taskset execs the command, so the pid is the server's own.
 */
export function spawnChild(name: string, argv: readonly string[], options: { port: number; env?: Record<string, string>; cpu?: number }): Child {
  const command = options.cpu === undefined ? [...argv] : ['taskset', '-c', String(options.cpu), ...argv];
  const spawnedAt = performance.now();
  const child = spawn(command[0]!, command.slice(1), { env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let tail = '';
  // Always drained: a probe blocked on a full stdout pipe would be measuring the pipe.
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      tail += `\nspawn error: ${error.message}`;
      resolve();
    });
  }).finally(() => running.delete(child));
  if (child.pid === undefined) throw new Error(`could not spawn ${name}: ${command.join(' ')}`);
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid,
    port: options.port,
    process: child,
    spawnedAt,
    output: () => tail,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Resident memory in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** Clock ticks per second of utime and stime (`getconf CLK_TCK`; 100 on Linux). */
export const CLK_TCK = ((): number => {
  const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(answer.stdout?.trim());
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
})();

/** CPU time (utime + stime, all threads) in ms, from /proc/<pid>/stat; resolution 1000 / CLK_TCK ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)", which may itself hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * Milliseconds the main thread has spent runnable but waiting for a CPU (run_delay of /proc/<pid>/schedstat): time
 * other processes took from the server. 0 where the kernel does not keep the statistic.
 */
export function waitingForCpuMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1] ?? 0) / 1e6;
  } catch {
    return 0;
  }
}

/** A raw HTTP/1.1 answer. */
export interface RawAnswer {
  readonly statusCode: number;
  /** The status line and header lines, as sent. */
  readonly head: string;
  readonly body: Buffer;
}

/**
 * One GET on a fresh keep-alive connection (as a probe client sends it), read to the end of its Content-Length
 * body, then the connection is dropped. Rejects on refusal or after timeoutMs.
 */
export function rawGet(port: number, path: string, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`GET ${path} on port ${port}: no answer within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      socket.destroy();
      resolve({ statusCode: Number(head.slice(9, 12)), head, body: data.subarray(end + 4, end + 4 + length) });
    });
    socket.on('end', () => fail(new Error(`GET ${path} on port ${port}: connection closed before a whole answer`)));
  });
}

/**
 * Polls GET `path` every `intervalMs` until it answers `status` (any status when undefined); resolves with
 * performance.now() at that answer. Throws after timeoutMs, or at once if `child` has exited.
 */
export async function waitForAnswer(child: Child, path: string, options: { status?: number; timeoutMs?: number; intervalMs?: number } = {}): Promise<number> {
  const deadline = performance.now() + (options.timeoutMs ?? 20_000);
  let last = 'nothing';
  while (performance.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited while waiting for ${path}:\n${child.output()}`);
    }
    try {
      const answer = await rawGet(child.port, path, 1_000);
      if (options.status === undefined || answer.statusCode === options.status) return performance.now();
      last = `${answer.statusCode} ${answer.body.toString().slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(options.intervalMs ?? 2);
  }
  throw new Error(`${child.name}: ${path} did not answer ${options.status ?? 'anything'} in time; last: ${last}\n${child.output()}`);
}
