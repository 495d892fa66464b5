import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { CheckDefinition } from '../../src/core/checks.js';
import type { QueryResult } from '../../src/core/envelope.js';
import { PrometheusError } from '../../src/core/errors.js';
import { configuredChecks } from '../../src/core/settings.js';
import type { Snapshot } from '../../src/core/snapshot.js';
import type { Logger } from '../../src/log.js';
import { createMonitor, type MonitorOptions, type QueryClient } from '../../src/monitor.js';
import { fakeClock } from '../helpers/clock.js';
import { seedOnly } from '../helpers/config.js';

const checks = configuredChecks(loadConfig(seedOnly({})));
const vector = (value: number): QueryResult => ({ resultType: 'vector', samples: [{ value, labels: {} }], warnings: [] });

/** A client whose answers the test sets; it counts queries and remembers their signals. */
function scriptedClient() {
  const state = {
    queries: 0,
    signals: [] as AbortSignal[],
    answer: (promql: string): Promise<QueryResult> => Promise.resolve(vector(promql.includes('skew') ? 1.5 : 3)),
  };
  const client: QueryClient = {
    query(promql, signal) {
      state.queries += 1;
      if (signal) state.signals.push(signal);
      return state.answer(promql);
    },
  };
  return { state, client };
}

function recordingLog() {
  const events: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const log: Logger = { log: (level, event, fields = {}) => events.push({ level, event, fields: { ...fields } }) };
  return { events, log };
}

function setup(overrides: Partial<MonitorOptions> = {}, timerLatenessMs = 0) {
  const clock = fakeClock(undefined, timerLatenessMs);
  const { state, client } = scriptedClient();
  const { events, log } = recordingLog();
  const updates: Snapshot[] = [];
  const monitor = createMonitor({
    checks,
    client,
    intervalMs: 10_000,
    staleAfterMs: 60_000,
    onPrometheusError: 'pass',
    clock,
    log,
    onUpdate: (s) => updates.push(s),
    ...overrides,
  });
  return { clock, state, events, updates, monitor };
}

test('evaluates at once, then once per interval, however often it is read', async (t) => {
  const { clock, state, monitor, updates } = setup();
  t.after(() => monitor.stop());
  monitor.start();
  await clock.advance(0);
  assert.equal(state.queries, 2);
  assert.equal(updates.length, 1);
  assert.equal(monitor.current()?.verdict.healthy, true);
  for (let i = 0; i < 1000; i += 1) monitor.current(); // reading costs no query
  await clock.advance(95_000);
  assert.equal(updates.length, 10, 'one evaluation at start and one per 10 s');
  assert.equal(state.queries, 20);
});

test('at most one evaluation is in flight', async (t) => {
  const { clock, state, monitor } = setup();
  t.after(() => monitor.stop());
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  state.answer = async () => {
    await gate;
    return vector(3);
  };
  const first = monitor.evaluate();
  const second = monitor.evaluate();
  assert.equal(first, second);
  monitor.start(); // the loop joins the evaluation in flight instead of starting another
  await clock.advance(30_000);
  assert.equal(state.queries, 2);
  release();
  await first;
  await clock.advance(0);
  assert.equal(state.queries, 4, 'the late tick runs at once, then the loop is back on its rate');
  await clock.advance(10_000);
  assert.equal(state.queries, 6);
});

