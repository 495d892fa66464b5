import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

test('parseDuration reads the forms operators write', () => {
  const cases: [string, number | undefined][] = [
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['0s', 0],
    [' 10s ', 10_000],
    ['10', undefined],
    ['', undefined],
    ['s', undefined],
    ['-5s', undefined],
    ['10 s', undefined],
    ['5x', undefined],
    ['10s5', undefined],
    ['NaNs', undefined],
  ];
  for (const [text, expected] of cases) assert.equal(parseDuration(text), expected, text);
});

test('formatDuration writes the shortest exact form, valid as a PromQL range', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [1_500, '1500ms'],
    [10_000, '10s'],
    [90_000, '90s'],
    [300_000, '5m'],
    [3_600_000, '1h'],
  ];
  for (const [ms, expected] of cases) assert.equal(formatDuration(ms), expected);
  for (const [ms] of cases) assert.equal(parseDuration(formatDuration(ms)), ms, 'round trip');
});
