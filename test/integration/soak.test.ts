import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The short form of `npm run soak` (the full run's figures are in BENCHMARKS.md): the script works, the probe
// answers every request while Prometheus flaps, memory and file descriptors come back to where they were.
test('soak, short form: 200,000 requests while Prometheus flaps', async () => {
  const script = fileURLToPath(new URL('../../scripts/soak.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--requests', '200000', '--max-seconds', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, out);
  const report = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { answered: number; failed: number; statuses: Record<string, number> };
  assert.equal(report.answered, 200_000);
  assert.equal(report.failed, 0);
  assert.ok((report.statuses['500'] ?? 0) > 0 && (report.statuses['200'] ?? 0) > 0, 'the verdict flapped with Prometheus');
});