test('errors are counted by code, logged when they begin and when they end, and the verdict goes stale then unknown', async (t) => {
  const { clock, state, monitor, events } = setup();
  t.after(() => monitor.stop());
  monitor.start();
  await clock.advance(0);
  assert.equal(monitor.current()?.verdict.state, 'pass');

  state.answer = () => Promise.reject(new PrometheusError('PROM_NETWORK', 'refused'));
  await clock.advance(10_000);
  let snapshot = monitor.current()!;
  assert.deepEqual(
    snapshot.verdict.checks.map((c) => [c.state, c.stale]),
    [
      ['pass', true],
      ['pass', true],
    ],
  );
  assert.equal(snapshot.verdict.healthy, true);
  assert.equal(snapshot.failedEvaluations, 1);

  await clock.advance(50_000); // six failed evaluations; the last good answer is now 60 s old
  snapshot = monitor.current()!;
  assert.deepEqual(
    snapshot.verdict.checks.map((c) => c.state),
    ['unknown', 'unknown'],
  );
  assert.equal(snapshot.verdict.state, 'unknown');
  assert.equal(snapshot.verdict.healthy, true, 'ON_PROMETHEUS_ERROR=pass');
  assert.equal(snapshot.stats.get('skew_ratio')!.errors.get('PROM_NETWORK'), 6);

  state.answer = () => Promise.reject(new PrometheusError('PROM_TIMEOUT', 'slow'));
  await clock.advance(10_000);
  state.answer = (promql) => Promise.resolve(vector(promql.includes('skew') ? 5.2 : 3));
  await clock.advance(10_000);
  snapshot = monitor.current()!;
  assert.deepEqual([snapshot.verdict.state, snapshot.verdict.message], ['fail', 'Hot-key skew high: 5.2x']);
  assert.equal(snapshot.failedEvaluations, 0);

  const names = events.map((e) => e.event);
  assert.deepEqual(
    names.filter((n) => n.startsWith('prometheus')),
    ['prometheus_error', 'prometheus_error', 'prometheus_recovered'],
    'one line when errors begin, one when they change, one when they end: not one per tick',
  );
  assert.deepEqual(events.find((e) => e.event === 'prometheus_recovered')!.fields, { failed_evaluations: 7, outage_seconds: 70 });
  assert.deepEqual(
    events.filter((e) => e.event === 'verdict_changed').map((e) => [e.fields.from, e.fields.to]),
    [
      ['starting', 'pass'],
      ['pass', 'unknown'],
      ['unknown', 'fail'],
    ],
  );
});

test('ON_PROMETHEUS_ERROR=fail fails an unknown verdict', async (t) => {
  const { clock, state, monitor } = setup({ onPrometheusError: 'fail' });
  t.after(() => monitor.stop());
  state.answer = () => Promise.reject(new PrometheusError('PROM_DNS', 'no such host'));
  monitor.start();
  await clock.advance(0);
  const verdict = monitor.current()!.verdict;
  assert.deepEqual([verdict.state, verdict.healthy], ['unknown', false]);
});

test('a bug in the client or the renderer is reported, never thrown out of the loop', async (t) => {
  let calls = 0;
  const { clock, state, monitor, events } = setup({
    onUpdate: () => {
      calls += 1;
      throw new Error('render bug');
    },
  });
  t.after(() => monitor.stop());
  state.answer = () => Promise.reject(new TypeError('oops'));
  monitor.start();
  await clock.advance(20_000);
  assert.equal(calls, 3, 'the loop goes on');
  assert.equal(monitor.current()!.stats.get('consumer_count')!.errors.get('PROBE_INTERNAL'), 3);
  assert.ok(events.some((e) => e.event === 'render_failed'));
});

test('stop aborts the query in flight and leaves no timer behind, without counting it as an error', async () => {
  const { clock, state, monitor, events, updates } = setup();
  state.answer = (_promql) =>
    new Promise((_resolve, reject) => {
      const signal = state.signals.at(-1)!;
      signal.addEventListener('abort', () => reject(new PrometheusError('PROM_TIMEOUT', 'aborted')));
    });
  monitor.start();
  await clock.advance(0);
  await monitor.stop();
  assert.ok(state.signals.every((s) => s.aborted));
  assert.equal(updates.length, 0, 'a cancelled evaluation is not an evaluation');
  assert.deepEqual(
    events.filter((e) => e.event.startsWith('prometheus')),
    [],
  );
  assert.equal(clock.pendingTimers(), 0);
  const queries = state.queries;
  await clock.advance(60_000);
  assert.equal(state.queries, queries);
});

