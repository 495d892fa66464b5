// Checks as data, and what one answer from Prometheus means for a check. Pure: no clock, no I/O.
import { type Drain, drainQuery } from './drain.js';
import { formatDuration } from './duration.js';
import type { Sample } from './envelope.js';
import { ESTIMATE_SERIES } from './estimates.js';
import { GROUP, NAMESPACE, POD, quoteLabelValue, sustainedQuery } from './promql.js';
import { formatPartitions, stallQuery } from './stall.js';
import type { Labels } from './types.js';

/** A bound: `<`/`<=` judge the highest series, `>`/`>=` the lowest, a range the one furthest outside it. */
export type Bound =
  | { readonly comparison: '<' | '<=' | '>' | '>='; readonly threshold: number }
  | { readonly comparison: 'range'; readonly min: number; readonly max: number };

/** What a check means when the query returns no series (or only NaN), or when Prometheus cannot be asked. */
export type DataPolicy = 'pass' | 'fail' | 'keepLast';

/** A check before it is bound to a group: `{group}` in its query and messages stands for the group. */
export type CheckTemplate = {
  readonly name: string;
  readonly query: string;
  /** How long a breach must last before the check fails (0: at once). */
  readonly forMs: number;
  /** How long a recovery must last before a failed check passes again (0: at once). */
  readonly keepForMs: number;
  readonly onNoData: DataPolicy;
  /** After STALE_AFTER without an answer; null: ON_PROMETHEUS_ERROR decides. */
  readonly onError: DataPolicy | null;
  /** Why the check fails, with {value}, {threshold}, {min}, {max}, {series}, {group} and {name}. */
  readonly failMessage: string;
  /** Why the check has no data; shown as a failure only when no data fails it. */
  readonly noDataMessage: string;
  /** The unit of the value, for application/health+json's observedUnit. */
  readonly unit: string;
  readonly drain: Drain | null;
  /**
   * What is judged: the worst series' value (absent: the default), or `series`, how many series are above zero
   * (stalled partitions: one series each, and a zero-valued one when none is, so that none differs from no data).
   */
  readonly measure?: 'series';
} & Bound;

/**
 * What a check judges: `group`, a group-wide signal every replica sees alike (held by the fleet limit), or
 * `replica`, this replica alone (its query names {pod} or {namespace}): it fails only this replica, never held.
 */
export type CheckScope = 'group' | 'replica';

/** A check bound to one consumer group: what the monitor evaluates. */
export type CheckDefinition = CheckTemplate & {
  /** Unique among the configured checks: the name, or `group/name` when several groups are judged. */
  readonly id: string;
  readonly group: string;
  readonly scope: CheckScope;
};

/** Who this replica is, for {pod} and {namespace}: POD_NAME (or the host name) and POD_NAMESPACE. */
export interface ReplicaNames {
  readonly pod: string;
  readonly namespace: string | null;
}

/** The state of a check from one answer. */
export type ObservedState = 'pass' | 'fail' | 'no_data';

/** One answer judged: the worst series' value and labels, and how many series there were. */
export interface Observation {
  readonly state: ObservedState;
  /** The worst value, or null when there is no data. May be +-Infinity. */
  readonly value: number | null;
  readonly labels: Labels;
  readonly series: number;
  /** The labels of every series outside the bound (at most MAX_BREACHING), for matching a drain's trend. */
  readonly breaching?: readonly Labels[];
}

const MAX_BREACHING = 100;

// Labels every answer of one group shares: the worst series is named by the others.
const COMMON_LABELS: ReadonlySet<string> = new Set(['__name__', 'consumergroup']);

/** A check's name: a URL path segment (/ready/NAME) and a label value, so nothing that needs escaping in either. */
export const CHECK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** What the built-in checks are made of: SKEW_THRESHOLD, MIN_CONSUMERS, SKEW_FOR, DRAIN_*, SKEW_MIN_LAG, STALL_AFTER, MAX_LAG_SECONDS. */
export interface SeedSettings {
  readonly skewThreshold: number;
  /** SKEW_MIN_LAG: skew counts only where the hottest partition holds more than this many messages; 0: always. */
  readonly skewMinLag: number;
  /** STALL_AFTER: how long a committed offset may stand still while producers write; 0: no stall check. */
  readonly stallAfterMs: number;
  /** MAX_LAG_SECONDS: the most the group may be behind its producers; null: no such check. */
  readonly maxLagSeconds: number | null;
  readonly minConsumers: number;
  readonly skewForMs: number;
  readonly drainGraceMs: number;
  readonly drainWindowMs: number;
  /** ON_NO_DATA: a missing series means the monitoring chain is broken, not that the group is. */
  readonly onNoData: 'pass' | 'fail';
}

/**
 * Why a built-in check's series can be missing: never evidence about the consumers, since kafka_exporter reports
 * a 0 for a described group with no members.
 */
const NO_DATA_CAUSES = 'kafka_exporter down or not scraped, the recording rules not loaded, or no consumer group of that name';

