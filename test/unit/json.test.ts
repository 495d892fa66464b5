import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRecord, jsonNumber, utf8Length } from '../../src/core/json.js';

test('isRecord: a plain object, never an array, null or a scalar', () => {
  const cases: [string, unknown, boolean][] = [
    ['empty object', {}, true],
    ['object with fields', { status: 'success' }, true],
    ['object without prototype', Object.create(null), true],
    ['array', [], false],
    ['array of objects', [{}], false],
    ['null', null, false],
    ['undefined', undefined, false],
    ['string', '{}', false],
    ['number', 1, false],
    ['boolean', true, false],
  ];
  for (const [name, value, expected] of cases) assert.equal(isRecord(value), expected, name);
});

test('jsonNumber: finite numbers and null as they are, infinities and NaN as Prometheus writes them', () => {
  const cases: [number | null, number | string | null][] = [
    [0, 0],
    [1.25, 1.25],
    [-3, -3],
    [Number.MAX_VALUE, Number.MAX_VALUE],
    [null, null],
    [Number.POSITIVE_INFINITY, '+Inf'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
    [Number.NaN, 'NaN'],
  ];
  for (const [value, expected] of cases) assert.equal(jsonNumber(value), expected, String(value));
  // The point of it: JSON.stringify would write null for an infinity, and lose the difference.
  assert.equal(JSON.stringify({ value: jsonNumber(Number.POSITIVE_INFINITY) }), '{"value":"+Inf"}');
});

test('utf8Length counts what Buffer.byteLength counts, for every width of character and for lone surrogates', () => {
  const cases: [string, string][] = [
    ['empty', ''],
    ['ASCII', 'kafka:group_skew_ratio'],
    ['control characters', '\u0000\t\n\u007f'],
    ['2 bytes, lowest', '\u0080'],
    ['2 bytes', 'Zürich ß é'],
    ['2 bytes, highest', '\u07ff'],
    ['3 bytes, lowest', '\u0800'],
    ['3 bytes', '€ 日本語'],
    ['3 bytes, highest', '\uffff'],
    ['4 bytes', '😀'],
    ['4 bytes, highest', '\u{10ffff}'],
    ['mixed', 'a😀b€c é'],
    ['lone high surrogate', '\ud800'],
    ['lone high surrogate at the end', 'abc\udbff'],
    ['lone low surrogate', '\udc00'],
    ['high surrogate then a letter', '\ud83dx'],
    ['low then high (no pair)', '\ude00\ud83d'],
    ['high, high, low', '\ud83d\ud83d\ude00'],
  ];
  for (const [name, text] of cases) assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), name);
});

test('utf8Length agrees with Buffer for every single UTF-16 code unit', () => {
  for (let code = 0; code <= 0xffff; code += 1) {
    const text = String.fromCharCode(code);
    if (utf8Length(text) !== Buffer.byteLength(text, 'utf8'))
      assert.fail(`U+${code.toString(16)}: ${utf8Length(text)} bytes, Buffer says ${Buffer.byteLength(text, 'utf8')}`);
  }
});
