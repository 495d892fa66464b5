// deploy/kubernetes/prometheusrule.yaml is monitoring/prometheus-crm-events-rules.yml as a PrometheusRule, written by
// deploy/kubernetes/generate-prometheusrule.mjs (`npm run generate:k8s`). Here: the committed file is what the
// generator writes from the rules file as it is now (an edit to the rules without regenerating fails), its spec
// is the rules file itself once both are parsed (python3-yaml, as in deploy.test.ts), and the generator refuses
// what indenting would break. deploy.test.ts validates it against the prometheus-operator schema.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../helpers/yaml.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GENERATOR = join(REPO, 'deploy/kubernetes/generate-prometheusrule.mjs');
const COMMITTED = join(REPO, 'deploy/kubernetes/prometheusrule.yaml');
const RULES = join(REPO, 'monitoring/prometheus-crm-events-rules.yml');

function generate(rulesFile?: string): { code: number | null; stdout: string; stderr: string } {
  const args = [GENERATOR, ...(rulesFile === undefined ? [] : [rulesFile])];
  const result = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface PrometheusRule {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec: unknown;
}

test('prometheusrule.yaml is what the generator writes from the rules file now (else: npm run generate:k8s)', () => {
  const { code, stdout, stderr } = generate();
  assert.equal(code, 0, stderr);
  assert.ok(
    readFileSync(COMMITTED, 'utf8') === stdout,
    'deploy/kubernetes/prometheusrule.yaml is stale: monitoring/prometheus-crm-events-rules.yml changed. Run `npm run generate:k8s` and commit both.',
  );
  assert.equal(spawnSync(process.execPath, [GENERATOR, '--check'], { cwd: REPO }).status, 0, '--check agrees');
});

test("the PrometheusRule's spec is the rules file, group by group and rule by rule", (t) => {
  const parsed = parseYaml(t, [readFileSync(COMMITTED, 'utf8'), readFileSync(RULES, 'utf8')]);
  if (parsed === undefined) return;
  const [ruleDocs, rulesDocs] = parsed;
  assert.equal(ruleDocs!.length, 1, 'one YAML document');
  const rule = ruleDocs![0] as PrometheusRule;
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(rule.kind, 'PrometheusRule');
  assert.deepEqual(rule.spec, rulesDocs![0]);
  const groups = (rule.spec as { groups: { name: string; rules: unknown[] }[] }).groups;
  assert.ok(groups.length >= 2 && groups.every((g) => g.rules.length > 0), 'the recording and alerting groups, with their rules');
});

test('an edited rules file gives a different PrometheusRule whose spec follows the edit; what indenting breaks is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prometheusrule-'));
  try {
    const text = readFileSync(RULES, 'utf8');
    const edited = text.replace(/^(\s+for: )\S+/m, '$1 17m');
    assert.notEqual(edited, text, 'the rules file has no `for:` to edit');
    writeFileSync(join(dir, 'rules.yml'), edited);
    const { code, stdout, stderr } = generate(join(dir, 'rules.yml'));
    assert.equal(code, 0, stderr);
    assert.notEqual(stdout, readFileSync(COMMITTED, 'utf8'), 'the equality test would not see the edit');
    const parsed = parseYaml(t, [stdout, edited]);
    if (parsed === undefined) return;
    assert.deepEqual((parsed[0]![0] as PrometheusRule).spec, parsed[1]![0]);
    assert.match(stdout, /^ {4,}for: {2}17m$/m);

    for (const [name, bad, why] of [
      ['document marker', `---\n${text}`, /document marker/],
      ['second key', `${text}\nextra: 1\n`, /top-level key other than groups/],
      ['tab', text.replace(/^( +)(- name:)/m, '\t$2'), /tab/],
    ] as const) {
      writeFileSync(join(dir, 'bad.yml'), bad);
      const refused = generate(join(dir, 'bad.yml'));
      assert.notEqual(refused.code, 0, `${name}: accepted`);
      assert.match(refused.stderr, why, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