test('query durations land in the histogram', async (t) => {
  const { clock, state, monitor } = setup();
  t.after(() => monitor.stop());
  state.answer = async () => {
    await clock.advance(30); // the fake clock moves while the query runs
    return vector(3);
  };
  await monitor.evaluate();
  const stats = monitor.current()!.stats.get('skew_ratio')!;
  assert.equal(stats.durationCount, 1);
  assert.ok(stats.durationSumS >= 0.03);
  assert.equal(stats.durationBuckets[0], 0, '<= 5 ms');
  assert.equal(stats.durationBuckets.at(-1), 1, '<= 10 s');
});

test('staleness is measured on the monotonic clock: a wall clock step neither stretches nor cuts STALE_AFTER', async (t) => {
  for (const step of [-3_600_000, 3_600_000]) {
    const { clock, state, monitor } = setup();
    t.after(() => monitor.stop());
    state.answer = (promql) => Promise.resolve(vector(promql.includes('skew') ? 9 : 3));
    monitor.start();
    await clock.advance(0);
    state.answer = () => Promise.reject(new PrometheusError('PROM_NETWORK', 'refused'));
    clock.stepWall(step);
    await clock.advance(50_000);
    assert.equal(monitor.current()!.verdict.state, 'fail', `wall step ${step}: 50 s old, the last verdict stands`);
    await clock.advance(10_000);
    assert.equal(monitor.current()!.verdict.state, 'unknown', `wall step ${step}: 60 s old, unknown`);
    await monitor.stop();
  }
});

test('the rate does not drift when timers fire late', async (t) => {
  const { clock, state, monitor } = setup({}, 200); // every timer fires 200 ms late
  t.after(() => monitor.stop());
  state.answer = async () => {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 2_800)); // each evaluation takes 3 s
    return vector(3);
  };
  monitor.start();
  await clock.advance(100_300);
  // Due at 0, 10, ..., 100 s and each 200 ms late: 11 by 100.3 s. Counting the interval from each late start
  // would have drifted to 0, 10.2, 20.4, ... and made only 10.
  assert.equal(state.queries / 2, 11);
  const stopping = monitor.stop();
  await clock.advance(3_000); // the evaluation in flight ignores the abort: let it end
  await stopping;
});

test('replaceChecks: a check with the same id and query keeps its history, another starts afresh, all evaluated at once', async () => {
  const { monitor, state, clock } = setup();
  state.answer = (promql) => Promise.resolve(vector(promql.includes('skew') || promql === 'other' ? 9 : 3));
  await monitor.evaluate();
  const before = monitor.current()!;
  const skewStats = before.stats.get('skew_ratio')!;
  const [skew, consumers] = checks as [CheckDefinition, CheckDefinition];
  const stricter = { ...consumers, threshold: 5 } as CheckDefinition;
  const queries = state.queries;
  const after = (await monitor.replaceChecks([skew, stricter]))!;
  assert.equal(state.queries, queries + 3, 'evaluated at once (skew breaches, so its trend is asked too)');
  assert.equal(after.evaluations, before.evaluations + 1);
  assert.deepEqual(
    after.verdict.checks.map((c) => [c.record.check.id, c.state]),
    [
      ['skew_ratio', 'fail'],
      ['consumer_count', 'fail'],
    ],
  );
  assert.equal(after.stats.get('skew_ratio')!.durationCount, skewStats.durationCount + 1, 'counters carried over, not reset');
  assert.equal(before.stats.get('skew_ratio'), skewStats, 'an earlier snapshot is never changed');
  assert.equal(skewStats.durationCount, 1);
  assert.equal(after.verdict.message, 'Hot-key skew high: 9x; Too few consumers: 3 < 5');
  const firingSince = after.verdict.checks[0]!.record.damping.breachSinceMs;
  const withFor = { ...skew, forMs: 60_000, failMessage: 'skew {value}' } as CheckDefinition;
  const edited = (await monitor.replaceChecks([withFor, stricter]))!;
  assert.deepEqual(
    [edited.verdict.checks[0]!.state, edited.verdict.checks[0]!.record.damping.breachSinceMs],
    ['fail', firingSince],
    'still firing: an edit is no new breach',
  );
  const moved = { ...skew, query: 'other' } as CheckDefinition;
  await clock.advance(5_000);
  const fresh = (await monitor.replaceChecks([moved]))!;
  assert.notEqual(fresh.verdict.checks[0]!.record.damping.breachSinceMs, firingSince, 'a new query is a new breach');

  const only = (await monitor.replaceChecks([stricter]))!;
  assert.deepEqual(
    only.verdict.checks.map((c) => c.record.check.id),
    ['consumer_count'],
  );
  assert.deepEqual([...only.stats.keys()], ['consumer_count'], 'a removed check leaves /metrics');
});

