import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireBinary } from '../helpers/real-prometheus.js';

// The short form of `npm run bench:fleet` (the full run's table is in BENCHMARKS.md): 10 and 50 simulated probes,
// lockstep and jitter, against the real Prometheus, end to end, printing every figure. The figures themselves are
// never asserted: on a shared machine they say how busy it was as much as what a fleet costs.
const COLUMNS = 13;
const RATIO_COLUMNS = 7;

test('bench:fleet, quick form: runs end to end and prints every figure', { timeout: 90_000 }, async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const script = fileURLToPath(new URL('../../scripts/bench/fleet.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // SIGTERM first: the script then stops its Prometheus itself.
  const terminator = setTimeout(() => child.kill('SIGTERM'), 75_000);
  const killer = setTimeout(() => child.kill('SIGKILL'), 85_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(terminator);
  clearTimeout(killer);
  assert.equal(code, 0, `bench:fleet exited ${code}\n--- stderr\n${err}\n--- stdout\n${out}`);

  assert.match(out, /^### Fleet, quick run/m);
  for (const heading of ['Machine:', 'Node v', 'Prometheus ', 'Command: `node --import tsx scripts/bench/fleet.ts --quick`', 'Runs, in the order they ran:'])
    assert.ok(out.includes(heading), `no "${heading}" in\n${out}`);
  const cells = (line: string): string[] =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
  const rows = out.split('\n').filter((line) => /^\| \d+ \|/.test(line));
  for (const size of ['10', '50']) {
    for (const schedule of ['lockstep', 'jitter']) {
      const row = rows.find((line) => cells(line)[0] === size && cells(line)[1] === schedule);
      assert.ok(row !== undefined, `no row for ${size} probes, ${schedule}, in\n${out}`);
      // Every figure present, whatever it is: the rate, CPU, both latencies, the bursts, the errors.
      assert.equal(cells(row).length, COLUMNS, row);
      assert.ok(
        cells(row).every((cell) => cell !== '' && !cell.includes('NaN')),
        row,
      );
    }
    const ratio = rows.find((line) => cells(line)[0] === size && cells(line).length === RATIO_COLUMNS);
    assert.ok(ratio !== undefined, `no jitter/lockstep ratio row for ${size} probes in\n${out}`);
    assert.ok(
      cells(ratio).every((cell) => cell !== ''),
      ratio,
    );
  }
  assert.equal(out.split('\n').filter((line) => /^- (10|50) (lockstep|jitter): /.test(line)).length, 4, out);
});
