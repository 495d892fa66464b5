import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type CheckDefinition, observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { decideFleet, type FleetSettings, type FleetState, type FleetView, loneFleet } from '../../src/core/fleet.js';
import {
  carryOver,
  type ErrorTrack,
  errorTransition,
  FIRST_VERDICT_KEY,
  type FleetTrack,
  fleetTransition,
  NO_ERRORS,
  NO_FLEET_TRACK,
  noDataTransition,
  verdictTransition,
} from '../../src/core/history.js';
import type { LimitedVerdict } from '../../src/core/readiness.js';
import { checksFor, configuredChecks } from '../../src/core/settings.js';
import { type CheckStats, NO_STATS, withDuration, withError } from '../../src/core/snapshot.js';
import type { LogEvent } from '../../src/core/types.js';
import { type CheckRecord, judge, newRecord, recordAnswer, recordError, type Verdict } from '../../src/core/verdict.js';

const T = 1_000_000;
const [skew, consumers] = configuredChecks(loadConfig({})) as [CheckDefinition, CheckDefinition];

/** A record that has seen one answer, so that a kept record differs from a new one. */
function answered(check: CheckDefinition, value: number | null): CheckRecord {
  return recordAnswer(newRecord(check), {
    observation: { state: value === null ? 'no_data' : 'pass', value, labels: {}, series: value === null ? 0 : 1 },
    atMs: T,
    atMonotonicMs: T,
    durationMs: 12,
    warnings: [],
    falling: false,
  });
}

/** A verdict at T from the given values (null: no series) of the default checks, or of `checks`. */
function verdictOf(values: (number | null)[], checks: readonly CheckDefinition[] = [skew, consumers]): Verdict {
  const records = checks.map((check, index) => {
    const value = values[index] ?? null;
    const observation = observe(check, value === null ? [] : [{ value, labels: {} }]);
    return recordAnswer(newRecord(check), { observation, atMs: T, atMonotonicMs: T, durationMs: 1, warnings: [], falling: false });
  });
  return judge(records, { nowMonotonicMs: T, staleAfterMs: 60_000, onPrometheusError: 'pass' });
}

test('carryOver: a check keeps its record when id and query are unchanged, and its stats by id', () => {
  const records = [answered(skew, 1.5), answered(consumers, 3)];
  const stats = new Map<string, CheckStats>([
    ['skew_ratio', withError(withDuration(NO_STATS, 30), 'PROM_TIMEOUT')],
    ['consumer_count', withDuration(NO_STATS, 700)],
  ]);
  const [newSkew] = configuredChecks(loadConfig({ SKEW_THRESHOLD: '6' })) as [CheckDefinition];
  const [sustainedSkew] = configuredChecks(loadConfig({ SKEW_FOR: '5m' })) as [CheckDefinition];
  const file = parseChecksFile(JSON.stringify({ checks: [{ name: 'lag', query: 'lag{consumergroup="{group}"}', comparison: '<', threshold: 100 }] }), {
    severalGroups: false,
  });
  assert.ok(file.ok);
  const [lag] = checksFor(loadConfig({}), file.templates) as [CheckDefinition];

  const cases: [name: string, checks: CheckDefinition[], kept: Record<string, boolean>][] = [
    ['same checks', [skew, consumers], { skew_ratio: true, consumer_count: true }],
    ['same id and query, another threshold: kept (an edited threshold must not reset a firing check)', [newSkew, consumers], { skew_ratio: true, consumer_count: true }],
    ['same id, another query: afresh', [sustainedSkew, consumers], { skew_ratio: false, consumer_count: true }],
    ['a check removed', [consumers], { consumer_count: true }],
    ['a new check', [skew, lag], { skew_ratio: true, lag: false }],
    ['order changed', [consumers, skew], { consumer_count: true, skew_ratio: true }],
  ];
  for (const [name, checks, kept] of cases) {
    const next = carryOver(records, stats, checks);
    assert.deepEqual(
      next.records.map((record) => record.check),
      checks,
      `${name}: every record holds the new definition`,
    );
    assert.deepEqual(Object.fromEntries(next.records.map((record) => [record.check.id, record.observation !== null])), kept, `${name}: records`);
    assert.deepEqual([...next.stats.keys()], Object.keys(kept), `${name}: a removed check's stats are dropped`);
    for (const check of checks) {
      const expected = stats.get(check.id) ?? NO_STATS;
      assert.equal(next.stats.get(check.id), expected, `${name}: stats of ${check.id}`);
    }
  }
  // The kept record is the old one with the new definition: its threshold is the new one, its history the old.
  const kept = carryOver(records, stats, [newSkew]).records[0]!;
  assert.deepEqual([kept.check.comparison === 'range' ? null : kept.check.threshold, kept.observation?.value, kept.lastDurationMs], [6, 1.5, 12]);
  // The new check's stats are NO_STATS itself: no counters carried from elsewhere.
  assert.equal(carryOver(records, stats, [lag]).stats.get('lag'), NO_STATS);
});

