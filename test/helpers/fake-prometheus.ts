// A fake Prometheus: a node:http handler speaking /api/v1/query, for faults a real one cannot produce and for
// fast process-level tests. The real one (Debian's package) is in real-prometheus.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeHandler = (query: string, req: IncomingMessage, res: ServerResponse) => void;

export interface FakePrometheus {
  readonly url: string;
  readonly port: number;
  /** Queries received so far. */
  readonly queries: string[];
  handle: FakeHandler;
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
  const fake = { queries, handle } as FakePrometheus;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const query = new URLSearchParams(Buffer.concat(chunks).toString()).get('query') ?? '';
      queries.push(query);
      fake.handle(query, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
