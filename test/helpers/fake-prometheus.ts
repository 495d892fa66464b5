// The one fake Prometheus: a node:http server on 127.0.0.1 speaking /api/v1/query, for faults a real one cannot
// produce and for fast process-level tests. It records every request and connection, and can stop listening
// (connection refused) and come back on the same port. The answers it serves come from its handler: vectorAnswer
// below, or the misbehaviours of faults.ts. The real Prometheus (Debian's package) is in real-prometheus.ts.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Answers one request; the body has been read already (`query` is its form field, `body` the whole of it). */
export type FakeHandler = (query: string, req: IncomingMessage, res: ServerResponse, body: string) => void;

/** One request as the fake received it. */
export interface RecordedRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface FakePrometheus {
  /** http://127.0.0.1:PORT, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** The listener itself, for settings such as keepAliveTimeout. */
  readonly server: Server;
  /** Queries received so far (the `query` form field of each request). */
  readonly queries: string[];
  /** Every request received so far, in order. */
  readonly requests: RecordedRequest[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open right now (a client's keep-alive pool, and any it failed to close). */
  openConnections(): number;
  handle: FakeHandler;
  /** Stops listening and cuts every connection: the next connect is refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Stops for good: cuts every connection (keep-alive and hanging answers alike). */
  close(): Promise<void>;
}

/** Answers each query with a vector of one sample, the value `values(query)` gives (undefined: empty vector). */
export function vectorAnswer(values: (query: string) => number | string | undefined): FakeHandler {
  return (query, _req, res) => {
    const value = values(query);
    const result = value === undefined ? [] : [{ metric: {}, value: [Date.now() / 1000, String(value)] }];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  };
}

export async function startFakePrometheus(handle: FakeHandler): Promise<FakePrometheus> {
  const queries: string[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const query = new URLSearchParams(body).get('query') ?? '';
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      queries.push(query);
      fake.handle(query, req, res, body);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      // Keep-alive connections and hanging responses alike: close() would otherwise wait for them.
      for (const socket of sockets) socket.destroy();
    });

  await listen(0);
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const fake: FakePrometheus = {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    queries,
    requests,
    get connections() {
      return connections;
    },
    openConnections: () => sockets.size,
    handle,
    down: stop,
    up: () => (closed || server.listening ? Promise.resolve() : listen(port)),
    close: () => {
      closed = true;
      return stop();
    },
  };
  return fake;
}