test('errorTransition: a line when failing starts or changes, none while the codes stay, one on recovery', () => {
  const failed = (check: CheckDefinition, code: string, message = `${code} message`) => recordError(answered(check, 1), { code, message, atMs: T }, 5);
  type Step = [name: string, failed: CheckRecord[], nowMs: number, failedEvaluations: number, event: LogEvent | null, track: ErrorTrack];
  const steps: Step[] = [
    ['all well', [], 1_000, 0, null, NO_ERRORS],
    [
      'failing starts',
      [failed(skew, 'PROM_TIMEOUT', 'no answer within 5s')],
      2_000,
      0,
      { level: 'warn', event: 'prometheus_error', fields: { codes: ['PROM_TIMEOUT'], checks: ['skew_ratio'], error: 'no answer within 5s' } },
      { codes: 'PROM_TIMEOUT', outageStartedMs: 2_000 },
    ],
    ['the same code, another check: no line', [failed(consumers, 'PROM_TIMEOUT')], 3_000, 1, null, { codes: 'PROM_TIMEOUT', outageStartedMs: 2_000 }],
    [
      'another code joins: a line naming both, sorted; the outage still began at its start',
      [failed(skew, 'PROM_TIMEOUT', 'first'), failed(consumers, 'PROM_NETWORK')],
      4_000,
      2,
      { level: 'warn', event: 'prometheus_error', fields: { codes: ['PROM_NETWORK', 'PROM_TIMEOUT'], checks: ['skew_ratio', 'consumer_count'], error: 'first' } },
      { codes: 'PROM_NETWORK,PROM_TIMEOUT', outageStartedMs: 2_000 },
    ],
    [
      'both checks fail alike: one code, once',
      [failed(skew, 'PROM_NETWORK', 'refused'), failed(consumers, 'PROM_NETWORK', 'refused')],
      5_000,
      3,
      { level: 'warn', event: 'prometheus_error', fields: { codes: ['PROM_NETWORK'], checks: ['skew_ratio', 'consumer_count'], error: 'refused' } },
      { codes: 'PROM_NETWORK', outageStartedMs: 2_000 },
    ],
    [
      'recovered: the outage measured from its start',
      [],
      32_500,
      4,
      { level: 'info', event: 'prometheus_recovered', fields: { failed_evaluations: 4, outage_seconds: 30.5 } },
      NO_ERRORS,
    ],
    ['still well', [], 40_000, 0, null, NO_ERRORS],
  ];
  let track = NO_ERRORS;
  for (const [name, records, nowMs, failedEvaluations, event, expectedTrack] of steps) {
    const next = errorTransition(track, records, nowMs, failedEvaluations);
    assert.deepEqual(next.event, event, name);
    assert.deepEqual(next.track, expectedTrack, name);
    track = next.track;
  }
});

test('errorTransition: a recovery with no known start says 0 seconds', () => {
  const next = errorTransition({ codes: 'PROM_DNS', outageStartedMs: null }, [], 9_000, 1);
  assert.deepEqual(next.event?.fields, { failed_evaluations: 1, outage_seconds: 0 });
});

