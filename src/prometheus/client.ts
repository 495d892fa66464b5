// The Prometheus API client: one instant query per call, a hard deadline, a size cap, and every failure mapped
// to one PrometheusError code. The only file that imports undici, so the transport can change in one place.

import { Agent, type Dispatcher, request } from 'undici';
import { parseQueryResponse, type QueryResult } from '../core/envelope.js';
import { PrometheusError, type PrometheusErrorCode } from '../core/errors.js';

/** How to reach Prometheus; everything that touches the network can be injected. */
export interface PrometheusClientOptions {
  /** PROMETHEUS_URL: may carry a path prefix (http://thanos:9090/prom) and userinfo (sent as Basic auth). */
  readonly url: string;
  /** Hard deadline per query, covering connect, headers and the whole body. */
  readonly timeoutMs: number;
  /** Answers larger than this are refused while streaming. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** Injected transport (tests, proxies). Default: an undici Agent with keep-alive, owned and closed by the client. */
  readonly dispatcher?: Dispatcher;
  /** Extra headers computed per query, so a bearer token file can be re-read or a tenant header added. */
  readonly headers?: () => Readonly<Record<string, string>>;
  /**
   * How long an idle connection is kept for the next query; longer than the check interval, or every query
   * opens a new connection (undici's default is 4 s, and Prometheus sends no Keep-Alive hint). Default 4 s.
   */
  readonly keepAliveMs?: number;
  /**
   * ACCEPT_PARTIAL: judge partial answers as complete (VictoriaMetrics' isPartial, Thanos' store-down warnings) and
   * leave Thanos its default. Default false: every query asks `partial_response=false`, and a partial answer is PROM_PARTIAL.
   */
  readonly acceptPartial?: boolean;
  /** CA, client certificate and verification for the owned Agent (ignored with an injected dispatcher). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized?: boolean };
}

/** Asks Prometheus instant queries. */
export interface PrometheusClient {
  /** Rejects only with PrometheusError; a caller abort rejects with PROM_TIMEOUT. */
  query(promql: string, signal?: AbortSignal): Promise<QueryResult>;
  /** The URL for display: origin + path prefix, never userinfo. */
  readonly target: string;
  /** Closes the owned Agent; an injected dispatcher belongs to whoever injected it. */
  close(): Promise<void>;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const USER_AGENT = 'crm-events-health-probe';

/** Why the request was stopped by us, so whatever undici throws afterwards maps to one code. */
type StopReason = 'deadline' | 'caller';

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const { timeoutMs } = options;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const endpoint = parseEndpoint(options.url);
  const target = endpoint.target;
  // The connect timeout is per Agent; the per-query deadline below is what really bounds a query.
  const keepAliveMs = options.keepAliveMs ?? 4_000;
  const ownedAgent =
    options.dispatcher === undefined
      ? new Agent({ keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs, connect: { timeout: timeoutMs, ...options.tls } })
      : undefined;
  const dispatcher: Dispatcher = options.dispatcher ?? (ownedAgent as Agent);
  const acceptPartial = options.acceptPartial === true;
  let closing: Promise<void> | undefined;

