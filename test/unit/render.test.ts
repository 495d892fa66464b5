import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { decideFleet, type FleetSettings, type FleetState, type FleetView, loneFleet } from '../../src/core/fleet.js';
import { type ProbeView, readiness, select } from '../../src/core/readiness.js';
import { renderReady, renderStatusHead, renderVerbose, UPTIME_TAIL_BYTES, uptimeTail } from '../../src/core/render.js';
import { type Config, checksFor } from '../../src/core/settings.js';
import { judge, newRecord, recordAnswer, recordError } from '../../src/core/verdict.js';

const WALL = Date.UTC(2026, 10, 26, 12);
const config = loadConfig({ POD_NAME: 'consumer-b' });
const file = parseChecksFile(
  JSON.stringify({
    checks: [
      { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000 },
      {
        name: 'members',
        query: 'kafka:group_consumer_count{consumergroup="{group}"}',
        comparison: '>=',
        threshold: 2,
        onNoData: 'pass',
        noDataMessage: 'no member count',
      },
      { name: 'pod_up', query: 'up{pod="{pod}"}', comparison: '>=', threshold: 1 },
    ],
  }),
  { severalGroups: false },
);
assert.ok(file.ok);
const checks = checksFor(config, file.templates);
const HEALTHY = { lag: 10, members: 3, pod_up: 1 };

/** A view after one evaluation: each check's value (null: no series; absent: Prometheus refused). */
function viewOf(values: Record<string, number | null>, options: { config?: Partial<Config>; view?: Partial<ProbeView>; fleet?: FleetState } = {}): ProbeView {
  const records = checks.map((check) => {
    const value = values[check.id];
    if (value === undefined) return recordError(newRecord(check), { code: 'PROM_NETWORK', message: 'refused', atMs: WALL }, 1);
    const observation = observe(check, value === null ? [] : [{ value, labels: {} }]);
    return recordAnswer(newRecord(check), { observation, atMs: WALL, atMonotonicMs: 0, durationMs: 1, warnings: [], falling: false });
  });
  const verdict = judge(records, { nowMonotonicMs: 0, staleAfterMs: 60_000, onPrometheusError: 'pass' });
  return {
    phase: 'running',
    snapshot: {
      evaluatedAtMs: WALL,
      evaluations: 1,
      verdict,
      lastSuccessMs: WALL,
      failedEvaluations: 0,
      stats: new Map(),
      fleet: options.fleet ?? null,
      estimates: new Map(),
    },
    config: { ...config, ...options.config },
    checks,
    version: '1.2.3',
    nodeVersion: '20.0.0',
    startedAtMs: WALL - 5_000,
    ...options.view,
  };
}

const settings: FleetSettings = { self: 'consumer-b', maxUnready: { kind: 'count', count: 1 }, rotateMs: 300_000, handoverMs: 15_000 };
const three: FleetView = { source: 'prometheus', replicas: ['consumer-a', 'consumer-b', 'consumer-c'], ownUnready: [], seenAtMs: WALL };
/** A settled moment (a minute into a rotation period) at which consumer-b's turn is, or is not, on. */
function momentWhen(inTurn: boolean): number {
  for (let period = 10; period < 20; period += 1) {
    const nowMs = period * 300_000 + 60_000;
    if (decideFleet(three, settings, nowMs).unready === inTurn) return nowMs;
  }
  throw new Error('the turn never came round');
}
/** The fleet and consumer-b's decision, not in its turn unless `inTurn`. */
function fleetOf(view: FleetView, inTurn = false): FleetState {
  return { view, decision: decideFleet(view, settings, momentWhen(inTurn)), settings };
}

function status(view: ProbeView) {
  return JSON.parse(renderStatusHead(view) + uptimeTail(view.startedAtMs, WALL));
}

test('renderReady: the readiness fields as the body, the status code apart', () => {
  const cases: [name: string, view: ProbeView, statusCode: number][] = [
    ['healthy', viewOf(HEALTHY), 200],
    ['failing', viewOf({ ...HEALTHY, lag: 5000 }), 500],
    ['starting', viewOf({}, { view: { phase: 'starting', snapshot: null } }), 503],
  ];
  for (const [name, view, statusCode] of cases) {
    const { statusCode: code, body } = renderReady(view);
    const { statusCode: _, ...fields } = readiness(view);
    assert.equal(code, statusCode, name);
    assert.deepEqual(JSON.parse(body), fields, name);
    assert.equal('statusCode' in JSON.parse(body), false, name);
  }
  assert.deepEqual(JSON.parse(renderReady(viewOf(HEALTHY)).body), {
    healthy: true,
    message: 'System healthy',
    verdict: 'pass',
    checks: { lag: 'pass', members: 'pass', pod_up: 'pass' },
  });
});

