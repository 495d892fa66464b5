import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type Bound, type CheckDefinition, failureMessage, formatValue, observe } from '../../src/core/checks.js';
import { configuredChecks } from '../../src/core/settings.js';
import { stallQuery } from '../../src/core/stall.js';
import { seedOnly } from '../helpers/config.js';

const [skew, consumers] = configuredChecks(loadConfig(seedOnly({}))) as [CheckDefinition, CheckDefinition];
const sample = (value: number, labels: Record<string, string> = {}) => ({ value, labels });

test("the seed's two checks, with the group escaped into their queries", () => {
  const checks = configuredChecks(loadConfig(seedOnly({ KAFKA_GROUP: 'we"ird\\group' })));
  assert.deepEqual(
    checks.map((c) => [c.name, c.query, c.comparison, c.comparison === 'range' ? null : c.threshold, c.onNoData]),
    [
      ['skew_ratio', 'kafka:group_skew_ratio{consumergroup="we\\"ird\\\\group"}', '<=', 4, 'pass'],
      ['consumer_count', 'kafka:group_consumer_count{consumergroup="we\\"ird\\\\group"}', '>=', 2, 'pass'],
    ],
  );
  // ON_NO_DATA decides for both built-in checks: missing series are evidence about the monitoring, not the group.
  assert.deepEqual(
    configuredChecks(loadConfig({ ON_NO_DATA: 'fail' })).map((c) => c.onNoData),
    ['fail', 'fail', 'fail'],
  );
});

test('the built-in checks by default: skew above the floor, consumer count, stalled partitions; lag in time when asked', () => {
  const checks = configuredChecks(loadConfig({}));
  assert.deepEqual(
    checks.map((c) => c.name),
    ['skew_ratio', 'consumer_count', 'stalled_partitions'],
  );
  assert.equal(
    checks[0]!.query,
    '((kafka:group_skew_ratio{consumergroup="crm-events-sse"}) unless on (cluster, consumergroup, topic) (kafka:group_max_lag{consumergroup="crm-events-sse"} <= 100)) or on (cluster, consumergroup, topic) ((kafka:group_max_lag{consumergroup="crm-events-sse"} <= 100) * 0 + 1)',
  );
  assert.equal(checks[2]!.query, stallQuery(300_000).replaceAll('{group}', 'crm-events-sse'));
  assert.deepEqual([checks[2]!.comparison, checks[2]!.measure], ['<=', 'series']);
  const withLag = configuredChecks(loadConfig({ MAX_LAG_SECONDS: '120', STALL_AFTER: '0s', SKEW_MIN_LAG: '0' }));
  assert.deepEqual(
    withLag.map((c) => [c.name, c.query]),
    [
      ['skew_ratio', 'kafka:group_skew_ratio{consumergroup="crm-events-sse"}'],
      ['consumer_count', 'kafka:group_consumer_count{consumergroup="crm-events-sse"}'],
      ['lag_seconds', 'kafka:group_lag_seconds{consumergroup="crm-events-sse"}'],
    ],
  );
});

test('stalled partitions: counted, named by topic and partition; none is 0, no rule is no data', () => {
  const [, , stall] = configuredChecks(loadConfig({ STALL_AFTER: '2m' }));
  const partition = (topic: string, number: number, lag: number) => ({ value: lag, labels: { consumergroup: 'crm-events-sse', topic, partition: String(number) } });
  const two = observe(stall!, [partition('aetherlink.events', 5, 800), partition('aetherlink.events', 3, 90)]);
  assert.deepEqual([two.state, two.value], ['fail', 2]);
  assert.equal(failureMessage(stall!, two), 'Stalled: 2 partitions not committing for 2m (aetherlink.events/3, /5)');
  const one = observe(stall!, [partition('audit', 0, 7)]);
  assert.equal(failureMessage(stall!, one), 'Stalled: 1 partition not committing for 2m (audit/0)');
  assert.deepEqual(observe(stall!, [{ value: 0, labels: {} }]), { state: 'pass', value: 0, labels: {}, series: 0 }, 'the zero sentinel: none stalled');
  assert.equal(observe(stall!, []).state, 'no_data', 'no series at all: the rules are missing');
});

test('SKEW_FOR reads the window from Prometheus history', () => {
  const [check] = configuredChecks(loadConfig(seedOnly({ SKEW_FOR: '5m' })));
  assert.equal(
    check!.query,
    'min_over_time(kafka:group_skew_ratio{consumergroup="crm-events-sse"}[5m]) and present_over_time(kafka:group_skew_ratio{consumergroup="crm-events-sse"}[5m] offset 5m)',
  );
  assert.equal(failureMessage(check!, observe(check!, [sample(5.2)])), 'Hot-key skew high: 5.2x for 5m');
});

