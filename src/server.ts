// node:http wiring. Every probe answer is prepared when the verdict changes and written from memory; nothing
// on the request path waits on Prometheus, parses a body, or builds JSON beyond /status' uptime.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  HEALTH_REPLY,
  INTERNAL_ERROR_REPLY,
  isPlainReady,
  JSON_TYPE,
  methodNotAllowedReply,
  NOT_FOUND_REPLY,
  parseReadyRequest,
  prepareReplies,
  REPLICA_NAME,
  type Reply,
  ROUTES,
  type RouteName,
  selectionReply,
} from './core/answers.js';
import type { CheckDefinition } from './core/checks.js';
import { messageOf } from './core/errors.js';
import { decideFleet, type FleetDecision } from './core/fleet.js';
import { acceptsHealthJson } from './core/healthjson.js';
import type { Phase, ProbeView, ReloadResult } from './core/readiness.js';
import { UPTIME_TAIL_BYTES, uptimeTail } from './core/render.js';
import { createRouter } from './core/router.js';
import type { Snapshot } from './core/snapshot.js';
import { type Logger, silentLogger } from './log.js';

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

  const prepare = (reply: Reply): Prepared => {
    const buffer = Buffer.from(reply.body);
    return {
      statusCode: reply.statusCode,
      headers: { ...connectionHeaders(), 'content-type': reply.contentType, 'content-length': String(buffer.length) },
      body: buffer,
    };
  };
  // While shutting down, keep-alive clients are told to go away after this answer.
  const connectionHeaders = (): Record<string, string> => (view.phase === 'shutting_down' ? { ...COMMON_HEADERS, connection: 'close' } : { ...COMMON_HEADERS });

  function render(): void {
    const replies = prepareReplies(view);
    ready = prepare(replies.ready);
    metrics = prepare(replies.metrics);
    statusHead = Buffer.from(replies.statusHead);
    statusHeaders = { ...connectionHeaders(), vary: 'accept', 'content-type': JSON_TYPE, 'content-length': String(statusHead.length + UPTIME_TAIL_BYTES) };
    const prepared = prepare(replies.healthJson);
    healthJson = { ...prepared, headers: { ...prepared.headers, vary: 'accept' } };
  }
  render();

  const health = prepare(HEALTH_REPLY);
  const notFound = prepare(NOT_FOUND_REPLY);

  const send = (req: IncomingMessage, res: ServerResponse, prepared: Prepared): void => {
    res.writeHead(prepared.statusCode, prepared.headers);
    res.end(req.method === 'HEAD' ? undefined : prepared.body);
  };

  // One probe shared by several containers (compose, autoheal): the callers that name themselves are the fleet.
  const callers = createCallers();
  const callerDecision = (replica: string): FleetDecision | null => {
    const settings = view.snapshot?.fleet?.settings;
    if (settings === undefined || !REPLICA_NAME.test(replica)) return null;
    const nowMs = now();
    const replicas = callers.note(replica, nowMs);
    return decideFleet({ source: 'callers', replicas, ownUnready: [], seenAtMs: nowMs }, { ...settings, self: replica }, nowMs);
  };

  // /ready with a query, or /ready/NAME: judged per request from the current snapshot (no Prometheus involved).
  const answerReady = (req: IncomingMessage, res: ServerResponse, name: string | undefined): void => {
    const request = parseReadyRequest(req.url ?? '', name);
    if (isPlainReady(request)) {
      send(req, res, ready);
      return;
    }
    const reply =
      request.replica === undefined ? selectionReply(view, view.checks, request) : selectionReply(view, view.checks, request, callerDecision(request.replica));
    send(req, res, prepare(reply));
  };

  const handlers: Record<RouteName, Handler> = {
    ready: (req, res) => ((req.url ?? '').includes('?') ? answerReady(req, res, undefined) : send(req, res, ready)),
    readyCheck: (req, res, name) => answerReady(req, res, name),
    health: (req, res) => send(req, res, health),
    status: (req, res) => {
      if (acceptsHealthJson(acceptOf(req))) return send(req, res, healthJson);
      res.writeHead(200, statusHeaders);
      if (req.method === 'HEAD') return res.end();
      res.write(statusHead);
      res.end(uptimeTail(view.startedAtMs, now()));
    },
    metrics: (req, res) => send(req, res, metrics),
  };
  const router = createRouter<Handler>();
  for (const route of ROUTES) {
    if ('path' in route) router.add(route.method, route.path, handlers[route.name]);
    else router.addPrefix(route.method, route.prefix, route.segment, handlers[route.name]);
  }

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
        const prepared = prepare(methodNotAllowedReply(match.allow));
        send(req, res, { ...prepared, headers: { ...prepared.headers, allow: match.allow } });
      } catch (error) {
        log.log('error', 'request_failed', { error: messageOf(error) });
        if (!res.headersSent) send(req, res, prepare(INTERNAL_ERROR_REPLY));
        else res.destroy();
      }
    },
  );

  // No 'timeout' listener anywhere: Node then destroys the idle socket itself.
  server.timeout = SERVER_LIMITS.idleTimeoutMs;

  return {
    server,
    update(snapshot) {
      view = { ...view, snapshot, phase: view.phase === 'starting' ? 'running' : view.phase, callers: callers.list(now()) };
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

/** How long a caller that named itself counts as a replica: two of Docker's default 30 s healthcheck intervals. */
const CALLER_WINDOW_MS = 60_000;
/** At most this many callers are remembered (the oldest go first): names come from requests. */
const MAX_CALLERS = 256;

/** The callers seen within CALLER_WINDOW_MS, oldest first; noting one returns them all, sorted. */
function createCallers(): { note(name: string, nowMs: number): readonly string[]; list(nowMs: number): readonly string[] } {
  const lastSeen = new Map<string, number>();
  const list = (nowMs: number): readonly string[] => {
    // Insertion order is last-seen order: the expired and the surplus are at the front.
    for (const [caller, seenMs] of lastSeen) {
      if (nowMs - seenMs < CALLER_WINDOW_MS && lastSeen.size <= MAX_CALLERS) break;
      lastSeen.delete(caller);
    }
    return [...lastSeen.keys()].sort();
  };
  return {
    note(name, nowMs) {
      lastSeen.delete(name);
      lastSeen.set(name, nowMs);
      return list(nowMs);
    },
    list,
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
