import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quoteLabelValue, selector } from '../../src/core/promql.js';

test('label values are quoted with Go escaping', () => {
  const cases: [string, string][] = [
    ['crm-events-sse', '"crm-events-sse"'],
    ['a"b', '"a\\"b"'],
    ['a\\b', '"a\\\\b"'],
    ['a\nb', '"a\\nb"'],
    ['a\rb\tc', '"a\\rb\\tc"'],
    ['\u0001', '"\\x01"'],
    ['"} or vector(1) or {a="', '"\\"} or vector(1) or {a=\\""'],
    ['ünïcødé', '"ünïcødé"'],
  ];
  for (const [value, expected] of cases) assert.equal(quoteLabelValue(value), expected, JSON.stringify(value));
});

test('a selector holds every label escaped', () => {
  assert.equal(selector('kafka:group_skew_ratio', { consumergroup: 'x"y' }), 'kafka:group_skew_ratio{consumergroup="x\\"y"}');
});
