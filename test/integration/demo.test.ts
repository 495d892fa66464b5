import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/wait.js';

test('npm run demo plays one incident (hot key, crash, drain, stuck consumer) on three replicas: only one of them answers 500', async () => {
  const script = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--phase', '1s', '--cycles', '1'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, out);
  // The three /ready answers side by side during the hot key: exactly one 500, the other two 200 held.
  const hotKey = [...out.matchAll(/^a (500|200 held) *\| b (500|200 held) *\| c (500|200 held) *Hot-key skew high: [\d.]+x/gm)];
  assert.ok(
    hotKey.some((line) => line.slice(1).filter((status) => status === '500').length === 1),
    `no line with exactly one 500 of three during the hot key:\n${out}`,
  );
  // The stuck consumer: the stalled partitions are the only failure, one replica 500 and the other two held.
  const stall = [...out.matchAll(/^a (500|200 held) *\| b (500|200 held) *\| c (500|200 held) *(Stalled: .*)$/gm)];
  assert.ok(
    stall.some((line) => line.slice(1, 4).filter((status) => status === '500').length === 1),
    `no line with exactly one 500 of three during the stall:\n${out}`,
  );
  for (const line of stall) assert.equal(line[4], 'Stalled: 2 partitions not committing for 1m (aetherlink.events/3, /5)', line[0]);
  assert.match(out, /^ {4}[abc] says: held ready: 1 of 3 replicas may be unready for a group-wide failure; unready now: [abc]$/m);
  assert.match(
    out,
    /^Summary: all 200 at the start: yes; hot key: exactly one of three answered 500 \([abc]\), the others 200 held: yes; consumer crash: one 500 \([abc]\); consumer stuck: one 500 \([abc]\) "Stalled: 2 partitions not committing for 1m \(aetherlink\.events\/3, \/5\)", the others 200 held; most 500s at once: 1 of 3; all 200 at the end: yes -> OK$/m,
  );
});
