// promtool lints /metrics' text (src/core/exposition.ts): a child process, so it is not a unit test.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { exposition } from '../../src/core/exposition.js';
import { requireBinary } from '../helpers/real-prometheus.js';
import { type Answer, empty, healthy, refused, viewAfter } from '../helpers/view.js';

test("promtool check metrics accepts the exposition, but for the seed's consumer_count name", async (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (promtool === undefined) return;
  // promtool lints any gauge ending in _count; the seed's name is the contract. It lints
  // only families with samples, so with no consumer data there is nothing to say.
  const seedName = 'crm_events_health_consumer_count non-histogram and non-summary metrics should not have "_count" suffix';
  const cases: [Answer[], string[]][] = [
    [[healthy], [seedName]],
    [[healthy, refused], [seedName]],
    [[empty], []],
  ];
  for (const [answers, expected] of cases) {
    const text = exposition(await viewAfter(answers));
    const result: SpawnSyncReturns<string> = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings: string[] = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean);
    assert.deepEqual(findings, expected, text);
    assert.equal(result.status, expected.length === 0 ? 0 : 3, 'promtool exits 3 on lint findings only');
  }
});
