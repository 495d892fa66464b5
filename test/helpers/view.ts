// A ProbeView as the renderers get it: the real monitor, a fake clock and scripted Prometheus answers, no socket.

import { loadConfig } from '../../src/config/load.js';
import type { QueryResult } from '../../src/core/envelope.js';
import { PrometheusError } from '../../src/core/errors.js';
import type { ProbeView } from '../../src/core/readiness.js';
import { configuredChecks } from '../../src/core/settings.js';
import type { Snapshot } from '../../src/core/snapshot.js';
import { createMonitor } from '../../src/monitor.js';
import { fakeClock } from './clock.js';
import { seedOnly } from './config.js';

export type Answer = (promql: string) => Promise<QueryResult>;

/** The view after one evaluation per answer, in order. */
export async function viewAfter(answers: Answer[], env = {}): Promise<ProbeView> {
  const config = loadConfig(seedOnly(env));
  const checks = configuredChecks(config);
  const clock = fakeClock();
  let answer = answers[0]!;
  const monitor = createMonitor({
    checks,
    client: { query: (promql) => answer(promql) },
    intervalMs: 10_000,
    staleAfterMs: 60_000,
    onPrometheusError: 'pass',
    clock,
  });
  let snapshot: Snapshot | null = null;
  for (answer of answers) snapshot = await monitor.evaluate();
  return { phase: 'running', snapshot, config, checks, version: '1.2.3', nodeVersion: process.versions.node, startedAtMs: clock.now() - 5_000 };
}

export const healthy = (promql: string): Promise<QueryResult> =>
  Promise.resolve({ resultType: 'vector', samples: [{ value: promql.includes('skew') ? 1.25 : 3, labels: {} }], warnings: [] });
export const refused = (): Promise<QueryResult> => Promise.reject(new PrometheusError('PROM_NETWORK', 'refused'));
export const empty = (): Promise<QueryResult> => Promise.resolve({ resultType: 'vector', samples: [], warnings: [] });
