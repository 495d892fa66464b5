import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESTIMATE_SERIES, estimatesQuery, NO_ESTIMATES, parseEstimates } from '../../src/core/estimates.js';

const KIND: Record<string, string> = { [ESTIMATE_SERIES.behind]: 'behind', [ESTIMATE_SERIES.drain]: 'drain', [ESTIMATE_SERIES.churn]: 'churn' };
// As Prometheus answers estimatesQuery: label_replace keeps the metric name and adds the tag.
const sample = (name: string, value: number, labels: Record<string, string> = {}) => ({
  value,
  labels: { __name__: name, consumergroup: 'g', ...(KIND[name] === undefined ? {} : { estimate: KIND[name]! }), ...labels },
});

test('one query asks all three recorded series of one group, its name escaped, each tagged so that `or` keeps all three', () => {
  assert.equal(
    estimatesQuery('we"ird'),
    'label_replace(kafka:group_lag_seconds{consumergroup="we\\"ird"}, "estimate", "behind", "", "") or label_replace(kafka:group_drain_seconds{consumergroup="we\\"ird"}, "estimate", "drain", "", "") or label_replace(kafka:group_membership_changes{consumergroup="we\\"ird"}, "estimate", "churn", "", "")',
  );
});

test('the answer read by metric name; what is missing is null, never NaN or +Inf', () => {
  const cases: [string, ReturnType<typeof sample>[], typeof NO_ESTIMATES][] = [
    [
      'all three',
      [sample(ESTIMATE_SERIES.behind, 30), sample(ESTIMATE_SERIES.drain, 300), sample(ESTIMATE_SERIES.churn, 4)],
      { behindSeconds: 30, drainSeconds: 300, membershipChanges: 4 },
    ],
    [
      'no lag: zeros are values',
      [sample(ESTIMATE_SERIES.behind, 0), sample(ESTIMATE_SERIES.drain, 0), sample(ESTIMATE_SERIES.churn, 0)],
      { behindSeconds: 0, drainSeconds: 0, membershipChanges: 0 },
    ],
    ['an idle producer with a backlog: no estimate of either', [sample(ESTIMATE_SERIES.churn, 1)], { behindSeconds: null, drainSeconds: null, membershipChanges: 1 }],
    ['a stopped consumer: behind, but no drain', [sample(ESTIMATE_SERIES.behind, 300)], { behindSeconds: 300, drainSeconds: null, membershipChanges: null }],
    ['nothing at all (no rules)', [], NO_ESTIMATES],
    ['infinities and NaN are dropped', [sample(ESTIMATE_SERIES.behind, Number.POSITIVE_INFINITY), sample(ESTIMATE_SERIES.drain, Number.NaN)], NO_ESTIMATES],
    [
      'two series of one name (two clusters): the worst',
      [sample(ESTIMATE_SERIES.behind, 12, { cluster: 'a' }), sample(ESTIMATE_SERIES.behind, 40, { cluster: 'b' })],
      { behindSeconds: 40, drainSeconds: null, membershipChanges: null },
    ],
    ['a series without the tag is ignored', [sample('kafka:group_consumer_count', 3)], NO_ESTIMATES],
  ];
  for (const [name, samples, expected] of cases) assert.deepEqual(parseEstimates(samples), expected, name);
});
