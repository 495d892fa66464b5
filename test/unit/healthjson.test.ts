import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { acceptsHealthJson, renderHealthJson } from '../../src/core/healthjson.js';
import type { ProbeView } from '../../src/core/readiness.js';
import { type Config, checksFor } from '../../src/core/settings.js';
import { judge, newRecord, recordAnswer, recordError } from '../../src/core/verdict.js';

const WALL = Date.UTC(2026, 10, 26, 12);
const config = loadConfig({});
const file = parseChecksFile(
  JSON.stringify({
    checks: [
      { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000, unit: 'messages' },
      { name: 'members', query: 'kafka:group_consumer_count{consumergroup="{group}"}', comparison: '>=', threshold: 2, onNoData: 'pass' },
    ],
  }),
  { severalGroups: false },
);
assert.ok(file.ok);
const checks = checksFor(config, file.templates);

/**
 * A view after one answer per check at monotonic 0 (a number, null for no series, 'refused' for no answer ever);
 * the checks in `failing` then fail once; judged at `judgeAtMs`.
 */
function viewOf(
  values: Record<string, number | null | 'refused'>,
  options: { failing?: string[]; judgeAtMs?: number; config?: Partial<Config>; view?: Partial<ProbeView> } = {},
): ProbeView {
  const error = { code: 'PROM_TIMEOUT', message: 'no answer within 5s', atMs: WALL };
  const records = checks.map((check) => {
    const value = values[check.id];
    if (value === 'refused' || value === undefined) return recordError(newRecord(check), error, 1);
    const observation = observe(check, value === null ? [] : [{ value, labels: {} }]);
    const answered = recordAnswer(newRecord(check), { observation, atMs: WALL, atMonotonicMs: 0, durationMs: 1, warnings: [], falling: false });
    return options.failing?.includes(check.id) ? recordError(answered, error, 1) : answered;
  });
  const verdict = judge(records, { nowMonotonicMs: options.judgeAtMs ?? 0, staleAfterMs: 60_000, onPrometheusError: 'pass' });
  return {
    phase: 'running',
    snapshot: { evaluatedAtMs: WALL, evaluations: 1, verdict, lastSuccessMs: WALL, failedEvaluations: 0, stats: new Map(), fleet: null, estimates: new Map() },
    config: { ...config, ...options.config },
    checks,
    version: '1.2.3',
    nodeVersion: '20.0.0',
    startedAtMs: WALL - 5_000,
    ...options.view,
  };
}

interface Entry {
  readonly componentId: string;
  readonly status: string;
  readonly observedValue: unknown;
  readonly output?: string;
}

function rendered(view: ProbeView) {
  const { statusCode, body } = renderHealthJson(view);
  const document: { status: string; output?: string; checks: Record<string, [Entry]>; [field: string]: unknown } = JSON.parse(body);
  return { statusCode, document };
}

/** The one entry of a check, by group:check. */
function entryOf(document: { checks: Record<string, [Entry]> }, key: string): Entry {
  const entries = document.checks[key];
  assert.ok(entries !== undefined, `no check ${key}`);
  return entries[0];
}

test('acceptsHealthJson: asked for by media type, case-insensitively, unless refused with q=0', () => {
  const cases: [accept: string | undefined, accepted: boolean][] = [
    [undefined, false],
    ['', false],
    ['application/json', false],
    ['*/*', false],
    ['application/*', false],
    ['application/health+json', true],
    ['Application/Health+JSON', true],
    ['  application/health+json  ', true],
    ['application/json, application/health+json', true],
    ['text/html;q=0.9, application/health+json;q=0.8', true],
    ['application/health+json;q=0.5', true],
    ['application/health+json; q=0.001', true],
    ['application/health+json;q=1', true],
    ['application/health+json;q=0', false],
    ['application/health+json; q=0.0', false],
    ['application/health+json;q=0.000', false],
    ['APPLICATION/HEALTH+JSON; Q=0', false],
    ['application/health+json;q=0, application/json', false],
    ['application/health+json;q=0, application/health+json;q=1', true],
    ['application/health+jsonx', false],
    ['xapplication/health+json', false],
  ];
  for (const [accept, accepted] of cases) assert.equal(acceptsHealthJson(accept), accepted, String(accept));
});

