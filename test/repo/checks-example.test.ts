// The README's per-replica example ("Per-replica checks: a consumer's own metrics") is a checks file the probe
// accepts, as written: its group-wide checks are the built-in ones (with SKEW_MIN_LAG=0, as it says), its member
// checks judge this replica alone, their metric names are the ones its sample exposition shows, and promtool
// evaluates the bound queries against series of that shape, picking this pod's and no other's. Users copy this
// block; if it drifts from the code, this fails.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { CheckTemplate } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { checksFor } from '../../src/core/settings.js';
import { requireBinary } from '../helpers/real-prometheus.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const HEADING = "### Per-replica checks: a consumer's own metrics";
const POD = 'crm-events-sse-7d9c-x2k4q';
const NAMESPACE = 'crm';

/** The example's section of the README: from its heading to the next heading of its level or above. */
function section(): string {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf(`\n${HEADING}\n`);
  assert.ok(start >= 0, `README.md has no "${HEADING}" section`);
  const rest = text.slice(start + 1);
  const end = rest.slice(HEADING.length).search(/\n#{2,3} /);
  return end === -1 ? rest : rest.slice(0, HEADING.length + end + 1);
}

/** The body of the section's first fence of `lang` ('' for a fence without one). */
function fence(text: string, lang: string): string {
  const match = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(text);
  assert.ok(match !== null, `no \`\`\`${lang} block in the section`);
  return match[1]!;
}

function exampleTemplates(): readonly CheckTemplate[] {
  const parsed = parseChecksFile(fence(section(), 'json'), { severalGroups: false });
  assert.ok(parsed.ok, `the README's example is refused: ${parsed.ok ? '' : parsed.problems.join('; ')}`);
  return parsed.templates;
}

test("the README's per-replica example is a checks file the probe accepts", () => {
  assert.deepEqual(
    exampleTemplates().map((template) => template.name),
    ['skew_ratio', 'consumer_count', 'member_assigned', 'member_lag'],
  );
});

test('its group-wide checks are the built-in ones with the default settings but SKEW_MIN_LAG=0, as it says', () => {
  const builtIn = loadConfig({ SKEW_MIN_LAG: '0' }).checks;
  const pick = (template: CheckTemplate) => ({
    name: template.name,
    query: template.query,
    bound: template.comparison === 'range' ? [template.min, template.max] : [template.comparison, template.threshold],
    forMs: template.forMs,
    keepForMs: template.keepForMs,
    onNoData: template.onNoData,
    onError: template.onError,
    failMessage: template.failMessage,
    unit: template.unit,
    drain: template.drain,
  });
  const example = exampleTemplates();
  for (const name of ['skew_ratio', 'consumer_count']) {
    const ours = example.find((template) => template.name === name);
    const theirs = builtIn.find((template) => template.name === name);
    assert.ok(ours !== undefined && theirs !== undefined, name);
    assert.deepEqual(pick(ours), pick(theirs), name);
  }
});

test('bound to a pod, the member checks judge that replica alone, and the section shows the query they ask', () => {
  const checks = checksFor(loadConfig({ POD_NAME: POD, POD_NAMESPACE: NAMESPACE }), exampleTemplates());
  assert.deepEqual(
    checks.map((check) => [check.id, check.scope]),
    [
      ['skew_ratio', 'group'],
      ['consumer_count', 'group'],
      ['member_assigned', 'replica'],
      ['member_lag', 'replica'],
    ],
  );
  const assigned = checks.find((check) => check.id === 'member_assigned')!;
  assert.equal(assigned.query, `max(kafka_consumer_coordinator_assigned_partitions{namespace="${NAMESPACE}",pod="${POD}"})`);
  assert.ok(section().includes(`\`${assigned.query}\``), `the section's "What it does" shows ${assigned.query}`);
  for (const check of checks) assert.doesNotMatch(check.query, /\{(?:group|pod|namespace)\}/, check.id);
});

test("the member checks' metrics are the ones the section's sample exposition shows, with pod and namespace", () => {
  const exposition = fence(section(), '');
  const shown = [...exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)].map((match) => ({ name: match[1]!, labels: match[2]! }));
  assert.deepEqual(
    shown.map((series) => series.name),
    ['kafka_consumer_coordinator_assigned_partitions', 'kafka_consumer_fetch_manager_records_lag_max'],
  );
  for (const series of shown) {
    for (const label of ['client_id', 'kafka_version', 'namespace', 'pod']) assert.match(series.labels, new RegExp(`\\b${label}="`), `${series.name}: ${label}`);
  }
  const members = exampleTemplates().filter((template) => template.name.startsWith('member_'));
  assert.deepEqual(
    members.map((template) => /([a-z_]+)\{/.exec(template.query)?.[1]),
    shown.map((series) => series.name),
  );
});

test("promtool: the bound member queries pick this pod's series and no other's", (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  const checks = checksFor(loadConfig({ POD_NAME: POD, POD_NAMESPACE: NAMESPACE }), exampleTemplates());
  const query = (id: string): string => checks.find((check) => check.id === id)!.query;
  // The exposition's shape: Micrometer's tags (client_id, kafka_version, spring_id) and the scrape's pod and namespace.
  const series = (name: string, labels: Record<string, string>, values: string) => ({
    series: `${name}{${Object.entries({
      client_id: 'consumer-crm-events-sse-1',
      kafka_version: '3.9.0',
      spring_id: 'consumerFactory.consumer-crm-events-sse-1',
      ...labels,
    })
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(',')}}`,
    values,
  });
  const assigned = 'kafka_consumer_coordinator_assigned_partitions';
  const lag = 'kafka_consumer_fetch_manager_records_lag_max';
  const spec = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          series(assigned, { namespace: NAMESPACE, pod: POD }, '3x5'),
          series(assigned, { namespace: NAMESPACE, pod: 'crm-events-sse-7d9c-b8w2p' }, '0x5'),
          series(assigned, { namespace: 'staging', pod: POD }, '0x5'),
          series(lag, { namespace: NAMESPACE, pod: POD, topic: 'crm-events', partition: '4' }, '12x5'),
          series(lag, { namespace: NAMESPACE, pod: POD, topic: 'crm-events', partition: '5' }, '70000x5'),
          series(lag, { namespace: NAMESPACE, pod: 'crm-events-sse-7d9c-b8w2p', topic: 'crm-events', partition: '1' }, '99999x5'),
        ],
        promql_expr_test: [
          { expr: query('member_assigned'), eval_time: '3m', exp_samples: [{ labels: '{}', value: 3 }] },
          {
            expr: query('member_lag'),
            eval_time: '3m',
            exp_samples: [
              { labels: '{partition="4",topic="crm-events"}', value: 12 },
              { labels: '{partition="5",topic="crm-events"}', value: 70000 },
            ],
          },
        ],
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'checks-example-'));
  try {
    // YAML is a superset of JSON: promtool reads this as its unit-test file.
    const file = join(dir, 'example.test.yml');
    writeFileSync(file, JSON.stringify(spec, null, 2));
    const result = spawnSync(promtool, ['test', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `promtool test rules failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