test('replaceChecks cancels an evaluation in flight: its answers are never recorded against the new checks', async () => {
  const { monitor, state } = setup();
  const releases: (() => void)[] = [];
  // Answers that arrive after the abort, as a server that ignores the cancelled request would send them.
  state.answer = () => new Promise((resolve) => releases.push(() => resolve(vector(100))));
  const stuck = monitor.evaluate();
  state.answer = (promql) => Promise.resolve(vector(promql.includes('skew') ? 1.5 : 3));
  const replaced = monitor.replaceChecks(checks);
  assert.equal(state.signals[0]?.aborted, true, 'the queries in flight are aborted');
  for (const release of releases) release();
  await stuck;
  const snapshot = (await replaced)!;
  assert.equal(snapshot.verdict.healthy, true);
  assert.equal(snapshot.evaluations, 1, 'the cancelled evaluation did not count');
});

test('replaceChecks after stop() began evaluates nothing: no query reaches a client that is being closed', async () => {
  const { monitor, state, clock } = setup();
  const releases: (() => void)[] = [];
  state.answer = () => new Promise((resolve) => releases.push(() => resolve(vector(3))));
  void monitor.evaluate();
  const replaced = monitor.replaceChecks(checks);
  const stopped = monitor.stop();
  for (const release of releases) release();
  await Promise.all([replaced, stopped]);
  const queries = state.queries;
  // Six intervals on the fake clock (timers and pending callbacks run): every chance to ask again.
  await clock.advance(60_000);
  assert.equal(state.queries, queries, 'nothing asked after stop');
  assert.equal(clock.pendingTimers(), 0, 'and nothing left to ask later');
  assert.equal(queries, 2, "only the first evaluation's two queries");
});

/**
 * The fake clock's monotonic times at which the client was asked, one entry per query; `answer` replaces the
 * client's answers from then on (state.answer itself stays the recording wrapper).
 */
function askedAt(clock: ReturnType<typeof fakeClock>, state: ReturnType<typeof scriptedClient>['state']) {
  const times: number[] = [];
  const script = { answer: state.answer };
  state.answer = (promql) => {
    times.push(clock.monotonicMs());
    return script.answer(promql);
  };
  return {
    times,
    /** One entry per evaluation: the seed's two checks ask two queries each. */
    evaluations: () => times.filter((_, i) => i % 2 === 0),
    answer(next: (promql: string) => Promise<QueryResult>) {
      script.answer = next;
    },
  };
}

const refusal = (code: 'PROM_OVERLOADED' | 'PROM_UNAVAILABLE', retryAfterMs?: number) => () =>
  Promise.reject(new PrometheusError(code, 'refused', { statusCode: code === 'PROM_OVERLOADED' ? 429 : 503, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }));

