// Raw TCP clients for hostile-client tests: bytes go out exactly as written (node:http and fetch would refuse or
// repair most of them), and everything the server sends back, and when it closed, is recorded. Linux-only
// helpers read a process' resident memory and open file descriptors from /proc.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** One raw connection to 127.0.0.1:port. */
export interface RawConnection {
  readonly socket: Socket;
  /** performance.now() when the connection was established. */
  readonly openedAt: number;
  /** Everything received so far, as latin1 (one character per byte). */
  received(): string;
  /** The complete responses received so far; `bodiless` marks answers to HEAD (by position). */
  responses(bodiless?: ReadonlySet<number>): RawResponse[];
  /** Whether the connection has closed (the server ended or reset it, or we destroyed it). */
  closed(): boolean;
  /** performance.now() when the connection closed, or undefined. */
  closedAt(): number | undefined;
  /** The socket error that ended it, if any (ECONNRESET, EPIPE...). */
  error(): string | undefined;
  /** Writes bytes; writing to a closed socket is a no-op (the server closing first is an outcome, not an error). */
  write(data: string | Buffer): void;
  /** Resolves once the connection has closed; rejects after timeoutMs. */
  waitClosed(timeoutMs: number): Promise<void>;
  /** Resolves once `count` complete responses have arrived; rejects after timeoutMs or if it closes first. */
  waitResponses(count: number, timeoutMs: number, bodiless?: ReadonlySet<number>): Promise<RawResponse[]>;
  destroy(): void;
}

