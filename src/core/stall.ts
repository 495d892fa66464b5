// Stalled partitions: the incident the skew ratio and the member count both miss. A consumer alive and in the group
// but not committing leaves the lag growing evenly, so skew stays low and the count stays right. A partition is
// stalled when the group's committed offset has not moved for the window while the partition's end offset has (the
// producers wrote) and the lag is above zero. A quiet topic, whose end offset does not move, is never stalled.
import { formatDuration } from './duration.js';
import { GROUP } from './promql.js';
import type { Labels } from './types.js';

/**
 * The PromQL of the stall check over `windowMs` (STALL_AFTER), on the recorded series of
 * monitoring/prometheus-crm-events-rules.yml. One series per stalled partition, valued by its lag; when none is
 * stalled, one series with no labels and the value 0, so that "none stalled" (0) differs from "no rule, no data".
 * A partition must have had a committed offset a whole window ago: one first seen within the window has not yet
 * had the time to stall. The joins keep `cluster` (the label the scrape adds per Kafka cluster, absent otherwise), so a
 * topic of the same name in another cluster cannot make a partition look written to.
 */
export function stallQuery(windowMs: number): string {
  const window = formatDuration(windowMs);
  const group = `consumergroup="${GROUP}"`;
  return [
    '(',
    `  kafka:group_partition_lag{${group}} > 0`,
    `  and on (cluster, consumergroup, topic, partition) (changes(kafka:group_committed_offset{${group}}[${window}]) == 0)`,
    `  and on (cluster, consumergroup, topic, partition) (kafka:group_committed_offset{${group}} offset ${window})`,
    `  and on (cluster, topic, partition) (changes(kafka:topic_end_offset[${window}]) > 0)`,
    ')',
    `or on () (0 * group(kafka:group_committed_offset{${group}}))`,
  ].join('\n');
}

/** "aetherlink.events/3, /5; audit/0": stalled partitions by topic, in order, for a message. */
export function formatPartitions(series: readonly Labels[]): string {
  const byTopic = new Map<string, number[]>();
  for (const labels of series) {
    const topic = labels.topic ?? '?';
    const partition = Number(labels.partition);
    const partitions = byTopic.get(topic) ?? [];
    if (Number.isFinite(partition)) partitions.push(partition);
    byTopic.set(topic, partitions);
  }
  return [...byTopic]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, partitions]) =>
      partitions
        .sort((a, b) => a - b)
        .map((partition, index) => (index === 0 ? `${topic}/${partition}` : `/${partition}`))
        .join(', '),
    )
    .join('; ');
}
