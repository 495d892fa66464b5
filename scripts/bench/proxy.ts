// A TCP proxy on loopback between the probe and Prometheus. In `hold` mode every chunk Prometheus sends back is
// held `holdMs` before it is passed on: a Prometheus that takes the query and stalls. Requests always go through
// at once, so Prometheus receives and counts every query; the proxy counts them too, from the request lines.
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'hold';

export interface Proxy {
  readonly url: string;
  /** Applies to answer chunks arriving from now on; chunks already held keep their release time. */
  mode: ProxyMode;
  /** Query requests (request lines of /api/v1/query) forwarded to Prometheus since start. */
  readonly queries: number;
  /** Answer chunks being held right now. */
  readonly held: number;
  /** Connections whose requests could not be followed (chunked or oversized): `queries` is then too low. */
  readonly uncounted: number;
  /** Held chunks dropped because the probe gave up and closed the connection. */
  readonly dropped: number;
  close(): Promise<void>;
}

const QUERY_LINE = /^(?:GET|POST) [^ ]*\/api\/v1\/query[ ?]/;
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Counts query requests in one connection's request stream: a head up to its blank line, then a Content-Length
 * body (what undici sends), then the next request. A stream it cannot follow stops being counted and says so.
 */
function requestCounter(onQuery: () => void, onLost: () => void): (chunk: Buffer) => void {
  let buffered: Buffer = Buffer.alloc(0);
  let bodyLeft = 0;
  let lost = false;
  return (chunk) => {
    if (lost) return;
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      if (bodyLeft > 0) {
        const skipped = Math.min(bodyLeft, buffered.length);
        bodyLeft -= skipped;
        buffered = buffered.subarray(skipped);
        if (bodyLeft > 0) return;
      }
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > MAX_HEAD_BYTES) {
          lost = true;
          onLost();
        }
        return;
      }
      const head = buffered.subarray(0, end).toString('latin1');
      if (/\r\ntransfer-encoding:/i.test(head)) {
        lost = true;
        onLost();
        return;
      }
      if (QUERY_LINE.test(head)) onQuery();
      bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      buffered = buffered.subarray(end + 4);
    }
  };
}

export async function startProxy(options: { targetPort: number; holdMs: number; mode?: ProxyMode }): Promise<Proxy> {
  let mode: ProxyMode = options.mode ?? 'pass';
  let queries = 0;
  let held = 0;
  let dropped = 0;
  let uncounted = 0;
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort });
    sockets.add(client).add(upstream);
    // Answer chunks in order, each with the time it may go; one timer for the head of the queue.
    const queue: { chunk: Buffer; releaseAt: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const count = requestCounter(
      () => (queries += 1),
      () => (uncounted += 1),
    );

    const flush = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.releaseAt <= now) {
        const { chunk } = queue.shift()!;
        held -= 1;
        if (!client.destroyed) client.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.releaseAt - now);
    };
    const closeBoth = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      dropped += queue.length;
      held -= queue.length;
      queue.length = 0;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };

    client.on('data', (chunk: Buffer) => {
      count(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const last = queue.at(-1)?.releaseAt ?? 0;
      const releaseAt = Math.max(last, performance.now() + (mode === 'hold' ? options.holdMs : 0));
      if (releaseAt <= performance.now() && queue.length === 0) {
        client.write(chunk);
        return;
      }
      queue.push({ chunk, releaseAt });
      held += 1;
      if (timer === undefined) timer = setTimeout(flush, releaseAt - performance.now());
    });
    // The probe closing its side (a query timed out) drops whatever was held, as a socket to a stalled server would.
    client.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    upstream.on('end', () => {
      // Prometheus closed: pass on what is held first, then close.
      const finish = (): void => (queue.length === 0 ? closeBoth() : void setTimeout(finish, 50));
      finish();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set mode(next: ProxyMode) {
      mode = next;
    },
    get queries() {
      return queries;
    },
    get held() {
      return held;
    },
    get dropped() {
      return dropped;
    },
    get uncounted() {
      return uncounted;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
