import assert from 'node:assert/strict';
import test from 'node:test';
import {
  decideFleet,
  type FleetSettings,
  type FleetView,
  fleetOrder,
  fleetQuery,
  loneFleet,
  nextFleet,
  turnOf,
  type UnreadyLimit,
  unreadyAllowance,
} from '../../src/core/fleet.js';

const MINUTE = 60_000;
const ROTATE = 5 * MINUTE;
const HANDOVER = 10_000;

function settings(self: string, maxUnready: UnreadyLimit = { kind: 'count', count: 1 }): FleetSettings {
  return { self, maxUnready, rotateMs: ROTATE, handoverMs: HANDOVER };
}

function seen(replicas: readonly string[], ownUnready: readonly string[] = []): FleetView {
  return { source: 'prometheus', replicas: [...replicas].sort(), ownUnready, seenAtMs: 0 };
}

/** Who answers unready at `nowMs` when every replica sees `view` (each computing on its own, as in production). */
function unreadyAt(view: FleetView, nowMs: number, limit?: UnreadyLimit): string[] {
  return view.replicas.filter((self) => decideFleet(view, settings(self, limit), nowMs).unready);
}

// Well inside a rotation period: past the handover.
const SETTLED = 3 * ROTATE + 2 * MINUTE;

test('the allowance: counts as given, shares rounded down, never below 1', () => {
  const cases: [UnreadyLimit, number, number][] = [
    [{ kind: 'count', count: 1 }, 3, 1],
    [{ kind: 'count', count: 2 }, 3, 2],
    [{ kind: 'count', count: 5 }, 3, 5],
    [{ kind: 'percent', percent: 25 }, 3, 1], // 0.75 rounds down to 0, raised to 1
    [{ kind: 'percent', percent: 25 }, 8, 2],
    [{ kind: 'percent', percent: 25 }, 11, 2], // 2.75
    [{ kind: 'percent', percent: 50 }, 5, 2],
    [{ kind: 'percent', percent: 33.3 }, 3, 1], // 0.999 is not 1
    [{ kind: 'percent', percent: 100 }, 3, 3],
    [{ kind: 'percent', percent: 100 }, 1, 1],
    [{ kind: 'percent', percent: 10 }, 1, 1],
  ];
  for (const [limit, size, expected] of cases) assert.equal(unreadyAllowance(limit, size), expected, `${JSON.stringify(limit)} of ${size}`);
});

test('exactly the allowance is unready, every replica agreeing, for fleets of 1 to 12', () => {
  for (let size = 1; size <= 12; size += 1) {
    const names = Array.from({ length: size }, (_, index) => `consumer-${index}`);
    for (const limit of [
      { kind: 'count', count: 1 },
      { kind: 'count', count: 2 },
      { kind: 'percent', percent: 25 },
      { kind: 'percent', percent: 100 },
    ] as UnreadyLimit[]) {
      const unready = unreadyAt(seen(names), SETTLED, limit);
      assert.equal(unready.length, Math.min(size, unreadyAllowance(limit, size)), `${size} replicas, ${JSON.stringify(limit)}: ${unready.join(',')}`);
    }
  }
});

test('a lone replica (never saw its fleet) is unready for a failure, as before the limit', () => {
  const decision = decideFleet(loneFleet('solo'), settings('solo'), SETTLED);
  assert.equal(decision.unready, true);
  assert.equal(decision.fleetSize, 1);
  // At a rotation boundary too: its turn never ends, so no handover gap.
  assert.equal(decideFleet(loneFleet('solo'), settings('solo'), 4 * ROTATE + 1).unready, true);
});

test('the choice is stable within a rotation and moves to another replica at each rotation', () => {
  const view = seen(['a', 'b', 'c']);
  const chosen: string[] = [];
  for (let period = 10; period < 16; period += 1) {
    const early = unreadyAt(view, period * ROTATE + HANDOVER + 1);
    const late = unreadyAt(view, (period + 1) * ROTATE - 1);
    assert.deepEqual(early, late, `stable through period ${period}`);
    assert.equal(early.length, 1);
    chosen.push(early[0]!);
  }
  for (let i = 1; i < chosen.length; i += 1) assert.notEqual(chosen[i], chosen[i - 1], `rotation ${i} moved on: ${chosen.join(' ')}`);
  assert.deepEqual(new Set(chosen), new Set(['a', 'b', 'c']), 'every replica takes a turn');
});

test('at a rotation the replica leaving goes first: never two unready during the handover', () => {
  const view = seen(['a', 'b', 'c', 'd']);
  for (let period = 20; period < 24; period += 1) {
    const boundary = period * ROTATE;
    for (const offset of [-1, 0, 1, HANDOVER / 2, HANDOVER - 1, HANDOVER, HANDOVER + 1]) {
      const unready = unreadyAt(view, boundary + offset);
      assert.ok(unready.length <= 1, `${offset} ms after a boundary: ${unready.join(',')}`);
    }
    assert.equal(unreadyAt(view, boundary + HANDOVER / 2).length, 0, 'the newcomer waits for the handover');
    assert.equal(unreadyAt(view, boundary + HANDOVER).length, 1, 'and takes its turn after it');
  }
});

test('replicas unready for their own reasons count against the limit; one chosen does not count itself', () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  // b is shutting down: with a limit of 1 nobody else is made unready.
  assert.deepEqual(unreadyAt(seen(names, ['b']), SETTLED), []);
  // With a limit of 2, one more.
  assert.equal(unreadyAt(seen(names, ['b']), SETTLED, { kind: 'count', count: 2 }).length, 1);
  assert.ok(!unreadyAt(seen(names, ['b']), SETTLED, { kind: 'count', count: 2 }).includes('b'));
  // The chosen one exports itself as not unready for its own reasons; even if an old scrape said otherwise, its own
  // name in ownUnready is ignored by itself, so it does not talk itself out of its turn.
  const chosen = unreadyAt(seen(names), SETTLED)[0]!;
  assert.equal(decideFleet(seen(names, [chosen]), settings(chosen), SETTLED).unready, true);
  // An ownUnready name that is not in the fleet (a pod long gone) is ignored.
  assert.equal(unreadyAt(seen(names, ['ghost']), SETTLED).length, 1);
});