/** The built-in checks: the seed's two, stalled partitions (unless STALL_AFTER=0s), lag in time (with MAX_LAG_SECONDS). */
export function seedTemplates(config: SeedSettings): readonly CheckTemplate[] {
  const skew = `kafka:group_skew_ratio{consumergroup="${GROUP}"}`;
  const common = { forMs: 0, keepForMs: 0, onError: null } as const;
  const sustained = config.skewForMs > 0 ? sustainedQuery(skew, config.skewForMs) : skew;
  return [
    {
      ...common,
      name: 'skew_ratio',
      query: config.skewMinLag > 0 ? skewAboveFloor(sustained, config.skewMinLag) : sustained,
      comparison: '<=',
      threshold: config.skewThreshold,
      onNoData: config.onNoData,
      failMessage: config.skewForMs > 0 ? `Hot-key skew high: {value}x for ${formatDuration(config.skewForMs)}{series}` : 'Hot-key skew high: {value}x{series}',
      noDataMessage:
        config.skewForMs > 0
          ? `No skew data for group ${GROUP} (kafka:group_skew_ratio has no series as old as SKEW_FOR ${formatDuration(config.skewForMs)}: a topic or rule that is new, or ${NO_DATA_CAUSES})`
          : `No skew data for group ${GROUP} (kafka:group_skew_ratio has no series: ${NO_DATA_CAUSES})`,
      unit: 'ratio',
      drain: config.drainGraceMs > 0 ? { query: drainQuery(config.drainWindowMs), graceMs: config.drainGraceMs } : null,
    },
    {
      ...common,
      name: 'consumer_count',
      query: `kafka:group_consumer_count{consumergroup="${GROUP}"}`,
      comparison: '>=',
      threshold: config.minConsumers,
      onNoData: config.onNoData,
      failMessage: 'Too few consumers: {value} < {threshold}{series}',
      noDataMessage: `No consumer count for group ${GROUP} (kafka:group_consumer_count has no series: ${NO_DATA_CAUSES})`,
      unit: 'consumers',
      drain: null,
    },
    ...(config.stallAfterMs > 0
      ? [
          {
            ...common,
            name: 'stalled_partitions',
            query: stallQuery(config.stallAfterMs),
            comparison: '<=' as const,
            threshold: 0,
            measure: 'series' as const,
            onNoData: config.onNoData,
            failMessage: `Stalled: {value} {partition_word} not committing for ${formatDuration(config.stallAfterMs)} ({partitions})`,
            noDataMessage: `No offsets for group ${GROUP} (kafka:group_committed_offset has no series: the offset recording rules not loaded, or ${NO_DATA_CAUSES})`,
            unit: 'partitions',
            drain: null,
          },
        ]
      : []),
    ...(config.maxLagSeconds !== null
      ? [
          {
            ...common,
            name: 'lag_seconds',
            query: `${ESTIMATE_SERIES.behind}{consumergroup="${GROUP}"}`,
            comparison: '<=' as const,
            threshold: config.maxLagSeconds,
            onNoData: config.onNoData,
            failMessage: 'Behind the producers: {value}s > {threshold}s{series}',
            noDataMessage: `No lag-in-time estimate for group ${GROUP} (${ESTIMATE_SERIES.behind} has no series: a backlog whose producer is idle, an estimate above a week, or ${NO_DATA_CAUSES})`,
            unit: 's',
            drain: null,
          },
        ]
      : []),
  ];
}

/**
 * Skew counts only where the hottest partition holds more than `minLag` messages: a ratio of 6 over 12 messages is
 * harmless. Topics under the floor read 1 (balanced), so they pass without turning into "no data".
 */
function skewAboveFloor(skewQuery: string, minLag: number): string {
  const under = `(kafka:group_max_lag{consumergroup="${GROUP}"} <= ${minLag})`;
  return `((${skewQuery}) unless on (cluster, consumergroup, topic) ${under}) or on (cluster, consumergroup, topic) (${under} * 0 + 1)`;
}

/** Whether a template judges this replica alone: its query names the replica. */
function scopeOf(template: Pick<CheckTemplate, 'query'>): CheckScope {
  return template.query.includes(POD) || template.query.includes(NAMESPACE) ? 'replica' : 'group';
}

