// The executables the tests run (the real backends, promtool, python3, wrk …): found where Debian puts them, and a
// missing one skipped loudly, or failed under CI=true, where a silently skipped integration test proves nothing.
import assert from 'node:assert/strict';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** An executable: /usr/bin/NAME, else the first on PATH. */
export function findBinary(name: string): string | undefined {
  const directories = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '')];
  for (const directory of directories) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * `found`, or undefined after skipping the test with `message` (written to stderr, where a skip is seen). Under
 * CI=true the test fails instead.
 */
export function requireFound<T>(t: TestContext, found: T | undefined, message: string): T | undefined {
  if (found !== undefined) return found;
  process.stderr.write(`\n${message}\n\n`);
  if (process.env.CI === 'true') assert.fail(message);
  t.skip(message);
  return undefined;
}

/** requireFound with the usual message: what is missing and how to install it. */
export function requireTool(t: TestContext, what: string, found: string | undefined, install: string): string | undefined {
  return requireFound(t, found, `*** ${what} NOT FOUND: this test cannot run. Install it with: ${install} ***`);
}