describe('the schedule offset: no lockstep', () => {
  // The fake clock starts at 2026-11-26T12:00:00Z, a whole number of intervals.
  const cases: ReadonlyArray<[string, number, number, number[]]> = [
    // name, offset, ms after the interval's start at which the probe starts, evaluation times (monotonic)
    ['offset 0 started on the grid: every interval from the start', 0, 0, [0, 10_000, 20_000, 30_000]],
    ['offset 3 s started at 0: the first at once, the next at 13 s (never sooner than one interval)', 3_000, 0, [0, 13_000, 23_000, 33_000]],
    ['offset 3 s started at 1 s: 2 s to the grid is too soon, so 12 s', 3_000, 1_000, [0, 12_000, 22_000, 32_000]],
    ['offset 7 s started at 1 s: the grid at 6 s is too soon, so 16 s', 7_000, 1_000, [0, 16_000, 26_000]],
  ];
  for (const [name, offset, startAfterMs, expected] of cases) {
    test(name, async (t) => {
      const { clock, state, monitor } = setup({ scheduleOffsetMs: offset });
      t.after(() => monitor.stop());
      await clock.advance(startAfterMs);
      const asked = askedAt(clock, state);
      const base = clock.monotonicMs();
      monitor.start();
      await clock.advance(35_000);
      const evaluations = asked.evaluations().map((at) => at - base);
      assert.deepEqual(evaluations, expected);
      // On the wall clock, every tick after the first falls on k x interval + offset.
      for (const at of evaluations.slice(1)) assert.equal((at + startAfterMs) % 10_000, offset);
    });
  }

  test('two replicas started at different moments ask at their own offsets, apart', async (t) => {
    const first = setup({ scheduleOffsetMs: 2_000 });
    const second = setup({ scheduleOffsetMs: 7_000 });
    t.after(() => Promise.all([first.monitor.stop(), second.monitor.stop()]));
    const a = askedAt(first.clock, first.state).times;
    const b = askedAt(second.clock, second.state).times;
    first.monitor.start();
    await first.clock.advance(40_000);
    await second.clock.advance(1_234); // the second replica starts 1.234 s after the first
    second.monitor.start();
    await second.clock.advance(40_000 - 1_234);
    const wallA = a.slice(2).map((at) => at % 10_000);
    const wallB = b.slice(2).map((at) => at % 10_000);
    assert.ok(wallA.every((at) => at === 2_000));
    assert.ok(wallB.every((at) => at === 7_000));
  });

  test('/status material: the snapshot carries the offset', async (t) => {
    const { clock, monitor } = setup({ scheduleOffsetMs: 4_321 });
    t.after(() => monitor.stop());
    monitor.start();
    await clock.advance(0);
    assert.deepEqual(monitor.current()?.schedule, { offsetMs: 4_321, refusals: 0 });
  });
});

