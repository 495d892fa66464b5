import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type CheckDefinition, type CheckTemplate, observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { decideFleet, type FleetDecision, type FleetSettings, type FleetView } from '../../src/core/fleet.js';
import { assessReadiness, judgedOf, limitVerdict, oneLine, type ProbeView, readiness, select, shorten } from '../../src/core/readiness.js';
import { type Config, checksFor, type ErrorPolicy } from '../../src/core/settings.js';
import { judge, newRecord, recordAnswer, recordError, type Verdict } from '../../src/core/verdict.js';

const WALL = Date.UTC(2026, 10, 26, 12);
const T = 1_000_000;
const config = loadConfig({ POD_NAME: 'consumer-1', POD_NAMESPACE: 'prod' });

function templates(checks: object[], severalGroups = false): readonly CheckTemplate[] {
  const parsed = parseChecksFile(JSON.stringify({ checks }), { severalGroups });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.templates;
}

/** A group-wide check and one of this replica alone ({pod} in its query). */
const checks = checksFor(
  config,
  templates([
    { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000 },
    { name: 'pod_lag', query: 'kafka:consumer_lag{consumergroup="{group}",pod="{pod}"}', comparison: '<=', threshold: 1000 },
  ]),
);
/** Two checks in each of two groups. */
const twoGroups = checksFor(
  loadConfig({ KAFKA_GROUP: 'orders,billing' }),
  templates(
    [
      { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000 },
      { name: 'members', query: 'kafka:group_members{consumergroup="{group}"}', comparison: '>=', threshold: 2 },
    ],
    true,
  ),
);

/**
 * A view after one evaluation: each check's value by id (null: no series; absent: Prometheus never answered).
 * Judged with the config's ON_PROMETHEUS_ERROR.
 */
function viewOf(
  values: Record<string, number | null>,
  overrides: { checks?: readonly CheckDefinition[]; config?: Partial<Config>; view?: Partial<ProbeView> } = {},
): ProbeView {
  const viewConfig = { ...config, ...overrides.config };
  const viewChecks = overrides.checks ?? checks;
  const records = viewChecks.map((check) => {
    const value = values[check.id];
    if (value === undefined) return recordError(newRecord(check), { code: 'PROM_NETWORK', message: 'refused', atMs: WALL }, 1);
    const observation = observe(check, value === null ? [] : [{ value, labels: {} }]);
    return recordAnswer(newRecord(check), { observation, atMs: WALL, atMonotonicMs: T, durationMs: 1, warnings: [], falling: false });
  });
  const verdict = judge(records, { nowMonotonicMs: T, staleAfterMs: 60_000, onPrometheusError: viewConfig.onPrometheusError });
  return {
    phase: 'running',
    snapshot: { evaluatedAtMs: WALL, evaluations: 1, verdict, lastSuccessMs: WALL, failedEvaluations: 0, stats: new Map(), fleet: null, estimates: new Map() },
    config: viewConfig,
    checks: viewChecks,
    version: '1.2.3',
    nodeVersion: '20.0.0',
    startedAtMs: WALL - 5_000,
    ...overrides.view,
  };
}
const verdictOf = (view: ProbeView): Verdict => view.snapshot!.verdict;

/** Real decisions of the fleet limit for a fleet of three and for a lone replica, at a settled moment. */
function decisions() {
  const view: FleetView = { source: 'prometheus', replicas: ['consumer-1', 'consumer-2', 'consumer-3'], ownUnready: [], seenAtMs: WALL };
  const settings = (self: string): FleetSettings => ({ self, maxUnready: { kind: 'count', count: 1 }, rotateMs: 300_000, handoverMs: 15_000 });
  const now = 10 * 300_000 + 60_000;
  const all = view.replicas.map((self) => decideFleet(view, settings(self), now));
  const unready = all.find((decision) => decision.unready)!;
  const held = all.find((decision) => !decision.unready)!;
  const alone = decideFleet({ ...view, replicas: ['consumer-1'] }, settings('consumer-1'), now);
  assert.deepEqual([unready.fleetSize, held.fleetSize, alone.fleetSize, alone.unready], [3, 3, 1, true]);
  return { unready, held, alone };
}