test('verdictTransition: a line when state, health or the failing checks change; dry run says what /ready would answer', () => {
  const healthy = verdictOf([1.5, 3]);
  const skewFails = verdictOf([9, 3]);
  const bothFail = verdictOf([9, 1]);
  type Step = [name: string, verdict: Verdict, dryRun: boolean, event: LogEvent | null, key: string];
  const steps: Step[] = [
    [
      'the first verdict',
      healthy,
      false,
      { level: 'info', event: 'verdict_changed', fields: { from: 'starting', to: 'pass', healthy: true, message: 'System healthy' } },
      'pass:true:',
    ],
    ['unchanged', healthy, false, null, 'pass:true:'],
    [
      'fails',
      skewFails,
      false,
      { level: 'warn', event: 'verdict_changed', fields: { from: 'pass', to: 'fail', healthy: false, message: 'Hot-key skew high: 9x' } },
      'fail:false:skew_ratio',
    ],
    ['fails the same way', skewFails, false, null, 'fail:false:skew_ratio'],
    [
      'fails, one more check failing',
      bothFail,
      true,
      {
        level: 'warn',
        event: 'verdict_changed',
        fields: { from: 'fail', to: 'fail', healthy: false, message: 'Hot-key skew high: 9x; Too few consumers: 1 < 2', dry_run: true, would_be_status_code: 500 },
      },
      'fail:false:skew_ratio,consumer_count',
    ],
    [
      'recovers under dry run',
      healthy,
      true,
      {
        level: 'info',
        event: 'verdict_changed',
        fields: { from: 'fail', to: 'pass', healthy: true, message: 'System healthy', dry_run: true, would_be_status_code: 200 },
      },
      'pass:true:',
    ],
  ];
  let key = FIRST_VERDICT_KEY;
  for (const [name, verdict, dryRun, event, expectedKey] of steps) {
    const next = verdictTransition(key, verdict, dryRun);
    assert.deepEqual(next.event, event, name);
    assert.equal(next.key, expectedKey, name);
    key = next.key;
  }
});

test('noDataTransition: one line when a spell of missing data begins, none while its checks change, one when it ends', () => {
  const strict = configuredChecks(loadConfig({ ON_NO_DATA: 'fail' })).slice(0, 2);
  type Step = [name: string, verdict: Verdict, event: string | null, key: string];
  const steps: Step[] = [
    ['data', verdictOf([1.5, 3]), null, ''],
    ['skew goes missing', verdictOf([null, 3]), 'no_data', 'skew_ratio'],
    ['the consumer count too', verdictOf([null, null]), null, 'skew_ratio,consumer_count'],
    ['skew is back, the count still missing', verdictOf([1.5, null]), null, 'consumer_count'],
    ['every check has data', verdictOf([1.5, 3]), 'no_data_ended', ''],
    ['still data', verdictOf([1.5, 3]), null, ''],
    ['a new spell, failing readiness', verdictOf([1.5, null], strict), 'no_data', 'consumer_count'],
  ];
  let previous = '';
  const events: LogEvent[] = [];
  for (const [name, verdict, event, key] of steps) {
    const next = noDataTransition(previous, verdict);
    assert.equal(next.event?.event ?? null, event, name);
    assert.equal(next.key, key, name);
    if (next.event !== null) events.push(next.event);
    previous = next.key;
  }
  assert.deepEqual(events, [
    {
      level: 'warn',
      event: 'no_data',
      fields: { checks: ['skew_ratio'], message: skew.noDataMessage, fails_readiness: false },
    },
    { level: 'info', event: 'no_data_ended', fields: { checks: ['consumer_count'] } },
    {
      level: 'warn',
      event: 'no_data',
      fields: { checks: ['consumer_count'], message: consumers.noDataMessage, fails_readiness: true },
    },
  ]);
});

