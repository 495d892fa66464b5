import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CheckStats, DURATION_BUCKETS_S, NO_STATS, withDuration, withError } from '../../src/core/snapshot.js';

test('withDuration: each bucket counts the queries at or under its bound, cumulatively, with sum and count', () => {
  // Bounds (s): 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10
  const cases: [name: string, durationsMs: number[], buckets: number[], sumS: number][] = [
    ['none', [], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0],
    ['3 ms: every bucket', [3], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0.003],
    ['on a bound: counted in it (le)', [50], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], 0.05],
    ['just over a bound', [51], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], 0.051],
    ['over the last bound: only sum and count', [20_000], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20],
    ['several', [3, 30, 50, 700, 20_000], [1, 1, 1, 3, 3, 3, 3, 4, 4, 4, 4], 20.783],
  ];
  for (const [name, durations, buckets, sumS] of cases) {
    const stats = durations.reduce(withDuration, NO_STATS);
    assert.deepEqual(stats.durationBuckets, buckets, name);
    assert.equal(stats.durationCount, durations.length, name);
    assert.ok(Math.abs(stats.durationSumS - sumS) < 1e-9, `${name}: sum ${stats.durationSumS}`);
    assert.equal(stats.durationBuckets.length, DURATION_BUCKETS_S.length, name);
  }
});

test('withDuration and withError never change the stats they are given', () => {
  const before: CheckStats = withError(withDuration(NO_STATS, 30), 'PROM_TIMEOUT');
  const copy = { errors: [...before.errors], durationBuckets: [...before.durationBuckets], durationSumS: before.durationSumS, durationCount: before.durationCount };
  const after = withError(withDuration(before, 700), 'PROM_TIMEOUT');
  assert.deepEqual(
    { errors: [...before.errors], durationBuckets: [...before.durationBuckets], durationSumS: before.durationSumS, durationCount: before.durationCount },
    copy,
  );
  assert.notEqual(after.durationBuckets, before.durationBuckets);
  assert.notEqual(after.errors, before.errors);
  // NO_STATS is shared by every new check: it must stay empty.
  assert.deepEqual([NO_STATS.durationCount, NO_STATS.durationSumS, NO_STATS.errors.size, NO_STATS.durationBuckets.every((n) => n === 0)], [0, 0, 0, true]);
});

test('withError counts failed evaluations per code, keeping the durations', () => {
  const stats = ['PROM_TIMEOUT', 'PROM_NETWORK', 'PROM_TIMEOUT', 'PROBE_INTERNAL', 'PROM_TIMEOUT'].reduce(withError, withDuration(NO_STATS, 30));
  assert.deepEqual(Object.fromEntries(stats.errors), { PROM_TIMEOUT: 3, PROM_NETWORK: 1, PROBE_INTERNAL: 1 });
  assert.equal(stats.durationCount, 1);
  assert.deepEqual(stats.durationBuckets, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
});