test('select: unknown groups and names are answered, never ignored; exclusions must name checks and leave one', () => {
  type Expected = { included: string[]; excluded: string[] } | { statusCode: number; error: string; message?: RegExp };
  const cases: [name: string, selection: Parameters<typeof select>[1], expected: Expected][] = [
    ['everything', {}, { included: ['orders/lag', 'orders/members', 'billing/lag', 'billing/members'], excluded: [] }],
    ['one group', { group: 'billing' }, { included: ['billing/lag', 'billing/members'], excluded: [] }],
    ['one check, in every group', { name: 'lag' }, { included: ['orders/lag', 'billing/lag'], excluded: [] }],
    ['group and check', { group: 'orders', name: 'members' }, { included: ['orders/members'], excluded: [] }],
    ['group and exclude', { group: 'orders', exclude: ['lag'] }, { included: ['orders/members'], excluded: ['orders/lag'] }],
    ['exclude in every group', { exclude: ['members'] }, { included: ['orders/lag', 'billing/lag'], excluded: ['orders/members', 'billing/members'] }],
    ['unknown group', { group: 'payments' }, { statusCode: 404, error: 'unknown_group', message: /^No consumer group "payments"; groups: "orders", "billing"$/ }],
    ['unknown check', { name: 'skew' }, { statusCode: 404, error: 'unknown_check', message: /^No check "skew"; checks: "lag", "members"$/ }],
    ['a check id is not a check name', { name: 'orders/lag' }, { statusCode: 404, error: 'unknown_check' }],
    ['unknown exclude', { exclude: ['lag', 'skew', 'typo'] }, { statusCode: 400, error: 'unknown_check', message: /^Cannot exclude "skew", "typo": no such check; / }],
    ['everything excluded', { exclude: ['lag', 'members'] }, { statusCode: 400, error: 'nothing_selected', message: /^Every check is excluded/ }],
    ['the named check excluded', { name: 'lag', exclude: ['lag'] }, { statusCode: 400, error: 'nothing_selected' }],
    ['an unknown group is reported before an unknown exclude', { group: 'payments', exclude: ['typo'] }, { statusCode: 404, error: 'unknown_group' }],
  ];
  for (const [name, selection, expected] of cases) {
    const selected = select(twoGroups, selection);
    if ('included' in expected) {
      assert.ok(selected.ok, name);
      assert.deepEqual({ included: selected.included.map((check) => check.id), excluded: selected.excluded.map((check) => check.id) }, expected, name);
    } else {
      assert.ok(!selected.ok, name);
      assert.deepEqual([selected.statusCode, selected.error], [expected.statusCode, expected.error], name);
      if (expected.message) assert.match(selected.message, expected.message, name);
    }
  }
});

