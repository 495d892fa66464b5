// CHECKS_FILE's parser (src/core/checksfile.ts): every field, its defaults and every problem named at once; and how
// loadConfig reports the file's problems. The end-to-end suite with a real Prometheus is test/integration/checksfile.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type CheckDefinition, failureMessage, instantiate, observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import type { ConfigError } from '../../src/core/errors.js';
import { configuredChecks } from '../../src/core/settings.js';

const sample = (value: number, labels: Record<string, string> = {}) => ({ value, labels });

test('a checks file: every field, defaults, and {group} escaped into the query', () => {
  const parsed = parseChecksFile(
    JSON.stringify({
      checks: [
        {
          name: 'lag',
          query: 'sum(kafka_consumergroup_lag{consumergroup="{group}"})',
          comparison: '<',
          threshold: 1000,
          for: '2m',
          keepFor: '30s',
          onNoData: 'keepLast',
          onError: 'fail',
          message: '{group} lag {value} over {threshold}',
          unit: 'messages',
        },
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
  const drainBelow = parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query: 'up', comparison: '>=', threshold: 1, drain: { query: 'x', grace: '5m' } }] }), {
    severalGroups: false,
  });
  assert.ok(!drainBelow.ok && /field "drain": only on a check with "<" or "<="/.test(drainBelow.problems[0]!));
});

test('a checks file replaces the seed settings, and loadConfig names its problems under CHECKS_FILE', () => {
  const files = {
    readFile: (path: string) => (path === '/good.json' ? '{"checks":[{"name":"up","query":"up","comparison":">=","threshold":1}]}' : '{"checks":[{"name":"up"}]}'),
  };
  const config = loadConfig({ CHECKS_FILE: '/good.json' }, files);
  assert.deepEqual(
    configuredChecks(config).map((c) => [c.id, c.query]),
    [['up', 'up']],
  );
  assert.throws(
    () => loadConfig({ CHECKS_FILE: '/bad.json', SKEW_THRESHOLD: '5' }, files),
    (error: ConfigError) => {
      assert.deepEqual(
        error.problems.map((p) => `${p.variable}: ${p.expected}`),
        [
          'SKEW_THRESHOLD: unset when CHECKS_FILE is set (the file defines every check)',
          'CHECKS_FILE: check "up": field "query": a non-empty string',
          'CHECKS_FILE: check "up": field "comparison": one of "<", "<=", ">", ">=", "range"',
        ],
      );
      return true;
    },
  );
});

// Found by the fuzz campaign (test/fuzz/).
test('regression (fuzz): a placeholder right after a backslash is refused: the escaped name could end the string', () => {
  for (const query of ['up{g="\\{group}"}', "up{g='\\{group}'}", 'up{pod="\\{pod}"}']) {
    const result = parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query, comparison: '<', threshold: 1 }] }), { severalGroups: false });
    assert.ok(!result.ok && /not right after a backslash/.test(result.problems[0]!), `${query}: ${JSON.stringify(result)}`);
  }
  const drain = parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query: 'x', comparison: '<', threshold: 1, drain: { query: '"\\{group}', grace: '5m' } }] }), {
    severalGroups: false,
  });
  assert.ok(!drain.ok && /field "drain.query": "\{group}" not right after a backslash/.test(drain.problems[0]!), JSON.stringify(drain));
  assert.ok(parseChecksFile(JSON.stringify({ checks: [{ name: 'a', query: 'up{g="\\\\{group}"}', comparison: '<', threshold: 1 }] }), { severalGroups: false }).ok);
});

test('regression (fuzz): every problem is one line: keys and an unexpected control character are escaped', () => {
  for (const text of ['{"checks":[{"a\\nb":{}}]}', '{"checks":[{"drain":{"a\\nb":[]}}]}', '\u0000', '{"a":\u0001}']) {
    const result = parseChecksFile(text, { severalGroups: false });
    assert.ok(!result.ok, text);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this looks for
    for (const problem of result.problems) assert.ok(!/[\u0000-\u001f]/.test(problem), JSON.stringify(problem));
  }
  const key = parseChecksFile('{"checks":[{"a\\nb":{}}]}', { severalGroups: false });
  assert.ok(
    !key.ok &&
      key.problems.includes(
        'check #1: field "a\\nb": not a field (fields: name, query, comparison, threshold, min, max, for, keepFor, onNoData, onError, message, noDataMessage, unit, drain)',
      ),
  );
});
