import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeConfig, loadConfig, redactUserinfo } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

function problemsOf(env: Record<string, string>): Map<string, string> {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'CONFIG_INVALID');
    return new Map(error.problems.map((p) => [p.variable, p.value]));
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

test('defaults are the seed\'s', () => {
  const config = loadConfig({});
  assert.deepEqual(
    { ...config },
    {
      prometheusUrl: 'http://prometheus:9090',
      prometheusTarget: 'http://prometheus:9090',
      group: 'crm-events-sse',
      skewThreshold: 4,
      minConsumers: 2,
      host: '0.0.0.0',
      port: 9011,
      checkIntervalMs: 10_000,
      queryTimeoutMs: 5_000,
      staleAfterMs: 60_000,
      skewForMs: 0,
      onPrometheusError: 'pass',
      shutdownDelayMs: 0,
    },
  );
  assert.ok(Object.isFrozen(config));
});

test('every variable is read', () => {
  const config = loadConfig({
    PROMETHEUS_URL: 'https://thanos.example:10902/prom/',
    KAFKA_GROUP: 'orders',
    SKEW_THRESHOLD: '3.5',
    MIN_CONSUMERS: '3',
    PORT: '8080',
    HOST: '::',
    CHECK_INTERVAL: '30s',
    QUERY_TIMEOUT: '2500ms',
    STALE_AFTER: '5m',
    SKEW_FOR: '2m',
    ON_PROMETHEUS_ERROR: 'fail',
    SHUTDOWN_DELAY: '3s',
  });
  assert.equal(config.prometheusTarget, 'https://thanos.example:10902/prom');
  assert.equal(config.group, 'orders');
  assert.equal(config.skewThreshold, 3.5);
  assert.equal(config.minConsumers, 3);
  assert.equal(config.port, 8080);
  assert.equal(config.host, '::');
  assert.equal(config.checkIntervalMs, 30_000);
  assert.equal(config.queryTimeoutMs, 2_500);
  assert.equal(config.staleAfterMs, 300_000);
  assert.equal(config.skewForMs, 120_000);
  assert.equal(config.onPrometheusError, 'fail');
  assert.equal(config.shutdownDelayMs, 3_000);
});

test('each rule rejects its bad values', () => {
  const cases: [string, string][] = [
    ['SKEW_THRESHOLD', 'abc'],
    ['SKEW_THRESHOLD', 'NaN'],
    ['SKEW_THRESHOLD', 'Infinity'],
    ['SKEW_THRESHOLD', '-1'],
    ['SKEW_THRESHOLD', '0.5'],
    ['SKEW_THRESHOLD', ''],
    ['SKEW_THRESHOLD', '4x'],
    ['MIN_CONSUMERS', '0'],
    ['MIN_CONSUMERS', '1.5'],
    ['MIN_CONSUMERS', '-2'],
    ['PORT', '0'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', 'http'],
    ['HOST', ''],
    ['HOST', 'a b'],
    ['KAFKA_GROUP', ''],
    ['PROMETHEUS_URL', 'prometheus:9090'],
    ['PROMETHEUS_URL', 'ftp://prometheus:9090'],
    ['PROMETHEUS_URL', 'http://'],
    ['PROMETHEUS_URL', 'http://prometheus:9090/?x=1'],
    ['PROMETHEUS_URL', 'not a url'],
    ['CHECK_INTERVAL', '10'],
    ['CHECK_INTERVAL', '0s'],
    ['CHECK_INTERVAL', '50ms'],
    ['QUERY_TIMEOUT', '0s'],
    ['QUERY_TIMEOUT', '10s'], // not shorter than the default 10s interval
    ['QUERY_TIMEOUT', '1 minute'],
    ['STALE_AFTER', '5s'], // shorter than the interval
    ['SKEW_FOR', '-1m'],
    ['SKEW_FOR', 'forever'],
    ['ON_PROMETHEUS_ERROR', 'ignore'],
    ['SHUTDOWN_DELAY', '25s'],
  ];
  for (const [variable, value] of cases) {
    const problems = problemsOf({ [variable]: value });
    assert.deepEqual([...problems.keys()], [variable], `${variable}=${value}`);
  }
});

test('every bad variable is named in one error, with its value and what was expected', () => {
  try {
    loadConfig({ SKEW_THRESHOLD: 'high', PORT: '99999', ON_PROMETHEUS_ERROR: 'maybe', CHECK_INTERVAL: 'soon' });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(
      error.problems.map((p) => p.variable).sort(),
      ['CHECK_INTERVAL', 'ON_PROMETHEUS_ERROR', 'PORT', 'SKEW_THRESHOLD'],
    );
    for (const problem of error.problems) assert.ok(problem.expected.length > 0);
    assert.match(error.message, /PORT="99999": expected a port number/);
  }
});

test('a QUERY_TIMEOUT is judged against the CHECK_INTERVAL given', () => {
  assert.equal(loadConfig({ CHECK_INTERVAL: '1s', QUERY_TIMEOUT: '900ms', STALE_AFTER: '1s' }).queryTimeoutMs, 900);
  assert.deepEqual([...problemsOf({ CHECK_INTERVAL: '1s', QUERY_TIMEOUT: '1s' }).keys()], ['QUERY_TIMEOUT']);
});

test('credentials in PROMETHEUS_URL never reach the target, the description or an error', () => {
  const config = loadConfig({ PROMETHEUS_URL: 'http://probe:s3cret@prometheus:9090' });
  assert.equal(config.prometheusUrl, 'http://probe:s3cret@prometheus:9090');
  assert.equal(config.prometheusTarget, 'http://prometheus:9090');
  assert.doesNotMatch(JSON.stringify(describeConfig(config)), /s3cret|probe:/);

  for (const bad of ['ftp://probe:s3cret@prometheus:9090', 'probe:s3cret@prometheus:9090', 'http://probe:s3cret@prometheus:9090/?q=1']) {
    try {
      loadConfig({ PROMETHEUS_URL: bad });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.doesNotMatch(error.message, /s3cret/);
      assert.doesNotMatch(JSON.stringify(error.problems), /s3cret/);
    }
  }
});

test('redactUserinfo hides userinfo with or without a scheme', () => {
  assert.equal(redactUserinfo('http://u:p@host:9090/x'), 'http://***@host:9090/x');
  assert.equal(redactUserinfo('u:p@host'), '***@host');
  assert.equal(redactUserinfo('http://host:9090'), 'http://host:9090');
});