test('fleetTransition: a line when the fleet as seen changes or is not seen, and when being held ready begins or ends', () => {
  const settings: FleetSettings = { self: 'b', maxUnready: { kind: 'count', count: 1 }, rotateMs: 300_000, handoverMs: 15_000 };
  const now = 3 * 300_000 + 60_000;
  const state = (view: FleetView): FleetState => ({ view, decision: decideFleet(view, settings, now), settings });
  const seen = (replicas: string[], ownUnready: string[] = []): FleetView => ({ source: 'prometheus', replicas, ownUnready, seenAtMs: now });
  const ready: LimitedVerdict = { ready: true, held: false, message: 'System healthy' };
  const held: LimitedVerdict = { ready: true, held: true, message: 'held ready: 1 of 3 replicas may be unready; the verdict: Hot-key skew high: 9x' };
  const three = state(seen(['a', 'b', 'c']));

  type Step = [name: string, fleet: FleetState, limited: LimitedVerdict, events: LogEvent[]];
  const steps: Step[] = [
    [
      'a lone fleet at first',
      state(loneFleet('b')),
      ready,
      [
        {
          level: 'warn',
          event: 'fleet_not_seen',
          fields: { self: 'b', message: 'no replica of this probe is visible: behaving as a fleet of one (every group-wide failure makes this replica unready)' },
        },
      ],
    ],
    ['still alone', state(loneFleet('b')), ready, []],
    [
      'the fleet is seen',
      three,
      ready,
      [{ level: 'info', event: 'fleet_changed', fields: { source: 'prometheus', self: 'b', replicas: ['a', 'b', 'c'], own_unready: [], max_unready: 1 } }],
    ],
    ['the same fleet', state(seen(['a', 'b', 'c'])), ready, []],
    [
      'held ready begins',
      three,
      held,
      [{ level: 'warn', event: 'held_ready', fields: { message: held.message, would_be_status_code: 500, unready_now: three.decision.turn } }],
    ],
    ['still held', three, held, []],
    [
      'a replica is gone while held',
      state(seen(['a', 'b'])),
      held,
      [{ level: 'info', event: 'fleet_changed', fields: { source: 'prometheus', self: 'b', replicas: ['a', 'b'], own_unready: [], max_unready: 1 } }],
    ],
    [
      'another replica becomes unready for its own reasons, and this one is no longer held',
      state(seen(['a', 'b'], ['a'])),
      ready,
      [
        { level: 'info', event: 'fleet_changed', fields: { source: 'prometheus', self: 'b', replicas: ['a', 'b'], own_unready: ['a'], max_unready: 1 } },
        { level: 'info', event: 'held_ready_ended', fields: { ready: true } },
      ],
    ],
    [
      'the fleet vanishes',
      state(loneFleet('b')),
      ready,
      [
        {
          level: 'warn',
          event: 'fleet_not_seen',
          fields: { self: 'b', message: 'no replica of this probe is visible: behaving as a fleet of one (every group-wide failure makes this replica unready)' },
        },
      ],
    ],
  ];
  let track: FleetTrack = NO_FLEET_TRACK;
  for (const [name, fleet, limited, events] of steps) {
    const next = fleetTransition(track, fleet, limited);
    assert.deepEqual(next.events, events, name);
    assert.equal(next.track.held, limited.held, name);
    track = next.track;
  }
});

test('fleetTransition: held ready ending unready says so', () => {
  const settings: FleetSettings = { self: 'solo', maxUnready: { kind: 'count', count: 1 }, rotateMs: 300_000, handoverMs: 15_000 };
  const fleet: FleetState = { view: loneFleet('solo'), decision: decideFleet(loneFleet('solo'), settings, 0), settings };
  const first = fleetTransition(NO_FLEET_TRACK, fleet, { ready: true, held: true, message: 'held' });
  const ended = fleetTransition(first.track, fleet, { ready: false, held: false, message: 'Hot-key skew high: 9x' });
  assert.deepEqual(ended.events, [{ level: 'info', event: 'held_ready_ended', fields: { ready: false } }]);
});
