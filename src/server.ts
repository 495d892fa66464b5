// node:http wiring. Every probe answer is prepared when the verdict changes and written from memory; nothing
// on the request path waits on Prometheus, parses a body, or builds JSON beyond /status' uptime.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { CheckDefinition } from './checks.js';
import { acceptsHealthJson, HEALTH_JSON_TYPE, renderHealthJson } from './healthjson.js';
import { silentLogger, type Logger } from './log.js';
import { renderMetrics } from './metrics.js';
import type { Snapshot } from './monitor.js';
import {
  judgedOf,
  renderReady,
  renderStatusHead,
  renderVerbose,
  select,
  UPTIME_TAIL_BYTES,
  uptimeTail,
  type Phase,
  type ProbeView,
  type ReloadResult,
} from './render.js';
import { createRouter } from './router.js';

/** The bounds on a client: slow or oversized requests are dropped without disturbing anyone else. */
export const SERVER_LIMITS = {
  headersTimeoutMs: 5_000, // slowloris: the whole header section within 5 s
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 1_000, // how often the two timeouts above are enforced (Node's default is 30 s)
  maxHeaderSize: 8_192, // larger header sections get 431
  // A connection with no traffic either way for this long (twice as long if a write was still draining when the
  // timer first fired) is destroyed; Node's default is never. Covers a client that stops reading while an answer is
  // stuck in full socket buffers: no other timeout applies to that state, which pinned ~4 MiB of kernel memory.
  idleTimeoutMs: 10_000,
  // Node answers pipelined requests a whole socket read (64 KiB, ~1,000 requests) at a time and keeps the answers a
  // client has not taken: one that pipelines and never reads pinned ~4 MiB, indefinitely. Past this many
  // unanswered requests on one connection it is destroyed. No probe client pipelines at all, and only a pipelining
  // client pays for the count.
  maxPipelinedRequests: 32,
} as const;

const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;
const JSON_TYPE = 'application/json; charset=utf-8';
const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
/** A check name as it may follow /ready/ (the checks file allows no other). */
const CHECK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** A response prepared in advance. */
interface Prepared {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

type Handler = (req: IncomingMessage, res: ServerResponse, param?: string) => void;

export interface ProbeServerOptions {
  /** The view before any evaluation; updated through `update` and `setPhase`. */
  readonly view: ProbeView;
  readonly now?: () => number;
  readonly log?: Logger;
}

export interface ProbeServer {
  readonly server: Server;
  /** A new snapshot from the monitor: the answers are rendered again, once. */
  update(snapshot: Snapshot): void;
  setPhase(phase: Phase): void;
  /** New checks after a reload: the answers name them from the next snapshot on. */
  setChecks(checks: readonly CheckDefinition[]): void;
  setReload(reload: ReloadResult): void;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets requests in flight finish, closes idle keep-alive connections; forces after `forceAfterMs`. */
  close(forceAfterMs?: number): Promise<void>;
}

export function createProbeServer(options: ProbeServerOptions): ProbeServer {
  const now = options.now ?? Date.now;
  const log = options.log ?? silentLogger;
  let view = options.view;
  let ready: Prepared;
  let metrics: Prepared;
  // /status is prepared as bytes, all but its uptime: a request only writes the head and a ~25-byte tail. A fresh
  // 3 KB string and Buffer per request drove V8 under the heap cap into back-to-back full collections (bench).
  let statusHead: Buffer;
  let statusHeaders: Readonly<Record<string, string>>;
  let healthJson: Prepared;

  const prepare = (statusCode: number, type: string, body: string): Prepared => {
    const buffer = Buffer.from(body);
    return { statusCode, headers: { ...connectionHeaders(), 'content-type': type, 'content-length': String(buffer.length) }, body: buffer };
  };
  // While shutting down, keep-alive clients are told to go away after this answer.
  const connectionHeaders = (): Record<string, string> => (view.phase === 'shutting_down' ? { ...COMMON_HEADERS, connection: 'close' } : { ...COMMON_HEADERS });

  function render(): void {
    const readyRendered = renderReady(view);
    ready = prepare(readyRendered.statusCode, JSON_TYPE, readyRendered.body);
    metrics = prepare(200, METRICS_TYPE, renderMetrics(view));
    statusHead = Buffer.from(renderStatusHead(view));
    statusHeaders = { ...connectionHeaders(), vary: 'accept', 'content-type': JSON_TYPE, 'content-length': String(statusHead.length + UPTIME_TAIL_BYTES) };
    const health = renderHealthJson(view);
    const prepared = prepare(health.statusCode, HEALTH_JSON_TYPE, health.body);
    healthJson = { ...prepared, headers: { ...prepared.headers, vary: 'accept' } };
  }
  render();

  const health = prepare(200, JSON_TYPE, '{"status":"ok"}');
  const notFound = prepare(404, JSON_TYPE, JSON.stringify({ error: 'not_found', message: 'No such endpoint', endpoints: ['/ready', '/health', '/status', '/metrics'] }));

  const send = (req: IncomingMessage, res: ServerResponse, prepared: Prepared): void => {
    res.writeHead(prepared.statusCode, prepared.headers);
    res.end(req.method === 'HEAD' ? undefined : prepared.body);
  };

  // /ready with a query, or /ready/NAME: judged per request from the current snapshot (no Prometheus involved).
  const answerReady = (req: IncomingMessage, res: ServerResponse, name: string | undefined): void => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const params = new URLSearchParams(query === -1 ? '' : url.slice(query + 1));
    const verbose = params.has('verbose');
    const group = params.get('group') ?? undefined;
    const exclude = params.getAll('exclude').flatMap((value) => value.split(',')).filter((value) => value !== '');
    if (!verbose && group === undefined && name === undefined && exclude.length === 0) return send(req, res, ready);
    const selected = select(view.checks, { group, name, exclude });
    if (!selected.ok) {
      const body = verbose ? `${selected.message}\n` : JSON.stringify({ error: selected.error, message: selected.message });
      return send(req, res, prepare(selected.statusCode, verbose ? TEXT_TYPE : JSON_TYPE, body));
    }
    const rendered = verbose ? renderVerbose(view, selected) : renderReady(view, judgedOf(view, selected.included));
    send(req, res, prepare(rendered.statusCode, verbose ? TEXT_TYPE : JSON_TYPE, rendered.body));
  };