test('observe judges the worst series: the highest for <=, the lowest for >=', () => {
  const many = [sample(1.5, { topic: 'a' }), sample(6.25, { topic: 'b' }), sample(2, { topic: 'c' })];
  assert.deepEqual(observe(skew, many), { state: 'fail', value: 6.25, labels: { topic: 'b' }, series: 3, breaching: [{ topic: 'b' }] });
  assert.deepEqual(observe(consumers, [sample(3, { i: '1' }), sample(1, { i: '2' })]), {
    state: 'fail',
    value: 1,
    labels: { i: '2' },
    series: 2,
    breaching: [{ i: '2' }],
  });
  assert.deepEqual(observe(skew, [sample(1.5, { topic: 'a' })]), { state: 'pass', value: 1.5, labels: { topic: 'a' }, series: 1 });
});

test('observe: thresholds are inclusive, NaN is no data, infinities are values', () => {
  const cases: [CheckDefinition, number[], string, number | null][] = [
    [skew, [4], 'pass', 4],
    [skew, [4.0001], 'fail', 4.0001],
    [skew, [], 'no_data', null],
    [skew, [Number.NaN], 'no_data', null],
    [skew, [Number.NaN, 2], 'pass', 2],
    [skew, [Number.POSITIVE_INFINITY], 'fail', Number.POSITIVE_INFINITY],
    [skew, [Number.NEGATIVE_INFINITY], 'pass', Number.NEGATIVE_INFINITY],
    [consumers, [2], 'pass', 2],
    [consumers, [1], 'fail', 1],
    [consumers, [0], 'fail', 0],
    [consumers, [], 'no_data', null],
    [consumers, [Number.POSITIVE_INFINITY], 'pass', Number.POSITIVE_INFINITY],
    [consumers, [Number.NEGATIVE_INFINITY, 5], 'fail', Number.NEGATIVE_INFINITY],
  ];
  for (const [check, values, state, value] of cases) {
    const observation = observe(
      check,
      values.map((v) => sample(v)),
    );
    assert.equal(observation.state, state, `${check.name} ${values}`);
    assert.equal(observation.value, value, `${check.name} ${values}`);
  }
});

test('failure messages name the value, the threshold and the worst series', () => {
  assert.equal(failureMessage(skew, observe(skew, [sample(5.2)])), 'Hot-key skew high: 5.2x');
  assert.equal(
    failureMessage(skew, observe(skew, [sample(6.808, { consumergroup: 'crm-events-sse', topic: 'aetherlink.events' })])),
    'Hot-key skew high: 6.81x (topic=aetherlink.events)',
  );
  assert.equal(failureMessage(consumers, observe(consumers, [sample(1)])), 'Too few consumers: 1 < 2');
  assert.equal(
    failureMessage(consumers, observe(consumers, [])),
    'No consumer count for group crm-events-sse (kafka:group_consumer_count has no series: kafka_exporter down or not scraped, the recording rules not loaded, or no consumer group of that name)',
  );
  assert.equal(failureMessage(skew, observe(skew, [sample(9, { topic: '$&{value}' })])), 'Hot-key skew high: 9x (topic=$&{value})');
  assert.equal(failureMessage(skew, observe(skew, [sample(4.001)])), 'Hot-key skew high: 4.001x', 'not "4x" against a threshold of 4');
});

test('formatValue', () => {
  assert.deepEqual([5.2, 6.808, 1, 0.001, Infinity, -Infinity].map(formatValue), ['5.2', '6.81', '1', '0', '+Inf', '-Inf']);
});

test('several groups: the seed checks per group, ids qualified by the group', () => {
  const checks = configuredChecks(loadConfig(seedOnly({ KAFKA_GROUP: 'orders, billing' })));
  assert.deepEqual(
    checks.map((c) => [c.id, c.group]),
    [
      ['orders/skew_ratio', 'orders'],
      ['orders/consumer_count', 'orders'],
      ['billing/skew_ratio', 'billing'],
      ['billing/consumer_count', 'billing'],
    ],
  );
  assert.equal(checks[3]!.query, 'kafka:group_consumer_count{consumergroup="billing"}');
  assert.equal(checks[2]!.drain?.query, 'deriv(kafka:group_max_lag{consumergroup="billing"}[2m])');
  for (const bad of ['a,,b', 'a,a', ' , ']) assert.throws(() => loadConfig({ KAFKA_GROUP: bad }), /KAFKA_GROUP/, bad);
});

test('bounds: strict and inclusive comparisons, ranges, and the worst series of a range', () => {
  const bound = (b: Bound, values: number[]) =>
    observe(
      b,
      values.map((v) => sample(v)),
    );
  assert.equal(bound({ comparison: '<', threshold: 4 }, [4]).state, 'fail');
  assert.equal(bound({ comparison: '<=', threshold: 4 }, [4]).state, 'pass');
  assert.equal(bound({ comparison: '>', threshold: 2 }, [2]).state, 'fail');
  assert.equal(bound({ comparison: '>=', threshold: 2 }, [2]).state, 'pass');
  const range = bound({ comparison: 'range', min: 2, max: 10 }, [5, 1, 13]);
  assert.deepEqual([range.state, range.value, range.breaching?.length], ['fail', 13, 2], 'the furthest outside, either side');
  assert.equal(bound({ comparison: 'range', min: 2, max: 10 }, [2, 10]).state, 'pass', 'inclusive');
});