test('renderHealthJson: pass when every check is known to pass (no data that passes included), 200', () => {
  const cases: [name: string, view: ProbeView][] = [
    ['all pass', viewOf({ lag: 10, members: 3 })],
    ['no data that passes', viewOf({ lag: 10, members: null })],
  ];
  for (const [name, view] of cases) {
    const { statusCode, document } = rendered(view);
    assert.deepEqual([statusCode, document.status, 'output' in document], [200, 'pass', false], name);
  }
  const { document } = rendered(viewOf({ lag: 10, members: 3 }));
  assert.deepEqual(
    [document.version, document.releaseId, document.serviceId, document.description, document.links],
    ['1', '1.2.3', 'crm-events-health-probe', 'Kafka consumer group health: crm-events-sse', { about: '/status' }],
  );
  assert.deepEqual(document.checks['crm-events-sse:lag'], [
    {
      componentId: 'crm-events-sse',
      componentType: 'kafka-consumer-group',
      observedValue: 10,
      observedUnit: 'messages',
      status: 'pass',
      time: new Date(WALL).toISOString(),
    },
  ]);
  assert.equal('observedUnit' in entryOf(document, 'crm-events-sse:members'), false, 'no unit, no field');
});

test('renderHealthJson: warn while /ready passes on something unverified, stale or unknown', () => {
  const cases: [name: string, view: ProbeView, lag: { status: string; observedValue: unknown }][] = [
    [
      'stale: the last answer stands after a failed query',
      viewOf({ lag: 10, members: 3 }, { failing: ['lag'], judgeAtMs: 30_000 }),
      { status: 'warn', observedValue: 10 },
    ],
    ['unknown past STALE_AFTER: no value shown', viewOf({ lag: 10, members: 3 }, { failing: ['lag'], judgeAtMs: 120_000 }), { status: 'warn', observedValue: null }],
    ['never answered', viewOf({ lag: 'refused', members: 3 }), { status: 'warn', observedValue: null }],
  ];
  for (const [name, view, lag] of cases) {
    const { statusCode, document } = rendered(view);
    assert.deepEqual([statusCode, document.status], [200, 'warn'], name);
    assert.equal(document.output, view.snapshot!.verdict.message, name);
    const entry = entryOf(document, 'crm-events-sse:lag');
    assert.deepEqual({ status: entry.status, observedValue: entry.observedValue }, lag, name);
  }
});

test('renderHealthJson: fail, answered 503, when /ready fails or would under DRY_RUN, and before the first evaluation', () => {
  const failing = rendered(viewOf({ lag: 5000, members: 3 }));
  assert.deepEqual([failing.statusCode, failing.document.status, failing.document.output], [503, 'fail', 'lag is 5000, not <= 1000']);
  assert.deepEqual(Object.fromEntries(Object.entries(failing.document.checks).map(([key, [entry]]) => [key, [entry.status, entry.output]])), {
    'crm-events-sse:lag': ['fail', 'lag is 5000, not <= 1000'],
    'crm-events-sse:members': ['pass', undefined],
  });
  const dry = rendered(viewOf({ lag: 5000, members: 3 }, { config: { dryRun: true } }));
  assert.deepEqual([dry.statusCode, dry.document.status], [503, 'fail']);
  const starting = rendered(viewOf({}, { view: { phase: 'starting', snapshot: null } }));
  assert.deepEqual([starting.statusCode, starting.document.status, starting.document.output], [503, 'fail', 'Starting: the first evaluation has not finished']);
  assert.deepEqual(entryOf(starting.document, 'crm-events-sse:lag'), {
    componentId: 'crm-events-sse',
    componentType: 'kafka-consumer-group',
    observedValue: null,
    observedUnit: 'messages',
    status: 'fail',
    output: 'not evaluated yet',
  });
});

test('renderHealthJson: infinite values as Prometheus writes them', () => {
  const { document } = rendered(viewOf({ lag: Number.POSITIVE_INFINITY, members: 3 }));
  assert.equal(entryOf(document, 'crm-events-sse:lag').observedValue, '+Inf');
});

test('renderHealthJson: checks keyed group:check for every group', () => {
  const two = loadConfig({ KAFKA_GROUP: 'orders,billing' });
  const several = parseChecksFile(JSON.stringify({ checks: [{ name: 'lag', query: 'lag{consumergroup="{group}"}', comparison: '<=', threshold: 1 }] }), {
    severalGroups: true,
  });
  assert.ok(several.ok);
  const view: ProbeView = { ...viewOf({}), config: two, checks: checksFor(two, several.templates), snapshot: null };
  const { document } = rendered(view);
  assert.deepEqual(Object.keys(document.checks), ['orders:lag', 'billing:lag']);
  assert.deepEqual(
    Object.values(document.checks).map((entries) => entries[0].componentId),
    ['orders', 'billing'],
  );
  assert.equal(document.description, 'Kafka consumer group health: orders, billing');
});
