// The blast-radius limit: how many replicas a group-wide verdict may make unready at once, and which ones.
//
// Every replica judges the same group-wide series, so without a limit one hot key or one monitoring fault takes
// every replica out together. Replicas never talk to each other: each learns the fleet (from Prometheus, which
// scrapes every probe, or from the callers that name themselves), and all of them reach the same choice from the
// same inputs. The fleet is ordered by a hash of the names (the same order on every replica); each FLEET_ROTATE
// period of the wall clock takes the next replicas round that order, so a remedy that works by restart reaches a
// different consumer each time, and a replica added or removed moves the order by one place only.
import { selector } from './promql.js';

/** FLEET_MAX_UNREADY: a count ("1") or a share of the fleet ("25%"). */
export type UnreadyLimit = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'percent'; readonly percent: number };

/** How the limit is applied, from the configuration. */
export interface FleetSettings {
  /** This replica's name: POD_NAME, or the host name. */
  readonly self: string;
  readonly maxUnready: UnreadyLimit;
  readonly rotateMs: number;
  /**
   * How long a replica waits after a rotation before it takes its turn: the one whose turn ended leaves at its
   * first evaluation after the boundary, within one interval, so waiting one interval (plus clock skew) means the
   * two are never unready together.
   */
  readonly handoverMs: number;
}

/** Where the fleet was learned from. */
export type FleetSource = 'prometheus' | 'callers' | 'none';

/** The replicas as last seen. */
export interface FleetView {
  readonly source: FleetSource;
  /** Every replica's name, this one included, sorted. */
  readonly replicas: readonly string[];
  /** Other replicas that are unready for their own reasons (starting, shutting down, a per-replica check). */
  readonly ownUnready: readonly string[];
  /** Wall time the fleet was last seen, or null when it never was. */
  readonly seenAtMs: number | null;
}

/** A fleet never seen: this replica alone, judged as it always was. */
export function loneFleet(self: string): FleetView {
  return { source: 'none', replicas: [self], ownUnready: [], seenAtMs: null };
}

/** How many replicas may be unready at once: a share rounds down, but never below 1. */
export function unreadyAllowance(limit: UnreadyLimit, fleetSize: number): number {
  if (limit.kind === 'count') return Math.max(1, limit.count);
  return Math.max(1, Math.floor((fleetSize * limit.percent) / 100 + 1e-9));
}

/** FLEET_MAX_UNREADY as written: "1", "25%". */
export function formatUnreadyLimit(limit: UnreadyLimit): string {
  return limit.kind === 'count' ? String(limit.count) : `${limit.percent}%`;
}

/**
 * cyrb53, a 53-bit string hash: the same on every replica, well spread, no dependency. Only the order it gives
 * matters, never secrecy.
 */
