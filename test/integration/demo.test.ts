import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/wait.js';

test('npm run demo plays one hot-key incident: /ready goes 200, 500, 200', async () => {
  const script = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--phase', '1s', '--cycles', '1'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, out);
  assert.match(out, /GET \/ready -> 500 Hot-key skew high: [\d.]+x/);
  assert.match(out, /\/ready went (503 -> )?200 -> 500 -> 200\n/);
});
