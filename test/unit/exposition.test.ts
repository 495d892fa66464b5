// /metrics' text (src/core/exposition.ts) from a view the monitor built with a fake clock and scripted answers.
// promtool's lint of the same text runs a process: test/integration/exposition-promtool.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeLabelValue, exposition } from '../../src/core/exposition.js';
import { empty, healthy, refused, viewAfter } from '../helpers/view.js';

test("the seed's metrics, labelled with the group, and errors counted by code from zero", async () => {
  const text = exposition(await viewAfter([healthy, refused, refused], { KAFKA_GROUP: 'g"1' }));
  const group = 'consumergroup="g\\\\"1"'; // the text format's escaped quote, escaped again for RegExp
  assert.match(text, new RegExp(`^crm_events_health_status\\{${group}\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_skew_ratio\\{${group}\\} 1.25$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_consumer_count\\{${group}\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_errors_total\\{${group},check="skew_ratio",code="PROM_NETWORK"\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_errors_total\\{${group},check="skew_ratio",code="PROM_TIMEOUT"\\} 0$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_check_stale\\{${group},check="skew_ratio"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_query_duration_seconds_count\\{${group},check="consumer_count"\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^crm_events_health_evaluations_total\\{${group}\\} 3$`, 'm'));
  assert.match(text, /^crm_events_health_last_success_timestamp_seconds\{.*\} \d+(\.\d+)?$/m);
  assert.match(text, /^crm_events_health_build_info\{version="1.2.3",nodejs="[\d.]+"\} 1$/m);
});

test('values Prometheus did not give are left out, not invented', async () => {
  const text = exposition(await viewAfter([empty], { ON_NO_DATA: 'fail' }));
  assert.doesNotMatch(text, /^crm_events_health_skew_ratio\{/m);
  assert.doesNotMatch(text, /^crm_events_health_consumer_count\{/m);
  assert.match(text, /^crm_events_health_status\{consumergroup="crm-events-sse"\} 0$/m, 'no consumers reported fails under ON_NO_DATA=fail');
  assert.match(exposition(await viewAfter([empty])), /^crm_events_health_status\{consumergroup="crm-events-sse"\} 1$/m, 'and passes by default');
  assert.match(text, /^crm_events_health_check_state\{consumergroup="crm-events-sse",check="consumer_count",state="no_data"\} 1$/m);
});

test('label values are escaped as the text format requires', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});