test('renderVerbose: a line per check as /readyz?verbose writes them, excluded checks marked, then the overall line', () => {
  const selection = (view: ProbeView, exclude: string[] = []) => {
    const selected = select(view.checks, { exclude });
    assert.ok(selected.ok);
    return selected;
  };
  const cases: [name: string, view: ProbeView, exclude: string[], statusCode: number, lines: string[]][] = [
    ['healthy', viewOf(HEALTHY), [], 200, ['[+]lag ok', '[+]members ok', '[+]pod_up ok', 'ready check passed']],
    ['one failing', viewOf({ ...HEALTHY, lag: 5000 }), [], 500, ['[-]lag failed: lag is 5000, not <= 1000', '[+]members ok', '[+]pod_up ok', 'ready check failed']],
    ['the failing one excluded', viewOf({ ...HEALTHY, lag: 5000 }), ['lag'], 200, ['[+]members ok', '[+]pod_up ok', '[+]lag excluded: ok', 'ready check passed']],
    [
      'no data that passes: ok, with why',
      viewOf({ ...HEALTHY, members: null }),
      [],
      200,
      ['[+]lag ok', '[+]members ok: no member count', '[+]pod_up ok', 'ready check passed'],
    ],
    [
      'unknown that passes',
      viewOf({ lag: 10, members: 3 }),
      [],
      200,
      ['[+]lag ok', '[+]members ok', '[+]pod_up ok: Prometheus could not be asked (PROM_NETWORK: refused)', 'ready check passed'],
    ],
    [
      'starting',
      viewOf({}, { view: { phase: 'starting', snapshot: null } }),
      [],
      503,
      [
        '[-]lag failed: not evaluated yet',
        '[-]members failed: not evaluated yet',
        '[-]pod_up failed: not evaluated yet',
        'ready check failed: Starting: the first evaluation has not finished',
      ],
    ],
    [
      'shutting down',
      viewOf(HEALTHY, { view: { phase: 'shutting_down' } }),
      [],
      503,
      ['[+]lag ok', '[+]members ok', '[+]pod_up ok', 'ready check failed: Shutting down'],
    ],
    [
      'DRY_RUN',
      viewOf({ ...HEALTHY, lag: 5000 }, { config: { dryRun: true } }),
      [],
      200,
      ['[-]lag failed: lag is 5000, not <= 1000', '[+]members ok', '[+]pod_up ok', 'ready check failed (DRY_RUN: answering 200 instead of 500)'],
    ],
  ];
  for (const [name, view, exclude, statusCode, lines] of cases) {
    const { statusCode: code, body } = renderVerbose(view, selection(view, exclude));
    assert.equal(code, statusCode, name);
    assert.ok(body.endsWith('\n'), name);
    assert.deepEqual(body.slice(0, -1).split('\n'), lines, name);
  }
});

test('renderVerbose: a reason with line breaks stays on its line', () => {
  const multiline = parseChecksFile(JSON.stringify({ checks: [{ name: 'lag', query: 'lag', comparison: '<=', threshold: 1, message: 'first\nsecond\r\nthird' }] }), {
    severalGroups: false,
  });
  assert.ok(multiline.ok);
  const [check] = checksFor(config, multiline.templates);
  const record = recordAnswer(newRecord(check!), {
    observation: observe(check!, [{ value: 5, labels: {} }]),
    atMs: WALL,
    atMonotonicMs: 0,
    durationMs: 1,
    warnings: [],
    falling: false,
  });
  const base = viewOf(HEALTHY);
  const view: ProbeView = {
    ...base,
    checks: [check!],
    snapshot: { ...base.snapshot!, verdict: judge([record], { nowMonotonicMs: 0, staleAfterMs: 60_000, onPrometheusError: 'pass' }) },
  };
  assert.equal(renderVerbose(view, { included: [check!], excluded: [] }).body, '[-]lag failed: first second third\nready check failed\n');
});

