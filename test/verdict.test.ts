import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultChecks, observe, type CheckDefinition } from '../src/checks.js';
import { loadConfig } from '../src/config.js';
import { judge, judgeCheck, newRecord, recordAnswer, type CheckRecord, type JudgeOptions } from '../src/verdict.js';

const [skew, consumers] = defaultChecks(loadConfig({})) as [CheckDefinition, CheckDefinition];
const T = 1_000_000;
const options: JudgeOptions = { nowMonotonicMs: T, staleAfterMs: 60_000, onPrometheusError: 'pass' };

function record(check: CheckDefinition, values: number[] | null, extra: Partial<CheckRecord> = {}): CheckRecord {
  const base = newRecord(check);
  const answered =
    values === null
      ? base
      : recordAnswer(base, {
          observation: observe(check, values.map((value) => ({ value, labels: {} }))),
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

test('unhealthy: the failing checks\' messages are joined', () => {
  const verdict = judge([record(skew, [5.2]), record(consumers, [1])], options);
  assert.deepEqual([verdict.state, verdict.healthy], ['fail', false]);
  assert.equal(verdict.message, 'Hot-key skew high: 5.2x; Too few consumers: 1 < 2');
});

test('no data follows each check\'s policy', () => {
  const verdict = judge([record(skew, []), record(consumers, [])], options);
  assert.deepEqual(verdict.checks.map((c) => [c.state, c.ok]), [['no_data', true], ['no_data', false]]);
  assert.equal(verdict.message, 'No consumers reported for group crm-events-sse');
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
