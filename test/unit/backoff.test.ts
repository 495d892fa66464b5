import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffCeilingMs,
  backoffDelayMs,
  gridOriginMs,
  gridTickAtOrAfter,
  MAX_BACKOFF_INTERVALS,
  type NextTickInput,
  nextTickMs,
  parseRetryAfter,
  REFUSAL_CODES,
  scheduleOffsetMs,
} from '../../src/core/backoff.js';
import { PROMETHEUS_ERROR_CODES } from '../../src/core/errors.js';
import { hashName } from '../../src/core/fleet.js';

describe('scheduleOffsetMs', () => {
  test('a name gives its hash modulo the interval, the same on every call', () => {
    for (const name of ['crm-events-sse-7d9f-abcde', 'crm-events-sse-7d9f-fghij', 'a']) {
      const offset = scheduleOffsetMs(name, 10_000, 0.5);
      assert.equal(offset, hashName(name) % 10_000);
      assert.equal(scheduleOffsetMs(name, 10_000, 0.9), offset, 'randomness plays no part when there is a name');
    }
  });

  test('replicas of one Deployment spread over the interval', () => {
    const offsets = Array.from({ length: 50 }, (_, i) => scheduleOffsetMs(`crm-events-sse-5f7c9-${i.toString(36)}x`, 10_000, 0));
    assert.ok(new Set(offsets).size >= 45, `${new Set(offsets).size} distinct offsets of 50`);
    assert.ok(Math.min(...offsets) < 2_500 && Math.max(...offsets) > 7_500, 'from the start of the interval to its end');
    assert.ok(offsets.every((o) => Number.isInteger(o) && o >= 0 && o < 10_000));
  });

  const random: ReadonlyArray<[number, number]> = [
    [0, 0],
    [0.25, 2_500],
    [0.99999, 9_999],
    [1, 9_999], // out of range, clamped inside the interval
    [-1, 0],
    [Number.NaN, 0],
  ];
  for (const [r, expected] of random) {
    test(`no name: random ${r} -> ${expected}`, () => assert.equal(scheduleOffsetMs('', 10_000, r), expected));
  }
});

describe('the grid', () => {
  // Wall times as the fake clock starts them: 2026-11-26T12:00:00Z is a whole multiple of 10 s.
  const WALL = Date.UTC(2026, 10, 26, 12);
  const cases: ReadonlyArray<[string, number, number, number]> = [
    // name, wall time at start, offset, expected origin (monotonic 0 at start)
    ['on the offset already', WALL + 3_000, 3_000, 0],
    ['before the offset', WALL + 1_000, 3_000, 2_000],
    ['after the offset: the next interval', WALL + 4_000, 3_000, 9_000],
    ['offset 0 at a whole interval', WALL, 0, 0],
  ];
  for (const [name, wall, offset, origin] of cases) {
    test(`gridOriginMs: ${name}`, () => assert.equal(gridOriginMs(0, wall, 10_000, offset), origin));
  }

  const ticks: ReadonlyArray<[number, number, number]> = [
    // origin, at, expected
    [2_000, 0, 2_000],
    [2_000, 2_000, 2_000],
    [2_000, 2_001, 12_000],
    [2_000, 10_000, 12_000],
    [2_000, -5_000, 2_000],
    [2_000, -8_000, -8_000],
  ];
  for (const [origin, at, expected] of ticks) {
    test(`gridTickAtOrAfter(origin ${origin}, at ${at}) = ${expected}`, () => assert.equal(gridTickAtOrAfter(origin, 10_000, at), expected));
  }

  test('two replicas started together with different offsets tick apart, whatever their start', () => {
    // Each replica's monotonic clock starts at 0 at its own start; their first grid ticks, in wall time:
    const a = WALL + 123 + gridOriginMs(0, WALL + 123, 10_000, 1_000);
    const b = WALL + 456 + gridOriginMs(0, WALL + 456, 10_000, 6_000);
    assert.deepEqual([a - WALL, b - WALL], [1_000, 6_000]);
  });
});

