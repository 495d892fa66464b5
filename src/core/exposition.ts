// The Prometheus text exposition (format 0.0.4) of what the monitor knows. Pure, and never a query:
// a scrape of /metrics reads the cache like any probe.
import { EVALUATION_ERROR_CODES } from './errors.js';
import { assessReadiness, judgedOf, type ProbeView, type ReadinessReport } from './readiness.js';
import { DURATION_BUCKETS_S } from './snapshot.js';
import type { Labels } from './types.js';
import { CHECK_STATES, combine, type JudgedCheck } from './verdict.js';

/** One metric family being written: HELP and TYPE once, then its samples. */
class Family {
  readonly lines: string[];

  constructor(name: string, type: 'gauge' | 'counter' | 'histogram', help: string) {
    this.lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
  }

  sample(name: string, labels: Labels, value: number): this {
    const pairs = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabelValue(v)}"`);
    this.lines.push(`${name}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${formatSampleValue(value)}`);
    return this;
  }
}

/** The exposition body. Gauges of a value Prometheus has not given (no data, not yet asked) are left out. */
export function exposition(view: ProbeView, report: ReadinessReport = assessReadiness(view)): string {
  const group = { consumergroup: view.config.group };
  const snapshot = view.snapshot;
  const judged = new Map(snapshot?.verdict.checks.map((check) => [check.record.check.id, check]));
  const families: Family[] = [];
  const family = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string): Family => {
    const created = new Family(name, type, help);
    families.push(created);
    return created;
  };

  const status = family(
    'crm_events_health_status',
    'gauge',
    "The group's verdict per consumer group, before the fleet limit and DRY_RUN: 1 healthy, 0 not (absent before the first evaluation).",
  );
  if (snapshot !== null) {
    // The checks' verdict, whatever the phase: a replica shutting down answers 503 but the group is not failing.
    for (const name of report.groups.keys()) {
      const judged = judgedOf(
        view,
        view.checks.filter((check) => check.group === name),
      );
      status.sample('crm_events_health_status', { consumergroup: name }, combine(judged, view.config.onPrometheusError).healthy ? 1 : 0);
    }
  }
  // As Prometheus' own prometheus_config_last_reload_successful: a refused SIGHUP must be alertable, not only logged.
  family('crm_events_health_config_last_reload_successful', 'gauge', '0 when the last SIGHUP reload was refused (the old checks stay); 1 otherwise.').sample(
    'crm_events_health_config_last_reload_successful',
    {},
    view.reload?.ok === false ? 0 : 1,
  );
  family('crm_events_health_dry_run', 'gauge', '1 when DRY_RUN is on: /ready answers 200 whatever the verdict.').sample(
    'crm_events_health_dry_run',
    {},
    view.config.dryRun ? 1 : 0,
  );

  // The fleet limit. own_unready is what the other replicas read (with the label Prometheus adds for this one) to
  // learn the fleet (fleet.ts' FLEET_METRIC); the rest say what the limit decided here.
  const own = family(
    'crm_events_health_own_unready',
    'gauge',
    '1 when this replica is unready for its own reasons (starting, shutting down, a per-replica check failing), 0 otherwise; the fleet limit counts it.',
  );
  for (const name of report.groups.keys()) own.sample('crm_events_health_own_unready', { consumergroup: name }, report.ownUnready ? 1 : 0);
  const answered = report.overall.would_be_status_code ?? report.overall.statusCode;
  family('crm_events_health_ready', 'gauge', '1 when /ready answers 200 (held ready included; under DRY_RUN what it would answer), 0 otherwise.').sample(
    'crm_events_health_ready',
    {},
    answered === 200 ? 1 : 0,
  );
  family('crm_events_health_held_ready', 'gauge', '1 when a group-wide failure would make this replica unready but the fleet limit holds it ready.').sample(
    'crm_events_health_held_ready',
    {},
    report.overall.held_ready === true ? 1 : 0,
  );
  const fleet = snapshot?.fleet ?? null;
  if (fleet !== null) {
    family('crm_events_health_fleet_replicas', 'gauge', 'Replicas in the fleet as this one last saw it (1 when it never saw its fleet).').sample(
      'crm_events_health_fleet_replicas',
      {},
      fleet.decision.fleetSize,
    );
    family(
      'crm_events_health_fleet_max_unready',
      'gauge',
      'How many replicas a group-wide failure may make unready at once (FLEET_MAX_UNREADY applied to the fleet).',
    ).sample('crm_events_health_fleet_max_unready', {}, fleet.decision.allowance);
    family(
      'crm_events_health_fleet_seen',
      'gauge',
      '1 when the fleet was learned (from Prometheus or from callers), 0 when this replica behaves as a fleet of one.',
    ).sample('crm_events_health_fleet_seen', {}, fleet.view.source === 'none' && (view.callers ?? []).length === 0 ? 0 : 1);
  }

  // The seed's two gauges, named as the seed names them.
  const seedGauges = [
    ['skew_ratio', 'crm_events_health_skew_ratio', 'Skew ratio (max/avg lag over partitions) of the worst topic, as last observed.'],
    ['consumer_count', 'crm_events_health_consumer_count', 'Consumers in the group, as last observed.'],
  ] as const;
  for (const [name, metric, help] of seedGauges) {
    const gauge = family(metric, 'gauge', help);
    for (const check of view.checks.filter((candidate) => candidate.name === name)) {
      const value = currentValue(judged.get(check.id));
      if (value !== null) gauge.sample(metric, { consumergroup: check.group }, value);
    }
  }

  const errors = family('crm_events_health_check_errors_total', 'counter', 'Check evaluations that failed, by error code.');
  const value = family('crm_events_health_check_value', 'gauge', 'Last observed value of each check (absent when there is no data).');
  const threshold = family('crm_events_health_check_threshold', 'gauge', 'Threshold of each check.');
  const state = family('crm_events_health_check_state', 'gauge', 'State of each check: 1 for the current state, 0 for the others.');
  const stale = family('crm_events_health_check_stale', 'gauge', '1 when a check stands on an observation older than its last failed attempt.');
  const duration = family('crm_events_health_query_duration_seconds', 'histogram', 'Duration of Prometheus queries, by check.');
  for (const check of view.checks) {
    const labels = { consumergroup: check.group, check: check.name };
    const judgedCheck = judged.get(check.id);
    const stats = snapshot?.stats.get(check.id);
    for (const code of EVALUATION_ERROR_CODES) {
      errors.sample('crm_events_health_check_errors_total', { ...labels, code }, stats?.errors.get(code) ?? 0);
    }
    const observed = currentValue(judgedCheck);
    if (observed !== null) value.sample('crm_events_health_check_value', labels, observed);
    if (check.comparison === 'range') {
      threshold.sample('crm_events_health_check_threshold', { ...labels, bound: 'min' }, check.min);
      threshold.sample('crm_events_health_check_threshold', { ...labels, bound: 'max' }, check.max);
    } else threshold.sample('crm_events_health_check_threshold', labels, check.threshold);
    if (judgedCheck !== undefined) {
      for (const candidate of CHECK_STATES) {
        state.sample('crm_events_health_check_state', { ...labels, state: candidate }, judgedCheck.state === candidate ? 1 : 0);
      }
      stale.sample('crm_events_health_check_stale', labels, judgedCheck.stale ? 1 : 0);
    }
    if (stats !== undefined) {
      DURATION_BUCKETS_S.forEach((bound, index) => {
        duration.sample('crm_events_health_query_duration_seconds_bucket', { ...labels, le: String(bound) }, stats.durationBuckets[index]!);
      });
      duration
        .sample('crm_events_health_query_duration_seconds_bucket', { ...labels, le: '+Inf' }, stats.durationCount)
        .sample('crm_events_health_query_duration_seconds_sum', labels, stats.durationSumS)
        .sample('crm_events_health_query_duration_seconds_count', labels, stats.durationCount);
    }
  }

  // Lag in time and churn (the built-in checks' groups), absent where there is no estimate rather than +Inf.
  const estimates = snapshot?.estimates ?? new Map();
  const lagSeconds = family(
    'crm_events_health_lag_seconds',
    'gauge',
    'How far the group is behind its producers, in seconds (kafka:group_lag_seconds; absent without an estimate).',
  );
  const drainSeconds = family(
    'crm_events_health_drain_seconds',
    'gauge',
    'How long until the lag is gone at the current rates, in seconds (kafka:group_drain_seconds; absent without an estimate).',
  );
  const churn = family('crm_events_health_membership_changes', 'gauge', 'Changes of the member count over the last ten minutes (kafka:group_membership_changes).');
  for (const [name, estimate] of estimates) {
    if (estimate.behindSeconds !== null) lagSeconds.sample('crm_events_health_lag_seconds', { consumergroup: name }, estimate.behindSeconds);
    if (estimate.drainSeconds !== null) drainSeconds.sample('crm_events_health_drain_seconds', { consumergroup: name }, estimate.drainSeconds);
    if (estimate.membershipChanges !== null) churn.sample('crm_events_health_membership_changes', { consumergroup: name }, estimate.membershipChanges);
  }

  const evaluations = family('crm_events_health_evaluations_total', 'counter', 'Evaluations of all checks since start.');
  evaluations.sample('crm_events_health_evaluations_total', group, snapshot?.evaluations ?? 0);
  const lastSuccess = family(
    'crm_events_health_last_success_timestamp_seconds',
    'gauge',
    'When every query of an evaluation last succeeded, in Unix seconds (absent until one has).',
  );
  if (snapshot?.lastSuccessMs != null) lastSuccess.sample('crm_events_health_last_success_timestamp_seconds', group, snapshot.lastSuccessMs / 1000);
  const lastEvaluation = family('crm_events_health_last_evaluation_timestamp_seconds', 'gauge', 'When the checks were last evaluated, in Unix seconds.');
  if (snapshot !== null) lastEvaluation.sample('crm_events_health_last_evaluation_timestamp_seconds', group, snapshot.evaluatedAtMs / 1000);
  family('crm_events_health_build_info', 'gauge', 'Version of the probe and of Node.js; always 1.').sample(
    'crm_events_health_build_info',
    { version: view.version, nodejs: view.nodeVersion },
    1,
  );
  family('crm_events_health_start_time_seconds', 'gauge', 'When the probe started, in Unix seconds.').sample(
    'crm_events_health_start_time_seconds',
    {},
    view.startedAtMs / 1000,
  );

  return `${families.map((f) => f.lines.join('\n')).join('\n')}\n`;
}

/**
 * The value a gauge may export: none once the check is unknown, since an answer older than STALE_AFTER exported as
 * current would keep alerts and dashboards on a number nobody has seen for minutes (the state says unknown).
 */
function currentValue(judged: JudgedCheck | undefined): number | null {
  if (judged === undefined || judged.state === 'unknown') return null;
  return judged.record.observation?.value ?? null;
}

/** The text format's escaping of label values: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (char) => (char === '\n' ? '\\n' : '\\\\'));
}

function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
