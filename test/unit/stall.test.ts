import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPartitions, stallQuery } from '../../src/core/stall.js';

test('the stall query applies the window to the recorded series, and answers a zero sentinel when none is stalled', () => {
  const query = stallQuery(90_000);
  assert.match(query, /changes\(kafka:group_committed_offset\{consumergroup="\{group\}"\}\[90s\]\) == 0/);
  assert.match(query, /kafka:group_committed_offset\{consumergroup="\{group\}"\} offset 90s/, 'a partition must be as old as the window');
  assert.match(query, /changes\(kafka:topic_end_offset\[90s\]\) > 0/, 'a quiet topic is never stalled');
  assert.match(query, /kafka:group_partition_lag\{consumergroup="\{group\}"\} > 0/);
  assert.match(query, /\nor on \(\) \(0 \* group\(kafka:group_committed_offset\{consumergroup="\{group\}"\}\)\)$/);
  assert.match(stallQuery(300_000), /\[5m\]/);
});

test('partitions for people: by topic, in order, the topic named once', () => {
  const labels = (topic: string, partition: string) => ({ consumergroup: 'g', topic, partition });
  const cases: [ReturnType<typeof labels>[], string][] = [
    [[labels('aetherlink.events', '5'), labels('aetherlink.events', '3')], 'aetherlink.events/3, /5'],
    [[labels('b', '1'), labels('a', '10'), labels('a', '2')], 'a/2, /10; b/1'],
    [[labels('solo', '0')], 'solo/0'],
    [[], ''],
  ];
  for (const [series, expected] of cases) assert.equal(formatPartitions(series), expected);
  assert.equal(formatPartitions([{ partition: '1' }]), '?/1', 'a series without a topic label is still shown');
});
