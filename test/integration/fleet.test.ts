// Fleet-safe readiness against the real Prometheus, with real processes: three probes named a, b and c, each
// scraped with its `pod` label (as a PodMonitor adds it), beside the kafka_exporter stand-in. A group-wide failure
// may make only FLEET_MAX_UNREADY of them unready; a monitoring fault (the exporter gone) makes none unready.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { httpRequest } from '../helpers/http.js';
import { FAST_TIMING, type Probe, startProbe } from '../helpers/process.js';
import { type FakeExporter, type RealPrometheus, requireBinary, startExporter, startPrometheus } from '../helpers/real-prometheus.js';
import { balanced, RULES, TOPIC } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/wait.js';

const NAMES = ['a', 'b', 'c'] as const;
/** Long enough that no rotation happens while a test samples, unless the test asks for one. */
const NO_ROTATION = '1h';

interface Replica {
  readonly name: string;
  readonly port: number;
  readonly probe: Probe;
}

interface Fleet {
  readonly exporter: FakeExporter;
  readonly prometheus: RealPrometheus;
  readonly replicas: readonly Replica[];
  readonly group: string;
}

interface ReadyAnswer {
  readonly name: string;
  readonly status: number;
  readonly body: { healthy: boolean; message: string; verdict: string; held_ready?: boolean };
}

interface StatusFleet {
  source: string;
  replicas: string[];
  own_unready: string[];
  unready_turn: string[];
  this_replica: string;
  note?: string;
}

/**
 * The exporter with a balanced group, Prometheus scraping it and the probes (each labelled with its pod name), and
 * the probes themselves. `scraped`: whether Prometheus scrapes the probes at all.
 */
async function startFleet(
  t: TestContext,
  env: Record<string, string>,
  options: { names?: readonly string[]; scraped?: boolean; envOf?: (name: string) => Record<string, string> } = {},
): Promise<Fleet | undefined> {
  if (requireBinary(t, 'prometheus') === undefined) return undefined;
  const names = options.names ?? NAMES;
  const group = `fleet-${Math.random().toString(36).slice(2, 8)}`;
  const exporter = await startExporter();
  t.after(() => exporter.close());
  balanced(exporter, group);
  const ports = await Promise.all(names.map(() => freePort()));
  const prometheus = await startPrometheus({
    scrapeTargets: [exporter.target],
    ruleFiles: [RULES],
    labelledTargets: options.scraped === false ? [] : names.map((name, index) => ({ target: `127.0.0.1:${ports[index]}`, labels: { pod: name } })),
  });
  t.after(() => prometheus.close());
  const replicas = names.map((name, index) => {
    const probe = startProbe([], {
      ...FAST_TIMING,
      PORT: String(ports[index]),
      PROMETHEUS_URL: prometheus.url,
      KAFKA_GROUP: group,
      POD_NAME: name,
      FLEET_ROTATE: NO_ROTATION,
      ...env,
      ...options.envOf?.(name),
    });
    t.after(() => probe.kill());
    return { name, port: ports[index]!, probe };
  });
  return { exporter, prometheus, replicas, group };
}

async function readyOf(replica: { name: string; port: number }, path = '/ready'): Promise<ReadyAnswer> {
  const answer = await httpRequest(replica.port, path);
  return { name: replica.name, status: answer.status, body: JSON.parse(answer.body) as ReadyAnswer['body'] };
}

async function fleetOf(replica: Replica): Promise<StatusFleet> {
  const answer = await httpRequest(replica.port, '/status');
  return (JSON.parse(answer.body) as { fleet: StatusFleet }).fleet;
}

