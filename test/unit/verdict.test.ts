import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type CheckDefinition, type CheckTemplate, instantiate, observe } from '../../src/core/checks.js';
import { configuredChecks } from '../../src/core/settings.js';
import { type CheckRecord, combine, type JudgeOptions, judge, judgeCheck, newRecord, recordAnswer, recordError } from '../../src/core/verdict.js';
import { seedOnly } from '../helpers/config.js';

const [skew, consumers] = configuredChecks(loadConfig(seedOnly({}))) as [CheckDefinition, CheckDefinition];
const T = 1_000_000;
const options: JudgeOptions = { nowMonotonicMs: T, staleAfterMs: 60_000, onPrometheusError: 'pass' };

function record(check: CheckDefinition, values: number[] | null, extra: Partial<CheckRecord> = {}): CheckRecord {
  const base = newRecord(check);
  const answered =
    values === null
      ? base
      : recordAnswer(base, {
          observation: observe(
            check,
            values.map((value) => ({ value, labels: {} })),
          ),
          atMs: Date.UTC(2026, 10, 26),
          atMonotonicMs: T,
          durationMs: 1,
          warnings: [],
          falling: false,
        });
  return { ...answered, ...extra };
}
const timeout = { code: 'PROM_TIMEOUT', message: 'no answer', atMs: T };

test('healthy: every check passes', () => {
  const verdict = judge([record(skew, [1.2]), record(consumers, [3])], options);
  assert.deepEqual([verdict.state, verdict.healthy, verdict.message], ['pass', true, 'System healthy']);
});

test("unhealthy: the failing checks' messages are joined", () => {
  const verdict = judge([record(skew, [5.2]), record(consumers, [1])], options);
  assert.deepEqual([verdict.state, verdict.healthy], ['fail', false]);
  assert.equal(verdict.message, 'Hot-key skew high: 5.2x; Too few consumers: 1 < 2');
});

