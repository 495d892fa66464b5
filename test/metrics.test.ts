import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import type { QueryResult } from '../src/core/envelope.js';
import { PrometheusError } from '../src/core/errors.js';
import { escapeLabelValue, exposition } from '../src/core/exposition.js';
import type { ProbeView } from '../src/core/readiness.js';
import { configuredChecks } from '../src/core/settings.js';
import type { Snapshot } from '../src/core/snapshot.js';
import { createMonitor } from '../src/monitor.js';
import { fakeClock } from './helpers/clock.js';
import { requireBinary } from './helpers/real-prometheus.js';

type Answer = (promql: string) => Promise<QueryResult>;

async function viewAfter(answers: Answer[], env = {}): Promise<ProbeView> {
  const config = loadConfig(env);
  const checks = configuredChecks(config);
  const clock = fakeClock();
  let answer = answers[0]!;
  const monitor = createMonitor({
    checks,
    client: { query: (promql) => answer(promql) },
    intervalMs: 10_000,
    staleAfterMs: 60_000,
    onPrometheusError: 'pass',
    clock,
  });
  let snapshot: Snapshot | null = null;
  for (answer of answers) snapshot = await monitor.evaluate();
  return { phase: 'running', snapshot, config, checks, version: '1.2.3', nodeVersion: process.versions.node, startedAtMs: clock.now() - 5_000 };
}

const healthy = (promql: string): Promise<QueryResult> =>
  Promise.resolve({ resultType: 'vector', samples: [{ value: promql.includes('skew') ? 1.25 : 3, labels: {} }], warnings: [] });
const refused = (): Promise<QueryResult> => Promise.reject(new PrometheusError('PROM_NETWORK', 'refused'));
const empty = (): Promise<QueryResult> => Promise.resolve({ resultType: 'vector', samples: [], warnings: [] });

test('the seed\'s metrics, labelled with the group, and errors counted by code from zero', async () => {
  const text = exposition(await viewAfter([healthy, refused, refused], { KAFKA_GROUP: 'g"1' }));
  const group = 'consumergroup="g\\\\"1"'; // the text format's escaped quote, escaped again for RegExp
  assert.match(text, new RegExp(`^crm_events_health_status\\{${group}\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_skew_ratio\\{${group}\\} 1.25$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_consumer_count\\{${group}\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_errors_total\\{${group},check="skew_ratio",code="PROM_NETWORK"\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_errors_total\\{${group},check="skew_ratio",code="PROM_TIMEOUT"\\} 0$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_stale\\{${group},check="skew_ratio"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_query_duration_seconds_count\\{${group},check="consumer_count"\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_evaluations_total\\{${group}\\} 3$`, 'm'));
  assert.match(text, /^crm_events_health_last_success_timestamp_seconds\{.*\} \d+(\.\d+)?$/m);
  assert.match(text, /^crm_events_health_build_info\{version="1.2.3",nodejs="[\d.]+"\} 1$/m);
});

test('values Prometheus did not give are left out, not invented', async () => {
  const text = exposition(await viewAfter([empty]));
  assert.doesNotMatch(text, /^crm_events_health_skew_ratio\{/m);
  assert.doesNotMatch(text, /^crm_events_health_consumer_count\{/m);
  assert.match(text, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m, 'no consumers reported fails');
  assert.match(text, /^crm_events_health_check_state\{consumergroup="crm-events-sse",check="consumer_count",state="no_data"\} 1$/m);
});

test('label values are escaped as the text format requires', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

test('promtool check metrics accepts the exposition, but for the seed\'s consumer_count name', async (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  // The field notes: promtool lints any gauge ending in _count; the seed's name is the contract. It lints
  // only families with samples, so with no consumer data there is nothing to say.
  const seedName = 'crm_events_health_consumer_count non-histogram and non-summary metrics should not have "_count" suffix';
  const cases: [Answer[], string[]][] = [
    [[healthy], [seedName]],
    [[healthy, refused], [seedName]],
    [[empty], []],
  ];
  for (const [answers, expected] of cases) {
    const text = exposition(await viewAfter(answers));
    const result: SpawnSyncReturns<string> = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings: string[] = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean);
    assert.deepEqual(findings, expected, text);
    assert.equal(result.status, expected.length === 0 ? 0 : 3, 'promtool exits 3 on lint findings only');
  }
});