/** Every template bound to every group (and to this replica), in template order within each group. */
export function instantiate(
  templates: readonly CheckTemplate[],
  groups: readonly string[],
  replica: ReplicaNames = { pod: '', namespace: null },
): readonly CheckDefinition[] {
  const severalGroups = groups.length > 1;
  // In PromQL a name is the inside of a string literal, escaped; in messages it is itself.
  const inside = (value: string): string => quoteLabelValue(value).slice(1, -1);
  const pod = inside(replica.pod);
  const namespace = inside(replica.namespace ?? '');
  return groups.flatMap((group) =>
    templates.map((template) => {
      const values: Readonly<Record<string, string>> = { [GROUP]: inside(group), [POD]: pod, [NAMESPACE]: namespace };
      // One pass: a group named "{pod}" stays that name, never becomes this replica's.
      const inQuery = (query: string): string => query.replace(/\{(?:group|pod|namespace)\}/g, (placeholder) => values[placeholder]!);
      return {
        ...template,
        id: severalGroups ? `${group}/${template.name}` : template.name,
        group,
        scope: scopeOf(template),
        query: inQuery(template.query),
        // failMessage keeps its {group}: failureMessage fills every field in one pass.
        noDataMessage: template.noDataMessage.replaceAll(GROUP, () => group),
        drain: template.drain === null ? null : { ...template.drain, query: inQuery(template.drain.query) },
      };
    }),
  );
}

/** How far outside its bound a value is: positive outside, zero on it, negative inside. */
function excess(bound: Bound, value: number): number {
  switch (bound.comparison) {
    case '<':
    case '<=':
      return value - bound.threshold;
    case '>':
    case '>=':
      return bound.threshold - value;
    case 'range':
      return Math.max(bound.min - value, value - bound.max);
  }
}

/** Whether a value is within the bound. */
export function within(bound: Bound, value: number): boolean {
  const over = excess(bound, value);
  const strict = bound.comparison === '<' || bound.comparison === '>';
  // Infinity - Infinity is NaN: an infinite value against an infinite threshold is on it.
  return Number.isNaN(over) ? !strict : strict ? over < 0 : over <= 0;
}

/** Judges one answer: NaN counts as no data; of several series the worst decides. */
export function observe(check: Bound & { readonly measure?: 'series' }, samples: readonly Sample[]): Observation {
  if (check.measure === 'series') return countSeries(check, samples);
  let worst: Sample | undefined;
  let worstExcess = Number.NEGATIVE_INFINITY;
  let series = 0;
  const breaching: Labels[] = [];
  for (const sample of samples) {
    if (Number.isNaN(sample.value)) continue;
    series += 1;
    const over = excess(check, sample.value);
    if (worst === undefined || over > worstExcess) {
      worst = sample;
      worstExcess = over;
    }
    if (!within(check, sample.value) && breaching.length < MAX_BREACHING) breaching.push(sample.labels);
  }
  if (worst === undefined) return { state: 'no_data', value: null, labels: {}, series: 0 };
  const state = within(check, worst.value) ? 'pass' : 'fail';
  return state === 'fail' ? { state, value: worst.value, labels: worst.labels, series, breaching } : { state, value: worst.value, labels: worst.labels, series };
}

/**
 * A check on how many series are above zero (a sentinel at zero means "none"; no series at all means no data).
 * The counted series are kept as the breaching ones, for the message.
 */
function countSeries(check: Bound, samples: readonly Sample[]): Observation {
  const known = samples.filter((sample) => !Number.isNaN(sample.value));
  if (known.length === 0) return { state: 'no_data', value: null, labels: {}, series: 0 };
  const counted = known.filter((sample) => sample.value > 0);
  const state = within(check, counted.length) ? 'pass' : 'fail';
  const base = { state, value: counted.length, labels: {}, series: counted.length } as const;
  return state === 'fail' ? { ...base, breaching: counted.slice(0, MAX_BREACHING).map((sample) => sample.labels) } : base;
}

/** The message of a failing observation. */
export function failureMessage(check: CheckDefinition, observation: Observation): string {
  if (observation.value === null) return check.noDataMessage;
  const distinct = Object.entries(observation.labels).filter(([name]) => !COMMON_LABELS.has(name));
  const series = distinct.length === 0 ? '' : ` (${distinct.map(([name, value]) => `${name}=${value}`).join(', ')})`;
  // Rounding must not make a failing value read like the threshold ("4x" against 4): show it whole then.
  const bounds = check.comparison === 'range' ? [check.min, check.max] : [check.threshold];
  const rounded = formatValue(observation.value);
  const value = bounds.some((bound) => formatValue(bound) === rounded) ? String(observation.value) : rounded;
  const fields: Record<string, string> = {
    '{value}': value,
    '{threshold}': check.comparison === 'range' ? `${formatValue(check.min)}..${formatValue(check.max)}` : formatValue(check.threshold),
    '{min}': check.comparison === 'range' ? formatValue(check.min) : '',
    '{max}': check.comparison === 'range' ? formatValue(check.max) : '',
    '{series}': series,
    '{name}': check.name,
    '{group}': check.group,
    '{partitions}': formatPartitions(observation.breaching ?? []),
    '{partition_word}': observation.value === 1 ? 'partition' : 'partitions',
  };
  // One pass, functions: a label value holding "{value}" or "$&" stays literal.
  return check.failMessage.replace(/\{(?:value|threshold|min|max|series|name|group|partitions|partition_word)\}/g, (field) => fields[field]!);
}

/** A number for people: at most two decimals, infinities as Prometheus writes them. */
export function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(Math.round(value * 100) / 100);
}