test("no data follows each check's policy: ON_NO_DATA for the built-in two (pass by default)", () => {
  const verdict = judge([record(skew, []), record(consumers, [])], options);
  assert.deepEqual(
    verdict.checks.map((c) => [c.state, c.ok]),
    [
      ['no_data', true],
      ['no_data', true],
    ],
  );
  assert.equal(verdict.healthy, true);
  assert.match(
    verdict.message,
    /^System healthy \(No skew data for group crm-events-sse \(.*\); No consumer count for group crm-events-sse \(kafka:group_consumer_count has no series: kafka_exporter down or not scraped, the recording rules not loaded, or no consumer group of that name\)\)$/,
  );
  const [strictSkew, strictConsumers] = configuredChecks(loadConfig(seedOnly({ ON_NO_DATA: 'fail' }))) as [CheckDefinition, CheckDefinition];
  const strict = judge([record(strictSkew, [1.2]), record(strictConsumers, [])], options);
  assert.deepEqual(
    strict.checks.map((c) => [c.state, c.ok]),
    [
      ['pass', true],
      ['no_data', false],
    ],
  );
  assert.match(strict.message, /^No consumer count for group crm-events-sse \(kafka:group_consumer_count has no series: kafka_exporter down/);
});

test('after a failed query the last observation stands while younger than STALE_AFTER', () => {
  const young = record(skew, [5.2], { observedAtMonotonicMs: T - 59_999, consecutiveErrors: 3, lastError: timeout });
  const judged = judgeCheck(young, options);
  assert.deepEqual([judged.state, judged.ok, judged.stale], ['fail', false, true]);
  assert.equal(judged.reason, 'Hot-key skew high: 5.2x (last known)');

  const verdict = judge([record(skew, [1], { observedAtMonotonicMs: T - 30_000, consecutiveErrors: 1, lastError: timeout }), record(consumers, [3])], options);
  assert.deepEqual([verdict.state, verdict.healthy], ['pass', true]);
  assert.equal(verdict.message, 'System healthy (last known; Prometheus failing: PROM_TIMEOUT)');
});

test('past STALE_AFTER the check is unknown and ON_PROMETHEUS_ERROR decides', () => {
  const old = record(skew, [5.2], { observedAtMonotonicMs: T - 60_000, consecutiveErrors: 7, lastError: timeout });
  const passing = judge([old, record(consumers, [3])], options);
  assert.deepEqual([passing.state, passing.healthy], ['unknown', true]);
  assert.equal(passing.message, 'System healthy (unverified: skew_ratio unknown: Prometheus could not be asked (PROM_TIMEOUT: no answer); ON_PROMETHEUS_ERROR=pass)');

  const failing = judge([old, record(consumers, [3])], { ...options, onPrometheusError: 'fail' });
  assert.deepEqual([failing.state, failing.healthy], ['unknown', false]);
  assert.equal(failing.message, 'skew_ratio unknown: Prometheus could not be asked (PROM_TIMEOUT: no answer); ON_PROMETHEUS_ERROR=fail');
});

test('unknown checks share one clause in the message', () => {
  const down = { consecutiveErrors: 1, lastError: { ...timeout, code: 'PROM_NETWORK', message: 'refused' } };
  const verdict = judge([record(skew, null, down), record(consumers, null, down)], { ...options, onPrometheusError: 'fail' });
  assert.equal(verdict.message, 'skew_ratio, consumer_count unknown: Prometheus could not be asked (PROM_NETWORK: refused); ON_PROMETHEUS_ERROR=fail');
});

test('a check that never had an answer is unknown from the first failed evaluation', () => {
  const never = record(consumers, null, { consecutiveErrors: 1, lastError: { ...timeout, code: 'PROM_NETWORK' } });
  assert.deepEqual([judgeCheck(never, options).state, judgeCheck(never, options).ok], ['unknown', true]);
});

test('a definite failure outweighs an unknown check', () => {
  const unknown = record(skew, null, { consecutiveErrors: 1, lastError: timeout });
  const verdict = judge([unknown, record(consumers, [1])], options);
  assert.deepEqual([verdict.state, verdict.healthy], ['fail', false]);
  assert.match(verdict.message, /^Too few consumers: 1 < 2; skew_ratio unknown: /);
});

/** A one-group check built from a template, for the damping tests. */
function custom(overrides: Partial<CheckTemplate>): CheckDefinition {
  const template = {
    name: 'lag',
    query: 'lag',
    comparison: '<=',
    threshold: 100,
    forMs: 0,
    keepForMs: 0,
    onNoData: 'fail',
    onError: null,
    failMessage: 'lag {value}',
    noDataMessage: 'no lag data',
    unit: '',
    drain: null,
    ...overrides,
  } as CheckTemplate;
  return instantiate([template], ['g'])[0]!;
}

/** Feeds answers at the given monotonic times and judges at the last one. */
function after(check: CheckDefinition, answers: [atMs: number, values: number[], falling?: boolean][], judgeAtMs = answers.at(-1)![0]) {
  let current = newRecord(check);
  for (const [atMs, values, falling = false] of answers) {
    current = recordAnswer(current, {
      observation: observe(
        check,
        values.map((value) => ({ value, labels: { topic: 't' } })),
      ),
      atMs,
      atMonotonicMs: atMs,
      durationMs: 1,
      warnings: [],
      falling,
    });
  }
  return judgeCheck(current, { ...options, nowMonotonicMs: judgeAtMs });
}
const state = (judged: { state: string; ok: boolean }) => `${judged.state}:${judged.ok}`;

test('for: a breach fails only once it has lasted `for`; one good answer restarts the clock', () => {
  const check = custom({ forMs: 30_000 });
  assert.equal(state(after(check, [[0, [500]]])), 'pending:true');
  assert.equal(
    after(check, [
      [0, [500]],
      [20_000, [500]],
    ]).reason,
    'lag 500 (pending: for 20s of 30s)',
  );
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [20_000, [500]],
        [30_000, [500]],
      ]),
    ),
    'fail:false',
  );
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [20_000, [50]],
        [40_000, [500]],
      ]),
    ),
    'pending:true',
    'the breach restarted at 40 s',
  );
  const verdict = combine([after(check, [[0, [500]]])], 'pass');
  assert.deepEqual([verdict.healthy, verdict.message], [true, 'System healthy (lag 500 (pending: for 0s of 30s))']);
});

