import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireBinary } from '../helpers/real-prometheus.js';
import { findBinary, requireTool } from '../helpers/tools.js';

// The short form of `npm run bench` (the full run's figures are in BENCHMARKS.md): the script runs end to end
// against the real Prometheus and prints every figure. The figures themselves are never asserted: they say how
// busy the machine was as much as how fast the probe is.
const FIGURES = [
  '/ready requests/s',
  '/status requests/s',
  '/metrics requests/s',
  '/ready p99',
  'Prometheus queries in',
  'resident memory (VmRSS) after',
  'CPU time per 1,000 /ready requests',
  'start-up: spawn to the first 200 on /health',
  'start-up: spawn to the first 200 on /ready',
  'CPU per check cycle',
];

test('bench, quick form: runs end to end and prints every figure', { timeout: 360_000 }, async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  if (requireTool(t, 'wrk', findBinary('wrk'), 'apt-get install wrk') === undefined) return;
  const script = fileURLToPath(new URL('../../scripts/bench.ts', import.meta.url));
  // npm test has just built dist/; rebuilding here would change it under the other test files.
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--quick', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // SIGTERM first: the script then stops its servers and Prometheus itself.
  const terminator = setTimeout(() => child.kill('SIGTERM'), 300_000);
  const killer = setTimeout(() => child.kill('SIGKILL'), 320_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(terminator);
  clearTimeout(killer);
  assert.equal(code, 0, `bench exited ${code}\n--- stderr\n${err}\n--- stdout\n${out}`);

  assert.match(out, /^## Quick run/m);
  for (const heading of ['Machine:', 'Node v', 'Command: `node --import tsx scripts/bench.ts --quick --no-build`'])
    assert.ok(out.includes(heading), `no "${heading}" in\n${out}`);
  const rows = out.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| figure'));
  for (const figure of FIGURES) {
    const row = rows.find((line) => line.startsWith(`| ${figure}`));
    assert.ok(row !== undefined, `no row for "${figure}" in\n${out}`);
    // figure, probe, baseline, ratio, goal, met?: every cell filled, whatever the numbers are.
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    assert.equal(cells.length, 6, row);
    assert.ok(
      cells.every((cell) => cell !== '' && !cell.includes('NaN')),
      row,
    );
  }
});
