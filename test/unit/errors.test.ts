import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  CredentialsError,
  codeOf,
  EVALUATION_ERROR_CODES,
  errnoOf,
  formatProblem,
  INTERNAL_ERROR_CODE,
  messageOf,
  PROMETHEUS_ERROR_CODES,
  ProbeError,
  PrometheusError,
} from '../../src/core/errors.js';

test('the Prometheus error codes are stable: /metrics labels and dashboards rely on each, in this order', () => {
  assert.deepEqual(PROMETHEUS_ERROR_CODES, [
    'PROM_NETWORK',
    'PROM_DNS',
    'PROM_TLS',
    'PROM_TIMEOUT',
    'PROM_AUTH',
    'PROM_HTTP_STATUS',
    'PROM_TOO_LARGE',
    'PROM_BAD_JSON',
    'PROM_BAD_RESPONSE',
    'PROM_API_ERROR',
    'PROM_OVERLOADED',
    'PROM_UNAVAILABLE',
    'PROM_PARTIAL',
  ]);
});

test('the evaluation codes are the Prometheus codes then PROBE_INTERNAL, each once', () => {
  assert.equal(INTERNAL_ERROR_CODE, 'PROBE_INTERNAL');
  assert.deepEqual(EVALUATION_ERROR_CODES, [...PROMETHEUS_ERROR_CODES, 'PROBE_INTERNAL']);
  assert.equal(EVALUATION_ERROR_CODES.at(-1), 'PROBE_INTERNAL');
  assert.equal(new Set(EVALUATION_ERROR_CODES).size, EVALUATION_ERROR_CODES.length);
});

test('codeOf: our errors keep their code, anything else thrown is PROBE_INTERNAL', () => {
  const cases: [string, unknown, string][] = [
    ['PrometheusError', new PrometheusError('PROM_TLS', 'bad certificate'), 'PROM_TLS'],
    ['CredentialsError', new CredentialsError('cannot read /run/token'), 'CREDENTIALS_UNREADABLE'],
    ['ConfigError', new ConfigError([{ variable: 'PORT', value: 'x', expected: 'a port' }]), 'CONFIG_INVALID'],
    ['ProbeError', new ProbeError('PROM_DNS', 'no such host'), 'PROM_DNS'],
    // A system error's code is not one of ours, whatever it looks like.
    ['Error with a code', Object.assign(new Error('refused'), { code: 'PROM_NETWORK' }), 'PROBE_INTERNAL'],
    ['TypeError', new TypeError('x is undefined'), 'PROBE_INTERNAL'],
    ['string', 'PROM_TIMEOUT', 'PROBE_INTERNAL'],
    ['object with a code', { code: 'PROM_TIMEOUT' }, 'PROBE_INTERNAL'],
    ['null', null, 'PROBE_INTERNAL'],
    ['undefined', undefined, 'PROBE_INTERNAL'],
  ];
  for (const [name, thrown, expected] of cases) assert.equal(codeOf(thrown), expected, name);
});

test("messageOf: an Error's message, anything else as a string", () => {
  const cases: [string, unknown, string][] = [
    ['Error', new Error('connection refused'), 'connection refused'],
    ['PrometheusError', new PrometheusError('PROM_TIMEOUT', 'no answer within 5s'), 'no answer within 5s'],
    ['string', 'plain text thrown', 'plain text thrown'],
    ['object with a code', { code: 'ENOENT' }, '[object Object]'],
    ['number', 42, '42'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
  ];
  for (const [name, thrown, expected] of cases) assert.equal(messageOf(thrown), expected, name);
});

test('errnoOf: a string code carried by the thrown value, or the fallback', () => {
  const cases: [string, unknown, string][] = [
    ['system error', Object.assign(new Error('no such file'), { code: 'ENOENT' }), 'ENOENT'],
    ['object with a code', { code: 'EACCES' }, 'EACCES'],
    ['our error', new PrometheusError('PROM_DNS', 'no such host'), 'PROM_DNS'],
    ['Error without a code', new Error('boom'), 'unreadable'],
    ['numeric code', { code: 13 }, 'unreadable'],
    ['string', 'ENOENT', 'unreadable'],
    ['null', null, 'unreadable'],
    ['undefined', undefined, 'unreadable'],
  ];
  for (const [name, thrown, expected] of cases) assert.equal(errnoOf(thrown, 'unreadable'), expected, name);
});

test('formatProblem: NAME="value": expected ..., the value JSON-quoted so that quotes and newlines stay visible', () => {
  const cases: [Parameters<typeof formatProblem>[0], string][] = [
    [{ variable: 'PORT', value: 'abc', expected: 'a port from 1 to 65535' }, 'PORT="abc": expected a port from 1 to 65535'],
    [{ variable: 'KAFKA_GROUP', value: '', expected: 'a group name' }, 'KAFKA_GROUP="": expected a group name'],
    [{ variable: 'HOST', value: 'a"b\nc', expected: 'a host' }, 'HOST="a\\"b\\nc": expected a host'],
  ];
  for (const [problem, expected] of cases) assert.equal(formatProblem(problem), expected);
});

test('ConfigError carries every problem, and its message names each on its own line', () => {
  const problems = [
    { variable: 'PORT', value: 'abc', expected: 'a port' },
    { variable: 'CHECK_INTERVAL', value: '10', expected: 'a duration such as "10s"' },
    { variable: 'ON_NO_DATA', value: 'maybe', expected: 'pass or fail' },
  ];
  const error = new ConfigError(problems);
  assert.deepEqual(error.problems, problems);
  assert.equal(error.code, 'CONFIG_INVALID');
  assert.equal(error.name, 'ConfigError');
  assert.ok(error instanceof ProbeError && error instanceof Error);
  assert.deepEqual(error.message.split('\n'), problems.map(formatProblem));
});

test('PrometheusError keeps its context fields and cause; the name is the class name', () => {
  const cause = new Error('socket hang up');
  const error = new PrometheusError('PROM_API_ERROR', 'query timed out', { cause, statusCode: 422, errorType: 'timeout' });
  assert.deepEqual([error.name, error.code, error.statusCode, error.errorType, error.cause], ['PrometheusError', 'PROM_API_ERROR', 422, 'timeout', cause]);
  const bare = new PrometheusError('PROM_NETWORK', 'refused');
  assert.deepEqual([bare.statusCode, bare.errorType, bare.cause], [undefined, undefined, undefined]);
  assert.equal(new CredentialsError('x').name, 'CredentialsError');
});