test('keepFor: a failed check passes again only after passing for keepFor', () => {
  const check = custom({ keepForMs: 60_000 });
  const failed: [number, number[]] = [0, [500]];
  assert.equal(state(after(check, [failed, [10_000, [50]]])), 'recovering:false');
  assert.match(after(check, [failed, [10_000, [50]], [40_000, [50]]]).reason!, /^lag recovering: passing for 30s of keepFor 1m \(30s left\)$/);
  assert.equal(state(after(check, [failed, [10_000, [50]], [70_000, [50]]])), 'pass:true');
  assert.equal(state(after(check, [failed, [10_000, [50]], [40_000, [500]], [50_000, [50]], [100_000, [50]]])), 'recovering:false', 'a relapse restarts keepFor');
});

test('drain: a falling breach passes within the grace, counted once per breach', () => {
  const check = custom({ drain: { query: 'trend', graceMs: 300_000 } });
  assert.equal(state(after(check, [[0, [500]]])), 'fail:false', 'rising: a hot key');
  const draining = after(check, [
    [0, [500]],
    [60_000, [400], true],
  ]);
  assert.equal(state(draining), 'draining:true');
  assert.equal(draining.reason, 'lag 400 (draining for 0s of grace 5m)');
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [60_000, [400], true],
        [120_000, [400]],
      ]),
    ),
    'fail:false',
    'stopped falling',
  );
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [60_000, [400], true],
        [120_000, [400]],
        [180_000, [300], true],
      ]),
    ),
    'draining:true',
    'falling again, inside the same grace',
  );
  const spent = after(check, [
    [0, [500]],
    [60_000, [400], true],
    [360_000, [150], true],
  ]);
  assert.deepEqual([spent.state, spent.ok, spent.reason], ['fail', false, 'lag 150 (still draining after grace 5m)']);
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [60_000, [400], true],
        [360_000, [50]],
        [400_000, [500]],
        [410_000, [450], true],
      ]),
    ),
    'draining:true',
    'a new breach, a new grace',
  );
  assert.equal(
    state(
      after(custom({}), [
        [0, [500]],
        [60_000, [400], true],
      ]),
    ),
    'fail:false',
    'no drain configured',
  );
});

test("the unknown clause names the setting that decided: a check's onError, or ON_PROMETHEUS_ERROR", () => {
  const own = judgeCheck(newRecord(custom({ onError: 'fail' })), options);
  const verdict = combine([own], 'pass');
  assert.deepEqual([verdict.healthy, verdict.message], [false, 'lag unknown: Prometheus could not be asked (no answer yet); onError=fail']);
  assert.equal(
    combine([judgeCheck(newRecord(custom({})), options)], 'pass').message,
    'System healthy (unverified: lag unknown: Prometheus could not be asked (no answer yet); ON_PROMETHEUS_ERROR=pass)',
  );
});

test('for and keepFor run on time: with Prometheus failing, a breach past `for` fails and a recovery past `keepFor` passes', () => {
  const check = custom({ forMs: 30_000, keepForMs: 30_000, onError: 'keepLast' });
  const breached = after(check, [[0, [500]]], 0).record;
  const failing = recordError(breached, timeout, 1);
  assert.equal(state(judgeCheck(failing, { ...options, nowMonotonicMs: 10_000 })), 'pending:true');
  const late = judgeCheck(failing, { ...options, nowMonotonicMs: 3_600_000 });
  assert.deepEqual([late.state, late.ok, late.reason], ['fail', false, 'lag 500 (last known)']);
  const recovering = recordError(
    after(check, [
      [0, [500]],
      [40_000, [500]],
      [50_000, [50]],
    ]).record,
    timeout,
    1,
  );
  assert.equal(state(judgeCheck(recovering, { ...options, nowMonotonicMs: 60_000 })), 'recovering:false');
  assert.equal(state(judgeCheck(recovering, { ...options, nowMonotonicMs: 90_000 })), 'pass:true');
});

