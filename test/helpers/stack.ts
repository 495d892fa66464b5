// The stack the end-to-end tests judge: a fake kafka_exporter (kafka_exporter's metric names) scraped by Debian's
// real Prometheus, which evaluates the shipped recording rules. Everything on 127.0.0.1; the probe is the caller's.
import { after, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FakeExporter, type RealPrometheus, requireBinary, startExporter, startPrometheus } from './real-prometheus.js';

/** The recording rules the repository ships. */
export const RULES = fileURLToPath(new URL('../../monitoring/prometheus-crm-events-rules.yml', import.meta.url));
/** The topic every stack test puts its partitions in. */
export const TOPIC = 'aetherlink.events';

export interface Stack {
  readonly exporter: FakeExporter;
  readonly prometheus: RealPrometheus;
  /** Stops Prometheus, then the exporter. */
  close(): Promise<void>;
}

/** A group at rest: eight partitions with a lag of 10 each (skew 1), and `members` consumers. */
export function balanced(exporter: FakeExporter, group: string, members = 3): void {
  for (let partition = 0; partition < 8; partition += 1) exporter.setLag(group, TOPIC, partition, 10);
  exporter.setMembers(group, members);
}

/**
 * Starts the exporter, lets `prepare` set its series (so that Prometheus' first scrape sees them), then starts
 * Prometheus on it. With `t`, both are stopped after that test; otherwise the caller calls close().
 */
export async function startStack(t?: Pick<TestContext, 'after'>, prepare?: (exporter: FakeExporter) => void): Promise<Stack> {
  const exporter = await startExporter();
  let prometheus: RealPrometheus;
  try {
    prepare?.(exporter);
    prometheus = await startPrometheus({ scrapeTargets: [exporter.target], ruleFiles: [RULES] });
  } catch (error) {
    await exporter.close();
    throw error;
  }
  const stack: Stack = {
    exporter,
    prometheus,
    close: async () => {
      await prometheus.close();
      await exporter.close();
    },
  };
  t?.after(() => stack.close());
  return stack;
}

/**
 * One stack for a whole test file, started by the first test that asks for it and stopped when the file ends.
 * Each test then judges groups of its own, so that the tests do not disturb each other's series. The function
 * returned gives the stack, or undefined after skipping the test (a missing prometheus fails it under CI=true).
 * Call it at the top level of the test file.
 */
export function sharedStack(): (t: TestContext) => Promise<Stack | undefined> {
  let shared: Promise<Stack> | undefined;
  after(async () => {
    const started = await shared?.catch(() => undefined);
    await started?.close();
  });
  return async (t) => {
    if (requireBinary(t, 'prometheus') === undefined) return undefined;
    shared ??= startStack();
    return shared;
  };
}