test('renderStatusHead + uptimeTail: one JSON document, the tail of fixed length whatever the uptime', () => {
  const view = viewOf(HEALTHY);
  const head = renderStatusHead(view);
  assert.ok(!head.endsWith('}'), 'the head is open');
  const year = 365.25 * 86_400_000;
  const cases: [name: string, uptimeMs: number, seconds: number][] = [
    ['zero', 0, 0],
    ['a millisecond', 1, 0.001],
    ['five seconds', 5_000, 5],
    ['fractional', 1_234_567, 1234.567],
    ['a year', year, year / 1000],
    ['300 years', 300 * year, (300 * year) / 1000],
    ['a clock stepped back', -60_000, 0],
  ];
  for (const [name, uptimeMs, seconds] of cases) {
    const tail = uptimeTail(WALL, WALL + uptimeMs);
    assert.equal(tail.length, UPTIME_TAIL_BYTES, name);
    assert.equal(Buffer.byteLength(tail), UPTIME_TAIL_BYTES, name);
    const document = JSON.parse(head + tail);
    assert.equal(document.uptime_seconds, seconds, name);
    assert.equal(document.version, '1.2.3', name);
  }
});

test('/status: the verdict, the phase, the checks and the configuration, no credentials', () => {
  const document = status(viewOf({ ...HEALTHY, lag: 5000 }));
  assert.deepEqual(
    [document.healthy, document.verdict, document.message, document.ready_status_code, document.phase, document.dry_run],
    [false, 'fail', 'lag is 5000, not <= 1000', 500, 'running', false],
  );
  assert.deepEqual(Object.keys(document.checks), ['lag', 'members', 'pod_up']);
  assert.deepEqual([document.checks.lag.state, document.checks.lag.value, document.checks.lag.scope, document.checks.pod_up.scope], ['fail', 5000, 'group', 'replica']);
  assert.equal(document.started_at, new Date(WALL - 5_000).toISOString());
  assert.equal(document.config.pod_name, 'consumer-b');
});

test('/status: held_ready false and fleet null without a limit', () => {
  const document = status(viewOf({ ...HEALTHY, lag: 5000 }));
  assert.deepEqual([document.held_ready, document.fleet], [false, null]);
});

test('/status: held ready, and the fleet with where this replica stands', () => {
  const fleet = fleetOf(three);
  assert.equal(fleet.decision.unready, false, 'consumer-b is not in turn at this moment');
  const held = status(viewOf({ ...HEALTHY, lag: 5000 }, { fleet }));
  assert.deepEqual([held.held_ready, held.ready_status_code, held.healthy, held.verdict], [true, 200, false, 'fail']);
  assert.match(held.message, /^held ready/);
  assert.deepEqual(
    {
      source: held.fleet.source,
      self: held.fleet.self,
      replicas: held.fleet.replicas,
      max_unready: held.fleet.max_unready,
      allowed_unready: held.fleet.allowed_unready,
      this_replica: held.fleet.this_replica,
      rotate: held.fleet.rotate,
      seen_at: held.fleet.seen_at,
      note: held.fleet.note,
    },
    {
      source: 'prometheus',
      self: 'consumer-b',
      replicas: ['consumer-a', 'consumer-b', 'consumer-c'],
      max_unready: '1',
      allowed_unready: 1,
      this_replica: 'held ready',
      rotate: '5m',
      seen_at: new Date(WALL).toISOString(),
      note: undefined,
    },
  );
  assert.deepEqual(held.fleet.unready_turn, fleet.decision.turn);

  const cases: [name: string, view: ProbeView, standing: string, heldReady: boolean][] = [
    ['healthy, not in turn', viewOf(HEALTHY, { fleet }), 'not in turn', false],
    ['its own check fails', viewOf({ ...HEALTHY, pod_up: 0 }, { fleet }), 'unready for its own reasons', false],
    ['alone: its turn', viewOf({ ...HEALTHY, lag: 5000 }, { fleet: fleetOf(loneFleet('consumer-b')) }), 'its turn to be unready', false],
  ];
  cases.push(['group-wide failure in its turn', viewOf({ ...HEALTHY, lag: 5000 }, { fleet: fleetOf(three, true) }), 'its turn to be unready', false]);
  for (const [name, view, standing, heldReady] of cases) {
    const document = status(view);
    assert.deepEqual([document.fleet.this_replica, document.held_ready], [standing, heldReady], name);
  }
  const alone = status(viewOf({ ...HEALTHY, lag: 5000 }, { fleet: fleetOf(loneFleet('consumer-b')) }));
  assert.deepEqual([alone.fleet.source, alone.fleet.seen_at, alone.ready_status_code], ['none', null, 500]);
  assert.match(alone.fleet.note, /fleet of one/);
});