test('a breach that failed on time (no answer after `for` ran out) still recovers through keepFor', () => {
  // The integration test saw it: the breach answer at 0, timeouts while `for` ran out (/ready 500 on time), then a
  // passing answer. The record never saw a breach answer past `for`; its recovery must not skip keepFor.
  const check = custom({ forMs: 3_000, keepForMs: 3_000 });
  const breached = after(check, [[0, [500]]], 0).record;
  const timedOut = recordError(breached, timeout, 400);
  assert.equal(state(judgeCheck(timedOut, { ...options, nowMonotonicMs: 3_500 })), 'fail:false', 'failed on time');
  const passing = recordAnswer(timedOut, {
    observation: observe(check, [{ value: 50, labels: {} }]),
    atMs: 4_000,
    atMonotonicMs: 4_000,
    durationMs: 1,
    warnings: [],
    falling: false,
  });
  assert.equal(state(judgeCheck(passing, { ...options, nowMonotonicMs: 4_000 })), 'recovering:false');
  assert.equal(state(judgeCheck(passing, { ...options, nowMonotonicMs: 7_000 })), 'pass:true');
  // A breach that ended inside its `for` never failed: its recovery is immediate.
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [2_000, [50]],
      ]),
    ),
    'pass:true',
  );
});

test('a drain that ends is no failure: keepFor does not hold back the recovery of a breach /ready never failed', () => {
  const check = custom({ keepForMs: 60_000, drain: { query: 'trend', graceMs: 300_000 } });
  assert.equal(
    state(
      after(check, [
        [0, [500], true],
        [10_000, [400], true],
      ]),
    ),
    'draining:true',
  );
  assert.equal(
    state(
      after(check, [
        [0, [500], true],
        [10_000, [400], true],
        [20_000, [50]],
      ]),
    ),
    'pass:true',
  );
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [10_000, [400]],
        [20_000, [50]],
      ]),
    ),
    'recovering:false',
    'a breach that failed /ready still waits keepFor',
  );
});

test('onNoData keepLast: no data stands for the last answer with data', () => {
  const check = custom({ onNoData: 'keepLast' });
  assert.equal(
    state(
      after(check, [
        [0, [500]],
        [10_000, []],
      ]),
    ),
    'fail:false',
  );
  assert.equal(
    after(check, [
      [0, [500]],
      [10_000, []],
    ]).reason,
    'lag 500',
  );
  assert.equal(
    state(
      after(check, [
        [0, [50]],
        [10_000, []],
      ]),
    ),
    'pass:true',
  );
  assert.equal(state(after(check, [[0, []]])), 'no_data:true', 'nothing to keep yet');
});

test('onError: past STALE_AFTER, pass and fail decide per check, keepLast keeps the last answer however old', () => {
  const stale = (onError: CheckTemplate['onError'], values: number[], policy: 'pass' | 'fail' = 'pass') => {
    const check = custom({ onError });
    const answered = recordAnswer(newRecord(check), {
      observation: observe(
        check,
        values.map((value) => ({ value, labels: {} })),
      ),
      atMs: 0,
      atMonotonicMs: 0,
      durationMs: 1,
      warnings: [],
      falling: false,
    });
    const failing = recordError(answered, timeout, 1);
    return judgeCheck(failing, { nowMonotonicMs: 3_600_000, staleAfterMs: 60_000, onPrometheusError: policy });
  };
  assert.equal(state(stale(null, [50], 'fail')), 'unknown:false', 'ON_PROMETHEUS_ERROR');
  assert.equal(state(stale('pass', [50], 'fail')), 'unknown:true');
  assert.equal(state(stale('fail', [50])), 'unknown:false');
  const kept = stale('keepLast', [500]);
  assert.deepEqual([kept.state, kept.ok, kept.stale, kept.reason], ['fail', false, true, 'lag 500 (last known)']);
  assert.equal(state(stale('keepLast', [50], 'fail')), 'pass:true');
});

test('several groups: reasons are led by their group; the unknown clause names check ids', () => {
  const [a, b] = instantiate([custom({}) as CheckTemplate], ['orders', 'billing']) as [CheckDefinition, CheckDefinition];
  const judged = [after(a, [[0, [50]]]), after(b, [[0, [500]]])];
  const verdict = combine(judged, 'pass');
  assert.deepEqual([verdict.healthy, verdict.message], [false, 'billing: lag 500']);
  assert.equal(combine([judged[1]!], 'pass').message, 'lag 500', 'one group: no prefix');
  const unknown = judgeCheck(newRecord(a), { ...options, onPrometheusError: 'fail' });
  assert.equal(
    combine([unknown, judged[1]!], 'fail').message,
    'billing: lag 500; orders/lag unknown: Prometheus could not be asked (no answer yet); ON_PROMETHEUS_ERROR=fail',
  );
});