describe('refusals: backoff with jitter, Retry-After, back on the grid', () => {
  test('429: the next evaluations back off (interval x 2^n, capped at STALE_AFTER / 2), then the first success returns to the grid', async (t) => {
    // random() = 1, the bound of [0, 1): the longest wait each time, so the table is exact.
    const { clock, state, monitor } = setup({ random: () => 1 });
    t.after(() => monitor.stop());
    const asked = askedAt(clock, state);
    monitor.start();
    await clock.advance(0);
    asked.answer(refusal('PROM_OVERLOADED'));
    const refusedFrom = asked.times.length;
    await clock.advance(10_000); // the tick at 10 s is refused
    await clock.advance(80_000);
    const evaluations = asked.evaluations();
    // 0 ok; 10 s refused (1); +20 s -> 30 s refused (2); +30 s (4 intervals capped at 30 s) -> 60 s (3); +30 s -> 90 s.
    assert.deepEqual(evaluations, [0, 10_000, 30_000, 60_000, 90_000]);
    assert.ok(asked.times.length > refusedFrom);
    assert.equal(monitor.current()?.schedule?.refusals, 4);
    asked.answer((promql) => Promise.resolve(vector(promql.includes('skew') ? 1.5 : 3)));
    await clock.advance(30_000); // 120 s: the backoff's last wait, and this one succeeds
    assert.equal(monitor.current()?.schedule?.refusals, 0);
    await clock.advance(30_000);
    assert.deepEqual(asked.evaluations().slice(5), [120_000, 130_000, 140_000, 150_000], 'back to one evaluation per interval, on the grid');
  });

  const jitter: ReadonlyArray<[number, number]> = [
    [0, 20_000], // random 0: one interval after the refused tick at 10 s
    [0.5, 25_000], // half-way between one and two intervals
  ];
  for (const [random, next] of jitter) {
    test(`503, random ${random}: the next evaluation at ${next / 1000} s`, async (t) => {
      const { clock, state, monitor } = setup({ random: () => random });
      t.after(() => monitor.stop());
      const asked = askedAt(clock, state);
      monitor.start();
      await clock.advance(0);
      asked.answer(refusal('PROM_UNAVAILABLE'));
      await clock.advance(10_000 + 25_000);
      assert.deepEqual(asked.evaluations().slice(0, 3), [0, 10_000, next]);
    });
  }

  test('Retry-After: nothing is asked before it has passed', async (t) => {
    const { clock, state, monitor } = setup({ random: () => 0 });
    t.after(() => monitor.stop());
    const asked = askedAt(clock, state);
    monitor.start();
    await clock.advance(0);
    asked.answer(refusal('PROM_OVERLOADED', 45_000));
    await clock.advance(10_000);
    const after = asked.times.length;
    await clock.advance(44_999);
    assert.equal(asked.times.length, after, 'no query during the 45 s the backend asked for');
    await clock.advance(1);
    assert.equal(asked.times.length, after + 2, 'asked again once it has passed');
  });

  test('Retry-After longer than STALE_AFTER: asked again after STALE_AFTER, and the verdict is unknown by then', async (t) => {
    const { clock, state, monitor } = setup({ random: () => 0 });
    t.after(() => monitor.stop());
    const asked = askedAt(clock, state);
    monitor.start();
    await clock.advance(0);
    asked.answer(refusal('PROM_UNAVAILABLE', 3_600_000));
    await clock.advance(10_000);
    assert.equal(monitor.current()?.verdict.checks[0]?.stale, true, 'the last answer stands while fresh');
    const after = asked.times.length;
    await clock.advance(59_999);
    assert.equal(asked.times.length, after);
    await clock.advance(1);
    assert.equal(asked.times.length, after + 2, 'asked again STALE_AFTER after the refusal');
    assert.equal(monitor.current()?.verdict.state, 'unknown', 'no answer for 70 s: unknown, and the policy decides');
  });

  test('other errors keep the normal schedule: a timeout or a refused connection is not a refusal', async (t) => {
    const { clock, state, monitor } = setup({ random: () => 0.999999 });
    t.after(() => monitor.stop());
    const asked = askedAt(clock, state);
    monitor.start();
    await clock.advance(0);
    asked.answer(() => Promise.reject(new PrometheusError('PROM_TIMEOUT', 'slow')));
    await clock.advance(40_000);
    assert.deepEqual(asked.evaluations(), [0, 10_000, 20_000, 30_000, 40_000]);
    assert.equal(monitor.current()?.schedule?.refusals, 0);
  });

  test('never more than one evaluation per interval, whatever the randomness', async (t) => {
    for (const r of [0, 0.3, 0.999999]) {
      const { clock, state, monitor } = setup({ random: () => r, scheduleOffsetMs: 1_500 });
      t.after(() => monitor.stop());
      const asked = askedAt(clock, state);
      let n = 0;
      asked.answer(() => (n++ % 3 === 0 ? Promise.resolve(vector(3)) : refusal('PROM_OVERLOADED', 500)()));
      monitor.start();
      await clock.advance(300_000);
      const evaluations = asked.evaluations();
      for (let i = 1; i < evaluations.length; i += 1) {
        assert.ok(evaluations[i]! - evaluations[i - 1]! >= 10_000, `random ${r}: ${evaluations.join(', ')}`);
      }
    }
  });
});
