// CHECKS_FILE, several consumer groups, selectable and verbose readiness, application/health+json, `for`/`keepFor`
// and SIGHUP reloads, against the real thing: Debian's Prometheus scraping an exporter with kafka_exporter's
// metric names and evaluating the shipped recording rules, and the compiled probe (node dist/main.js) asking it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startFakePrometheus } from '../helpers/fake-prometheus.js';
import { type Answer, httpRequest } from '../helpers/http.js';
import { launchProbe, type Probe, startProbe } from '../helpers/process.js';
import { instantVector, type RealPrometheus, requireBinary } from '../helpers/real-prometheus.js';
import { balanced, sharedStack, TOPIC } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/wait.js';

// One exporter and one Prometheus for the whole file, started by the first test that needs them. Each test judges
// groups of its own, so the tests do not disturb each other's series.
const stack = sharedStack();

/** Waits (bounded) until Prometheus has recorded every group's series, so that a probe's first look sees data. */
async function recorded(prometheus: RealPrometheus, groups: readonly string[]): Promise<void> {
  for (const group of groups) {
    for (const metric of ['kafka_consumergroup_members', 'kafka:group_max_lag', 'kafka:group_skew_ratio']) {
      await waitFor(
        `${metric} of ${group} in Prometheus`,
        async (seen) => {
          const vector = await instantVector(prometheus.url, `${metric}{consumergroup=${JSON.stringify(group)}}`);
          seen(vector);
          return vector.length > 0 ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
    }
  }
}

/** A temp dir in os.tmpdir(), removed after the test. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'checksfile-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeChecks(path: string, checks: readonly Record<string, unknown>[]): void {
  writeFileSync(path, `${JSON.stringify({ checks }, null, 2)}\n`);
}

const launch = launchProbe;

/** GET (bounded) until `accept` returns something; the timeout error shows the last answer. */
function until<T>(port: number, path: string, what: string, accept: (answer: Answer) => T | undefined, timeoutMs = 15_000, headers?: Record<string, string>): Promise<T> {
  return waitFor(
    `${path}: ${what}`,
    async (seen) => {
      const answer = await httpRequest(port, path, { headers });
      seen(`${answer.status} ${answer.body}`);
      return accept(answer);
    },
    { timeoutMs, intervalMs: 100 },
  );
}

function json<T = Record<string, unknown>>(answer: Answer): T {
  return JSON.parse(answer.body) as T;
}

/** The n-th log line (1-based) with this event, waited for (bounded). */
function nthLog(probe: Probe, event: string, n: number, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return waitFor(
    `log line #${n} with event ${event}`,
    async (seen) => {
      const lines = probe.logs().filter((line) => line.event === event);
      seen(`${lines.length} so far; stdout tail: ${probe.stdout().slice(-600)}`);
      return lines[n - 1];
    },
    { timeoutMs, intervalMs: 50 },
  );
}

function alive(probe: Probe): boolean {
  return probe.child.exitCode === null && probe.child.signalCode === null;
}

interface ReadyBody {
  healthy: boolean;
  message: string;
  verdict: string;
  checks?: Record<string, string>;
  groups?: Record<string, string>;
}

interface StatusCheck {
  name: string;
  group: string;
  state: string;
  ok: boolean | null;
  value: number | string | null;
  threshold: number | null;
  min?: number;
  max?: number;
  comparison: string;
  message: string | null;
  observed_at: string | null;
  query: string;
  for: string;
  keep_for: string;
}

interface StatusBody {
  healthy: boolean;
  verdict: string;
  message: string;
  checks: Record<string, StatusCheck>;
  groups: Record<string, { healthy: boolean; verdict: string; message: string }>;
  evaluation: { count: number; last_at: string | null };
  reload: { at: string; ok: boolean; error: string | null } | null;
  config: Record<string, unknown>;
}

interface HealthJsonEntry {
  componentId: string;
  componentType: string;
  observedValue: number | string | null;
  observedUnit?: string;
  status: string;
  time?: string;
  output?: string;
}

interface HealthJson {
  status: 'pass' | 'warn' | 'fail';
  output?: string;
  checks: Record<string, HealthJsonEntry[]>;
}

const HEALTH_JSON = { accept: 'application/health+json' };

// ---------------------------------------------------------------------------------------------------------------

test('checks file over two groups: /ready names the failing group; ?group, /ready/NAME, ?exclude, ?verbose, /status, /metrics, health+json', async (t) => {
  const real = await stack(t);
  if (real === undefined) return;
  const { exporter, prometheus } = real;
  const dir = tempDir(t);
  const file = join(dir, 'checks.json');
  // A raw kafka_exporter metric with >=, a recorded series with <=, and a range over another recorded series.
  writeChecks(file, [
    {
      name: 'members',
      query: 'kafka_consumergroup_members{consumergroup="{group}"}',
      comparison: '>=',
      threshold: 2,
      unit: 'consumers',
      message: 'Too few consumers: {value} < {threshold}',
    },
    { name: 'skew', query: 'kafka:group_skew_ratio{consumergroup="{group}"}', comparison: '<=', threshold: 4, onNoData: 'pass', unit: 'ratio' },
    { name: 'max_lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: 'range', min: 0, max: 100, unit: 'messages' },
  ]);
  balanced(exporter, 'orders', 3);
  balanced(exporter, 'billing', 1); // one consumer left: fails "members" only
  await recorded(prometheus, ['orders', 'billing']);
  const { port } = await launch(t, { PROMETHEUS_URL: prometheus.url, KAFKA_GROUP: 'orders,billing', CHECKS_FILE: file });

  // Phase 1: billing has one consumer.
  const failing = await until(port, '/ready', '500 naming billing', (a) =>
    a.status === 500 && json<ReadyBody>(a).message === 'billing: Too few consumers: 1 < 2' ? json<ReadyBody>(a) : undefined,
  );
  assert.deepEqual(failing, {
    healthy: false,
    message: 'billing: Too few consumers: 1 < 2',
    verdict: 'fail',
    checks: { 'orders/members': 'pass', 'orders/skew': 'pass', 'orders/max_lag': 'pass', 'billing/members': 'fail', 'billing/skew': 'pass', 'billing/max_lag': 'pass' },
    groups: { orders: 'pass', billing: 'fail' },
  });

  // One group at a time; an unknown group is answered, not ignored.
  const orders = await httpRequest(port, '/ready?group=orders');
  assert.equal(orders.status, 200, orders.body);
  assert.deepEqual(json(orders), {
    healthy: true,
    message: 'System healthy',
    verdict: 'pass',
    checks: { 'orders/members': 'pass', 'orders/skew': 'pass', 'orders/max_lag': 'pass' },
  });
  const billing = await httpRequest(port, '/ready?group=billing');
  assert.equal(billing.status, 500, billing.body);
  // Within one group the message needs no group prefix.
  assert.equal(json<ReadyBody>(billing).message, 'Too few consumers: 1 < 2');
  const nope = await httpRequest(port, '/ready?group=nope');
  assert.equal(nope.status, 404);
  assert.match(String(nope.headers['content-type']), /^application\/json/);
  assert.deepEqual(json(nope), { error: 'unknown_group', message: 'No consumer group "nope"; groups: "orders", "billing"' });

  // One check, in every group.
  const members = await httpRequest(port, '/ready/members');
  assert.equal(members.status, 500, members.body);
  assert.deepEqual(json<ReadyBody>(members).checks, { 'orders/members': 'pass', 'billing/members': 'fail' });
  assert.equal(json<ReadyBody>(members).message, 'billing: Too few consumers: 1 < 2');
  const skewOnly = await httpRequest(port, '/ready/skew');
  assert.equal(skewOnly.status, 200, skewOnly.body);
  const unknownCheck = await httpRequest(port, '/ready/nope');
  assert.equal(unknownCheck.status, 404);
  assert.deepEqual(json(unknownCheck), { error: 'unknown_check', message: 'No check "nope"; checks: "members", "skew", "max_lag"' });
  assert.equal((await httpRequest(port, '/ready/members?group=orders')).status, 200);

  // Leaving the failing check out turns /ready 200; an unknown name is a 400.
  const excluded = await httpRequest(port, '/ready?exclude=members');
  assert.equal(excluded.status, 200, excluded.body);
  assert.deepEqual(Object.keys(json<ReadyBody>(excluded).checks!), ['orders/skew', 'orders/max_lag', 'billing/skew', 'billing/max_lag']);
  assert.equal((await httpRequest(port, '/ready?exclude=skew')).status, 500);
  const badExclude = await httpRequest(port, '/ready?exclude=members&exclude=nope');
  assert.equal(badExclude.status, 400);
  assert.equal(json<{ error: string }>(badExclude).error, 'unknown_check');
  assert.match(json<{ message: string }>(badExclude).message, /^Cannot exclude "nope": no such check/);

  // ?verbose, as kube-apiserver's /readyz?verbose writes it; ids are group/name when several groups are judged.
  const verbose = await httpRequest(port, '/ready?verbose');
  assert.equal(verbose.status, 500);
  assert.match(String(verbose.headers['content-type']), /^text\/plain/);
  assert.equal(
    verbose.body,
    [
      '[+]orders/members ok',
      '[+]orders/skew ok',
      '[+]orders/max_lag ok',
      '[-]billing/members failed: Too few consumers: 1 < 2',
      '[+]billing/skew ok',
      '[+]billing/max_lag ok',
      'ready check failed',
      '',
    ].join('\n'),
  );
  const verboseGroup = await httpRequest(port, '/ready?verbose&group=orders');
  assert.equal(verboseGroup.status, 200);
  assert.equal(verboseGroup.body, '[+]orders/members ok\n[+]orders/skew ok\n[+]orders/max_lag ok\nready check passed\n');
  const verboseName = await httpRequest(port, '/ready/members?verbose');
  assert.equal(verboseName.status, 500);
  assert.equal(verboseName.body, '[+]orders/members ok\n[-]billing/members failed: Too few consumers: 1 < 2\nready check failed\n');
  // Excluded checks are listed last, as /readyz lists them: `[+]NAME excluded: ok` whatever their state.
  const verboseExcluded = await httpRequest(port, '/ready?verbose&exclude=members');
  assert.equal(verboseExcluded.status, 200);
  assert.equal(
    verboseExcluded.body,
    [
      '[+]orders/skew ok',
      '[+]orders/max_lag ok',
      '[+]billing/skew ok',
      '[+]billing/max_lag ok',
      '[+]orders/members excluded: ok',
      '[+]billing/members excluded: ok',
      'ready check passed',
      '',
    ].join('\n'),
  );
  const verboseUnknown = await httpRequest(port, '/ready?verbose&group=nope');
  assert.equal(verboseUnknown.status, 404);
  assert.equal(verboseUnknown.body, 'No consumer group "nope"; groups: "orders", "billing"\n');

  // /status: checks keyed by id, and the groups.
  const status = json<StatusBody>(await httpRequest(port, '/status'));
  assert.deepEqual(Object.keys(status.checks), ['orders/members', 'orders/skew', 'orders/max_lag', 'billing/members', 'billing/skew', 'billing/max_lag']);
  assert.equal(status.checks['billing/members']!.state, 'fail');
  assert.equal(status.checks['billing/members']!.value, 1);
  assert.equal(status.checks['billing/members']!.query, 'kafka_consumergroup_members{consumergroup="billing"}');
  assert.equal(status.checks['orders/max_lag']!.comparison, 'range');
  assert.equal(status.checks['orders/max_lag']!.min, 0);
  assert.equal(status.checks['orders/max_lag']!.max, 100);
  assert.equal(status.checks['orders/max_lag']!.value, 10);
  assert.deepEqual(status.groups, {
    orders: { healthy: true, verdict: 'pass', message: 'System healthy' },
    billing: { healthy: false, verdict: 'fail', message: 'Too few consumers: 1 < 2' },
  });
  assert.equal(status.config.checks_file, file);

  // /metrics: the verdict per group, and each check's series labelled with its group.
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_status\{consumergroup="orders"\} 1$/m);
  assert.match(metrics, /^crm_events_health_status\{consumergroup="billing"\} 0$/m);
  assert.match(metrics, /^crm_events_health_check_state\{consumergroup="billing",check="members",state="fail"\} 1$/m);
  assert.match(metrics, /^crm_events_health_check_state\{consumergroup="orders",check="members",state="pass"\} 1$/m);
  assert.match(metrics, /^crm_events_health_check_value\{consumergroup="billing",check="members"\} 1$/m);
  assert.match(metrics, /^crm_events_health_check_threshold\{consumergroup="orders",check="max_lag",bound="max"\} 100$/m);
  const promtool = requireBinary(t, 'promtool');
  if (promtool !== undefined) {
    const linted = spawnSync(promtool, ['check', 'metrics'], { input: metrics, encoding: 'utf8', timeout: 10_000 });
    assert.equal(`${linted.stdout}${linted.stderr}`.trim(), '', metrics);
    assert.equal(linted.status, 0);
  }

  // application/health+json when asked for, with 503 for fail; the seed's JSON stays the default.
  const plain = await httpRequest(port, '/status');
  assert.match(String(plain.headers['content-type']), /^application\/json/);
  assert.equal(plain.headers.vary, 'accept');
  const draft = await httpRequest(port, '/status', { headers: HEALTH_JSON });
  assert.equal(draft.status, 503);
  assert.equal(draft.headers['content-type'], 'application/health+json');
  assert.equal(draft.headers.vary, 'accept');
  const document = json<HealthJson>(draft);
  assert.equal(document.status, 'fail');
  assert.equal(document.output, 'billing: Too few consumers: 1 < 2');
  assert.deepEqual(Object.keys(document.checks), ['orders:members', 'orders:skew', 'orders:max_lag', 'billing:members', 'billing:skew', 'billing:max_lag']);
  const [entry] = document.checks['billing:members']!;
  assert.deepEqual(
    { ...entry!, time: undefined },
    {
      componentId: 'billing',
      componentType: 'kafka-consumer-group',
      observedValue: 1,
      observedUnit: 'consumers',
      status: 'fail',
      time: undefined,
      output: 'Too few consumers: 1 < 2',
    },
  );
  assert.ok(Math.abs(Date.parse(entry!.time!) - Date.now()) < 10_000, entry!.time);
  assert.equal(document.checks['orders:members']![0]!.status, 'pass');
  // Media types are case-insensitive (RFC 9110).
  const shouted = await httpRequest(port, '/status', { headers: { accept: 'Application/Health+JSON' } });
  assert.equal(shouted.headers['content-type'], 'application/health+json');
  assert.equal(shouted.status, 503);
  // A client that refuses the type (q=0) gets the default.
  const refused = await httpRequest(port, '/status', { headers: { accept: 'application/health+json;q=0, application/json' } });
  assert.match(String(refused.headers['content-type']), /^application\/json/);

  // Phase 2: billing has its consumers back, but a hot key: the <= check and the range fail together.
  exporter.setMembers('billing', 3);
  exporter.setLag('billing', TOPIC, 0, 400); // max/avg = 400 / (470 / 8) = 6.81
  const hot = 'billing: skew is 6.81, not <= 4 (topic=aetherlink.events); billing: max_lag is 400, outside 0..100 (topic=aetherlink.events)';
  await until(port, '/ready', 'both billing checks failing', (a) => (a.status === 500 && json<ReadyBody>(a).message === hot ? true : undefined));
  assert.equal((await httpRequest(port, '/ready?exclude=skew')).status, 500);
  assert.equal((await httpRequest(port, '/ready?exclude=skew&exclude=max_lag')).status, 200, 'repeated exclude');
  assert.equal((await httpRequest(port, '/ready?exclude=skew,max_lag')).status, 200, 'comma-separated exclude');
  assert.equal((await httpRequest(port, '/ready/max_lag')).status, 500);
  assert.equal((await httpRequest(port, '/ready?group=orders')).status, 200);
  const hotStatus = json<StatusBody>(await httpRequest(port, '/status'));
  assert.equal(hotStatus.checks['billing/max_lag']!.state, 'fail');
  assert.equal(hotStatus.checks['billing/max_lag']!.value, 400);

  // Phase 3: healthy everywhere: 200, and health+json "pass" with 200.
  exporter.setLag('billing', TOPIC, 0, 10);
  await until(port, '/ready', '200', (a) => (a.status === 200 ? true : undefined));
  const healthy = await until(
    port,
    '/status',
    'health+json pass',
    (a) => (a.status === 200 && json<HealthJson>(a).status === 'pass' ? a : undefined),
    5_000,
    HEALTH_JSON,
  );
  assert.equal(healthy.headers['content-type'], 'application/health+json');
  assert.equal(json<HealthJson>(healthy).output, undefined);
  const readyHealthy = json<ReadyBody>(await httpRequest(port, '/ready'));
  assert.deepEqual(readyHealthy.groups, { orders: 'pass', billing: 'pass' });
  assert.match((await httpRequest(port, '/metrics')).body, /^crm_events_health_status\{consumergroup="billing"\} 1$/m);
});

test('for and keepFor: a breach is pending, then fails; a recovery is recovering, then passes', async (t) => {
  const real = await stack(t);
  if (real === undefined) return;
  const { exporter, prometheus } = real;
  const group = 'damped';
  const dir = tempDir(t);
  const file = join(dir, 'checks.json');
  writeChecks(file, [
    {
      name: 'members',
      query: 'kafka_consumergroup_members{consumergroup="{group}"}',
      comparison: '>=',
      threshold: 2,
      for: '3s',
      keepFor: '3s',
      message: 'Too few consumers: {value} < {threshold}',
    },
  ]);
  balanced(exporter, group, 3);
  await recorded(prometheus, [group]);
  const { port } = await launch(t, { PROMETHEUS_URL: prometheus.url, KAFKA_GROUP: group, CHECKS_FILE: file });
  await until(port, '/ready', '200 System healthy', (a) => (a.status === 200 && json<ReadyBody>(a).message === 'System healthy' ? true : undefined));

  // The breach: pending, and /ready still 200 (saying so), health+json "warn".
  const breachAt = Date.now();
  exporter.setMembers(group, 1);
  await until(port, '/status', 'members pending', (a) => (json<StatusBody>(a).checks.members!.state === 'pending' ? true : undefined), 10_000);
  const pendingSeenMs = Date.now() - breachAt;
  const pendingReady = await httpRequest(port, '/ready');
  assert.equal(pendingReady.status, 200, pendingReady.body);
  assert.match(json<ReadyBody>(pendingReady).message, /^System healthy \(Too few consumers: 1 < 2 \(pending: for \d+s of 3s\)\)$/);
  assert.deepEqual(json<ReadyBody>(pendingReady).checks, { members: 'pending' });
  const pendingVerbose = await httpRequest(port, '/ready?verbose');
  assert.equal(pendingVerbose.status, 200);
  assert.match(pendingVerbose.body, /^\[\+\]members ok: Too few consumers: 1 < 2 \(pending: for \d+s of 3s\)\nready check passed\n$/);
  const pendingDraft = await httpRequest(port, '/status', { headers: HEALTH_JSON });
  assert.equal(pendingDraft.status, 200);
  assert.equal(json<HealthJson>(pendingDraft).status, 'warn');
  assert.equal(json<HealthJson>(pendingDraft).checks['damped:members']![0]!.status, 'warn');

  // Once the breach has lasted 3 s: fail.
  await until(port, '/ready', '500 after for', (a) => (a.status === 500 && json<ReadyBody>(a).message === 'Too few consumers: 1 < 2' ? true : undefined), 10_000);
  const failedMs = Date.now() - breachAt;
  assert.ok(failedMs >= 3_000, `not before the breach has lasted 3 s (${failedMs} ms; pending seen at ${pendingSeenMs} ms)`);
  assert.ok(failedMs - pendingSeenMs >= 1_500, `pending lasted (${pendingSeenMs} -> ${failedMs} ms)`);
  assert.equal(json<StatusBody>(await httpRequest(port, '/status')).checks.members!.state, 'fail');

  // The recovery: recovering, and /ready still 500 until keepFor has passed.
  const recoverAt = Date.now();
  exporter.setMembers(group, 3);
  const recovering = await until(
    port,
    '/ready',
    '500 recovering',
    (a) => (a.status === 500 && json<ReadyBody>(a).checks?.members === 'recovering' ? json<ReadyBody>(a) : undefined),
    10_000,
  );
  const recoveringSeenMs = Date.now() - recoverAt;
  assert.match(recovering.message, /^members recovering: passing for \d+s of keepFor 3s \(\d+s left\)$/);
  const recoveringStatus = json<StatusBody>(await httpRequest(port, '/status'));
  assert.equal(recoveringStatus.checks.members!.state, 'recovering');
  assert.equal(recoveringStatus.checks.members!.value, 3);
  await until(port, '/ready', '200 after keepFor', (a) => (a.status === 200 && json<ReadyBody>(a).message === 'System healthy' ? true : undefined), 10_000);
  const passedMs = Date.now() - recoverAt;
  assert.ok(passedMs >= 3_000, `not before the recovery has lasted 3 s (${passedMs} ms)`);
  assert.ok(passedMs - recoveringSeenMs >= 1_500, `recovering lasted (${recoveringSeenMs} -> ${passedMs} ms)`);
});

test('an invalid checks file: exit 2 before listening, every problem named by its check and field', async (t) => {
  const dir = tempDir(t);
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const members = { name: 'members', query: 'kafka_consumergroup_members{consumergroup="{group}"}', comparison: '>=', threshold: 2 };
  const many = file(
    'many.json',
    JSON.stringify({
      checks: [
        { ...members, treshold: 3 }, // a typo
        { name: 'skew', query: 'kafka:group_skew_ratio{consumergroup="{group}"}', comparison: '=<', threshold: 4 },
        { ...members }, // the same name again
        { name: 'global', query: 'sum(kafka_consumergroup_members)', comparison: '>=', threshold: 1 }, // no {group}
        { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: 'range', min: 10, max: 1, for: '3 seconds', onError: 'retry' },
      ],
    }),
  );
  const notJson = file('broken.json', '{"checks": [ {"name": "members",');
  const valid = file('valid.json', JSON.stringify({ checks: [members] }));
  const missing = join(dir, 'missing.json');

  const base = { PROMETHEUS_URL: 'http://127.0.0.1:9', HOST: '127.0.0.1' };
  const cases: { what: string; env: Record<string, string>; lines: string[] }[] = [
    {
      what: 'many problems in one file',
      env: { KAFKA_GROUP: 'orders,billing', CHECKS_FILE: many },
      lines: [
        `check "members": field "treshold": not a field (fields: name, query, comparison, threshold, min, max, for, keepFor, onNoData, onError, message, noDataMessage, unit, drain)`,
        `check "skew": field "comparison": one of "<", "<=", ">", ">=", "range"`,
        `check "members": field "name": unique: another check has this name`,
        `check "global": field "query": "{group}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="{group}"}`,
        `check "lag": field "for": a duration such as "30s" or "5m", at most 24 days`,
        `check "lag": field "onError": "pass", "fail" or "keepLast"`,
        `check "lag": field "max": at least "min" (10)`,
      ].map((expected) => `invalid configuration: CHECKS_FILE=${JSON.stringify(many)}: expected ${expected}`),
    },
    {
      what: 'not JSON',
      env: { KAFKA_GROUP: 'orders', CHECKS_FILE: notJson },
      lines: [`invalid configuration: CHECKS_FILE=${JSON.stringify(notJson)}: expected valid JSON (`],
    },
    {
      what: 'a missing file',
      env: { KAFKA_GROUP: 'orders', CHECKS_FILE: missing },
      lines: [`invalid configuration: CHECKS_FILE=${JSON.stringify(missing)}: expected a readable JSON file of checks (ENOENT)`],
    },
    {
      what: 'a seed setting beside the file',
      env: { KAFKA_GROUP: 'orders', CHECKS_FILE: valid, SKEW_THRESHOLD: '5', DRAIN_GRACE: '1m' },
      lines: [
        'invalid configuration: SKEW_THRESHOLD="5": expected unset when CHECKS_FILE is set (the file defines every check)',
        'invalid configuration: DRAIN_GRACE="1m": expected unset when CHECKS_FILE is set (the file defines every check)',
      ],
    },
  ];

  await Promise.all(
    cases.map(async ({ what, env, lines }) => {
      const port = await freePort();
      const probe = startProbe([], { ...base, ...env, PORT: String(port) });
      t.after(() => probe.kill());
      const timer = setTimeout(() => probe.kill(), 10_000);
      const code = await probe.exited;
      clearTimeout(timer);
      assert.equal(code, 2, `${what}: exit code; stderr:\n${probe.stderr()}`);
      const stderr = probe
        .stderr()
        .split('\n')
        .filter((line) => line !== '');
      if (lines.length === 1 && lines[0]!.endsWith('(')) {
        assert.equal(stderr.length, 1, `${what}:\n${probe.stderr()}`);
        assert.ok(stderr[0]!.startsWith(lines[0]!), `${what}:\n${probe.stderr()}`);
      } else {
        // Every problem, one line each, all in one run (order within a check is the parser's).
        assert.deepEqual([...stderr].sort(), [...lines].sort(), `${what}:\n${probe.stderr()}`);
      }
      // Nothing listened: no log line at all, and the port refuses connections.
      assert.equal(probe.stdout(), '', `${what}: stdout`);
      await assert.rejects(httpRequest(port, '/health'), /ECONNREFUSED/);
    }),
  );
});

test('SIGHUP reloads the checks file: new checks at once; a broken file keeps the old ones and says why', async (t) => {
  const real = await stack(t);
  if (real === undefined) return;
  const { exporter, prometheus } = real;
  const group = 'reloaded';
  const dir = tempDir(t);
  const file = join(dir, 'checks.json');
  const members = (threshold: number) => ({
    name: 'members',
    query: 'kafka_consumergroup_members{consumergroup="{group}"}',
    comparison: '>=',
    threshold,
    message: 'Too few consumers: {value} < {threshold}',
  });
  const lag = { name: 'max_lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 100 };
  writeChecks(file, [members(2)]); // file A
  balanced(exporter, group, 3);
  await recorded(prometheus, [group]);
  // A long interval: an evaluation right after SIGHUP is the reload's, not the timer's.
  const { probe, port } = await launch(t, {
    PROMETHEUS_URL: prometheus.url,
    KAFKA_GROUP: group,
    CHECKS_FILE: file,
    CHECK_INTERVAL: '20s',
    QUERY_TIMEOUT: '2s',
    STALE_AFTER: '60s',
  });
  await until(port, '/ready', '200', (a) => (a.status === 200 ? true : undefined));
  const before = json<StatusBody>(await httpRequest(port, '/status'));
  assert.equal(before.reload, null);
  assert.deepEqual(Object.keys(before.checks), ['members']);
  assert.equal(before.evaluation.count, 1);

  // File B: a higher threshold and an added check.
  writeChecks(file, [members(5), lag]);
  const hupAt = Date.now();
  probe.child.kill('SIGHUP');
  const reloaded = await nthLog(probe, 'reloaded', 1);
  assert.deepEqual(reloaded.checks, [
    { id: 'members', query: 'kafka_consumergroup_members{consumergroup="reloaded"}' },
    { id: 'max_lag', query: 'kafka:group_max_lag{consumergroup="reloaded"}' },
  ]);
  const afterB = await until(
    port,
    '/status',
    'the new checks evaluated',
    (a) => {
      const body = json<StatusBody>(a);
      return body.evaluation.count === 2 && body.checks.max_lag?.state === 'pass' ? body : undefined;
    },
    5_000,
  );
  assert.ok(Date.now() - hupAt < 5_000, 'evaluated at once, not at the next 20 s tick');
  assert.equal(afterB.reload?.ok, true);
  assert.equal(afterB.reload?.error, null);
  assert.ok(Math.abs(Date.parse(afterB.reload!.at) - hupAt) < 5_000, afterB.reload!.at);
  assert.equal(afterB.checks.members!.threshold, 5);
  assert.equal(afterB.checks.members!.state, 'fail');
  assert.equal(afterB.checks.max_lag!.value, 10);
  const readyB = await httpRequest(port, '/ready');
  assert.equal(readyB.status, 500);
  assert.equal(json<ReadyBody>(readyB).message, 'Too few consumers: 3 < 5');
  assert.equal((await httpRequest(port, '/ready/max_lag')).status, 200, 'the added check answers on its own path');
  assert.ok(alive(probe), 'SIGHUP did not end the process');

  // A broken file: refused, the old checks stay, the log and /status say why.
  writeChecks(file, [{ ...members(5), threshold: 'five' }, lag]);
  probe.child.kill('SIGHUP');
  const failed = await nthLog(probe, 'reload_failed', 1);
  const why = `CHECKS_FILE=${JSON.stringify(file)}: expected check "members": field "threshold": a finite number`;
  assert.equal(failed.error, why);
  assert.equal(failed.level, 'error');
  const afterBroken = await until(port, '/status', 'reload.ok false', (a) => (json<StatusBody>(a).reload?.ok === false ? json<StatusBody>(a) : undefined), 5_000);
  assert.equal(afterBroken.reload!.error, why);
  assert.deepEqual(Object.keys(afterBroken.checks), ['members', 'max_lag']);
  assert.equal(afterBroken.checks.members!.threshold, 5);
  assert.equal(afterBroken.checks.members!.state, 'fail');
  const readyBroken = await httpRequest(port, '/ready');
  assert.equal(readyBroken.status, 500);
  assert.equal(json<ReadyBody>(readyBroken).message, 'Too few consumers: 3 < 5');
  assert.equal((await httpRequest(port, '/health')).status, 200);
  assert.match((await httpRequest(port, '/metrics')).body, /^crm_events_health_config_last_reload_successful 0$/m, 'alertable, not only logged');
  assert.ok(alive(probe), 'the process is still up after a failed reload');
  assert.equal(probe.logs().filter((line) => line.event === 'reloaded').length, 1, 'no second reloaded line for the broken file');

  // Back to file A: the added check goes, /ready passes again.
  writeChecks(file, [members(2)]);
  probe.child.kill('SIGHUP');
  await nthLog(probe, 'reloaded', 2);
  const afterA = await until(
    port,
    '/status',
    'file A again',
    (a) => {
      const body = json<StatusBody>(a);
      return body.reload?.ok === true && body.checks.members?.state === 'pass' ? body : undefined;
    },
    5_000,
  );
  assert.deepEqual(Object.keys(afterA.checks), ['members']);
  assert.equal(afterA.reload!.error, null);
  assert.equal((await httpRequest(port, '/ready')).status, 200);
  assert.equal((await httpRequest(port, '/ready/max_lag')).status, 404, 'the removed check is unknown now');
  assert.ok(alive(probe), 'alive after three SIGHUPs');
  assert.equal(probe.stderr(), '');
});

/** Between the probe and the real Prometheus: the shared fake, holding every request `delayMs` before passing it on. */
async function slowProxy(t: TestContext, target: string, delayMs: number) {
  const counts = { arrived: 0, cancelled: 0 };
  const proxy = await startFakePrometheus((_query, req, res, body) => {
    counts.arrived += 1;
    let gone = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        gone = true;
        counts.cancelled += 1;
      }
    });
    setTimeout(() => {
      if (gone) return;
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method,
        headers: { 'content-type': String(req.headers['content-type'] ?? 'application/x-www-form-urlencoded') },
        body: req.method === 'POST' ? body : undefined,
        signal: AbortSignal.timeout(5_000),
      })
        .then(async (answer) => {
          const answerBody = Buffer.from(await answer.arrayBuffer());
          if (!gone) res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(answerBody);
        })
        .catch(() => res.destroy());
    }, delayMs);
  });
  t.after(() => proxy.close());
  return { url: proxy.url, counts };
}

