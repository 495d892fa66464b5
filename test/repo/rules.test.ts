// The recording and alerting rules the probe depends on: promtool's own checks and unit tests, then the rules
// loaded into a real Prometheus that scrapes a fake kafka_exporter.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test, { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stallQuery } from '../../src/core/stall.js';
import { instantVector, type RealPrometheus, requireBinary, startExporter, startPrometheus } from '../helpers/real-prometheus.js';
import { waitFor } from '../helpers/wait.js';
import { loadYaml } from '../helpers/yaml.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RULES = fileURLToPath(new URL('../../monitoring/prometheus-crm-events-rules.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('../../monitoring/tests/rules.test.yml', import.meta.url));

interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

async function run(binary: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  const child = spawn(binary, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', (exitCode) => done(exitCode));
  });
  return { code, output };
}

test('promtool check rules accepts the rule file', async (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  const { code, output } = await run(promtool, ['check', 'rules', RULES]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: 17 rules found/);
});

test('promtool test rules passes the unit tests', async (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  const { code, output } = await run(promtool, ['test', 'rules', RULE_TESTS]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS/);
});

const GROUP = 'crm-events-sse';
const TOPIC = 'aetherlink.events';
const PARTITIONS = 8;

/** Waits until `promql` returns exactly one sample equal to `expected` (or none, for 'absent'); logs how long. */
async function settle(t: TestContext, prometheus: RealPrometheus, what: string, promql: string, expected: number | 'absent'): Promise<void> {
  const since = performance.now();
  await waitFor(
    what,
    async (seen) => {
      const samples = await instantVector(prometheus.url, promql);
      seen(samples);
      if (expected === 'absent') return samples.length === 0 ? true : undefined;
      // Exact equality on purpose: the rule computes max * count / sum, which rounds once (see the rule file).
      return samples.length === 1 && samples[0]?.value === expected ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  t.diagnostic(`${what}: visible after ${Math.round(performance.now() - since)} ms`);
}

test('the recording rules against a real Prometheus', { timeout: 60_000 }, async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;

  const exporter = await startExporter();
  t.after(() => exporter.close());
  const setLags = (lags: readonly number[]): void => lags.forEach((lag, partition) => exporter.setLag(GROUP, TOPIC, partition, lag));
  setLags(Array.from({ length: PARTITIONS }, () => 10));
  exporter.setMembers(GROUP, 3);

  const startedAt = performance.now();
  const prometheus = await startPrometheus({ scrapeTargets: [exporter.target], ruleFiles: [RULES] });
  t.after(() => prometheus.close());
  t.diagnostic(`prometheus ready after ${Math.round(performance.now() - startedAt)} ms`);

  const skew = `kafka:group_skew_ratio{consumergroup="${GROUP}"}`;
  const consumers = `kafka:group_consumer_count{consumergroup="${GROUP}"}`;

  await settle(t, prometheus, 'balanced lag: skew 1', skew, 1);
  await settle(t, prometheus, 'consumer count 3', consumers, 3);

  setLags([400, 10, 10, 10, 10, 10, 10, 10]);
  await settle(t, prometheus, 'hot partition 0: skew 400/avg', skew, 400 / ((400 + 70) / 8));

  // Kept, the three -1 partitions would give 400 * 8 / 437; dropped, the mean is over the five others.
  setLags([400, 10, 10, 10, 10, -1, -1, -1]);
  await settle(t, prometheus, 'lag -1 partitions ignored', skew, 400 / ((400 + 40) / 5));

  setLags(Array.from({ length: PARTITIONS }, () => 0));
  await settle(t, prometheus, 'all-zero lag: skew 1, not NaN', skew, 1);

  setLags(Array.from({ length: PARTITIONS }, () => -1));
  await settle(t, prometheus, 'no committed offsets: no skew series', skew, 'absent');

  // Quotes, backslashes and newlines survive the exposition format and come back from the query API.
  const oddGroup = 'odd "group" \\ with\nnewline';
  exporter.setMembers(oddGroup, 2);
  // JSON string escapes are valid PromQL string escapes for these characters.
  const oddConsumers = `kafka:group_consumer_count{consumergroup=${JSON.stringify(oddGroup)}}`;
  await settle(t, prometheus, 'escaped label values', oddConsumers, 2);

  t.diagnostic(`the exporter was scraped ${exporter.scrapes} times`);
});

test("the rule tests run the probe's own stall query, exactly as src/core/stall.ts builds it", () => {
  const tests = readFileSync(RULE_TESTS, 'utf8');
  for (const group of ['crm-events-sse', 'billing']) {
    const query = stallQuery(300_000).replaceAll('{group}', group);
    // As the YAML block scalar holds it: each line indented by ten spaces.
    const block = query
      .split('\n')
      .map((line) => `          ${line}`)
      .join('\n');
    assert.ok(tests.includes(block), `monitoring/tests/rules.test.yml has no test of\n${query}`);
  }
});

/** The placeholder base of every runbook_url; the installer replaces it (docs/OPERATIONS.md, "Alert routing and runbook links"). */
export const RUNBOOK_BASE = 'https://runbooks.example.com/crm-events-health/';
const SEVERITIES: ReadonlySet<string> = new Set(['critical', 'warning']);

/** GitHub's anchor of a Markdown heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** What is wrong with one alert's routing: its severity, and its runbook_url (absolute, under the base, to a file and heading that exist). */
export function routingProblems(
  alert: { alert?: unknown; labels?: Record<string, unknown>; annotations?: Record<string, unknown> },
  readRepoFile: (path: string) => string | undefined,
): string[] {
  const name = String(alert.alert);
  const problems: string[] = [];
  const severity = alert.labels?.['severity'];
  if (typeof severity !== 'string' || !SEVERITIES.has(severity))
    problems.push(`${name}: severity ${JSON.stringify(severity)} is not one of ${[...SEVERITIES].join(', ')}`);
  const url = alert.annotations?.['runbook_url'];
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof url !== 'string' || parsed === undefined || parsed.protocol !== 'https:')
    return [...problems, `${name}: runbook_url ${JSON.stringify(url)} is not an absolute https URL`];
  if (!url.startsWith(RUNBOOK_BASE)) return [...problems, `${name}: runbook_url ${url} is not under ${RUNBOOK_BASE}`];
  const [path = '', anchor] = url.slice(RUNBOOK_BASE.length).split('#');
  const text = readRepoFile(path);
  if (text === undefined) return [...problems, `${name}: runbook_url ${url}: no file ${path} in the repository`];
  if (anchor !== undefined) {
    const anchors = text
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => headingAnchor(line.replace(/^#+ /, '')));
    if (!anchors.includes(anchor)) problems.push(`${name}: runbook_url ${url}: no heading #${anchor} in ${path}`);
  }
  return problems;
}

function readRepoFile(path: string): string | undefined {
  try {
    return readFileSync(`${REPO}/${path}`, 'utf8');
  } catch {
    return undefined;
  }
}

test('every alert has a severity to route on and a runbook_url that is an absolute URL to a runbook that exists', (t) => {
  const documents = loadYaml(t, [RULES]);
  if (documents === undefined) return;
  const file = documents[0]![0] as { groups: { name: string; rules: { alert?: string; record?: string }[] }[] };
  const alerts = file.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);
  assert.equal(alerts.length, 8, alerts.map((alert) => alert.alert).join(', '));
  assert.deepEqual(
    alerts.flatMap((alert) => routingProblems(alert, readRepoFile)),
    [],
  );
});

test('the routing check catches a repo path, a missing heading, a relative base and a missing severity', () => {
  const files = new Map([['docs/OPERATIONS.md', '# Operating\n\n### A partition is stalled\n\n### `/ready` answers 500\n']]);
  const read = (path: string): string | undefined => files.get(path);
  const alert = (severity: unknown, runbook: unknown) => ({ alert: 'X', labels: { severity }, annotations: { runbook_url: runbook } });
  assert.deepEqual(routingProblems(alert('critical', `${RUNBOOK_BASE}docs/OPERATIONS.md#a-partition-is-stalled`), read), []);
  assert.deepEqual(routingProblems(alert('warning', `${RUNBOOK_BASE}docs/OPERATIONS.md#ready-answers-500`), read), []);
  assert.deepEqual(routingProblems(alert('critical', 'docs/OPERATIONS.md#a-partition-is-stalled'), read), [
    'X: runbook_url "docs/OPERATIONS.md#a-partition-is-stalled" is not an absolute https URL',
  ]);
  assert.deepEqual(routingProblems(alert('critical', `${RUNBOOK_BASE}docs/OPERATIONS.md#a-partition-stalls`), read), [
    `X: runbook_url ${RUNBOOK_BASE}docs/OPERATIONS.md#a-partition-stalls: no heading #a-partition-stalls in docs/OPERATIONS.md`,
  ]);
  assert.deepEqual(routingProblems(alert('critical', `${RUNBOOK_BASE}monitoring/RUNBOOK_GONE.md`), read), [
    `X: runbook_url ${RUNBOOK_BASE}monitoring/RUNBOOK_GONE.md: no file monitoring/RUNBOOK_GONE.md in the repository`,
  ]);
  assert.deepEqual(routingProblems(alert(undefined, 'https://wiki.example.com/x'), read), [
    'X: severity undefined is not one of critical, warning',
    `X: runbook_url https://wiki.example.com/x is not under ${RUNBOOK_BASE}`,
  ]);
});
