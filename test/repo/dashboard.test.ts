// The Grafana dashboard (monitoring/grafana/dashboards/crm-events-health.json): it parses, its layout and variables
// hold together, it has the panels the issue asks for, and every metric its PromQL names is one that something in
// this project produces: the probe's /metrics, the recording rules, or kafka_exporter (the rules' inputs).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHECK_STATES, type CheckState } from '../../src/core/verdict.js';
import { requireBinary } from '../helpers/real-prometheus.js';

const DASHBOARD = fileURLToPath(new URL('../../monitoring/grafana/dashboards/crm-events-health.json', import.meta.url));
const RULES = fileURLToPath(new URL('../../monitoring/prometheus-crm-events-rules.yml', import.meta.url));
const METRICS_SOURCE = fileURLToPath(new URL('../../src/core/exposition.ts', import.meta.url));
const DATASOURCE_PROVISIONING = fileURLToPath(new URL('../../monitoring/grafana/provisioning/datasources/prometheus.yaml', import.meta.url));

/** What the probe exports (README.md, "/metrics"), by metric family and type. */
const PROBE_FAMILIES: Readonly<Record<string, 'gauge' | 'counter' | 'histogram'>> = {
  crm_events_health_status: 'gauge',
  crm_events_health_skew_ratio: 'gauge',
  crm_events_health_consumer_count: 'gauge',
  crm_events_health_dry_run: 'gauge',
  crm_events_health_config_last_reload_successful: 'gauge',
  crm_events_health_check_errors_total: 'counter',
  crm_events_health_check_value: 'gauge',
  crm_events_health_check_threshold: 'gauge',
  crm_events_health_check_state: 'gauge',
  crm_events_health_check_stale: 'gauge',
  crm_events_health_query_duration_seconds: 'histogram',
  crm_events_health_last_success_timestamp_seconds: 'gauge',
  crm_events_health_last_evaluation_timestamp_seconds: 'gauge',
  crm_events_health_evaluations_total: 'counter',
  crm_events_health_build_info: 'gauge',
  crm_events_health_start_time_seconds: 'gauge',
  crm_events_health_own_unready: 'gauge',
  crm_events_health_ready: 'gauge',
  crm_events_health_held_ready: 'gauge',
  crm_events_health_fleet_replicas: 'gauge',
  crm_events_health_fleet_max_unready: 'gauge',
  crm_events_health_fleet_seen: 'gauge',
  crm_events_health_lag_seconds: 'gauge',
  crm_events_health_drain_seconds: 'gauge',
  crm_events_health_membership_changes: 'gauge',
};
/** Probe series without a consumergroup label (src/core/exposition.ts): not filtered by $group. */
const PROBE_WITHOUT_GROUP = new Set([
  'crm_events_health_build_info',
  'crm_events_health_start_time_seconds',
  'crm_events_health_ready',
  'crm_events_health_held_ready',
  'crm_events_health_fleet_replicas',
  'crm_events_health_fleet_max_unready',
  'crm_events_health_fleet_seen',
]);
/** danielqsj/kafka_exporter's consumer-group series (the recording rules' inputs; https://github.com/danielqsj/kafka_exporter). */
const KAFKA_EXPORTER = [
  'kafka_consumergroup_lag',
  'kafka_consumergroup_lag_sum',
  'kafka_consumergroup_current_offset',
  'kafka_consumergroup_members',
  'kafka_topic_partition_current_offset',
];

