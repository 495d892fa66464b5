// The seed's drill and the faults that apply to a real backend, against the second one: Debian's VictoriaMetrics
// 1.79 (single node, the Prometheus query API at /api/v1/query) scraping the kafka_exporter stand-in, with vmalert
// evaluating the shipped rules file and writing the recorded series back, and the compiled probe (node
// dist/main.js) asking VictoriaMetrics as its PROMETHEUS_URL. Everything on 127.0.0.1 (test/helpers/victoria.ts).
//
// One stack for the whole file, every group prepared before VictoriaMetrics starts: in 1.79 a new series is found
// by queries only ~10 s after its first sample (measured here: the raw series ~9-10 s, the series vmalert records
// from it ~10 s later), so each new group costs ~20 s before the probe sees it. The tests run in file order, and
// the one that stops VictoriaMetrics runs last.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { getJson, httpRequest } from '../helpers/http.js';
import { launchProbe, readyBecomes } from '../helpers/process.js';
import type { FakeExporter } from '../helpers/real-prometheus.js';
import { balanced, TOPIC } from '../helpers/stack.js';
import { requireVictoria, startVictoriaStack, type VictoriaStack } from '../helpers/victoria.js';
import { waitFor } from '../helpers/wait.js';

const DRILL = 'crm-events-sse';
const STALL = 'vm-stall';
const BAD_QUERY = 'vm-bad-query';
const FAULTS = 'vm-faults';
/** The first verdict waits for the new-series delay twice (the raw series, then the recorded one): ~20 s measured. */
const FIRST_VERDICT_MS = 60_000;
/** After that, a change reaches the probe within a scrape, an evaluation, a remote-write flush and the latency offset. */
const CHANGE_MS = 20_000;

interface Producing {
  stall(partition: number): void;
  resume(): void;
  stop(): void;
}

/** A group whose producers write 5 per partition every 500 ms, committed 4 behind, as verdicts.test.ts does it. */
function producing(exporter: FakeExporter, group: string, topic: string, partitions: number): Producing {
  const stalled = new Set<number>();
  const end = Array.from({ length: partitions }, () => 10_000);
  const committed = end.map((offset) => offset - 4);
  const publish = (): void => {
    for (let partition = 0; partition < partitions; partition += 1) exporter.setOffsets(group, topic, partition, committed[partition]!, end[partition]!);
  };
  publish();
  let ticks = 0;
  const timer = setInterval(() => {
    // Bounded: five minutes of writes at most, whatever happens to the file.
    ticks += 1;
    if (ticks > 600) return clearInterval(timer);
    for (let partition = 0; partition < partitions; partition += 1) {
      end[partition]! += 5;
      if (!stalled.has(partition)) committed[partition] = end[partition]! - 4;
    }
    publish();
  }, 500);
  return {
    stall: (partition) => stalled.add(partition),
    resume: () => stalled.clear(),
    stop: () => clearInterval(timer),
  };
}

let shared: Promise<{ stack: VictoriaStack; stall: Producing }> | undefined;
after(async () => {
  const started = await shared?.catch(() => undefined);
  started?.stall.stop();
  await started?.stack.close();
});

/** The file's stack, started by the first test that asks; undefined after skipping (a failure under CI=true). */
async function victoria(t: TestContext): Promise<{ stack: VictoriaStack; stall: Producing } | undefined> {
  if (requireVictoria(t) === undefined) return undefined;
  shared ??= (async () => {
    let stall: Producing | undefined;
    const stack = await startVictoriaStack(undefined, (exporter) => {
      balanced(exporter, DRILL);
      balanced(exporter, BAD_QUERY);
      balanced(exporter, FAULTS);
      exporter.setMembers(STALL, 3);
      stall = producing(exporter, STALL, 'vm.stall.topic', 4);
    });
    return { stack, stall: stall! };
  })();
  return shared;
}

interface StatusCheck {
  name: string;
  state: string;
  value: number | null;
  stale: boolean;
  observed_at: string | null;
  labels: Record<string, string>;
  message: string | null;
  last_error: { code: string; message: string } | null;
}