export function hashName(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The fleet in the order every replica agrees on: by hash, ties by name. */
export function fleetOrder(replicas: readonly string[]): readonly string[] {
  return [...new Set(replicas)].sort((a, b) => hashName(a) - hashName(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The rotation period a wall time falls in. */
export function rotation(nowMs: number, rotateMs: number): number {
  return Math.floor(nowMs / rotateMs);
}

/**
 * The replicas whose turn it is to be unready for a group-wide failure in rotation `period`: `slots` of them,
 * taken round the agreed order from where the period puts the start. Replicas unready for their own reasons are
 * passed over (they already count against the limit).
 */
export function turnOf(replicas: readonly string[], ownUnready: readonly string[], slots: number, period: number): readonly string[] {
  const own = new Set(ownUnready);
  const candidates = fleetOrder(replicas).filter((name) => !own.has(name));
  if (slots <= 0 || candidates.length === 0) return [];
  if (slots >= candidates.length) return candidates;
  const start = (((period * slots) % candidates.length) + candidates.length) % candidates.length;
  return Array.from({ length: slots }, (_, index) => candidates[(start + index) % candidates.length]!);
}

/** What the limit decides for this replica while a group-wide verdict fails. */
export interface FleetDecision {
  /** This replica answers unready for the group-wide failure. */
  readonly unready: boolean;
  /** How many may be unready at once, and of how many. */
  readonly allowance: number;
  readonly fleetSize: number;
  /** The replicas unready for the group-wide failure (their turn), as this replica sees it. */
  readonly turn: readonly string[];
  /** Others already unready for their own reasons, counted against the allowance. */
  readonly ownUnready: readonly string[];
  /** One line for people: why this replica is, or is not, unready. */
  readonly explanation: string;
}

/**
 * Whether this replica is one of those a group-wide failure may make unready now. A replica takes its turn only
 * when the rotation has not changed for handoverMs (so the one leaving goes first); a replica unready for its own
 * reasons never counts itself, or the choice would flap.
 */
export function decideFleet(fleet: FleetView, settings: FleetSettings, nowMs: number): FleetDecision {
  const replicas = fleet.replicas.includes(settings.self) ? fleet.replicas : [...fleet.replicas, settings.self];
  const ownUnready = fleet.ownUnready.filter((name) => name !== settings.self && replicas.includes(name));
  const allowance = unreadyAllowance(settings.maxUnready, replicas.length);
  const slots = Math.max(0, allowance - ownUnready.length);
  const period = rotation(nowMs, settings.rotateMs);
  const turn = turnOf(replicas, ownUnready, slots, period);
  const settled = rotation(nowMs - settings.handoverMs, settings.rotateMs) === period;
  const mine = turn.includes(settings.self);
  const unready = mine && (settled || turnOf(replicas, ownUnready, slots, period - 1).includes(settings.self));
  const of = `${allowance} of ${replicas.length} replica${replicas.length === 1 ? '' : 's'} may be unready for a group-wide failure`;
  const others = ownUnready.length === 0 ? '' : `; ${ownUnready.length} already unready for their own reasons (${ownUnready.join(', ')})`;
  let explanation: string;
  if (unready) explanation = `unready: this replica's turn (${of}${others})`;
  else if (mine) explanation = `held ready: this replica's turn begins once the previous one has left (${of}${others})`;
  else explanation = `held ready: ${of}${others}; unready now: ${turn.length === 0 ? 'none' : turn.join(', ')}`;
  return { unready, allowance, fleetSize: replicas.length, turn, ownUnready, explanation };
}

/**
 * The fleet after a new answer from Prometheus: the names carried by `label`, with those reporting themselves
 * unready. An empty answer (a Prometheus restart, a scrape gap, a query that failed) is no evidence that the
 * replicas are gone: the last fleet seen stands while it is younger than `standsForMs`.
 */
export function nextFleet(
  previous: FleetView,
  answer: readonly { readonly name: string; readonly ownUnready: boolean }[] | null,
  nowMs: number,
  standsForMs: number,
  self: string,
): FleetView {
  const named = (answer ?? []).filter((replica) => replica.name !== '');
  if (named.length === 0) {
    const fresh = previous.seenAtMs !== null && nowMs - previous.seenAtMs < standsForMs;
    return fresh ? previous : loneFleet(self);
  }
  const replicas = [...new Set([...named.map((replica) => replica.name), self])].sort();
  const ownUnready = [...new Set(named.filter((replica) => replica.ownUnready).map((replica) => replica.name))].sort();
  return { source: 'prometheus', replicas, ownUnready, seenAtMs: nowMs };
}

/** The fleet as an evaluation left it: what was seen, and what the limit decided for this replica. */
export interface FleetState {
  readonly view: FleetView;
  readonly decision: FleetDecision;
  readonly settings: FleetSettings;
}

/** How the monitor learns the fleet from Prometheus. */
export interface FleetLearning {
  readonly settings: FleetSettings;
  /** fleetQuery(): the replicas and whether each is unready for its own reasons. */
  readonly query: string;
  /** FLEET_LABEL: the label that carries each replica's name. */
  readonly label: string;
  /** How long the last fleet seen stands when Prometheus shows none (a restart, a scrape gap). */
  readonly standsForMs: number;
  /** How often the fleet is asked while every group-wide check passes; while one fails, every evaluation asks. */
  readonly refreshMs: number;
}

/** The last fleet seen stands this long through empty answers: longer than a Prometheus restart or a scrape gap. */
export const FLEET_STANDS_FOR_MS = 15 * 60_000;

/** The probe's own series the fleet is learned from: each replica's name is the label Prometheus adds when scraping it. */
export const FLEET_METRIC = 'crm_events_health_own_unready';

/**
 * The PromQL that lists the replicas judging any of `groups` (in `namespace`, when given), each with 1 when it
 * is unready for its own reasons.
 */
export function fleetQuery(groups: readonly string[], label: string, namespace: string | null): string {
  const selectors = groups.map((group) => selector(FLEET_METRIC, namespace === null ? { consumergroup: group } : { consumergroup: group, namespace }));
  return `max by (${label}) (${selectors.join(' or ')})`;
}
