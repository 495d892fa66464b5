import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, redactUserinfo } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { describeConfig } from '../../src/core/settings.js';

/** Files as the test says they are: path -> content; others are missing. */
function files(contents: Record<string, string>) {
  return {
    readFile(path: string): string {
      const text = contents[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';

function problemsOf(env: Record<string, string>, fileSystem = files({})): Map<string, string> {
  try {
    loadConfig(env, fileSystem);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'CONFIG_INVALID');
    return new Map(error.problems.map((p) => [p.variable, p.value]));
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

test("defaults are the seed's", () => {
  const config = loadConfig({});
  const { checks, ...rest } = config;
  assert.deepEqual(
    checks.map((check) => check.name),
    ['skew_ratio', 'consumer_count', 'stalled_partitions'],
    "the seed's two checks, and stalled partitions",
  );
  assert.deepEqual(rest, {
    prometheusUrl: 'http://prometheus:9090',
    prometheusTarget: 'http://prometheus:9090',
    group: 'crm-events-sse',
    groups: ['crm-events-sse'],
    checksFile: null,
    skewThreshold: 4,
    minConsumers: 2,
    host: '0.0.0.0',
    port: 9011,
    checkIntervalMs: 10_000,
    queryTimeoutMs: 5_000,
    staleAfterMs: 60_000,
    skewForMs: 0,
    drainGraceMs: 300_000,
    drainWindowMs: 120_000,
    skewMinLag: 100,
    stallAfterMs: 300_000,
    maxLagSeconds: null,
    onPrometheusError: 'pass',
    acceptPartial: false,
    onNoData: 'pass',
    fleet: { maxUnready: { kind: 'count', count: 1 }, rotateMs: 300_000, label: 'pod', podName: config.fleet.podName, podNamespace: null },
    dryRun: false,
    shutdownDelayMs: 0,
    connection: {
      bearerTokenFile: null,
      username: null,
      passwordFile: null,
      headers: {},
      caFile: null,
      certFile: null,
      keyFile: null,
      insecureSkipVerify: false,
    },
  });
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
    ['SHUTDOWN_DELAY', '16s'],
    ['CHECK_INTERVAL', '30d'], // past what a Node timer can hold
    ['STALE_AFTER', '25d'],
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
    assert.deepEqual(error.problems.map((p) => p.variable).sort(), ['CHECK_INTERVAL', 'ON_PROMETHEUS_ERROR', 'PORT', 'SKEW_THRESHOLD']);
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

  const badUrls = [
    'ftp://probe:s3cret@prometheus:9090',
    'probe:s3cret@prometheus:9090',
    'http://probe:s3cret@prometheus:9090/?q=1',
    'http://admin:s3cr/et@prom:9090', // a "/" in the password makes the URL unparsable
    ' http://admin:s3cret@prom:9090?x',
    'http://admin:s3#cret@prom:9090',
  ];
  for (const bad of badUrls) {
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
  assert.equal(redactUserinfo('http://a:b/c#d@host:9090'), 'http://***@host:9090');
});

test('a secured Prometheus: token, basic auth, headers and TLS files', () => {
  const fileSystem = files({ '/run/token': 'abc\n', '/run/pw': 'hunter2\n', '/run/ca.pem': PEM, '/run/cert.pem': PEM, '/run/key.pem': KEY });
  const bearer = loadConfig({ PROMETHEUS_URL: 'https://prom:9090', PROMETHEUS_BEARER_TOKEN_FILE: '/run/token', PROMETHEUS_CA_FILE: '/run/ca.pem' }, fileSystem);
  assert.equal(bearer.connection.bearerTokenFile, '/run/token');
  assert.equal(bearer.connection.caFile, '/run/ca.pem');
  const basic = loadConfig(
    {
      PROMETHEUS_URL: 'https://prom:9090',
      PROMETHEUS_USERNAME: 'probe',
      PROMETHEUS_PASSWORD_FILE: '/run/pw',
      PROMETHEUS_HEADERS: 'X-Scope-OrgID=tenant-a, X-Api-Key=k=1',
      PROMETHEUS_CERT_FILE: '/run/cert.pem',
      PROMETHEUS_KEY_FILE: '/run/key.pem',
      PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: 'true',
    },
    fileSystem,
  );
  assert.deepEqual(basic.connection.headers, { 'x-scope-orgid': 'tenant-a', 'x-api-key': 'k=1' });
  assert.equal(basic.connection.insecureSkipVerify, true);
  const shown = JSON.stringify(describeConfig(basic));
  assert.match(shown, /"headers":"x-scope-orgid=\*\*\*,x-api-key=\*\*\*"/);
  assert.doesNotMatch(shown, /tenant-a|k=1|hunter2/);
  assert.match(shown, /"username":"probe","password_file":"\/run\/pw"/);
});

test('each connection rule rejects its bad values, naming the variable', () => {
  const fileSystem = files({ '/run/token': 'abc', '/run/empty': '  \n', '/run/pw': 'pw', '/run/ca.pem': PEM, '/run/not-pem': 'hello', '/run/key.pem': KEY });
  const https = 'https://prom:9090';
  const cases: [Record<string, string>, string[]][] = [
    [{ PROMETHEUS_BEARER_TOKEN_FILE: '/run/missing' }, ['PROMETHEUS_BEARER_TOKEN_FILE']],
    [{ PROMETHEUS_BEARER_TOKEN_FILE: '/run/empty' }, ['PROMETHEUS_BEARER_TOKEN_FILE']],
    [{ PROMETHEUS_USERNAME: 'probe' }, ['PROMETHEUS_PASSWORD_FILE']],
    [{ PROMETHEUS_PASSWORD_FILE: '/run/pw' }, ['PROMETHEUS_USERNAME']],
    [{ PROMETHEUS_USERNAME: 'probe', PROMETHEUS_PASSWORD_FILE: '/run/pw', PROMETHEUS_URL: 'http://u:p@prom:9090' }, ['PROMETHEUS_USERNAME']],
    [{ PROMETHEUS_USERNAME: 'probe', PROMETHEUS_PASSWORD_FILE: '/run/pw', PROMETHEUS_BEARER_TOKEN_FILE: '/run/token' }, ['PROMETHEUS_BEARER_TOKEN_FILE']],
    [{ PROMETHEUS_URL: 'http://u:p@prom:9090', PROMETHEUS_BEARER_TOKEN_FILE: '/run/token' }, ['PROMETHEUS_BEARER_TOKEN_FILE']],
    [{ PROMETHEUS_HEADERS: 'X-Scope-OrgID' }, ['PROMETHEUS_HEADERS']],
    [{ PROMETHEUS_HEADERS: 'Host=evil' }, ['PROMETHEUS_HEADERS']],
    [{ PROMETHEUS_HEADERS: 'Bad Name=x' }, ['PROMETHEUS_HEADERS']],
    [{ PROMETHEUS_HEADERS: 'A=1,a=2' }, ['PROMETHEUS_HEADERS']],
    [{ PROMETHEUS_HEADERS: 'Authorization=Bearer x', PROMETHEUS_BEARER_TOKEN_FILE: '/run/token' }, ['PROMETHEUS_HEADERS']],
    [{ PROMETHEUS_URL: https, PROMETHEUS_CA_FILE: '/run/not-pem' }, ['PROMETHEUS_CA_FILE']],
    [{ PROMETHEUS_URL: https, PROMETHEUS_CA_FILE: '/run/missing' }, ['PROMETHEUS_CA_FILE']],
    [{ PROMETHEUS_URL: https, PROMETHEUS_KEY_FILE: '/run/key.pem' }, ['PROMETHEUS_CERT_FILE']],
    [{ PROMETHEUS_URL: https, PROMETHEUS_CERT_FILE: '/run/ca.pem' }, ['PROMETHEUS_KEY_FILE']],
    [{ PROMETHEUS_CA_FILE: '/run/ca.pem' }, ['PROMETHEUS_CA_FILE']], // http:// URL
    [{ PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: 'true' }, ['PROMETHEUS_TLS_INSECURE_SKIP_VERIFY']], // http:// URL
    [{ PROMETHEUS_URL: https, PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: 'yes' }, ['PROMETHEUS_TLS_INSECURE_SKIP_VERIFY']],
  ];
  for (const [env, expected] of cases) {
    assert.deepEqual([...problemsOf(env, fileSystem).keys()].sort(), expected, JSON.stringify(env));
  }
});

test('header values never appear in a configuration error', () => {
  const problems = problemsOf({ PROMETHEUS_HEADERS: 'X-Api-Key=topsecret,Host=x' });
  assert.equal(problems.get('PROMETHEUS_HEADERS'), 'X-Api-Key=***,Host=***');
});

/** What each refused variable was expected to be. */
function expectedOf(env: Record<string, string>): Map<string, string> {
  try {
    loadConfig(env, files({}));
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return new Map(error.problems.map((p) => [p.variable, p.expected]));
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

test('the fleet limit: counts and shares, names, and turns longer than the handover', () => {
  const limits: [string, unknown][] = [
    ['1', { kind: 'count', count: 1 }],
    ['3', { kind: 'count', count: 3 }],
    ['25%', { kind: 'percent', percent: 25 }],
    ['100%', { kind: 'percent', percent: 100 }],
    ['12.5%', { kind: 'percent', percent: 12.5 }],
  ];
  for (const [text, expected] of limits) assert.deepEqual(loadConfig({ FLEET_MAX_UNREADY: text }).fleet.maxUnready, expected, text);
  for (const bad of ['0', '0%', '101%', '-1', '1.5', 'one', '', '25 %']) {
    assert.match(expectedOf({ FLEET_MAX_UNREADY: bad }).get('FLEET_MAX_UNREADY') ?? '', /a whole number of replicas from 1/, bad);
  }
  assert.equal(problemsOf({ FLEET_LABEL: 'pod-name' }).has('FLEET_LABEL'), true);
  assert.equal(problemsOf({ POD_NAME: 'a b' }).has('POD_NAME'), true);
  assert.equal(loadConfig({ POD_NAME: 'crm-events-7c9f-x2' }).fleet.podName, 'crm-events-7c9f-x2');
  assert.equal(loadConfig({ HOSTNAME: 'from-hostname' }).fleet.podName, 'from-hostname', 'POD_NAME unset: HOSTNAME');
  assert.equal(loadConfig({}, undefined, () => 'from-os').fleet.podName, 'from-os', 'neither: the host name');
  // A turn set shorter than the handover is refused; the default is raised instead of refusing a long interval.
  assert.equal(
    expectedOf({ CHECK_INTERVAL: '1s', QUERY_TIMEOUT: '500ms', FLEET_ROTATE: '3s' }).get('FLEET_ROTATE'),
    'a duration such as 500ms, 10s or 5m, at least 3 x CHECK_INTERVAL + 1s (4s)',
  );
  assert.equal(loadConfig({ CHECK_INTERVAL: '1s', QUERY_TIMEOUT: '500ms', FLEET_ROTATE: '4s' }).fleet.rotateMs, 4_000);
  assert.equal(loadConfig({ CHECK_INTERVAL: '600s', QUERY_TIMEOUT: '5s', STALE_AFTER: '600s' }).fleet.rotateMs, 1_801_000);
  // ON_NO_DATA is a setting of the built-in checks: beside CHECKS_FILE it would do nothing.
  assert.equal(problemsOf({ ON_NO_DATA: 'maybe' }).has('ON_NO_DATA'), true);
});