test('readiness: 503 while starting or shutting down, 200 healthy, 500 not', () => {
  const healthy = { lag: 10, pod_lag: 10 };
  const cases: [name: string, view: ProbeView, expected: ReturnType<typeof readiness>][] = [
    [
      'starting',
      viewOf(healthy, { view: { phase: 'starting', snapshot: null } }),
      { statusCode: 503, healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' },
    ],
    [
      'running, no evaluation finished yet',
      viewOf(healthy, { view: { snapshot: null } }),
      { statusCode: 503, healthy: false, message: 'Starting: the first evaluation has not finished', verdict: 'starting' },
    ],
    [
      'shutting down, however healthy',
      viewOf(healthy, { view: { phase: 'shutting_down' } }),
      { statusCode: 503, healthy: false, message: 'Shutting down', verdict: 'shutting_down' },
    ],
    ['healthy', viewOf(healthy), { statusCode: 200, healthy: true, message: 'System healthy', verdict: 'pass', checks: { lag: 'pass', pod_lag: 'pass' } }],
    [
      'failing',
      viewOf({ lag: 5000, pod_lag: 10 }),
      { statusCode: 500, healthy: false, message: 'lag is 5000, not <= 1000', verdict: 'fail', checks: { lag: 'fail', pod_lag: 'pass' } },
    ],
    [
      'unknown, ON_PROMETHEUS_ERROR=pass',
      viewOf({ pod_lag: 10 }),
      {
        statusCode: 200,
        healthy: true,
        message: 'System healthy (unverified: lag unknown: Prometheus could not be asked (PROM_NETWORK: refused); ON_PROMETHEUS_ERROR=pass)',
        verdict: 'unknown',
        checks: { lag: 'unknown', pod_lag: 'pass' },
      },
    ],
    [
      'unknown, ON_PROMETHEUS_ERROR=fail',
      viewOf({ pod_lag: 10 }, { config: { onPrometheusError: 'fail' } }),
      {
        statusCode: 500,
        healthy: false,
        message: 'lag unknown: Prometheus could not be asked (PROM_NETWORK: refused); ON_PROMETHEUS_ERROR=fail',
        verdict: 'unknown',
        checks: { lag: 'unknown', pod_lag: 'pass' },
      },
    ],
  ];
  for (const [name, view, expected] of cases) assert.deepEqual(readiness(view), expected, name);
});

test('readiness under DRY_RUN: always 200, with the code it would have answered', () => {
  const dry = { config: { dryRun: true } };
  const cases: [name: string, view: ProbeView, wouldBe: number][] = [
    ['healthy', viewOf({ lag: 10, pod_lag: 10 }, dry), 200],
    ['failing', viewOf({ lag: 5000, pod_lag: 10 }, dry), 500],
    ['starting', viewOf({}, { ...dry, view: { phase: 'starting', snapshot: null } }), 503],
    ['shutting down', viewOf({ lag: 10, pod_lag: 10 }, { ...dry, view: { phase: 'shutting_down' } }), 503],
  ];
  for (const [name, view, wouldBe] of cases) {
    const ready = readiness(view);
    assert.deepEqual([ready.statusCode, ready.dry_run, ready.would_be_status_code], [200, true, wouldBe], name);
    // Everything else says what the checks found.
    const { statusCode: _s, dry_run: _d, would_be_status_code: _w, ...rest } = ready;
    const { statusCode: _actual, ...expected } = readiness({ ...view, config: { ...view.config, dryRun: false } });
    assert.deepEqual(rest, expected, name);
  }
  assert.equal('dry_run' in readiness(viewOf({ lag: 10, pod_lag: 10 })), false, 'no dry_run field without DRY_RUN');
});

test('readiness of several groups: a state per group; a selection is judged alone', () => {
  const view = viewOf({ 'orders/lag': 10, 'orders/members': 3, 'billing/lag': 5000, 'billing/members': 3 }, { checks: twoGroups });
  const all = readiness(view);
  assert.deepEqual([all.statusCode, all.verdict, all.message, all.groups], [500, 'fail', 'billing: lag is 5000, not <= 1000', { orders: 'pass', billing: 'fail' }]);
  const orders = readiness(
    view,
    judgedOf(
      view,
      twoGroups.filter((check) => check.group === 'orders'),
    ),
  );
  assert.deepEqual(orders, {
    statusCode: 200,
    healthy: true,
    message: 'System healthy',
    verdict: 'pass',
    checks: { 'orders/lag': 'pass', 'orders/members': 'pass' },
  });
});

test('readiness keeps the message under 2 KiB as JSON however long the reasons', () => {
  const long = checksFor(config, templates([{ name: 'lag', query: 'lag', comparison: '<=', threshold: 1, message: `{value} ${'\u0001é😀'.repeat(2000)}` }]));
  const ready = readiness(viewOf({ lag: 5 }, { checks: long }));
  assert.equal(ready.statusCode, 500);
  const bytes = Buffer.byteLength(JSON.stringify(ready.message));
  assert.ok(bytes <= 2048 && bytes > 1600, `${bytes} bytes`);
  assert.ok(ready.message.startsWith('5 \u0001é😀') && ready.message.endsWith('…'), ready.message.slice(0, 20));
});

test('limitVerdict: a replica check failing is unready whatever the decision; a group-wide failure only in its turn', () => {
  const { unready, held, alone } = decisions();
  const healthy = verdictOf(viewOf({ lag: 10, pod_lag: 10 }));
  const groupFails = verdictOf(viewOf({ lag: 5000, pod_lag: 10 }));
  const ownFails = verdictOf(viewOf({ lag: 10, pod_lag: 5000 }));
  const bothFail = verdictOf(viewOf({ lag: 5000, pod_lag: 5000 }));
  const groupUnknown = verdictOf(viewOf({ pod_lag: 10 }, { config: { onPrometheusError: 'fail' } }));
  const ownUnknown = verdictOf(viewOf({ lag: 10 }, { config: { onPrometheusError: 'fail' } }));
  const notReady = (verdict: Verdict, message = verdict.message) => ({ ready: false, held: false, message });
  const heldReady = (verdict: Verdict, decision: FleetDecision) => ({ ready: true, held: true, message: `${decision.explanation}; the verdict: ${verdict.message}` });

  const cases: [name: string, verdict: Verdict, policy: ErrorPolicy, decision: FleetDecision | null, expected: ReturnType<typeof limitVerdict>][] = [
    ['healthy, no limit', healthy, 'pass', null, { ready: true, held: false, message: 'System healthy' }],
    ['healthy, not in turn', healthy, 'pass', held, { ready: true, held: false, message: 'System healthy' }],
    ['healthy, in turn', healthy, 'pass', unready, { ready: true, held: false, message: 'System healthy' }],
    ['replica check fails, not in turn', ownFails, 'pass', held, notReady(ownFails)],
    ['replica check fails, no limit', ownFails, 'pass', null, notReady(ownFails)],
    ['both fail, not in turn', bothFail, 'pass', held, notReady(bothFail)],
    ['replica check unknown under ON_PROMETHEUS_ERROR=fail, not in turn', ownUnknown, 'fail', held, notReady(ownUnknown)],
    [
      'group-wide failure in its turn, fleet of 3: the turn explained',
      groupFails,
      'pass',
      unready,
      notReady(groupFails, `${groupFails.message} (${unready.explanation})`),
    ],
    ['group-wide failure, fleet of one: no fleet to speak of', groupFails, 'pass', alone, notReady(groupFails)],
    ['group-wide failure, not in turn: held', groupFails, 'pass', held, heldReady(groupFails, held)],
    ['group-wide unknown under ON_PROMETHEUS_ERROR=fail, not in turn: held', groupUnknown, 'fail', held, heldReady(groupUnknown, held)],
    ['group-wide failure, no limit: unready as before', groupFails, 'pass', null, notReady(groupFails)],
  ];
  for (const [name, verdict, policy, decision, expected] of cases) assert.deepEqual(limitVerdict(verdict, policy, decision), expected, name);
  assert.match(limitVerdict(groupFails, 'pass', held).message, /^held ready/);
  assert.equal(groupFails.message, 'lag is 5000, not <= 1000');
});

test('readiness applies the decision: held ready answers 200 and says so', () => {
  const { unready, held } = decisions();
  const view = viewOf({ lag: 5000, pod_lag: 10 });
  const holding = readiness(view, undefined, held);
  assert.deepEqual([holding.statusCode, holding.healthy, holding.verdict, holding.held_ready], [200, false, 'fail', true]);
  assert.match(holding.message, /^held ready: .*; the verdict: lag is 5000, not <= 1000$/);
  const turn = readiness(view, undefined, unready);
  assert.deepEqual([turn.statusCode, 'held_ready' in turn], [500, false]);
  // By default the decision is the snapshot's.
  const fleetView = {
    ...view,
    snapshot: {
      ...view.snapshot!,
      fleet: {
        view: { source: 'prometheus' as const, replicas: [], ownUnready: [], seenAtMs: WALL },
        decision: held,
        settings: { self: 'x', maxUnready: { kind: 'count' as const, count: 1 }, rotateMs: 300_000, handoverMs: 15_000 },
      },
    },
  };
  assert.equal(readiness(fleetView).statusCode, 200);
  assert.equal(readiness(fleetView, undefined, null).statusCode, 500);
});

test('assessReadiness: unready for its own reasons while starting, shutting down, or when a replica check fails', () => {
  const failOnError = { onPrometheusError: 'fail' as const };
  const cases: [name: string, view: ProbeView, ownUnready: boolean][] = [
    ['healthy', viewOf({ lag: 10, pod_lag: 10 }), false],
    ['a group-wide check fails: not its own reason', viewOf({ lag: 5000, pod_lag: 10 }), false],
    ['a replica check fails', viewOf({ lag: 10, pod_lag: 5000 }), true],
    ['a replica check unknown, ON_PROMETHEUS_ERROR=pass', viewOf({ lag: 10 }), false],
    ['a replica check unknown, ON_PROMETHEUS_ERROR=fail', viewOf({ lag: 10 }, { config: failOnError }), true],
    ['starting', viewOf({}, { view: { phase: 'starting', snapshot: null } }), true],
    ['running, no evaluation yet', viewOf({}, { view: { snapshot: null } }), true],
    ['shutting down', viewOf({ lag: 10, pod_lag: 10 }, { view: { phase: 'shutting_down' } }), true],
    ['no replica check at all, failing', viewOf({ lag: 5000 }, { checks: checks.slice(0, 1) }), false],
  ];
  for (const [name, view, ownUnready] of cases) {
    const report = assessReadiness(view);
    assert.equal(report.ownUnready, ownUnready, name);
    assert.deepEqual(report.overall, readiness(view), name);
  }
});

test('assessReadiness: each group alone, in configuration order', () => {
  const view = viewOf({ 'orders/lag': 10, 'orders/members': 3, 'billing/lag': 10, 'billing/members': 1 }, { checks: twoGroups });
  const report = assessReadiness(view);
  assert.deepEqual(
    [...report.groups].map(([group, ready]) => [group, ready.statusCode, ready.message]),
    [
      ['orders', 200, 'System healthy'],
      ['billing', 500, 'members is 1, not >= 2'],
    ],
  );
  assert.equal(report.overall.statusCode, 500);
});

test('shorten: fits maxBytes as JSON, cut on a code point with an ellipsis', () => {
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const cases: [name: string, text: string, maxBytes: number][] = [
    ['short ASCII', 'System healthy', 2048],
    ['ASCII exactly at the limit', 'a'.repeat(2046), 2048],
    ['ASCII one over', 'a'.repeat(2047), 2048],
    ['long ASCII', 'lag '.repeat(2000), 2048],
    ['2-byte', 'é'.repeat(3000), 2048],
    ['3-byte', '€'.repeat(3000), 2048],
    ['4-byte (surrogate pairs)', '😀'.repeat(3000), 2048],
    ['4-byte, odd limit', '😀'.repeat(100), 51],
    ['control characters (6 bytes each in JSON)', '\u0001'.repeat(3000), 2048],
    ['quotes and backslashes (2 bytes each in JSON)', '"\\'.repeat(3000), 2048],
    ['mixed', 'a\u0000é€😀"'.repeat(1000), 300],
    ['small limit', 'consumer lag', 10],
  ];
  for (const [name, text, maxBytes] of cases) {
    const out = shorten(text, maxBytes);
    const bytes = Buffer.byteLength(JSON.stringify(out));
    assert.ok(bytes <= maxBytes, `${name}: ${bytes} bytes`);
    assert.equal(lone.test(out), false, `${name}: no lone surrogate`);
    if (Buffer.byteLength(JSON.stringify(text)) <= maxBytes) assert.equal(out, text, `${name}: fits, unchanged`);
    else {
      assert.ok(out.endsWith('…'), `${name}: ellipsis`);
      assert.ok(text.startsWith(out.slice(0, -1)), `${name}: a prefix`);
      assert.ok(out.length > 1, `${name}: something kept`);
    }
  }
  // Not cut more than it must: a long ASCII text keeps most of the room.
  assert.ok(Buffer.byteLength(JSON.stringify(shorten('x'.repeat(5000), 2048))) > 1600);
});

test('oneLine: line breaks become spaces', () => {
  assert.equal(oneLine('first\r\nsecond\n\nthird'), 'first second third');
});
