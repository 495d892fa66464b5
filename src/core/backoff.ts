// When the monitor asks next: the schedule of one probe inside its interval (no lockstep between replicas), the
// backoff while the backend refuses (429, 503), and its Retry-After. Pure arithmetic on numbers the monitor reads
// from its clock and its randomness source; the monitor holds the timers.
import { hashName } from './fleet.js';

/** The codes that mean "the backend refused to work now": the probe backs off while it keeps getting them. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set(['PROM_OVERLOADED', 'PROM_UNAVAILABLE']);

/** The most evaluations are spread apart while refused: this many intervals, and never past STALE_AFTER / 2. */
export const MAX_BACKOFF_INTERVALS = 5;

/**
 * Where in each interval this probe asks: `hash(name) mod interval`, so replicas with different names are apart
 * however they started, and the same name keeps its place across restarts. With no name, `random` (in [0, 1))
 * picks one. Whole milliseconds in [0, intervalMs).
 */
export function scheduleOffsetMs(name: string, intervalMs: number, random: number): number {
  if (name === '') return Math.min(intervalMs - 1, Math.floor(clampUnit(random) * intervalMs));
  return hashName(name) % intervalMs;
}

/** The grid origin on the monotonic clock: the first instant at or after `monotonicMs` whose wall time is `k x interval + offset`. */
export function gridOriginMs(monotonicMs: number, wallMs: number, intervalMs: number, offsetMs: number): number {
  return monotonicMs + mod(offsetMs - wallMs, intervalMs);
}

/** The first tick of the grid (`originMs + k x intervalMs`, k any integer) at or after `atMs`. */
export function gridTickAtOrAfter(originMs: number, intervalMs: number, atMs: number): number {
  return originMs + Math.ceil((atMs - originMs) / intervalMs) * intervalMs;
}

/**
 * The longest wait after `refusals` refused evaluations in a row: `interval x 2^refusals`, capped at
 * MAX_BACKOFF_INTERVALS intervals and at STALE_AFTER / 2 (so a verdict turns unknown on time), never under one interval.
 */
export function backoffCeilingMs(intervalMs: number, staleAfterMs: number, refusals: number): number {
  const cap = Math.max(intervalMs, Math.min(MAX_BACKOFF_INTERVALS * intervalMs, Math.floor(staleAfterMs / 2)));
  if (refusals <= 0) return intervalMs;
  // 2^refusals grows past any cap by 2^31; min() then keeps it.
  return Math.min(cap, intervalMs * 2 ** Math.min(refusals, 31));
}

/** Full jitter above the interval floor: uniform in [interval, ceiling], so refused replicas do not come back together. */
export function backoffDelayMs(intervalMs: number, staleAfterMs: number, refusals: number, random: number): number {
  const ceiling = backoffCeilingMs(intervalMs, staleAfterMs, refusals);
  return intervalMs + Math.floor(clampUnit(random) * (ceiling - intervalMs));
}

/** What the monitor knows when it plans its next tick; all times on the monotonic clock. */
export interface NextTickInput {
  readonly originMs: number;
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  /** When the tick that just ran was due. */
  readonly lastDueMs: number;
  readonly nowMs: number;
  /** Evaluations in a row that the backend refused (429, 503); 0 after any other outcome. */
  readonly refusals: number;
  /** The longest Retry-After of the last evaluation's refusals, or null. */
  readonly retryAfterMs: number | null;
  /** In [0, 1). */
  readonly random: number;
}

/**
 * When the next tick is due. Normally the next grid tick at least one interval after the last due one (fixed rate,
 * no drift). After a refusal: a jittered backoff from the last due tick, and not before Retry-After has passed,
 * but never later than STALE_AFTER from now. Never before now.
 */
export function nextTickMs(input: NextTickInput): number {
  const { originMs, intervalMs, staleAfterMs, lastDueMs, nowMs } = input;
  if (input.refusals <= 0) return Math.max(nowMs, gridTickAtOrAfter(originMs, intervalMs, lastDueMs + intervalMs));
  const backoff = lastDueMs + backoffDelayMs(intervalMs, staleAfterMs, input.refusals, input.random);
  const hold = input.retryAfterMs === null ? nowMs : nowMs + Math.min(Math.max(0, input.retryAfterMs), staleAfterMs);
  return Math.max(nowMs, Math.min(Math.max(backoff, hold), nowMs + staleAfterMs));
}

// IMF-fixdate (RFC 9110 5.6.7), the form senders must use: `Sun, 06 Nov 1994 08:49:37 GMT`.
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A Retry-After header (RFC 9110 10.2.3) in milliseconds from `nowMs`: delay-seconds, or an HTTP-date (IMF-fixdate).
 * A date in the past is 0; anything else (absent, negative, a fraction, another date form) is undefined: ignored.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowMs: number): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  if (!IMF_FIXDATE.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function mod(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

function clampUnit(random: number): number {
  return Number.isFinite(random) ? Math.min(Math.max(random, 0), 1) : 0;
}