describe('backoff', () => {
  const ceilings: ReadonlyArray<[string, number, number, number, number]> = [
    // name, interval, STALE_AFTER, refusals, ceiling
    ['no refusal: one interval', 10_000, 60_000, 0, 10_000],
    ['one refusal: 2 intervals', 10_000, 60_000, 1, 20_000],
    ['two: 4 intervals', 10_000, 120_000, 2, 40_000],
    ['two, STALE_AFTER 60 s: capped at 30 s', 10_000, 60_000, 2, 30_000],
    ['three: capped at STALE_AFTER / 2', 10_000, 60_000, 3, 30_000],
    ['many: still capped', 10_000, 60_000, 40, 30_000],
    ['a long STALE_AFTER: capped at 5 intervals', 10_000, 600_000, 10, MAX_BACKOFF_INTERVALS * 10_000],
    ['STALE_AFTER = interval: no backoff at all', 10_000, 10_000, 5, 10_000],
  ];
  for (const [name, interval, stale, refusals, ceiling] of ceilings) {
    test(`backoffCeilingMs: ${name}`, () => assert.equal(backoffCeilingMs(interval, stale, refusals), ceiling));
  }

  const delays: ReadonlyArray<[number, number, number]> = [
    // refusals, random, delay (interval 10 s, STALE_AFTER 60 s)
    [1, 0, 10_000],
    [1, 0.5, 15_000],
    [1, 0.999, 19_990],
    [2, 0.5, 20_000],
    [3, 0.5, 20_000],
  ];
  for (const [refusals, random, delay] of delays) {
    test(`backoffDelayMs: ${refusals} refusal(s), random ${random} -> ${delay}`, () => assert.equal(backoffDelayMs(10_000, 60_000, refusals, random), delay));
  }

  test('the refusal codes are 429 and 503, and are Prometheus error codes', () => {
    assert.deepEqual([...REFUSAL_CODES], ['PROM_OVERLOADED', 'PROM_UNAVAILABLE']);
    for (const code of REFUSAL_CODES) assert.ok((PROMETHEUS_ERROR_CODES as readonly string[]).includes(code));
  });
});

describe('nextTickMs', () => {
  const base: NextTickInput = { originMs: 0, intervalMs: 10_000, staleAfterMs: 60_000, lastDueMs: 20_000, nowMs: 20_050, refusals: 0, retryAfterMs: null, random: 0.5 };
  const cases: ReadonlyArray<[string, Partial<NextTickInput>, number]> = [
    ['normal: the next grid tick, no drift from a late timer', {}, 30_000],
    ['normal, off the grid (a late start): back on the grid', { lastDueMs: 23_000, nowMs: 23_100 }, 40_000],
    ['normal, an evaluation longer than the interval: at once', { nowMs: 45_000 }, 45_000],
    ['refused once: jittered in [1, 2] intervals from the last due tick', { refusals: 1 }, 35_000],
    ['refused once, random 0: one interval', { refusals: 1, random: 0 }, 30_000],
    ['refused, Retry-After longer than the backoff', { refusals: 1, retryAfterMs: 40_000 }, 60_050],
    ['refused, Retry-After shorter than the backoff', { refusals: 2, retryAfterMs: 1_000 }, 40_000],
    ['refused, Retry-After past STALE_AFTER: STALE_AFTER from now', { refusals: 1, retryAfterMs: 3_600_000 }, 80_050],
    ['refused, Retry-After 0', { refusals: 1, retryAfterMs: 0, random: 0 }, 30_000],
  ];
  for (const [name, overrides, expected] of cases) {
    test(name, () => assert.equal(nextTickMs({ ...base, ...overrides }), expected));
  }
});

describe('parseRetryAfter', () => {
  const NOW = Date.UTC(2026, 10, 26, 12);
  const cases: ReadonlyArray<[string, string | string[] | undefined, number | undefined]> = [
    ['delay-seconds', '120', 120_000],
    ['zero', '0', 0],
    ['spaces around', ' 5 ', 5_000],
    ['the first of several', ['7', '9'], 7_000],
    ['an HTTP date (IMF-fixdate)', 'Thu, 26 Nov 2026 12:01:30 GMT', 90_000],
    ['an HTTP date in the past', 'Thu, 26 Nov 2026 11:00:00 GMT', 0],
    ['absent', undefined, undefined],
    ['empty', '', undefined],
    ['negative', '-5', undefined],
    ['a fraction', '1.5', undefined],
    ['an obsolete date form (RFC 850)', 'Thursday, 26-Nov-26 12:01:30 GMT', undefined],
    ['asctime, which has no zone', 'Thu Nov 26 12:01:30 2026', undefined],
    ['words', 'soon', undefined],
    ['an impossible date', 'Thu, 99 Nov 2026 12:01:30 GMT', undefined],
  ];
  for (const [name, value, expected] of cases) {
    test(`${name}: ${JSON.stringify(value)} -> ${expected}`, () => assert.equal(parseRetryAfter(value, NOW), expected));
  }
});