/** Series names a family exposes: a histogram's samples are _bucket, _sum and _count. */
function seriesNames(family: string, type: string): string[] {
  return type === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`] : [family];
}

function recordedNames(): string[] {
  const text = readFileSync(RULES, 'utf8');
  return [...text.matchAll(/^\s*-\s*record:\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*$/gm)].map((match) => match[1]!);
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects. Not a parser, but enough for what dashboards hold: strings, label
 * matchers, ranges, grouping clauses, Grafana variables and numbers are removed; what remains that is not a
 * function or aggregation call (an identifier followed by "(") or a keyword is a metric name.
 */
export function metricNamesIn(expr: string): string[] {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/g, ' ');
  rest = rest.replace(/(?<![A-Za-z_:0-9])(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?![A-Za-z_:0-9])/g, ' ');
  const names: string[] = [];
  for (const match of rest.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = rest.slice(match.index + match[0].length);
    if (/^\s*\(/.test(after)) continue; // a function or an aggregation
    if (PROMQL_KEYWORDS.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return [...new Set(names)];
}

interface Target {
  readonly expr?: string;
  readonly legendFormat?: string;
  readonly refId?: string;
  readonly datasource?: { readonly uid?: string };
}
interface ValueMapping {
  readonly type: string;
  readonly options: Readonly<Record<string, { readonly text?: string; readonly color?: string }>>;
}
interface FieldConfig {
  readonly defaults: { readonly mappings?: readonly ValueMapping[]; readonly thresholds?: { readonly steps: readonly { color: string; value: number | null }[] } };
  readonly overrides: readonly {
    readonly matcher: { readonly id: string; readonly options: string };
    readonly properties: readonly { readonly id: string; readonly value: unknown }[];
  }[];
}
interface Panel {
  readonly id: number;
  readonly fieldConfig?: FieldConfig;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query?: string };
  readonly definition?: string;
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const panels: Panel[] = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const targets = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
const exprs = targets.map(({ target }) => target.expr ?? '');

function variableQuery(variable: Variable): string {
  return typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? variable.definition ?? '');
}

/** The PromQL of the query variables; label_values(selector, label) names metrics only in its selector. */
function variableExprs(): string[] {
  return dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const query = variableQuery(variable);
      const labelValues = /^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_]\w*\s*\)\s*$/.exec(query);
      return labelValues === null ? query : labelValues[1]!;
    });
}

test('metricNamesIn finds the metrics and nothing else', () => {
  const cases: ReadonlyArray<[string, string[]]> = [
    ['crm_events_health_status{consumergroup="$group"}', ['crm_events_health_status']],
    ['histogram_quantile(0.99, sum by (le, check) (rate(x_seconds_bucket{consumergroup="$group"}[$__rate_interval])))', ['x_seconds_bucket']],
    ['time() - max(last_ts{a="b"})', ['last_ts']],
    ['max by (topic, partition) (kafka_consumergroup_lag{g="x"} >= 0)', ['kafka_consumergroup_lag']],
    ['kafka:group_skew_ratio > 4 and on (consumergroup) kafka:group_consumer_count < 2', ['kafka:group_skew_ratio', 'kafka:group_consumer_count']],
    ['sum(rate(a_total[5m] offset 1h)) / sum(b) * 1e3 or vector(0)', ['a_total', 'b']],
    ['count by (version, nodejs) (build_info)', ['build_info']],
    ['x{label="has } brace and ( paren"} unless y', ['x', 'y']],
    ['max(up{job=~"kafka|crm"}) by (job)', ['up']],
  ];
  for (const [expr, expected] of cases) assert.deepEqual(metricNamesIn(expr), expected, expr);
});

test('the dashboard parses and has an identity', () => {
  assert.equal(dashboard.uid, 'crm-events-health');
  assert.ok(dashboard.title.length > 0);
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36, 'Grafana 9+ schema');
  assert.ok(panels.length >= 8, `${panels.length} panels`);
});

test('the list of probe metrics here is what src/core/exposition.ts writes', () => {
  const source = readFileSync(METRICS_SOURCE, 'utf8');
  const written = new Map([...source.matchAll(/family\(\s*'([a-z_:]+)',\s*'(gauge|counter|histogram)'/g)].map((m) => [m[1]!, m[2]!]));
  // The seed's two gauges are created in a loop from a table of names.
  for (const m of source.matchAll(/\['[a-z_]+', '(crm_events_health_[a-z_]+)', '/g)) written.set(m[1]!, 'gauge');
  assert.deepEqual(Object.fromEntries([...written].sort()), Object.fromEntries(Object.entries(PROBE_FAMILIES).sort()));
});

test('every metric the dashboard queries is produced by the probe, the rules or kafka_exporter', () => {
  const recorded = recordedNames();
  assert.deepEqual([...recorded].sort(), [
    'kafka:group_committed_offset',
    'kafka:group_consumer_count',
    'kafka:group_drain_seconds',
    'kafka:group_lag_seconds',
    'kafka:group_max_lag',
    'kafka:group_membership_changes',
    'kafka:group_partition_lag',
    'kafka:group_skew_ratio',
    'kafka:topic_end_offset',
  ]);
  const known = new Set([...Object.entries(PROBE_FAMILIES).flatMap(([family, type]) => seriesNames(family, type)), ...recorded, ...KAFKA_EXPORTER]);
  const unknown: string[] = [];
  let named = 0;
  for (const expr of [...exprs, ...variableExprs()]) {
    const names = metricNamesIn(expr);
    named += names.length;
    for (const name of names) if (!known.has(name)) unknown.push(`${name} (in ${expr})`);
  }
  assert.deepEqual(unknown, []);
  assert.ok(named >= exprs.length, 'every expression names at least one metric');
  for (const { panel, target } of targets) {
    assert.ok(metricNamesIn(target.expr ?? '').length > 0, `panel "${panel.title}" ${target.refId}: no metric`);
  }
});

test('promtool parses every expression of the dashboard', (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  // Grafana's variables as Prometheus would receive them; each expression as a recording rule (JSON is YAML).
  const concrete = (expr: string): string => expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m').replace(/\$\{?group\}?/g, 'crm-events-sse');
  const rules = [...exprs, ...variableExprs()].map((expr, index) => ({ record: `dashboard:expr_${index}`, expr: concrete(expr) }));
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
  try {
    const file = join(dir, 'rules.yml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every series of the group is filtered by the $group variable', () => {
  for (const expr of exprs) {
    for (const name of metricNamesIn(expr)) {
      if (PROBE_WITHOUT_GROUP.has(name)) continue;
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(expr, new RegExp(`${escaped}\\{[^}]*consumergroup="\\$group"[^}]*\\}`), `${name} in ${expr}`);
    }
  }
});

test('it shows health over time, skew, consumers, check errors by code and query latency', () => {
  const has = (predicate: (expr: string) => boolean, what: string): void => assert.ok(exprs.some(predicate), `no panel for ${what}`);
  has((e) => /^crm_events_health_status\{/.test(e), 'health over time');
  has((e) => e.includes('crm_events_health_skew_ratio') || e.includes('kafka:group_skew_ratio'), 'skew');
  has((e) => e.includes('crm_events_health_consumer_count') || e.includes('kafka:group_consumer_count'), 'consumers');
  has((e) => /sum by \(code\) \(rate\(crm_events_health_check_errors_total\{/.test(e), 'check errors, rate by code');
  has((e) => /histogram_quantile\([^,]+,\s*sum by \(le[^)]*\) \(rate\(crm_events_health_query_duration_seconds_bucket\{/.test(e), 'query latency quantiles');
  const timeline = panels.find((panel) => panel.targets?.some((t) => /^crm_events_health_status\{/.test(t.expr ?? '')));
  assert.ok(timeline !== undefined);
});

test('variables are defined, and every query uses the templated data source', () => {
  const names = new Set(dashboard.templating.list.map((variable) => variable.name));
  assert.ok(names.has('datasource') && names.has('group'));
  const datasource = dashboard.templating.list.find((variable) => variable.name === 'datasource');
  assert.equal(datasource?.type, 'datasource');
  assert.equal(datasource?.query, 'prometheus');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's datasource variable, written as Grafana writes it
  const DATASOURCE = '${datasource}';
  for (const panel of panels) {
    if (panel.type === 'row') continue;
    assert.equal(panel.datasource?.uid, DATASOURCE, `panel "${panel.title}"`);
    const refIds = (panel.targets ?? []).map((target) => target.refId);
    assert.equal(new Set(refIds).size, refIds.length, `panel "${panel.title}": duplicate refId`);
    for (const target of panel.targets ?? []) assert.equal(target.datasource?.uid, DATASOURCE);
  }
  const used = new Set([...JSON.stringify(dashboard.panels).matchAll(/\$\{?([A-Za-z_]\w*)/g)].map((m) => m[1]!).filter((n) => !n.startsWith('__')));
  for (const name of used) assert.ok(names.has(name), `variable $${name} is used but not defined`);
  // Provisioning names the data source the variable resolves to.
  assert.match(readFileSync(DATASOURCE_PROVISIONING, 'utf8'), /type: prometheus/);
});

test('panels have unique ids and do not overlap on the 24-column grid', () => {
  const ids = panels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const [i, a] of panels.entries()) {
    const { x, y, w, h } = a.gridPos;
    assert.ok(x >= 0 && w > 0 && h > 0 && x + w <= 24 && y >= 0, `panel "${a.title}" gridPos`);
    for (const b of panels.slice(i + 1)) {
      const overlap = x < b.gridPos.x + b.gridPos.w && b.gridPos.x < x + w && y < b.gridPos.y + b.gridPos.h && b.gridPos.y < y + h;
      assert.ok(!overlap, `panels "${a.title}" and "${b.title}" overlap`);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The state timeline's colours

/**
 * What each state the probe exports (src/core/verdict.ts, CHECK_STATES) does to /ready, and the colour families that
 * say so. Typed by CheckState: a new state fails to compile here until it has a row, and fails below until the
 * dashboard colours it.
 */
const STATE_COLOURS: Readonly<Record<CheckState, { readonly ready: string; readonly families: readonly string[] }>> = {
  pass: { ready: 'passes, all clear', families: ['green'] },
  fail: { ready: 'fails /ready', families: ['red'] },
  recovering: { ready: 'fails /ready until keepFor has passed', families: ['orange', 'red'] },
  pending: { ready: 'passes while the breach is younger than `for`', families: ['yellow'] },
  draining: { ready: 'passes while the breach drains within the grace', families: ['blue'] },
  no_data: { ready: 'passes or fails as ON_NO_DATA says', families: ['purple'] },
  unknown: { ready: 'passes or fails as ON_PROMETHEUS_ERROR says', families: ['purple'] },
};
/** The replica-level state the timeline also shows: /ready 200 while the group's verdict fails. */
const HELD_READY = { families: ['blue'] } as const;

/** Grafana's named colours come in shades of a family: super-light-red .. dark-red. */
function colourFamily(colour: string): string {
  return colour.replace(/^(?:super-light|light|semi-dark|dark)-/, '');
}

/**
 * The colour Grafana gives `value` on the field named `displayName`: the defaults' value mappings, replaced by those of
 * every override whose matcher matches the name (later overrides win, as in Grafana; byRegexp is an unanchored
 * RegExp test of the display name), then the thresholds for a value no mapping names.
 */
function colourOf(config: FieldConfig, displayName: string, value: number): { color: string; text?: string } {
  let mappings = config.defaults.mappings ?? [];
  for (const override of config.overrides) {
    const { id, options } = override.matcher;
    const matches = id === 'byRegexp' ? new RegExp(options).test(displayName) : id === 'byName' ? options === displayName : false;
    if (!matches) continue;
    for (const property of override.properties) if (property.id === 'mappings') mappings = property.value as ValueMapping[];
  }
  for (const mapping of mappings) {
    const hit = mapping.type === 'value' ? mapping.options[String(value)] : undefined;
    if (hit?.color !== undefined) return { color: hit.color, ...(hit.text !== undefined ? { text: hit.text } : {}) };
  }
  const steps = config.defaults.thresholds?.steps ?? [];
  const step = steps.filter((s) => s.value === null || s.value <= value).at(-1);
  assert.ok(step !== undefined, `no colour for ${displayName} = ${value}`);
  return { color: step.color };
}

/** A legend as Grafana renders it for a series with these labels. */
function legend(format: string, labels: Readonly<Record<string, string>>): string {
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => labels[name] ?? '');
}

const stateTimeline = panels.find((panel) => panel.type === 'state-timeline' && panel.targets?.some((t) => /^crm_events_health_status\{/.test(t.expr ?? '')));

test('the state timeline colours every state the probe exports by what it does to /ready', () => {
  assert.ok(stateTimeline?.fieldConfig !== undefined, 'a state timeline of crm_events_health_status');
  const config = stateTimeline.fieldConfig;
  const byState = stateTimeline.targets?.find((t) => (t.expr ?? '').includes('crm_events_health_check_state'));
  assert.ok(byState?.legendFormat !== undefined, 'the timeline shows crm_events_health_check_state by state');
  assert.deepEqual(Object.keys(STATE_COLOURS).sort(), [...CHECK_STATES].sort(), 'a row above for every CHECK_STATES entry');
  const colours = new Map<string, string>();
  // Check names as the probe has them, including ones whose name looks like a state.
  for (const check of ['skew_ratio', 'consumer_count', 'stalled_partitions', 'lag_seconds', 'fail', 'pass_rate']) {
    for (const state of CHECK_STATES) {
      const name = legend(byState.legendFormat, { check, state, instance: 'crm-events-health:9011' });
      const { color, text } = colourOf(config, name, 1);
      const expected = STATE_COLOURS[state];
      assert.ok(expected.families.includes(colourFamily(color)), `${name}: ${color}, but ${state} ${expected.ready} (${expected.families.join(' or ')})`);
      if (state !== 'pass') assert.notEqual(colourFamily(color), 'green', `${name}: a state that is not all clear is never green`);
      assert.ok(text !== undefined && text.length > 0, `${name}: the bar names the state`);
      const previous = colours.get(state);
      assert.ok(previous === undefined || previous === color, `${state}: one colour for every check`);
      colours.set(state, color);
    }
  }
  // Each state its own colour, so the timeline reads without the legend.
  assert.equal(new Set(colours.values()).size, CHECK_STATES.length, `colours: ${JSON.stringify(Object.fromEntries(colours))}`);

  // The verdict row: the group's verdict (1 pass, 0 fail).
  const verdict = stateTimeline.targets?.find((t) => /^crm_events_health_status\{/.test(t.expr ?? ''));
  const verdictName = legend(verdict?.legendFormat ?? '', { instance: 'crm-events-health:9011' });
  assert.equal(colourFamily(colourOf(config, verdictName, 1).color), 'green');
  assert.equal(colourFamily(colourOf(config, verdictName, 0).color), 'red');

  // Held ready: a replica answering 200 while its group's verdict fails.
  const held = stateTimeline.targets?.find((t) => (t.expr ?? '').includes('crm_events_health_held_ready'));
  assert.ok(held?.legendFormat !== undefined, 'the timeline shows replicas held ready');
  const heldColour = colourOf(config, legend(held.legendFormat, { instance: 'crm-events-health:9011', pod: 'crm-events-0' }), 1).color;
  assert.ok((HELD_READY.families as readonly string[]).includes(colourFamily(heldColour)), `held ready: ${heldColour}`);
  assert.ok(![...colours.values()].includes(heldColour), 'held ready has a colour of its own');
});

test('the colour resolver follows Grafana: the last matching override wins, unmapped values fall to the thresholds', () => {
  const config: FieldConfig = {
    defaults: { mappings: [{ type: 'value', options: { '1': { text: 'ok', color: 'green' } } }], thresholds: { steps: [{ color: 'red', value: null }] } },
    overrides: [
      {
        matcher: { id: 'byRegexp', options: ': (fail|recovering)' },
        properties: [{ id: 'mappings', value: [{ type: 'value', options: { '1': { color: 'orange' } } }] }],
      },
      { matcher: { id: 'byRegexp', options: ': fail$' }, properties: [{ id: 'mappings', value: [{ type: 'value', options: { '1': { color: 'red' } } }] }] },
    ],
  };
  assert.equal(colourOf(config, 'x: recovering', 1).color, 'orange');
  assert.equal(colourOf(config, 'x: fail', 1).color, 'red');
  assert.equal(colourOf(config, 'x: pending', 1).color, 'green');
  assert.equal(colourOf(config, 'x: pending', 0).color, 'red');
  // The dashboard before issue 14: recovering, pending and draining fell to the default "healthy" green.
  const before: FieldConfig = {
    defaults: { mappings: [{ type: 'value', options: { '1': { text: 'healthy / state held', color: 'green' } } }] },
    overrides: [
      {
        matcher: { id: 'byRegexp', options: '.*: (fail|no_data|unknown)' },
        properties: [{ id: 'mappings', value: [{ type: 'value', options: { '1': { color: 'orange' } } }] }],
      },
    ],
  };
  assert.equal(colourOf(before, 'skew_ratio: recovering', 1).color, 'green');
});
