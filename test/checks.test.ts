import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { type Bound, type CheckDefinition, failureMessage, formatValue, instantiate, observe } from '../src/core/checks.js';
import { parseChecksFile } from '../src/core/checksfile.js';
import type { ConfigError } from '../src/core/errors.js';
import { configuredChecks } from '../src/core/settings.js';

const [skew, consumers] = configuredChecks(loadConfig({})) as [CheckDefinition, CheckDefinition];
const sample = (value: number, labels: Record<string, string> = {}) => ({ value, labels });

test('the seed\'s two checks, with the group escaped into their queries', () => {
  const checks = configuredChecks(loadConfig({ KAFKA_GROUP: 'we"ird\\group' }));
  assert.deepEqual(
    checks.map((c) => [c.name, c.query, c.comparison, c.comparison === 'range' ? null : c.threshold, c.onNoData]),
    [
      ['skew_ratio', 'kafka:group_skew_ratio{consumergroup="we\\"ird\\\\group"}', '<=', 4, 'pass'],
      ['consumer_count', 'kafka:group_consumer_count{consumergroup="we\\"ird\\\\group"}', '>=', 2, 'fail'],
    ],
  );
});

test('SKEW_FOR reads the window from Prometheus history', () => {
  const [check] = configuredChecks(loadConfig({ SKEW_FOR: '5m' }));
  assert.equal(
    check!.query,
    'min_over_time(kafka:group_skew_ratio{consumergroup="crm-events-sse"}[5m]) and present_over_time(kafka:group_skew_ratio{consumergroup="crm-events-sse"}[5m] offset 5m)',
  );
  assert.equal(failureMessage(check!, observe(check!, [sample(5.2)])), 'Hot-key skew high: 5.2x for 5m');
});

test('observe judges the worst series: the highest for <=, the lowest for >=', () => {
  const many = [sample(1.5, { topic: 'a' }), sample(6.25, { topic: 'b' }), sample(2, { topic: 'c' })];
  assert.deepEqual(observe(skew, many), { state: 'fail', value: 6.25, labels: { topic: 'b' }, series: 3, breaching: [{ topic: 'b' }] });
  assert.deepEqual(observe(consumers, [sample(3, { i: '1' }), sample(1, { i: '2' })]), { state: 'fail', value: 1, labels: { i: '2' }, series: 2, breaching: [{ i: '2' }] });
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
    const observation = observe(check, values.map((v) => sample(v)));
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
  assert.equal(failureMessage(consumers, observe(consumers, [])), 'No consumers reported for group crm-events-sse');
  assert.equal(failureMessage(skew, observe(skew, [sample(9, { topic: '$&{value}' })])), 'Hot-key skew high: 9x (topic=$&{value})');
  assert.equal(failureMessage(skew, observe(skew, [sample(4.001)])), 'Hot-key skew high: 4.001x', 'not "4x" against a threshold of 4');
});

test('formatValue', () => {
  assert.deepEqual([5.2, 6.808, 1, 0.001, Infinity, -Infinity].map(formatValue), ['5.2', '6.81', '1', '0', '+Inf', '-Inf']);
});

test('a checks file: every field, defaults, and {group} escaped into the query', () => {
  const parsed = parseChecksFile(
    JSON.stringify({
      checks: [
        { name: 'lag', query: 'sum(kafka_consumergroup_lag{consumergroup="{group}"})', comparison: '<', threshold: 1000, for: '2m', keepFor: '30s', onNoData: 'keepLast', onError: 'fail', message: '{group} lag {value} over {threshold}', unit: 'messages' },
        { name: 'members', query: 'kafka_consumergroup_members{consumergroup="{group}"}', comparison: 'range', min: 2, max: 12 },
      ],
    }),
    { severalGroups: true },
  );
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const [lag, members] = instantiate(parsed.templates, ['orders', 'we"ird']).slice(2) as [CheckDefinition, CheckDefinition];
  assert.deepEqual([lag.id, lag.group, lag.query], ['we"ird/lag', 'we"ird', 'sum(kafka_consumergroup_lag{consumergroup="we\\"ird"})']);
  assert.deepEqual([lag.forMs, lag.keepForMs, lag.onNoData, lag.onError, lag.unit], [120_000, 30_000, 'keepLast', 'fail', 'messages']);
  assert.equal(failureMessage(lag, observe(lag, [sample(1500)])), 'we"ird lag 1500 over 1000');
  assert.deepEqual([members.comparison, members.forMs, members.onNoData, members.onError, members.drain], ['range', 0, 'fail', null, null]);
  assert.equal(failureMessage(members, observe(members, [sample(1)])), 'members is 1, outside 2..12');
  assert.equal(failureMessage(members, observe(members, [])), 'members: no data');
});