test('names that change: a replica replaced by another moves the choice by at most one place', () => {
  const before = ['api-7c9f-a', 'api-7c9f-b', 'api-7c9f-c', 'api-7c9f-d'];
  const after = ['api-7c9f-a', 'api-7c9f-b', 'api-7c9f-c', 'api-8d1e-x'];
  const orderBefore = fleetOrder(before).filter((name) => after.includes(name));
  const orderAfter = fleetOrder(after).filter((name) => before.includes(name));
  assert.deepEqual(orderAfter, orderBefore, 'the survivors keep their relative order');
  assert.deepEqual(fleetOrder([...before].reverse()), fleetOrder(before), 'the order does not depend on the order names arrive in');
  assert.deepEqual(fleetOrder(['a', 'a', 'b']), fleetOrder(['b', 'a']), 'duplicates count once');
});

test('two replicas that briefly see different fleets: at most the allowance per distinct view are unready', () => {
  // The README's bound: while views disagree (a pod added or removed, seen by some replicas one scrape before the
  // others), each distinct view picks at most its allowance, so at most allowance x views are unready; once they
  // agree, exactly the allowance.
  const full = ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'];
  for (let period = 0; period < 40; period += 1) {
    const nowMs = period * ROTATE + 2 * MINUTE;
    for (const missing of full) {
      const partial = full.filter((name) => name !== missing);
      // Some replicas (including the missing one itself, which always counts itself) see all five, the rest four.
      const unready = new Set<string>();
      for (const self of full) {
        const view = self === missing || self < 'p-3' ? seen(full) : seen(partial);
        if (decideFleet(view, settings(self), nowMs).unready) unready.add(self);
      }
      assert.ok(unready.size <= 2, `period ${period}, ${missing} unseen by some: ${[...unready].join(',')}`);
      const agreed = full.filter((self) => decideFleet(seen(full), settings(self), nowMs).unready);
      assert.equal(agreed.length, 1);
    }
  }
});

test('turnOf passes over replicas unready for their own reasons and wraps round the order', () => {
  const order = fleetOrder(['a', 'b', 'c']);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [], 1, 0), [order[0]]);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [], 1, 4), [order[1]]);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [], 2, 1), [order[2], order[0]]);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [order[0]!], 1, 0), [order[1]]);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [], 0, 0), []);
  assert.deepEqual(turnOf(['a', 'b', 'c'], [], 5, 0), order);
});

test('the last fleet seen stands through an empty answer while fresh, then the replica is alone', () => {
  const previous: FleetView = { source: 'prometheus', replicas: ['a', 'b', 'c'], ownUnready: [], seenAtMs: 1_000 };
  assert.equal(nextFleet(previous, [], 1_000 + 60_000, 15 * MINUTE, 'a'), previous, 'a scrape gap');
  assert.equal(nextFleet(previous, null, 1_000 + 60_000, 15 * MINUTE, 'a'), previous, 'a failed query');
  assert.deepEqual(nextFleet(previous, [], 1_000 + 15 * MINUTE, 15 * MINUTE, 'a'), loneFleet('a'), 'too old');
  assert.deepEqual(nextFleet(loneFleet('a'), [], 5_000, 15 * MINUTE, 'a'), loneFleet('a'), 'never seen');
  // Series without the fleet label name nobody: not a fleet.
  assert.deepEqual(nextFleet(loneFleet('a'), [{ name: '', ownUnready: false }], 5_000, 15 * MINUTE, 'a'), loneFleet('a'));
  const next = nextFleet(
    previous,
    [
      { name: 'b', ownUnready: true },
      { name: 'd', ownUnready: false },
    ],
    9_000,
    15 * MINUTE,
    'a',
  );
  assert.deepEqual(next, { source: 'prometheus', replicas: ['a', 'b', 'd'], ownUnready: ['b'], seenAtMs: 9_000 }, 'a scale-in is believed at once; self is always in');
});

test('the fleet query names every group, escaped, and the namespace when known', () => {
  assert.equal(fleetQuery(['orders'], 'pod', null), 'max by (pod) (crm_events_health_own_unready{consumergroup="orders"})');
  assert.equal(
    fleetQuery(['a"b', 'c'], 'kubernetes_pod_name', 'shop'),
    'max by (kubernetes_pod_name) (crm_events_health_own_unready{consumergroup="a\\"b",namespace="shop"} or crm_events_health_own_unready{consumergroup="c",namespace="shop"})',
  );
});

test('the explanation says who is unready and why', () => {
  const view = seen(['a', 'b', 'c']);
  const [chosen] = unreadyAt(view, SETTLED);
  const held = ['a', 'b', 'c'].find((name) => name !== chosen)!;
  assert.match(
    decideFleet(view, settings(held), SETTLED).explanation,
    new RegExp(`^held ready: 1 of 3 replicas may be unready for a group-wide failure; unready now: ${chosen}$`),
  );
  assert.match(decideFleet(view, settings(chosen!), SETTLED).explanation, /^unready: this replica's turn \(1 of 3 replicas/);
  assert.match(decideFleet(seen(['a', 'b', 'c'], [held]), settings(chosen!), SETTLED).explanation, /held ready: 1 of 3 .*1 already unready for their own reasons/);
});