interface StatusDoc {
  verdict: string;
  message: string;
  checks: Record<string, StatusCheck>;
  prometheus: { reachable: boolean | null; last_error: { code: string; message: string } | null; consecutive_errors: number };
  evaluation: { last_at: string | null; count: number };
}

test('VictoriaMetrics: vmalert evaluates every rule of the shipped file without an error', async (t) => {
  const started = await victoria(t);
  if (started === undefined) return;
  const { victoria: vm } = started.stack;
  // vmalert's /api/v1/rules (1.79): data.groups[].rules[] with lastError "" once a rule has evaluated cleanly.
  const groups = await waitFor(
    'every rule of the three groups evaluated',
    async (seen) => {
      const answer = (await (await fetch(`${vm.vmalertUrl}/api/v1/rules`, { signal: AbortSignal.timeout(2_000) })).json()) as {
        data: { groups: { name: string; rules: { name: string; lastError: string; lastEvaluation?: string }[] }[] };
      };
      seen(JSON.stringify(answer).slice(0, 2_000));
      const evaluated = answer.data.groups.every((group) => group.rules.every((rule) => rule.lastEvaluation !== undefined && !rule.lastEvaluation.startsWith('0001')));
      return answer.data.groups.length === 3 && evaluated ? answer.data.groups : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  );
  const errors = groups.flatMap((group) => group.rules.filter((rule) => rule.lastError !== '').map((rule) => `${group.name}/${rule.name}: ${rule.lastError}`));
  assert.deepEqual(errors, [], vm.logs());
  // vmalert lists the groups sorted by name, not in file order.
  assert.deepEqual(groups.map((group) => group.name).sort(), ['crm-events-health-probe-alerts', 'kafka-consumergroup-alerts', 'kafka-consumergroup-recording']);
});

test('VictoriaMetrics drill: a hot key turns /ready 500, the drain 200; likewise for the consumer count', async (t) => {
  const started = await victoria(t);
  if (started === undefined) return;
  const { exporter, victoria: vm } = started.stack;
  const { port } = await launchProbe(t, { PROMETHEUS_URL: vm.url, KAFKA_GROUP: DRILL });
  await readyBecomes(port, 200, /^System healthy$/, FIRST_VERDICT_MS);

  // A hot key: max/avg = 400 / ((400 + 7 * 10) / 8) = 6.8085...
  exporter.setLag(DRILL, TOPIC, 0, 400);
  const hot = await readyBecomes(port, 500, /^Hot-key skew high: 6\.81x \(topic=aetherlink\.events\)$/, CHANGE_MS);
  assert.equal(hot.healthy, false);
  const status = await getJson<StatusDoc>(port, '/status');
  assert.equal(status.json.checks.skew_ratio!.state, 'fail');
  // VictoriaMetrics stores 12 significant decimal digits: 6.8085106383 where Prometheus keeps 6.808510638297872.
  assert.ok(Math.abs(status.json.checks.skew_ratio!.value! - 400 / (470 / 8)) < 1e-9, String(status.json.checks.skew_ratio!.value));
  assert.deepEqual(status.json.checks.skew_ratio!.labels, { __name__: 'kafka:group_skew_ratio', consumergroup: DRILL, topic: TOPIC });
  const metrics = (await httpRequest(port, '/metrics')).body;
  assert.match(metrics, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m);
  assert.match(metrics, /^crm_events_health_skew_ratio\{consumergroup="crm-events-sse"\} 6\.80851/m);

  // The lag drains.
  exporter.setLag(DRILL, TOPIC, 0, 10);
  await readyBecomes(port, 200, /^System healthy$/, CHANGE_MS);

  // A consumer crash leaves one member; it comes back.
  exporter.setMembers(DRILL, 1);
  await readyBecomes(port, 500, /^Too few consumers: 1 < 2$/, CHANGE_MS);
  exporter.setMembers(DRILL, 3);
  await readyBecomes(port, 200, /^System healthy$/, CHANGE_MS);
});

test('VictoriaMetrics, the default skew floor and a stall check: a stuck partition fails once STALL_AFTER has passed', async (t) => {
  const started = await victoria(t);
  if (started === undefined) return;
  const { victoria: vm } = started.stack;
  // SKEW_MIN_LAG left at its default (100); the stall check on, with the shortest window it accepts.
  const { port } = await launchProbe(t, { PROMETHEUS_URL: vm.url, KAFKA_GROUP: STALL, STALL_AFTER: '10s', SKEW_MIN_LAG: '100' });
  const healthy = await readyBecomes(port, 200, /^System healthy$/, FIRST_VERDICT_MS);
  assert.equal(healthy.checks?.stalled_partitions, 'pass');

  const stalledAt = Date.now();
  started.stall.stall(2);
  // The skew it builds (one partition's lag growing by 10/s) stays under the floor for ~10 s: the stall is the cause.
  const failed = await readyBecomes(port, 500, /^Stalled: 1 partition not committing for 10s \(vm\.stall\.topic\/2\)/, 40_000);
  assert.ok(Date.now() - stalledAt >= 9_000, `failed after ${Date.now() - stalledAt} ms: only once the window has passed`);
  assert.equal(failed.checks?.stalled_partitions, 'fail');
  assert.equal(failed.checks?.consumer_count, 'pass');

  started.stall.resume();
  await readyBecomes(port, 200, /^System healthy$/, 30_000);
});

test('VictoriaMetrics rejects a query: PROM_API_ERROR with its own envelope (HTTP 422, errorType "422")', async (t) => {
  const started = await victoria(t);
  if (started === undefined) return;
  const { victoria: vm } = started.stack;
  const broken = `sum(kafka:group_consumer_count{consumergroup="${BAD_QUERY}"}`;

  // What 1.79 answers, as curl would see it: 422, not Prometheus' 400 bad_data.
  const direct = await fetch(`${vm.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: broken }).toString(),
    signal: AbortSignal.timeout(5_000),
  });
  const envelope = (await direct.json()) as { status: string; errorType: string; error: string };
  assert.equal(direct.status, 422);
  assert.equal(envelope.status, 'error');
  assert.equal(envelope.errorType, '422');
  assert.match(envelope.error, /^error when executing query="sum\(kafka:group_consumer_count/);

  const dir = mkdtempSync(join(tmpdir(), 'victoria-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'checks.json');
  const checks = [
    { name: 'members', query: 'kafka:group_consumer_count{consumergroup="{group}"}', comparison: '>=', threshold: 2 },
    { name: 'broken', query: 'sum(kafka:group_consumer_count{consumergroup="{group}"}', comparison: '>=', threshold: 2 },
  ];
  writeFileSync(file, `${JSON.stringify({ checks }, null, 2)}\n`);
  const { port } = await launchProbe(t, { PROMETHEUS_URL: vm.url, KAFKA_GROUP: BAD_QUERY, CHECKS_FILE: file, STALE_AFTER: '2s' });

  const status = await waitFor(
    'the broken check unknown with PROM_API_ERROR, the other passing',
    async (seen) => {
      const doc = JSON.parse((await httpRequest(port, '/status')).body) as StatusDoc;
      seen(JSON.stringify(doc.checks));
      const byName = Object.values(doc.checks);
      const bad = byName.find((check) => check.name === 'broken');
      const good = byName.find((check) => check.name === 'members');
      return bad?.state === 'unknown' && good?.state === 'pass' ? { doc, bad } : undefined;
    },
    { timeoutMs: FIRST_VERDICT_MS, intervalMs: 250 },
  );
  assert.equal(status.bad.last_error?.code, 'PROM_API_ERROR');
  assert.match(status.bad.last_error?.message ?? '', /^Prometheus rejected the query \(HTTP 422, 422\): error when executing query="sum\(/);
  assert.equal(status.doc.prometheus.last_error?.code, 'PROM_API_ERROR');
  // ON_PROMETHEUS_ERROR=pass (the default) decides the unknown check: ready, saying why.
  const ready = await httpRequest(port, '/ready');
  assert.equal(ready.status, 200, ready.body);
  assert.match(JSON.parse(ready.body).message, /PROM_API_ERROR/);
});

test('VictoriaMetrics stopped: the verdict stands until STALE_AFTER, then unknown (ON_PROMETHEUS_ERROR decides); restarted: healthy', async (t) => {
  const started = await victoria(t);
  if (started === undefined) return;
  const { victoria: vm } = started.stack;
  const staleAfterMs = 5_000;
  const env = { PROMETHEUS_URL: vm.url, KAFKA_GROUP: FAULTS, STALE_AFTER: '5s' };
  const passing = await launchProbe(t, { ...env, ON_PROMETHEUS_ERROR: 'pass' });
  const failing = await launchProbe(t, { ...env, ON_PROMETHEUS_ERROR: 'fail' });
  await readyBecomes(passing.port, 200, /^System healthy$/, FIRST_VERDICT_MS);
  await readyBecomes(failing.port, 200, /^System healthy$/, FIRST_VERDICT_MS);

  const stoppedAt = performance.now();
  await vm.stop();
  // Watched (bounded) until both probes have turned unknown; meanwhile the last answer stands, never "fail".
  let stood = 0;
  const unknown = await waitFor(
    'both probes unknown',
    async (seen) => {
      const docs = await Promise.all([passing.port, failing.port].map(async (port) => JSON.parse((await httpRequest(port, '/status')).body) as StatusDoc));
      seen(JSON.stringify(docs.map((doc) => [doc.verdict, doc.message, doc.prometheus])));
      for (const doc of docs) {
        assert.notEqual(doc.verdict, 'fail', doc.message);
        if (doc.verdict === 'pass' && doc.prometheus.consecutive_errors > 0) {
          stood += 1;
          for (const check of Object.values(doc.checks)) {
            if (check.state === 'unknown') continue;
            assert.equal(check.stale, true, JSON.stringify(check));
            assert.ok(performance.now() - stoppedAt < staleAfterMs + 3_000, `a check still standing long after STALE_AFTER: ${JSON.stringify(check)}`);
          }
        }
      }
      return docs.every((doc) => doc.verdict === 'unknown') ? docs : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  const unknownAfterMs = performance.now() - stoppedAt;
  t.diagnostic(`unknown ${Math.round(unknownAfterMs)} ms after VictoriaMetrics was stopped; the last answer stood in ${stood} observations`);
  assert.ok(stood > 0, 'the last answer stood while it was fresh');
  assert.ok(unknownAfterMs >= staleAfterMs - 1_000, `unknown only ${Math.round(unknownAfterMs)} ms after the stop`);
  for (const doc of unknown) {
    assert.equal(doc.prometheus.last_error?.code, 'PROM_NETWORK', JSON.stringify(doc.prometheus));
    assert.equal(doc.prometheus.reachable, false);
  }
  const pass = await httpRequest(passing.port, '/ready');
  assert.equal(pass.status, 200, pass.body);
  assert.match(JSON.parse(pass.body).message, /unknown: Prometheus could not be asked \(PROM_NETWORK: .*; ON_PROMETHEUS_ERROR=pass/);
  const fail = await httpRequest(failing.port, '/ready');
  assert.equal(fail.status, 500, fail.body);
  assert.match(JSON.parse(fail.body).message, /unknown: Prometheus could not be asked \(PROM_NETWORK: .*; ON_PROMETHEUS_ERROR=fail/);

  // Started again on the same port and data: both recover, the index and the recorded series intact.
  const restartAt = performance.now();
  await vm.start();
  await readyBecomes(passing.port, 200, /^System healthy$/, 30_000);
  await readyBecomes(failing.port, 200, /^System healthy$/, 30_000);
  t.diagnostic(`healthy again ${Math.round(performance.now() - restartAt)} ms after the restart began`);
});