  const router = createRouter<Handler>()
    .add('GET', '/ready', (req, res) => ((req.url ?? '').includes('?') ? answerReady(req, res, undefined) : send(req, res, ready)))
    .addPrefix('GET', '/ready/', CHECK_NAME, (req, res, name) => answerReady(req, res, name))
    // Liveness touches nothing external and stays 200 during shutdown (gajus/lightship#12).
    .add('GET', '/health', (req, res) => send(req, res, health))
    .add('GET', '/status', (req, res) => {
      if (acceptsHealthJson(acceptOf(req))) return send(req, res, healthJson);
      res.writeHead(200, statusHeaders);
      if (req.method === 'HEAD') return res.end();
      res.write(statusHead);
      res.end(uptimeTail(view.startedAtMs, now()));
    })
    .add('GET', '/metrics', (req, res) => send(req, res, metrics));

  // Answers queued behind an unfinished one, per connection; entries go with their sockets.
  const queued = new WeakMap<Socket, number>();

  const server = createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs,
      maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
    },
    (req, res) => {
      // Node gives a response its socket at once unless an earlier answer on that connection is unfinished: only
      // a pipelining client gets a queued one, so only its requests pay for the count (a listener each).
      if (res.socket === null) {
        const socket = req.socket;
        const behind = (queued.get(socket) ?? 0) + 1;
        // The unfinished answer and those queued behind it: past maxPipelinedRequests the connection goes.
        if (behind + 1 > SERVER_LIMITS.maxPipelinedRequests) {
          socket.destroy();
          return;
        }
        queued.set(socket, behind);
        res.once('close', () => queued.set(socket, (queued.get(socket) ?? 1) - 1));
      }
      try {
        const match = router.match(req.method ?? 'GET', req.url ?? '/');
        if (match.kind === 'found') return match.handler(req, res, match.param);
        if (match.kind === 'not_found') return send(req, res, notFound);
        const body = JSON.stringify({ error: 'method_not_allowed', message: `Use ${match.allow}` });
        const prepared = prepare(405, JSON_TYPE, body);
        send(req, res, { ...prepared, headers: { ...prepared.headers, allow: match.allow } });
      } catch (error) {
        log.log('error', 'request_failed', { error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) send(req, res, prepare(500, JSON_TYPE, '{"error":"internal"}'));
        else res.destroy();
      }
    },
  );

  // No 'timeout' listener anywhere: Node then destroys the idle socket itself.
  server.timeout = SERVER_LIMITS.idleTimeoutMs;

  return {
    server,
    update(snapshot) {
      view = { ...view, snapshot, phase: view.phase === 'starting' ? 'running' : view.phase };
      render();
    },
    setPhase(phase) {
      view = { ...view, phase };
      render();
    },
    setChecks(checks) {
      view = { ...view, checks };
      render();
    },
    setReload(reload) {
      view = { ...view, reload };
      render();
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          // After listening, an error (EMFILE on accept, say) is logged, never thrown out of the process.
          server.on('error', (error) => log.log('error', 'server_error', { error: error.message }));
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close(forceAfterMs = 10_000) {
      return new Promise((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), forceAfterMs).unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

/** The Accept header, read from the raw list: req.headers would build an object of every header per request. */
function acceptOf(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 6 && raw[i]!.toLowerCase() === 'accept') return raw[i + 1];
  }
  return undefined;
}
