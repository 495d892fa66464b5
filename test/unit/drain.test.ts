import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Drain, drainQuery, isDraining, withinGrace } from '../../src/core/drain.js';
import type { Labels } from '../../src/core/types.js';

type Trend = { value: number; labels: Labels };

test('isDraining: every breaching series needs a negative trend whose labels it carries', () => {
  const a = { topic: 'a' };
  const b = { topic: 'b' };
  const cases: [name: string, breaching: Labels[], trend: Trend[], draining: boolean][] = [
    ['one series, its trend falls', [a], [{ value: -0.5, labels: a }], true],
    ['its trend is flat', [a], [{ value: 0, labels: a }], false],
    ['its trend rises', [a], [{ value: 2, labels: a }], false],
    ['its trend is NaN', [a], [{ value: Number.NaN, labels: a }], false],
    ['no trend at all', [a], [], false],
    ['only another topic falls', [a], [{ value: -1, labels: b }], false],
    [
      'both fall',
      [a, b],
      [
        { value: -1, labels: a },
        { value: -2, labels: b },
      ],
      true,
    ],
    ['one of two has no trend', [a, b], [{ value: -1, labels: a }], false],
    [
      'one of two rises',
      [a, b],
      [
        { value: -1, labels: a },
        { value: 1, labels: b },
      ],
      false,
    ],
    [
      'a rising and a falling trend for the same series: one falling is enough',
      [a],
      [
        { value: 1, labels: a },
        { value: -1, labels: a },
      ],
      true,
    ],
    [
      'the trend of a topic matches its partitions',
      [
        { topic: 'a', partition: '3' },
        { topic: 'a', partition: '7' },
      ],
      [{ value: -1, labels: a }],
      true,
    ],
    ['a trend more specific than the series does not match', [a], [{ value: -1, labels: { topic: 'a', partition: '3' } }], false],
    ['a trend without labels matches every series', [a, b], [{ value: -1, labels: {} }], true],
    [
      '__name__ of the trend is ignored',
      [{ __name__: 'kafka:group_skew_ratio', topic: 'a' }],
      [{ value: -1, labels: { __name__: 'kafka:group_max_lag', topic: 'a' } }],
      true,
    ],
    ['__name__ on the trend alone is ignored', [a], [{ value: -1, labels: { __name__: 'kafka:group_max_lag', topic: 'a' } }], true],
    ['a label value differs', [{ topic: 'a', consumergroup: 'g1' }], [{ value: -1, labels: { topic: 'a', consumergroup: 'g2' } }], false],
    // The monitor asks only while a check breaches; with nothing breaching, nothing contradicts a drain.
    ['nothing breaching', [], [], true],
  ];
  for (const [name, breaching, trend, draining] of cases) assert.equal(isDraining(breaching, trend), draining, name);
});

test('withinGrace: a falling breach, with a drain, since a known moment, for less than the grace', () => {
  const drain: Drain = { query: 'trend', graceMs: 300_000 };
  const cases: [name: string, drain: Drain | null, falling: boolean, sinceMs: number | null, nowMs: number | null, within: boolean][] = [
    ['at the start', drain, true, 1_000, 1_000, true],
    ['one ms before the end', drain, true, 1_000, 300_999, true],
    ['at the end of the grace', drain, true, 1_000, 301_000, false],
    ['past the grace', drain, true, 1_000, 900_000, false],
    ['no drain configured', null, true, 1_000, 2_000, false],
    ['not falling', drain, false, 1_000, 2_000, false],
    ['never drained', drain, true, null, 2_000, false],
    ['no time known', drain, true, 1_000, null, false],
  ];
  for (const [name, d, falling, since, now, within] of cases) assert.equal(withinGrace(d, falling, since, now), within, name);
});

test("drainQuery: the slope of the hottest partition's lag over the window, for {group}", () => {
  const cases: [number, string][] = [
    [120_000, 'deriv(kafka:group_max_lag{consumergroup="{group}"}[2m])'],
    [90_000, 'deriv(kafka:group_max_lag{consumergroup="{group}"}[90s])'],
    [3_600_000, 'deriv(kafka:group_max_lag{consumergroup="{group}"}[1h])'],
  ];
  for (const [windowMs, query] of cases) assert.equal(drainQuery(windowMs), query);
});