  async function query(promql: string, signal?: AbortSignal): Promise<QueryResult> {
    if (signal?.aborted) throw cancelled(target);

    let stoppedBy: StopReason | undefined;
    const controller = new AbortController();
    const stop = (reason: StopReason): void => {
      stoppedBy ??= reason;
      controller.abort(new Error(`query stopped: ${reason}`));
    };
    const timer = setTimeout(() => stop('deadline'), timeoutMs);
    timer.unref();
    const onCallerAbort = (): void => stop('caller');
    signal?.addEventListener('abort', onCallerAbort, { once: true });

    let body: Dispatcher.ResponseData['body'] | undefined;
    let secrets: readonly string[] = [];
    try {
      const headers = requestHeaders(endpoint.authorization, options.headers, target);
      secrets = secretValues(headers);
      const response = await request(endpoint.queryUrl, {
        dispatcher,
        method: 'POST',
        headers,
        // partial_response=false: Thanos Query answers an error instead of a partial answer when a store is down
        // (its default is to warn). Prometheus and VictoriaMetrics ignore a parameter they do not know.
        body: new URLSearchParams({ query: promql, timeout: `${timeoutMs}ms`, ...(acceptPartial ? {} : { partial_response: 'false' }) }).toString(),
        signal: controller.signal,
        // Never later than our own deadline; they only name the phase when they win the race.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      body = response.body;
      // Every text taken from the body is scrubbed before parseQueryResponse cuts it short.
      const parsing = { acceptPartial, retryAfter: response.headers['retry-after'], nowMs: Date.now(), redact: (text: string) => scrub(text, secrets) };
      const text = await readCapped(body, response.headers['content-length'], maxResponseBytes);
      if (text === undefined) {
        // A non-2xx status says more than the size of its error page: with no body to read,
        // parseQueryResponse throws PROM_AUTH, PROM_OVERLOADED, PROM_UNAVAILABLE or PROM_HTTP_STATUS for it.
        if (response.statusCode < 200 || response.statusCode >= 300) parseQueryResponse(response.statusCode, '', parsing);
        throw new PrometheusError('PROM_TOO_LARGE', `Prometheus at ${target} answered more than ${maxResponseBytes} bytes`, { statusCode: response.statusCode });
      }
      const result = parseQueryResponse(response.statusCode, text, parsing);
      return secrets.length === 0 ? result : { ...result, warnings: result.warnings.map((warning) => scrub(warning, secrets)) };
    } catch (error) {
      throw scrubError(classify(error, stoppedBy), secrets);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
      // A body left unread would hold the connection; destroying it frees the socket.
      if (body !== undefined && !body.readableEnded && !body.destroyed) discard(body);
    }
  }

  function classify(error: unknown, stoppedBy: StopReason | undefined): PrometheusError {
    if (error instanceof PrometheusError) return error;
    if (stoppedBy === 'caller') return cancelled(target, error);
    if (stoppedBy === 'deadline') {
      return new PrometheusError('PROM_TIMEOUT', `Prometheus at ${target} gave no complete answer within ${timeoutMs} ms`, { cause: error });
    }
    return fromTransportError(error, target, timeoutMs);
  }

  return {
    query,
    target,
    close(): Promise<void> {
      closing ??= ownedAgent === undefined ? Promise.resolve() : ownedAgent.close();
      return closing;
    },
  };
}

interface Endpoint {
  readonly target: string;
  readonly queryUrl: string;
  readonly authorization: string | undefined;
}

/** Splits PROMETHEUS_URL into what is shown, where to send, and the credentials it carried. */
function parseEndpoint(raw: string): Endpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The input is left out: it may carry a password.
    throw new TypeError('the Prometheus URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`the Prometheus URL must be http or https, got ${url.protocol}`);
  }
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decode(url.username)}:${decode(url.password)}`;
    authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  const target = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return { target, queryUrl: `${target}/api/v1/query`, authorization };
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component; // a stray "%" is taken literally rather than refusing the URL
  }
}

function requestHeaders(authorization: string | undefined, extra: PrometheusClientOptions['headers'], target: string): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': USER_AGENT,
  };
  if (authorization !== undefined) headers['authorization'] = authorization;
  let computed: Readonly<Record<string, string>> = {};
  try {
    computed = extra?.() ?? {};
  } catch (cause) {
    // The headers carry credentials (a bearer token file) or the tenant: failing to build them is an auth failure.
    // Our own header builders (CredentialsError) put paths and errnos in their messages, never a secret.
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    throw new PrometheusError('PROM_AUTH', `could not build the request headers for Prometheus at ${target}${why}`, { cause });
  }
  // Lower-cased so a computed "Authorization" replaces the URL's instead of being sent beside it.
  for (const [name, value] of Object.entries(computed)) headers[name.toLowerCase()] = value;
  return headers;
}

// Headers that carry nothing secret; every other header value (auth, tenant, API keys) is treated as a secret.
const PUBLIC_HEADERS = new Set(['accept', 'content-type', 'user-agent']);

/**
 * Every secret a query sends, in every form it could be echoed back in: a proxy's error page or a
 * Prometheus error text may quote a header, and what Prometheus says ends up in /status and the logs.
 */
function secretValues(headers: Readonly<Record<string, string>>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (PUBLIC_HEADERS.has(name) || value === '') continue;
    secrets.push(value);
    const [scheme, credentials] = value.split(' ', 2);
    if (name !== 'authorization' || credentials === undefined) continue;
    secrets.push(credentials);
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      secrets.push(decoded, decoded.slice(decoded.indexOf(':') + 1));
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  return secrets.filter((secret) => secret !== '').sort((a, b) => b.length - a.length);
}

function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join('***'), text);
}

function scrubError(error: PrometheusError, secrets: readonly string[]): PrometheusError {
  const message = scrub(error.message, secrets);
  if (message === error.message) return error;
  // The cause is dropped with the secret it may quote.
  return new PrometheusError(error.code, message, { statusCode: error.statusCode, errorType: error.errorType, retryAfterMs: error.retryAfterMs });
}

/** The body as text, or undefined once it passes `maxBytes`: never buffers more than the cap. */
async function readCapped(body: Dispatcher.ResponseData['body'], contentLength: string | string[] | undefined, maxBytes: number): Promise<string | undefined> {
  if (typeof contentLength === 'string' && Number(contentLength) > maxBytes) {
    discard(body);
    return undefined;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      discard(body); // closes the socket now, before the rest arrives
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {}); // undici emits RequestAbortedError on destroy; nobody is left to hear it
  body.destroy();
}

function cancelled(target: string, cause?: unknown): PrometheusError {
  return new PrometheusError('PROM_TIMEOUT', `query to Prometheus at ${target} was cancelled by the caller`, { cause });
}

const TLS_CODE = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_)|_CERT(?:_|$)|^(?:SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|HOSTNAME_MISMATCH|EPROTO)$/;

/** What one error code means, in words that follow "Prometheus at <target>". */
const NETWORK_PHRASES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'reset the connection',
  EPIPE: 'closed the connection while the query was sent',
  ECONNABORTED: 'aborted the connection',
  EHOSTUNREACH: 'is unreachable',
  ENETUNREACH: 'is unreachable',
  EHOSTDOWN: 'is unreachable',
  ENETDOWN: 'is unreachable',
  UND_ERR_SOCKET: 'closed the connection before a complete answer',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'closed the connection before a complete answer',
  // undici 7 reports a request on a closed Agent as destroyed, not closed.
  UND_ERR_CLOSED: 'cannot be queried: the client is closed',
  UND_ERR_DESTROYED: 'cannot be queried: the client is closed',
};

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** Maps what undici or the system threw to one code. The original stays as `cause`. */
function fromTransportError(error: unknown, target: string, timeoutMs: number): PrometheusError {
  const codes = errorCodes(error);
  const pick = (test: (code: string) => boolean): string | undefined => codes.find(test);
  const build = (code: PrometheusErrorCode, phrase: string, found: string): PrometheusError =>
    new PrometheusError(code, `Prometheus at ${target} ${phrase} (${found})`, { cause: error });

  const tls = pick((c) => TLS_CODE.test(c));
  if (tls) return build('PROM_TLS', 'failed the TLS handshake', tls);
  const dns = pick((c) => DNS_CODES.has(c));
  if (dns) return build('PROM_DNS', 'has a host name that does not resolve', dns);
  const timeout = pick((c) => TIMEOUT_CODES.has(c));
  if (timeout) return build('PROM_TIMEOUT', `gave no complete answer within ${timeoutMs} ms`, timeout);
  const found = pick((c) => c in NETWORK_PHRASES);
  if (found) {
    // Under TLS 1.3 a server refuses a client certificate after the handshake, and Node surfaces only the
    // closed socket (measured: UND_ERR_SOCKET, bytesRead 0, no alert in the cause chain).
    const silentTls = target.startsWith('https:') && found === 'UND_ERR_SOCKET' && readNothing(error);
    const hint = silentTls ? '; over https this is also how a server refuses a missing or untrusted client certificate' : '';
    return build('PROM_NETWORK', `${NETWORK_PHRASES[found] ?? ''}${hint}`, found);
  }
  const name = codes[0] ?? (error instanceof Error ? error.name : typeof error);
  return build('PROM_NETWORK', 'could not be queried', name);
}

function readNothing(error: unknown): boolean {
  const socket = (error as { socket?: { bytesRead?: number } }).socket;
  return socket?.bytesRead === 0;
}

/** Codes of the error, its causes and, for AggregateError (happy eyeballs tries several addresses), its members. */
function errorCodes(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 4) return [];
  const own = 'code' in error && typeof error.code === 'string' ? [error.code] : [];
  const members = error instanceof AggregateError ? error.errors.flatMap((e: unknown) => errorCodes(e, depth + 1)) : [];
  const cause = 'cause' in error ? errorCodes(error.cause, depth + 1) : [];
  return [...own, ...members, ...cause];
}