/** Waits until every replica answers /ready 200 and sees the whole fleet. */
async function allSeeTheFleet(fleet: Fleet): Promise<void> {
  await waitFor(
    'every replica ready and seeing all three',
    async (seen) => {
      const answers = await Promise.all(fleet.replicas.map((replica) => readyOf(replica)));
      const views = await Promise.all(fleet.replicas.map(fleetOf));
      seen(JSON.stringify({ answers: answers.map((a) => a.status), views: views.map((v) => v.replicas) }));
      return answers.every((a) => a.status === 200) && views.every((v) => v.source === 'prometheus' && v.replicas.length === fleet.replicas.length) ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** Replicas' evaluations so far (from /status). */
async function evaluationsOf(replica: Replica): Promise<number> {
  return (JSON.parse((await httpRequest(replica.port, '/status')).body) as { evaluation: { count: number } }).evaluation.count;
}

/**
 * Runs `check` until every replica has evaluated `evaluations` more times, so that each had its chance to change
 * what `check` asserts (bounded: 40 rounds of 250 ms at most).
 */
async function throughEvaluations(fleet: Fleet, evaluations: number, check: (round: number) => Promise<void>): Promise<void> {
  const startCounts = await Promise.all(fleet.replicas.map(evaluationsOf));
  for (let round = 0; round < 40; round += 1) {
    await check(round);
    const counts = await Promise.all(fleet.replicas.map(evaluationsOf));
    if (counts.every((count, index) => count >= startCounts[index]! + evaluations)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`fewer than ${evaluations} evaluations per replica in 40 rounds`);
}

function hotKey(fleet: Fleet): void {
  fleet.exporter.setLag(fleet.group, TOPIC, 3, 5_000);
}

/** Who answers 500, sampled once. */
async function unreadyNow(fleet: Fleet): Promise<{ unready: string[]; answers: ReadyAnswer[] }> {
  const answers = await Promise.all(fleet.replicas.map((replica) => readyOf(replica)));
  return { unready: answers.filter((answer) => answer.status !== 200).map((answer) => answer.name), answers };
}

test('a hot key: exactly one of three replicas answers 500, the other two are held ready and say so', async (t) => {
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '1' });
  if (fleet === undefined) return;
  await allSeeTheFleet(fleet);
  hotKey(fleet);

  const first = await waitFor(
    'one replica unready for the hot key',
    async (seen) => {
      const now = await unreadyNow(fleet);
      seen(JSON.stringify(now.answers.map((a) => [a.name, a.status, a.body.message])));
      const held = now.answers.filter((answer) => answer.status === 200 && answer.body.held_ready === true);
      return now.unready.length === 1 && held.length === 2 ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const [chosen] = first.unready;
  const unreadyAnswer = first.answers.find((answer) => answer.name === chosen)!;
  assert.match(unreadyAnswer.body.message, /^Hot-key skew high: .*\(unready: this replica's turn \(1 of 3 replicas may be unready for a group-wide failure\)\)$/);
  for (const answer of first.answers.filter((a) => a.name !== chosen)) {
    assert.equal(answer.body.healthy, false, 'held, but not healthy: the verdict still says what the checks found');
    assert.equal(answer.body.verdict, 'fail');
    assert.match(
      answer.body.message,
      new RegExp(`^held ready: 1 of 3 replicas may be unready for a group-wide failure; unready now: ${chosen}; the verdict: Hot-key skew high`),
    );
  }

  // Sampled every 200 ms for 20 s: never more than one 500, and the same one throughout (no rotation in an hour).
  const deadline = Date.now() + 20_000;
  let samples = 0;
  while (Date.now() < deadline && samples < 200) {
    const now = await unreadyNow(fleet);
    samples += 1;
    assert.ok(now.unready.length <= 1, `sample ${samples}: ${now.unready.join(', ')} unready`);
    assert.deepEqual(now.unready, [chosen], `sample ${samples}: the choice is stable`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(samples >= 50, `${samples} samples`);

  // /metrics and /status tell the same story.
  const heldReplica = fleet.replicas.find((replica) => replica.name !== chosen)!;
  const metrics = (await httpRequest(heldReplica.port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_held_ready 1$/m);
  assert.match(metrics, /^crm_events_health_ready 1$/m);
  assert.match(metrics, new RegExp(`^crm_events_health_status\\{consumergroup="${fleet.group}"\\} 0$`, 'm'), 'the would-be verdict');
  assert.match(metrics, /^crm_events_health_fleet_replicas 3$/m);
  const status = await fleetOf(heldReplica);
  assert.deepEqual([status.this_replica, status.unready_turn], ['held ready', [chosen]]);
  assert.ok(
    heldReplica.probe.logs().some((line) => line.event === 'held_ready'),
    'the log says so once',
  );

  // The hot key drains: everyone is ready again, and the held replicas log the end.
  balanced(fleet.exporter, fleet.group);
  await waitFor('all ready after the hot key', async () => ((await unreadyNow(fleet)).unready.length === 0 ? true : undefined), { timeoutMs: 20_000, intervalMs: 200 });
  await heldReplica.probe.waitForLog('held_ready_ended', 5_000);
});

test('FLEET_MAX_UNREADY=100% restores the old behaviour: a hot key makes all three answer 500', async (t) => {
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '100%' });
  if (fleet === undefined) return;
  await waitFor('all ready', async () => ((await unreadyNow(fleet)).unready.length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
  hotKey(fleet);
  const all = await waitFor(
    'all three unready',
    async () => {
      const now = await unreadyNow(fleet);
      return now.unready.length === 3 ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  for (const answer of all.answers) assert.match(answer.body.message, /^Hot-key skew high: [\d.]+x \(topic=aetherlink\.events\)$/, 'the message as it always was');
});

test('the exporter stopped: all three stay ready, every /status says no data, and the log says it once', async (t) => {
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '1' });
  if (fleet === undefined) return;
  await allSeeTheFleet(fleet);
  // A probe started before the rules' first evaluation may have had a spell of no data already: count from here.
  const before = new Map(fleet.replicas.map((replica) => [replica.name, replica.probe.logs().length]));
  await fleet.exporter.close();

  await waitFor(
    'every replica reporting no data, and saying so on /ready',
    async (seen) => {
      const states = await Promise.all(
        fleet.replicas.map(async (replica) => {
          const status = JSON.parse((await httpRequest(replica.port, '/status')).body) as { message: string; checks: Record<string, { state: string }> };
          return { state: status.checks.consumer_count!.state, message: status.message };
        }),
      );
      seen(JSON.stringify(states));
      return states.every((check) => check.state === 'no_data' && /No consumer count/.test(check.message)) ? states : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  // Judged over at least four more evaluations of every replica (each had its chance to turn 500): all stay 200.
  // The message is checked at the end, not in every round: Prometheus itself can let a recorded series reappear for
  // one rule evaluation after its source went stale (seen once in a full run), which says nothing about the probe.
  await throughEvaluations(fleet, 4, async (round) => {
    const now = await unreadyNow(fleet);
    assert.deepEqual(now.unready, [], `round ${round}: ${JSON.stringify(now.answers.map((a) => [a.name, a.status, a.body.message]))}`);
  });
  await waitFor(
    'every replica saying why it is ready',
    async () => {
      const { answers } = await unreadyNow(fleet);
      return answers.every(
        (answer) => answer.status === 200 && /^System healthy \(.*No consumer count for group .* kafka_exporter down or not scraped/.test(answer.body.message),
      )
        ? true
        : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 250 },
  );
  for (const replica of fleet.replicas) {
    const lines = replica.probe
      .logs()
      .slice(before.get(replica.name))
      .filter((line) => line.event === 'no_data');
    assert.equal(lines.length, 1, `${replica.name}: one no_data line, not one per evaluation`);
  }
});

test('rotation: after FLEET_ROTATE a different replica is the unready one, never two at once', async (t) => {
  // 4 s turns (the shortest CHECK_INTERVAL=500ms allows is 2.5 s), watched for three turns.
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '1', FLEET_ROTATE: '4s' });
  if (fleet === undefined) return;
  await allSeeTheFleet(fleet);
  hotKey(fleet);
  await waitFor('one unready', async () => ((await unreadyNow(fleet)).unready.length === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });

  const turns: string[] = [];
  const deadline = Date.now() + 14_000;
  let samples = 0;
  while (Date.now() < deadline && samples < 300) {
    const { unready } = await unreadyNow(fleet);
    samples += 1;
    assert.ok(unready.length <= 1, `sample ${samples}: ${unready.join(', ')}`);
    if (unready.length === 1 && turns.at(-1) !== unready[0]) turns.push(unready[0]!);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(turns.length >= 3, `turns seen: ${turns.join(' -> ')}`);
  for (let i = 1; i < turns.length; i += 1) assert.notEqual(turns[i], turns[i - 1]);
});

test('a per-replica check ({pod}) fails only its own replica, whatever the limit, and counts against it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-checks-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const checksFile = join(dir, 'checks.json');
  // "this member is up", contrived so that only b's series is missing: b fails for itself.
  writeFileSync(
    checksFile,
    JSON.stringify({
      checks: [
        { name: 'skew_ratio', query: 'kafka:group_skew_ratio{consumergroup="{group}"}', comparison: '<=', threshold: 4, onNoData: 'pass' },
        { name: 'member_up', query: 'max(up{job="probes",pod="{pod}",pod!="b"})', comparison: '>=', threshold: 1, onNoData: 'fail', message: 'this member is not up' },
      ],
    }),
  );
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '1', CHECKS_FILE: checksFile });
  if (fleet === undefined) return;
  const own = await waitFor(
    'b unready for itself, a and c ready',
    async (seen) => {
      const now = await unreadyNow(fleet);
      seen(JSON.stringify(now.answers.map((a) => [a.name, a.status, a.body.message])));
      return now.unready.join() === 'b' ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  assert.match(own.answers.find((a) => a.name === 'b')!.body.message, /member_up: no data/);
  await waitFor(
    'a and c see b unready for its own reasons',
    async () => {
      const views = await Promise.all(fleet.replicas.filter((r) => r.name !== 'b').map(fleetOf));
      return views.every((view) => view.own_unready.join() === 'b') ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );

  // A hot key now: b already uses the one slot, so a and c are held ready.
  hotKey(fleet);
  await waitFor(
    'a and c held for the hot key',
    async () => {
      const now = await unreadyNow(fleet);
      const held = now.answers.filter((a) => a.body.held_ready === true).map((a) => a.name);
      return now.unready.join() === 'b' && held.join() === 'a,c' ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  // Over four more evaluations of each replica: b alone, a and c held.
  await throughEvaluations(fleet, 4, async (round) => assert.deepEqual((await unreadyNow(fleet)).unready, ['b'], `round ${round}`));
  // /status says which checks judge this replica alone.
  const bStatus = JSON.parse((await httpRequest(fleet.replicas[1]!.port, '/status')).body) as { checks: Record<string, { scope: string }> };
  assert.equal(bStatus.checks.member_up!.scope, 'replica');
  assert.equal(bStatus.checks.skew_ratio!.scope, 'group');
});

test('shared-probe mode: three callers naming themselves, one 500', async (t) => {
  // One probe for several containers (compose): Prometheus does not scrape it; the callers name themselves.
  const fleet = await startFleet(t, { FLEET_MAX_UNREADY: '1' }, { names: ['shared'], scraped: false });
  if (fleet === undefined) return;
  const [probe] = fleet.replicas;
  const callers = ['consumer-1', 'consumer-2', 'consumer-3'].map((name) => ({ name, port: probe!.port }));
  const ask = () => Promise.all(callers.map((caller) => readyOf(caller, `/ready?replica=${caller.name}`)));
  await waitFor('all callers ready', async () => ((await ask()).every((a) => a.status === 200) ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
  hotKey(fleet);
  const answers = await waitFor(
    'one caller unready',
    async (seen) => {
      const now = await ask();
      seen(JSON.stringify(now.map((a) => [a.name, a.status])));
      return now.filter((a) => a.status === 500).length === 1 && now.every((a) => a.status === 500 || a.body.held_ready === true) ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const chosen = answers.find((a) => a.status === 500)!.name;
  for (let round = 0; round < 10; round += 1) {
    const now = await ask();
    assert.deepEqual(
      now.filter((a) => a.status === 500).map((a) => a.name),
      [chosen],
      `round ${round}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // /status and /metrics say who the callers are (refreshed with each evaluation).
  await waitFor(
    'the callers in /status',
    async () => {
      const status = JSON.parse((await httpRequest(probe!.port, '/status')).body) as { fleet: StatusFleet & { callers: string[] } };
      return status.fleet.callers.join() === 'consumer-1,consumer-2,consumer-3' && /3 caller\(s\) named themselves/.test(status.fleet.note ?? '') ? true : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 200 },
  );
  assert.match((await httpRequest(probe!.port, '/metrics')).body, /^crm_events_health_fleet_seen 1$/m);
  // Plain /ready, without a name, is this probe's own answer: a fleet of one, unready.
  assert.equal((await readyOf({ name: 'shared', port: probe!.port })).status, 500);
  // A name that is no host name is refused, not counted.
  assert.equal((await httpRequest(probe!.port, '/ready?replica=%20bad%20name')).status, 400);
});

test('a single probe that never sees its fleet behaves exactly as before, and says so', async (t) => {
  const fleet = await startFleet(t, {}, { names: ['alone'], scraped: false });
  if (fleet === undefined) return;
  const [replica] = fleet.replicas;
  await waitFor('ready', async () => ((await readyOf(replica!)).status === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
  await replica!.probe.waitForLog('fleet_not_seen', 10_000);
  const view = await fleetOf(replica!);
  assert.equal(view.source, 'none');
  assert.match(view.note ?? '', /behaving as a fleet of one/);
  hotKey(fleet);
  const answer = await waitFor(
    '500 for the hot key',
    async () => {
      const now = await readyOf(replica!);
      return now.status === 500 ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.match(answer.body.message, /^Hot-key skew high: [\d.]+x \(topic=aetherlink\.events\)$/, 'the message as it always was');
  assert.equal(answer.body.held_ready, undefined);
});
