// The seed's drill against the real thing: Debian's Prometheus evaluating the shipped recording rules over an
// exporter with kafka_exporter's metric names, and the compiled probe (node dist/main.js) asking it.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { getJson, httpRequest } from '../helpers/http.js';
import { launchProbe, type Probe, readyBecomes } from '../helpers/process.js';
import { requireBinary } from '../helpers/real-prometheus.js';
import { balanced, startStack, TOPIC } from '../helpers/stack.js';

/** Exporter, real Prometheus and the compiled probe, all on loopback; everything is stopped after the test. */
async function stack(t: TestContext, group: string, env: Record<string, string> = {}, hotFromTheStart = false) {
  const { exporter, prometheus } = await startStack(t, (fresh) => {
    balanced(fresh, group);
    if (hotFromTheStart) fresh.setLag(group, TOPIC, 0, 400);
  });
  const launch = (): Promise<{ probe: Probe; port: number }> => launchProbe(t, { PROMETHEUS_URL: prometheus.url, KAFKA_GROUP: group, ...env });
  return { exporter, prometheus, launch };
}

test('drill: a hot key turns /ready 500, the drain turns it 200; likewise for the consumer count', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const group = 'crm-events-sse';
  const { exporter, launch } = await stack(t, group);
  const { port } = await launch();

  await readyBecomes(port, 200, /^System healthy$/);

  // A hot key: one partition's lag jumps. max/avg = 400 / ((400 + 7 * 10) / 8) = 6.8085...
  exporter.setLag(group, TOPIC, 0, 400);
  const hot = await readyBecomes(port, 500, /^Hot-key skew high: 6\.81x \(topic=aetherlink\.events\)$/);
  assert.equal(hot.healthy, false);
  const status = await getJson<{ checks: Record<string, { state: string; value: number; labels: Record<string, string> }> }>(port, '/status');
  assert.equal(status.json.checks.skew_ratio!.state, 'fail');
  assert.ok(Math.abs(status.json.checks.skew_ratio!.value - 400 / (470 / 8)) < 1e-9);
  assert.deepEqual(status.json.checks.skew_ratio!.labels, { __name__: 'kafka:group_skew_ratio', consumergroup: group, topic: TOPIC });
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m);
  assert.match(metrics, /^crm_events_health_skew_ratio\{consumergroup="crm-events-sse"\} 6\.80851/m);

  // The lag drains.
  exporter.setLag(group, TOPIC, 0, 10);
  await readyBecomes(port, 200, /^System healthy$/);

  // A consumer crash leaves one member.
  exporter.setMembers(group, 1);
  await readyBecomes(port, 500, /^Too few consumers: 1 < 2$/);
  exporter.setMembers(group, 3);
  await readyBecomes(port, 200, /^System healthy$/);
});

test('a group name with quotes, backslashes and a newline reaches Prometheus as data', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const group = 'we"ird\\group\nname';
  const { exporter, launch } = await stack(t, group);
  // A second group whose name the first's would match if it were pasted raw into a regex or a query.
  exporter.setMembers('other', 1);
  const { port } = await launch();
  await readyBecomes(port, 200, /^System healthy$/);
  exporter.setMembers(group, 1);
  await readyBecomes(port, 500, /^Too few consumers: 1 < 2$/);
});

test('SKEW_FOR: a breach must last the window, and a restarted probe does not restart the window', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const group = 'crm-events-sse';
  const { exporter, launch } = await stack(t, group, { SKEW_FOR: '4s' });
  const first = await launch();
  await readyBecomes(first.port, 200, /^System healthy$/);

  exporter.setLag(group, TOPIC, 0, 400);
  // The rule sees the hot key within a few seconds; the probe passes until the skew has lasted 4 s.
  const hotAt = Date.now();
  await readyBecomes(first.port, 500, /^Hot-key skew high: 6\.81x for 4s \(topic=aetherlink\.events\)$/);
  // The range (now-4s, now] holds the rule's samples one evaluation interval (1 s here) apart, so the breach is
  // judged sustained once it has lasted the window less at most one interval: never sooner.
  assert.ok(Date.now() - hotAt >= 3_000, `not before the window has passed (${Date.now() - hotAt} ms)`);

  // A new probe process judges from Prometheus' history: it fails at its first evaluation.
  first.probe.child.kill('SIGTERM');
  assert.equal(await first.probe.exited, 0);
  const second = await launch();
  await second.probe.waitForLog('verdict_changed');
  const verdict = second.probe.logs().find((line) => line.event === 'verdict_changed')!;
  assert.equal(verdict.to, 'fail', JSON.stringify(verdict));
});

test('SKEW_FOR: a series younger than the window is not yet a sustained breach', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const group = 'crm-events-sse';
  // The group is hot from its very first sample: min_over_time alone would fail at once.
  const { launch } = await stack(t, group, { SKEW_FOR: '6s' }, true);
  const { port, probe } = await launch();
  // Until the series is as old as the window, skew has no data: healthy, saying why.
  const healthy = await readyBecomes(port, 200, /^System healthy \(No skew data for group crm-events-sse \(kafka:group_skew_ratio has no series as old as SKEW_FOR 6s/);
  assert.equal(healthy.verdict, 'pass');
  const firstSeen = Date.now();
  await readyBecomes(port, 500, /^Hot-key skew high: 6\.81x for 6s \(topic=aetherlink\.events\)$/, 30_000);
  assert.ok(Date.now() - firstSeen >= 3_000, 'it failed only once the series was as old as the window');
  // Before the rules had recorded anything the consumer count had no data; skew never failed before the window.
  const messages = probe
    .logs()
    .filter((line) => line.event === 'verdict_changed')
    .map((line) => String(line.message));
  const firstHot = messages.findIndex((message) => message.startsWith('Hot-key'));
  assert.ok(firstHot > messages.findIndex((message) => message.startsWith('System healthy')), messages.join(' | '));
});