/** A response as it came over the wire. */
export interface RawResponse {
  readonly status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

export async function rawConnect(port: number, options: { readonly paused?: boolean } = {}): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const openedAt = performance.now();
  let data = '';
  let closedAt: number | undefined;
  let error: string | undefined;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  // A paused client never reads: its receive buffer fills and the server meets backpressure.
  if (options.paused === true) socket.pause();
  else
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      notify();
    });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  socket.on('close', () => {
    closedAt ??= performance.now();
    notify();
  });
  // The server ended its side: end ours too, so that the socket is released.
  socket.on('end', () => socket.end());

  const wait = <T>(what: string, done: () => T | undefined, timeoutMs: number, failOnClose: boolean): Promise<T> =>
    new Promise((resolve, reject) => {
      const describe = (): string => `received ${JSON.stringify(data.slice(0, 300))}${data.length > 300 ? '...' : ''}`;
      const check = (): void => {
        const result = done();
        if (result !== undefined) finish(() => resolve(result));
        else if (failOnClose && closedAt !== undefined) finish(() => reject(new Error(`connection closed before ${what} (${error ?? 'no error'}); ${describe()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms; ${describe()}`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  return {
    socket,
    openedAt,
    received: () => data,
    responses: (bodiless) => parseResponses(data, bodiless),
    closed: () => closedAt !== undefined,
    closedAt: () => closedAt,
    error: () => error,
    write(chunk) {
      if (!socket.destroyed && socket.writable) socket.write(chunk);
    },
    waitClosed: (timeoutMs) => wait('close', () => (closedAt === undefined ? undefined : true), timeoutMs, false).then(() => undefined),
    waitResponses: (count, timeoutMs, bodiless) =>
      wait(
        `${count} response(s)`,
        () => {
          const responses = parseResponses(data, bodiless);
          return responses.length >= count ? responses : undefined;
        },
        timeoutMs,
        true,
      ),
    destroy: () => socket.destroy(),
  };
}

/** What one raw exchange came to: the responses, and whether the server closed the connection. */
export interface Exchange {
  readonly responses: RawResponse[];
  readonly closed: boolean;
  readonly received: string;
}

/**
 * Sends bytes on a fresh connection and waits until the server has closed it or `responses` complete answers have
 * arrived, for at most waitMs (a connection still open then is reported open). The connection is then destroyed.
 */
export async function rawExchange(
  port: number,
  bytes: string | Buffer,
  options: { readonly responses?: number; readonly waitMs?: number; readonly bodiless?: ReadonlySet<number> } = {},
): Promise<Exchange> {
  const connection = await rawConnect(port);
  try {
    connection.write(bytes);
    const expected = options.responses ?? Infinity;
    const waitMs = options.waitMs ?? 2_000;
    await Promise.race([connection.waitClosed(waitMs), connection.waitResponses(expected, waitMs, options.bodiless)]).catch(() => undefined);
    // A close racing the last response: let its bytes and the FIN both land.
    return { responses: connection.responses(options.bodiless), closed: connection.closed(), received: connection.received() };
  } finally {
    connection.destroy();
  }
}

/** Complete responses at the start of a byte stream, in order; stops at the first incomplete one. */
export function parseResponses(received: string, bodiless: ReadonlySet<number> = new Set()): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = received;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) return responses;
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    if (status === null) return responses;
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    let body = '';
    let next = headEnd + 4;
    const length = headers.get('content-length');
    if (bodiless.has(responses.length) || Number(status[1]) < 200 || Number(status[1]) === 204 || Number(status[1]) === 304) {
      // no body
    } else if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const chunked = readChunked(rest, next);
      if (chunked === undefined) return responses;
      [body, next] = chunked;
    } else if (length !== undefined) {
      if (rest.length < next + Number(length)) return responses;
      body = rest.slice(next, next + Number(length));
      next += Number(length);
    }
    responses.push({ status: Number(status[1]), headers, body });
    rest = rest.slice(next);
  }
}

function readChunked(text: string, start: number): [string, number] | undefined {
  let body = '';
  let at = start;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) {
      const end = text.indexOf('\r\n', lineEnd + 2); // no trailers from our servers: the empty line follows
      return end === -1 ? undefined : [body, end + 2];
    }
    if (text.length < lineEnd + 2 + size + 2) return undefined;
    body += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

/** Resident memory of a process in KiB (VmRSS in /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/**
 * Open file descriptors of a process (entries of /proc/<pid>/fd), leaving out its TCP connections to
 * `ignoreRemotePort`: a probe's own keep-alive connections to Prometheus come and go with its polling, and would
 * make a baseline wobble by one or two.
 */
export function openFds(pid: number, ignoreRemotePort?: number): number {
  const entries = readdirSync(`/proc/${pid}/fd`);
  if (ignoreRemotePort === undefined) return entries.length;
  const ignored = new Set<string>();
  for (const socket of kernelSockets()) if (socket.remotePort === ignoreRemotePort) ignored.add(`socket:[${socket.inode}]`);
  let count = 0;
  for (const entry of entries) {
    let link = '';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${entry}`);
    } catch {
      continue; // closed while we looked
    }
    if (!ignored.has(link)) count += 1;
  }
  return count;
}

/** A TCP connection between two loopback ports as the kernel lists it (/proc/net/tcp), from one end. */
interface KernelSocket {
  /** TCP state as in include/net/tcp_states.h: 1 ESTABLISHED, 4 FIN_WAIT1, 7 CLOSE, 8 CLOSE_WAIT... */
  readonly state: number;
  /** Bytes not yet acknowledged by the peer (send queue). */
  readonly txQueue: number;
  /** Bytes received and not yet read by the owner (receive queue). */
  readonly rxQueue: number;
  /** 0 once no process holds the socket any more (an orphan the kernel is still closing). */
  readonly inode: number;
}

/** Every IPv4 TCP socket the kernel lists (/proc/net/tcp), with its ports. */
function kernelSockets(): (KernelSocket & { readonly localPort: number; readonly remotePort: number })[] {
  const sockets = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, remote, state, queues, inode] = [fields[1], fields[2], fields[3], fields[4], fields[9]];
    if (local === undefined || remote === undefined || state === undefined || queues === undefined || inode === undefined) continue;
    const [tx = '0', rx = '0'] = queues.split(':');
    sockets.push({
      localPort: Number.parseInt(local.split(':')[1] ?? '0', 16),
      remotePort: Number.parseInt(remote.split(':')[1] ?? '0', 16),
      state: Number.parseInt(state, 16),
      txQueue: Number.parseInt(tx, 16),
      rxQueue: Number.parseInt(rx, 16),
      inode: Number(inode),
    });
  }
  return sockets;
}

/**
 * Which of these client ports the server listening on serverPort still holds a connection from. A client that never
 * reads does not see the server's FIN (it waits behind unread data), so tests ask the kernel. One read of
 * /proc/net/tcp for all of them: the kernel walks its whole connection table for each read (~10 ms).
 */
export function serverHolds(serverPort: number, clientPorts: readonly number[]): number[] {
  const held = new Set<number>();
  for (const socket of kernelSockets()) if (socket.localPort === serverPort && socket.inode !== 0) held.add(socket.remotePort);
  return clientPorts.filter((port) => held.has(port));
}

/**
 * Bytes of answers queued in the kernel between a server port and a client that does not read: what the server
 * has sent and the client has not acknowledged (the server's send queue) plus what the client has not read (its
 * receive queue). Requests waiting on the server's side are not counted.
 */
export function answerBytesQueued(clientPort: number, serverPort: number): number {
  const sockets = kernelSockets();
  const server = sockets.find((socket) => socket.localPort === serverPort && socket.remotePort === clientPort);
  const client = sockets.find((socket) => socket.localPort === clientPort && socket.remotePort === serverPort);
  return (server?.txQueue ?? 0) + (client?.rxQueue ?? 0);
}
