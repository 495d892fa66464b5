import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { type CheckTemplate, instantiate } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { FLEET_STANDS_FOR_MS } from '../../src/core/fleet.js';
import { checksFor, configuredChecks, describeConfig, describeHeaders, fleetLearning, monitorSettings } from '../../src/core/settings.js';

const SECRETS = ['s3cret-password', 'tenant-secret-1', 'key-secret-2', 'token-secret-3', 'file-password-4'];
/** Every file a variable names holds a secret (or a PEM), as a mounted Secret would. */
const files = {
  readFile: (path: string) =>
    path.endsWith('.pem') ? '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' : path.endsWith('token') ? 'token-secret-3' : 'file-password-4',
};

test('describeConfig never shows a credential or a header value', () => {
  const cases: [name: string, env: Record<string, string>, shown: Record<string, unknown>][] = [
    [
      'userinfo in the URL and secret headers',
      { PROMETHEUS_URL: 'https://alice:s3cret-password@prom.example:9090/api', PROMETHEUS_HEADERS: 'X-Scope-OrgID=tenant-secret-1,X-Api-Key=key-secret-2' },
      { prometheus_url: 'https://prom.example:9090/api', headers: 'x-scope-orgid=***,x-api-key=***' },
    ],
    [
      'a bearer token file',
      { PROMETHEUS_URL: 'https://prom.example', PROMETHEUS_BEARER_TOKEN_FILE: '/run/secrets/token' },
      { prometheus_url: 'https://prom.example', bearer_token_file: '/run/secrets/token' },
    ],
    [
      'basic auth and TLS files',
      {
        PROMETHEUS_URL: 'https://prom.example',
        PROMETHEUS_USERNAME: 'bob',
        PROMETHEUS_PASSWORD_FILE: '/run/secrets/password',
        PROMETHEUS_CA_FILE: '/etc/ca.pem',
        PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: 'true',
      },
      { username: 'bob', password_file: '/run/secrets/password', ca_file: '/etc/ca.pem', tls_insecure_skip_verify: true },
    ],
  ];
  for (const [name, env, shown] of cases) {
    const config = loadConfig(env, files);
    const described = describeConfig(config);
    const text = JSON.stringify(described);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${name}: ${secret} shown in ${text}`);
    for (const [key, value] of Object.entries(shown)) assert.deepEqual(described[key], value, `${name}: ${key}`);
  }
  // Nothing about the connection is shown when nothing is set.
  const plain = describeConfig(loadConfig({}));
  for (const key of ['headers', 'bearer_token_file', 'username', 'password_file', 'ca_file', 'cert_file', 'key_file', 'tls_insecure_skip_verify']) {
    assert.equal(key in plain, false, key);
  }
});

test('describeHeaders: names only', () => {
  assert.equal(describeHeaders({ 'X-Scope-OrgID': 'tenant', 'X-Other': 'x=y,z' }), 'X-Scope-OrgID=***,X-Other=***');
  assert.equal(describeHeaders({}), '');
});

test('describeConfig: durations as operators write them, the seed settings or the checks file', () => {
  const described = describeConfig(
    loadConfig({
      CHECK_INTERVAL: '15s',
      QUERY_TIMEOUT: '1500ms',
      STALE_AFTER: '2m',
      SKEW_FOR: '1h',
      SHUTDOWN_DELAY: '5s',
      FLEET_ROTATE: '10m',
      FLEET_MAX_UNREADY: '25%',
    }),
  );
  assert.deepEqual(
    [
      described.check_interval,
      described.query_timeout,
      described.stale_after,
      described.skew_for,
      described.shutdown_delay,
      described.fleet_rotate,
      described.fleet_max_unready,
    ],
    ['15s', '1500ms', '2m', '1h', '5s', '10m', '25%'],
  );
  assert.equal(describeConfig(loadConfig({ STALE_AFTER: '1m30s' })).stale_after, '90s', 'the shortest exact form');
  assert.deepEqual([described.skew_threshold, described.min_consumers, 'checks_file' in described], [4, 2, false]);

  const text = JSON.stringify({ checks: [{ name: 'lag', query: 'lag{consumergroup="{group}"}', comparison: '<=', threshold: 1 }] });
  const withFile = describeConfig(loadConfig({ CHECKS_FILE: '/etc/probe/checks.json', POD_NAMESPACE: 'prod' }, { readFile: () => text }));
  assert.equal(withFile.checks_file, '/etc/probe/checks.json');
  assert.equal(withFile.pod_namespace, 'prod');
  for (const key of ['skew_threshold', 'min_consumers', 'skew_for', 'drain_grace', 'drain_window', 'on_no_data']) assert.equal(key in withFile, false, key);
  assert.equal('pod_namespace' in described, false, 'no namespace, no field');
});

test('fleetLearning: none at FLEET_MAX_UNREADY=100%; otherwise the query names the groups, handover is interval + timeout + 500 ms', () => {
  const cases: [name: string, env: Record<string, string>, expected: { handoverMs: number; refreshMs: number; query: string } | undefined][] = [
    ['100%: no limit, no query', { FLEET_MAX_UNREADY: '100%' }, undefined],
    [
      'the defaults',
      { POD_NAME: 'consumer-7' },
      { handoverMs: 10_000 + 5_000 + 500, refreshMs: 60_000, query: 'max by (pod) (crm_events_health_own_unready{consumergroup="crm-events-sse"})' },
    ],
    [
      'several groups, a namespace, another label',
      { POD_NAME: 'consumer-7', KAFKA_GROUP: 'orders,billing', POD_NAMESPACE: 'prod', FLEET_LABEL: 'instance', FLEET_MAX_UNREADY: '50%' },
      {
        handoverMs: 15_500,
        refreshMs: 60_000,
        query:
          'max by (instance) (crm_events_health_own_unready{consumergroup="orders",namespace="prod"} or crm_events_health_own_unready{consumergroup="billing",namespace="prod"})',
      },
    ],
    [
      'a short interval',
      { POD_NAME: 'consumer-7', CHECK_INTERVAL: '3s', QUERY_TIMEOUT: '2s' },
      { handoverMs: 5_500, refreshMs: 30_000, query: 'max by (pod) (crm_events_health_own_unready{consumergroup="crm-events-sse"})' },
    ],
  ];
  for (const [name, env, expected] of cases) {
    const config = loadConfig(env);
    const learning = fleetLearning(config);
    const settings = monitorSettings(config);
    if (expected === undefined) {
      assert.equal(learning, undefined, name);
      assert.equal('fleet' in settings, false, name);
      continue;
    }
    assert.ok(learning !== undefined, name);
    assert.deepEqual({ handoverMs: learning.settings.handoverMs, refreshMs: learning.refreshMs, query: learning.query }, expected, name);
    assert.deepEqual(
      [learning.settings.self, learning.settings.maxUnready, learning.settings.rotateMs, learning.label, learning.standsForMs],
      [config.fleet.podName, config.fleet.maxUnready, config.fleet.rotateMs, config.fleet.label, FLEET_STANDS_FOR_MS],
      name,
    );
    assert.deepEqual(settings.fleet, learning, name);
  }
});

test('monitorSettings: the timing and policies of the configuration', () => {
  const settings = monitorSettings(loadConfig({ CHECK_INTERVAL: '20s', QUERY_TIMEOUT: '3s', STALE_AFTER: '2m', ON_PROMETHEUS_ERROR: 'fail', DRY_RUN: 'true' }));
  assert.deepEqual([settings.intervalMs, settings.staleAfterMs, settings.onPrometheusError, settings.dryRun], [20_000, 120_000, 'fail', true]);
  assert.equal(settings.fleet?.settings.handoverMs, 23_500);
});

test('checksFor binds {pod} and {namespace} from POD_NAME and POD_NAMESPACE, and such checks judge this replica alone', () => {
  const parsed = parseChecksFile(
    JSON.stringify({
      checks: [
        { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000 },
        { name: 'pod_lag', query: 'kafka:consumer_lag{consumergroup="{group}",pod="{pod}"}', comparison: '<=', threshold: 1000 },
        { name: 'ns_up', query: 'up{namespace="{namespace}",job="probe"}', comparison: '>=', threshold: 1 },
      ],
    }),
    { severalGroups: false },
  );
  assert.ok(parsed.ok);
  const cases: [name: string, env: Record<string, string>, queries: string[]][] = [
    [
      'pod and namespace',
      { POD_NAME: 'consumer-7', POD_NAMESPACE: 'prod' },
      ['kafka:group_max_lag{consumergroup="crm-events-sse"}', 'kafka:consumer_lag{consumergroup="crm-events-sse",pod="consumer-7"}', 'up{namespace="prod",job="probe"}'],
    ],
    [
      'no namespace: empty',
      { POD_NAME: 'consumer-8' },
      ['kafka:group_max_lag{consumergroup="crm-events-sse"}', 'kafka:consumer_lag{consumergroup="crm-events-sse",pod="consumer-8"}', 'up{namespace="",job="probe"}'],
    ],
  ];
  for (const [name, env, queries] of cases) {
    const bound = checksFor(loadConfig(env), parsed.templates);
    assert.deepEqual(
      bound.map((check) => check.query),
      queries,
      name,
    );
    assert.deepEqual(
      bound.map((check) => check.scope),
      ['group', 'replica', 'replica'],
      name,
    );
  }
});

test("configuredChecks: the checks file's templates when there is one, bound to every group", () => {
  const text = JSON.stringify({ checks: [{ name: 'pod_lag', query: 'lag{consumergroup="{group}",pod="{pod}"}', comparison: '<=', threshold: 1 }] });
  const config = loadConfig({ CHECKS_FILE: '/etc/probe/checks.json', KAFKA_GROUP: 'orders,billing', POD_NAME: 'consumer-7' }, { readFile: () => text });
  const checks = configuredChecks(config);
  assert.deepEqual(
    checks.map((check) => [check.id, check.group, check.scope, check.query]),
    [
      ['orders/pod_lag', 'orders', 'replica', 'lag{consumergroup="orders",pod="consumer-7"}'],
      ['billing/pod_lag', 'billing', 'replica', 'lag{consumergroup="billing",pod="consumer-7"}'],
    ],
  );
  // Without a file: the seed's checks, every one group-wide and bound to the group.
  const seed = configuredChecks(loadConfig({ KAFKA_GROUP: 'orders' }));
  assert.ok(seed.length >= 2);
  assert.deepEqual(
    seed.slice(0, 2).map((check) => check.id),
    ['skew_ratio', 'consumer_count'],
  );
  for (const check of seed) {
    assert.equal(check.scope, 'group', check.id);
    assert.match(check.query, /consumergroup="orders"/, check.id);
    assert.doesNotMatch(check.query, /\{group\}/, check.id);
  }
});

test('{pod} and {namespace} are escaped exactly as {group} is: a name with a quote cannot inject PromQL', () => {
  // The README's member checks (Per-replica checks: a consumer's own metrics). POD_NAME refuses quotes; POD_NAMESPACE
  // and a group do not, and instantiate must not rely on either.
  const member = (name: string, query: string): CheckTemplate => ({
    name,
    query,
    comparison: '>=',
    threshold: 1,
    forMs: 0,
    keepForMs: 0,
    onNoData: 'pass',
    onError: null,
    failMessage: '',
    noDataMessage: '',
    unit: '',
    drain: null,
  });
  const templates = [
    member('member_assigned', 'max(kafka_consumer_coordinator_assigned_partitions{namespace="{namespace}",pod="{pod}"})'),
    member('member_lag', 'max by (topic, partition) (kafka_consumer_fetch_manager_records_lag_max{namespace="{namespace}",pod="{pod}",consumergroup="{group}"})'),
  ];
  const [assigned, lag] = instantiate(templates, ['g"} or vector(1) #'], { pod: 'p"}) or vector(1) #', namespace: 'n\\"\n' });
  assert.equal(assigned!.query, String.raw`max(kafka_consumer_coordinator_assigned_partitions{namespace="n\\\"\n",pod="p\"}) or vector(1) #"})`);
  assert.equal(
    lag!.query,
    String.raw`max by (topic, partition) (kafka_consumer_fetch_manager_records_lag_max{namespace="n\\\"\n",pod="p\"}) or vector(1) #",consumergroup="g\"} or vector(1) #"})`,
  );
  assert.deepEqual([assigned!.scope, lag!.scope], ['replica', 'replica']);
  // Through the configuration: a namespace with a quote stays inside its string.
  const [bound] = checksFor(loadConfig({ POD_NAME: 'consumer-7', POD_NAMESPACE: 'crm"} or vector(1)' }), templates);
  assert.equal(bound!.query, 'max(kafka_consumer_coordinator_assigned_partitions{namespace="crm\\"} or vector(1)",pod="consumer-7"})');
});
