// YAML for the tests, parsed by Debian's PyYAML (python3-yaml): no YAML library among the project's packages.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { findBinary, requireTool } from './tools.js';

let pythonWithYaml: string | null | undefined;
/** A python3 that can `import yaml`: Debian's /usr/bin/python3 (python3-yaml) first, then python3 on PATH. */
function findPythonWithYaml(): string | undefined {
  if (pythonWithYaml === undefined) {
    pythonWithYaml = null;
    for (const candidate of ['/usr/bin/python3', findBinary('python3')]) {
      if (candidate === undefined) continue;
      if (spawnSync(candidate, ['-c', 'import yaml'], { stdio: 'ignore', timeout: 10_000 }).status === 0) {
        pythonWithYaml = candidate;
        break;
      }
    }
  }
  return pythonWithYaml ?? undefined;
}

// Reads a JSON list of YAML texts on stdin; writes the list of their documents (each a list) as JSON.
const YAML_TO_JSON = [
  'import json, sys, yaml',
  'texts = json.load(sys.stdin)',
  'json.dump([[d for d in yaml.safe_load_all(t) if d is not None] for t in texts], sys.stdout)',
].join('\n');

/** The YAML documents of each text; undefined after skipping the test (python3-yaml missing, not under CI). */
export function parseYaml(t: TestContext, texts: readonly string[]): unknown[][] | undefined {
  const python = requireTool(t, 'python3 with PyYAML', findPythonWithYaml(), 'apt-get install python3-yaml');
  if (python === undefined) return undefined;
  const result = spawnSync(python, ['-c', YAML_TO_JSON], { input: JSON.stringify(texts), encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, `python3 yaml: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[][];
}

/** The YAML documents of each file. */
export function loadYaml(t: TestContext, paths: readonly string[]): unknown[][] | undefined {
  return parseYaml(
    t,
    paths.map((path) => readFileSync(path, 'utf8')),
  );
}