test('SIGHUP while a query is in flight: the old checks answer until the new ones are evaluated; the cancelled query is no Prometheus error', async (t) => {
  const real = await stack(t);
  if (real === undefined) return;
  const { exporter, prometheus } = real;
  const group = 'interrupted';
  const dir = tempDir(t);
  const file = join(dir, 'checks.json');
  const members = (threshold: number) => ({ name: 'members', query: 'kafka_consumergroup_members{consumergroup="{group}"}', comparison: '>=', threshold });
  writeChecks(file, [members(2)]);
  balanced(exporter, group, 3);
  await recorded(prometheus, [group]);
  // Slow but well inside the deadline: every query takes 700 ms, QUERY_TIMEOUT is 1.2 s.
  const proxy = await slowProxy(t, prometheus.url, 700);
  const { probe, port } = await launch(t, {
    PROMETHEUS_URL: proxy.url,
    KAFKA_GROUP: group,
    CHECKS_FILE: file,
    CHECK_INTERVAL: '1500ms',
    QUERY_TIMEOUT: '1200ms',
    STALE_AFTER: '10s',
  });
  await until(port, '/ready', '200', (a) => (a.status === 200 ? true : undefined));

  // The next tick's query has reached the proxy: reload now, while it is held.
  const arrived = proxy.counts.arrived;
  await waitFor('a query in flight', async () => (proxy.counts.arrived > arrived ? true : undefined), { timeoutMs: 5_000, intervalMs: 5 });
  writeChecks(file, [members(3), { name: 'max_lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 100 }]);
  probe.child.kill('SIGHUP');
  await nthLog(probe, 'reloaded', 1);

  // While the reload's evaluation is held by the proxy, nothing may vouch for a check that was never evaluated,
  // nor judge the new threshold by the old answer: the old checks answer until the new ones have been evaluated.
  const early = await httpRequest(port, '/ready/max_lag');
  const earlyStatus = json<StatusBody>(await httpRequest(port, '/status'));
  const evaluatedSinceReload = (check: StatusCheck | undefined): boolean =>
    check?.observed_at != null && earlyStatus.reload !== null && Date.parse(check.observed_at) >= Date.parse(earlyStatus.reload.at);
  if (early.status === 200) assert.deepEqual(json<ReadyBody>(early).checks, { max_lag: 'pass' }, early.body);
  else assert.deepEqual([early.status, json<{ error: string }>(early).error], [404, 'unknown_check'], early.body);
  if (earlyStatus.checks.members!.threshold === 3) assert.ok(evaluatedSinceReload(earlyStatus.checks.members), JSON.stringify(earlyStatus.checks));
  else assert.deepEqual(Object.keys(earlyStatus.checks), ['members'], 'the old checks, whole');
  // Until the reload's own evaluation is published, /status pairs the new definition with the old judgement.
  await until(
    port,
    '/status',
    'the reloaded check evaluated',
    (a) => {
      const body = json<StatusBody>(a);
      const observed = body.checks.members?.observed_at;
      return body.reload !== null && observed != null && Date.parse(observed) >= Date.parse(body.reload.at) ? true : undefined;
    },
    5_000,
  );
  assert.ok(proxy.counts.cancelled >= 1, `the reload cancelled the query in flight (${JSON.stringify(proxy.counts)})`);

  const metrics = (await httpRequest(port, '/metrics')).body;
  const timeouts = /^crm_events_health_check_errors_total\{consumergroup="interrupted",check="members",code="PROM_TIMEOUT"\} (\d+)$/m.exec(metrics);
  assert.equal(timeouts?.[1], '0', 'a query we cancelled says nothing about Prometheus');
  assert.deepEqual(
    probe.logs().filter((line) => line.event === 'prometheus_error'),
    [],
  );
  const status = json<{ prometheus: { reachable: boolean; last_error: unknown; consecutive_errors: number } }>(await httpRequest(port, '/status'));
  assert.equal(status.prometheus.reachable, true);
  assert.equal(status.prometheus.last_error, null);
  assert.equal(status.prometheus.consecutive_errors, 0);
});
