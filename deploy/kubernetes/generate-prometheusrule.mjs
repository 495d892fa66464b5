#!/usr/bin/env node
// Writes deploy/kubernetes/prometheusrule.yaml: monitoring/prometheus-crm-events-rules.yml as a prometheus-operator
// PrometheusRule, so that a cluster gets the very rules that promtool checks and unit-tests here (the probe reads the
// recorded series; the alerts page on them).
//
//   npm run generate:k8s                                          # rewrite prometheusrule.yaml
//   node deploy/kubernetes/generate-prometheusrule.mjs --check    # exit 1 if it is stale
//   node deploy/kubernetes/generate-prometheusrule.mjs [RULES_FILE] # print to stdout
//
// A rules file is `groups: [...]` and a PrometheusRule's spec is `{groups: [...]}`, so the file goes in under `spec:`
// as it is, every line indented by two spaces: comments, block scalars and key order stay, and no YAML library is
// needed (the repository has none; test/repo/prometheusrule.test.ts parses both with python3-yaml and checks that
// spec equals the rules file). Indenting is exact for any block-style YAML; what it would break (a document
// marker, a directive, a second top-level key, a tab) is refused.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../..');
const RULES = join(REPO, 'monitoring/prometheus-crm-events-rules.yml');
const OUTPUT = join(HERE, 'prometheusrule.yaml');

/** The PrometheusRule manifest for one rules file's text. */
export function prometheusRule(rulesText, rulesPath = 'monitoring/prometheus-crm-events-rules.yml') {
  const lines = rulesText.replace(/\n+$/, '').split('\n');
  lines.forEach((line, index) => {
    const where = `${rulesPath}:${index + 1}`;
    if (/^(---|\.\.\.)(\s|$)|^%/.test(line)) throw new Error(`${where}: a document marker or directive; one document only`);
    if (/^\s*\t/.test(line)) throw new Error(`${where}: a tab in the indentation`);
    if (/^[^\s#]/.test(line) && !/^groups:\s*(#.*)?$/.test(line)) throw new Error(`${where}: a top-level key other than groups: ${line}`);
  });
  if (!lines.some((line) => /^groups:/.test(line))) throw new Error(`${rulesPath}: no groups:`);
  const spec = lines.map((line) => (line === '' ? '' : `  ${line.replace(/\s+$/, '')}`)).join('\n');
  return `# GENERATED from ${rulesPath} by deploy/kubernetes/generate-prometheusrule.mjs: do not edit; edit the rules file
# and run \`npm run generate:k8s\` (test/repo/prometheusrule.test.ts fails while this file is stale).
#
# The recording rules the probe reads and the alerts, for a Prometheus run by the Prometheus Operator. Its
# ruleSelector and ruleNamespaceSelector decide which PrometheusRules it loads: if yours matches labels (a
# Helm-installed one often asks for \`release: <its release name>\`), add them in your overlay. The recording rules
# read kafka_exporter's series from wherever that exporter is scraped: a Prometheus with enforcedNamespaceLabel
# would confine them to this namespace (add this object to its excludedFromEnforcement). Without the Prometheus
# Operator, leave this file out of the kustomization and load the rules file itself (rule_files).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: crm-events-health
  labels:
    app.kubernetes.io/name: crm-events-sse
    app.kubernetes.io/component: health-probe
spec:
${spec}
`;
}

const args = process.argv.slice(2);
const write = args.includes('--write');
const check = args.includes('--check');
const rulesPath = args.find((arg) => !arg.startsWith('--')) ?? RULES;
const generated = prometheusRule(readFileSync(rulesPath, 'utf8'), relative(REPO, rulesPath));
if (write) {
  writeFileSync(OUTPUT, generated);
  process.stderr.write(`wrote ${relative(REPO, OUTPUT)}\n`);
} else if (check) {
  if (readFileSync(OUTPUT, 'utf8') !== generated) {
    process.stderr.write(`${relative(REPO, OUTPUT)} is stale: run npm run generate:k8s\n`);
    process.exit(1);
  }
} else {
  process.stdout.write(generated);
}
