// The test layout, kept honest: every module of src/core/ has its own unit test file (test/unit/<name>.test.ts), as
// test/README.md says, so a new core module without tests fails here. types.ts holds only types and is exempt.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const CORE = fileURLToPath(new URL('../../src/core/', import.meta.url));
const UNIT = fileURLToPath(new URL('../unit/', import.meta.url));

/** Core modules that need no unit test file: types alone, no behaviour. */
const EXEMPT: ReadonlySet<string> = new Set(['types.ts']);

/** The core modules (file names) that have no test/unit/<same name>.test.ts among `unitFiles`. */
export function missingUnitTests(coreFiles: readonly string[], unitFiles: readonly string[]): string[] {
  const tests = new Set(unitFiles);
  return coreFiles
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !EXEMPT.has(name))
    .filter((name) => !tests.has(name.replace(/\.ts$/, '.test.ts')))
    .sort();
}

test('every module of src/core/ has test/unit/<name>.test.ts', () => {
  const core = readdirSync(CORE);
  assert.ok(core.includes('verdict.ts') && core.includes('types.ts'), `src/core/ read: ${core.join(', ')}`);
  assert.deepEqual(missingUnitTests(core, readdirSync(UNIT)), [], 'core modules without a unit test file');
});

test('the matcher reports a missing test file, and only that one', () => {
  const core = ['checks.ts', 'fresh.ts', 'types.ts', 'verdict.ts', 'README.md', 'other.d.ts'];
  const unit = ['checks.test.ts', 'verdict.test.ts', 'monitor.test.ts', 'fresh.ts'];
  assert.deepEqual(missingUnitTests(core, unit), ['fresh.ts']);
  assert.deepEqual(missingUnitTests(core, [...unit, 'fresh.test.ts']), []);
  assert.deepEqual(missingUnitTests(['types.ts'], []), [], 'types.ts is exempt');
  assert.deepEqual(missingUnitTests(['b.ts', 'a.ts'], []), ['a.ts', 'b.ts']);
});
