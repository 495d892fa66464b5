// `node dist/main.js check`: one evaluation and an exit code, against the real Prometheus and against a fault.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/cli/check.js';
import { loadConfig } from '../../src/config/load.js';
import type { QueryResult } from '../../src/core/envelope.js';
import { startFakePrometheus } from '../helpers/fake-prometheus.js';
import { neverAnswer } from '../helpers/faults.js';
import { startProbe } from '../helpers/process.js';
import { instantVector, requireBinary } from '../helpers/real-prometheus.js';
import { startStack } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/wait.js';

const GROUP = 'crm-events-sse';

async function check(env: Record<string, string>, json = false) {
  const probe = startProbe(json ? ['check', '--json'] : ['check'], env);
  const code = await probe.exited;
  return { code, stdout: probe.stdout(), stderr: probe.stderr(), logs: probe.logs() };
}

test('check against the real Prometheus: 0 healthy, 1 hot key, 1 too few consumers', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  // A topic of its own name, "events": the message below names it.
  const { exporter, prometheus } = await startStack(t, (fresh) => {
    for (let partition = 0; partition < 8; partition += 1) fresh.setLag(GROUP, 'events', partition, 10);
    fresh.setMembers(GROUP, 3);
  });
  const env = { PROMETHEUS_URL: prometheus.url };
  const recorded = (promql: string, value: number) =>
    waitFor(`${promql} = ${value}`, async () => ((await instantVector(prometheus.url, promql))[0]?.value === value ? true : undefined), { timeoutMs: 20_000 });

  await recorded(`kafka:group_consumer_count{consumergroup="${GROUP}"}`, 3);
  await recorded(`kafka:group_skew_ratio{consumergroup="${GROUP}"}`, 1);
  const healthy = await check(env);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
  assert.equal(healthy.stdout, 'System healthy\n');
  assert.deepEqual(healthy.logs, [], 'one line, no server logs: nothing was started');

  exporter.setLag(GROUP, 'events', 0, 400);
  await recorded(`kafka:group_skew_ratio{consumergroup="${GROUP}"}`, (400 * 8) / 470);
  const hot = await check(env);
  assert.equal(hot.code, 1);
  assert.equal(hot.stdout, 'Hot-key skew high: 6.81x (topic=events)\n');

  exporter.setMembers(GROUP, 1);
  await recorded(`kafka:group_consumer_count{consumergroup="${GROUP}"}`, 1);
  const json = await check(env, true);
  assert.equal(json.code, 1);
  const status = JSON.parse(json.stdout) as { healthy: boolean; checks: Record<string, { state: string; value: number }> };
  assert.equal(status.healthy, false);
  assert.deepEqual([status.checks.skew_ratio!.state, status.checks.consumer_count!.state, status.checks.consumer_count!.value], ['fail', 'fail', 1]);
});

test('check exits 3 when Prometheus cannot be asked, whatever ON_PROMETHEUS_ERROR says, after QUERY_TIMEOUT', async (t) => {
  // Accepts connections and never answers.
  const silent = await startFakePrometheus(neverAnswer);
  t.after(() => silent.close());
  const url = silent.url;
  for (const policy of ['pass', 'fail']) {
    const started = Date.now();
    const result = await check({ PROMETHEUS_URL: url, QUERY_TIMEOUT: '500ms', ON_PROMETHEUS_ERROR: policy });
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stdout, /^Prometheus could not be asked \(PROM_TIMEOUT: .*500 ms\)\n$/);
    assert.ok(Date.now() - started < 5_000);
  }
  const refused = await check({ PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` });
  assert.equal(refused.code, 3);
  assert.match(refused.stdout, /PROM_NETWORK/);
});

test('check exits 2 on bad configuration, naming the variable', async () => {
  const result = await check({ SKEW_THRESHOLD: 'high' });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^invalid configuration: SKEW_THRESHOLD="high"/m);
  const usage = startProbe(['check', '--yaml'], {});
  assert.equal(await usage.exited, 2);
  assert.match(usage.stderr(), /unknown option "--yaml"/);
});

test('check judges a breach as it stands: a `for` cannot elapse in one evaluation', async () => {
  const file = '{"checks":[{"name":"lag","query":"lag{consumergroup=\\"{group}\\"}","comparison":"<","threshold":100,"for":"5m"}]}';
  const config = loadConfig({ CHECKS_FILE: '/checks.json' }, { readFile: () => file });
  const client = { query: async (): Promise<QueryResult> => ({ resultType: 'vector', samples: [{ value: 500, labels: {} }], warnings: [] }) };
  const run = await runCheck(config, client, { json: false });
  assert.deepEqual(run, { exitCode: 1, output: 'lag is 500, not < 100' });
});