test('a checks file: every bad field is named with its check, all in one go', () => {
  const parsed = parseChecksFile(
    JSON.stringify({
      checks: [
        { name: 'a', query: 'up', comparison: '=>', threshold: 1 },
        { name: 'a', query: 'up', comparison: '<=', threshold: '4', keepfor: '1m' },
        { name: 'r', query: 'up', comparison: 'range', min: 5, max: 1, for: 'soon' },
        { name: 'n', query: 'up', comparison: '>=', threshold: 1, onNoData: 'ignore', onError: 'retry', drain: { query: 'x', grace: '0s' } },
        { query: '', comparison: '<', threshold: 1 },
        'not a check',
      ],
    }),
    { severalGroups: true },
  );
  assert.ok(!parsed.ok);
  assert.deepEqual(parsed.problems, [
    'check "a": field "query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}',
    'check "a": field "comparison": one of "<", "<=", ">", ">=", "range"',
    'check "a": field "keepfor": not a field (fields: name, query, comparison, threshold, min, max, for, keepFor, onNoData, onError, message, noDataMessage, unit, drain)',
    'check "a": field "name": unique: another check has this name',
    'check "a": field "query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}',
    'check "a": field "threshold": a finite number',
    'check "r": field "query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}',
    'check "r": field "max": at least "min" (5)',
    'check "r": field "for": a duration such as "30s" or "5m", at most 24 days',
    'check "n": field "query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}',
    'check "n": field "onNoData": "pass", "fail" or "keepLast"',
    'check "n": field "onError": "pass", "fail" or "keepLast"',
    'check "n": field "drain.query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}',
    'check "n": field "drain.grace": a duration above 0 such as "5m"',
    'check #5: field "name": letters, digits, "_", "." or "-", at most 63, not starting with "." or "-"',
    'check #5: field "query": a non-empty string',
    'check #6: field "(check)": an object',
  ]);
  for (const [text, problem] of [
    ['{', /^valid JSON \(/],
    ['{"checks": sk-live-123456}', /^valid JSON \(Unexpected token 's'\)$/],
    ['{\n  "checks" []}', /^valid JSON \(Expected ':' after property name in JSON at line 2, column 12\)$/],
    ['[]', /^an object \{"checks": \[\.\.\.\]\}$/],
    ['{"checks": [], "x": 1}', /unknown: "x"/],
    ['{"checks": []}', /^from 1 to 100 checks/],
  ] as const) {
    const result = parseChecksFile(text, { severalGroups: false });
    assert.ok(!result.ok && problem.test(result.problems[0]!), `${text}: ${JSON.stringify(result)}`);
  }
});

test('{group} stands only inside a double-quoted string; a drain only on an upper bound', () => {
  const one = (query: string, extra: Record<string, unknown> = {}) =>
    parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query, comparison: '<', threshold: 1, ...extra }] }), { severalGroups: true });
  assert.ok(one('up{g="{group}"}').ok);
  assert.ok(one('up{g="x\\"{group}"}').ok, 'after an escaped quote, still inside the string');
  for (const query of ["up{g='{group}'}", 'up{g=`{group}`}', 'up{g={group}}']) {
    const result = one(query);
    assert.ok(!result.ok && /only inside a double-quoted string/.test(result.problems[0]!), query);
  }
  const commented = one('up{g="x"} # {group}');
  assert.ok(!commented.ok && /where the consumer group goes/.test(commented.problems[0]!), 'a comment does not count');
  const drainBelow = parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query: 'up', comparison: '>=', threshold: 1, drain: { query: 'x', grace: '5m' } }] }), { severalGroups: false });
  assert.ok(!drainBelow.ok && /field "drain": only on a check with "<" or "<="/.test(drainBelow.problems[0]!));
});

test('a checks file replaces the seed settings, and loadConfig names its problems under CHECKS_FILE', () => {
  const files = { readFile: (path: string) => (path === '/good.json' ? '{"checks":[{"name":"up","query":"up","comparison":">=","threshold":1}]}' : '{"checks":[{"name":"up"}]}') };
  const config = loadConfig({ CHECKS_FILE: '/good.json' }, files);
  assert.deepEqual(configuredChecks(config).map((c) => [c.id, c.query]), [['up', 'up']]);
  assert.throws(
    () => loadConfig({ CHECKS_FILE: '/bad.json', SKEW_THRESHOLD: '5' }, files),
    (error: ConfigError) => {
      assert.deepEqual(error.problems.map((p) => `${p.variable}: ${p.expected}`), [
        'SKEW_THRESHOLD: unset when CHECKS_FILE is set (the file defines every check)',
        'CHECKS_FILE: check "up": field "query": a non-empty string',
        'CHECKS_FILE: check "up": field "comparison": one of "<", "<=", ">", ">=", "range"',
      ]);
      return true;
    },
  );
});

test('several groups: the seed checks per group, ids qualified by the group', () => {
  const checks = configuredChecks(loadConfig({ KAFKA_GROUP: 'orders, billing' }));
  assert.deepEqual(checks.map((c) => [c.id, c.group]), [
    ['orders/skew_ratio', 'orders'],
    ['orders/consumer_count', 'orders'],
    ['billing/skew_ratio', 'billing'],
    ['billing/consumer_count', 'billing'],
  ]);
  assert.equal(checks[3]!.query, 'kafka:group_consumer_count{consumergroup="billing"}');
  assert.equal(checks[2]!.drain?.query, 'deriv(kafka:group_max_lag{consumergroup="billing"}[2m])');
  for (const bad of ['a,,b', 'a,a', ' , ']) assert.throws(() => loadConfig({ KAFKA_GROUP: bad }), /KAFKA_GROUP/, bad);
});

test('bounds: strict and inclusive comparisons, ranges, and the worst series of a range', () => {
  const bound = (b: Bound, values: number[]) => observe(b, values.map((v) => sample(v)));
  assert.equal(bound({ comparison: '<', threshold: 4 }, [4]).state, 'fail');
  assert.equal(bound({ comparison: '<=', threshold: 4 }, [4]).state, 'pass');
  assert.equal(bound({ comparison: '>', threshold: 2 }, [2]).state, 'fail');
  assert.equal(bound({ comparison: '>=', threshold: 2 }, [2]).state, 'pass');
  const range = bound({ comparison: 'range', min: 2, max: 10 }, [5, 1, 13]);
  assert.deepEqual([range.state, range.value, range.breaching?.length], ['fail', 13, 2], 'the furthest outside, either side');
  assert.equal(bound({ comparison: 'range', min: 2, max: 10 }, [2, 10]).state, 'pass', 'inclusive');
});
