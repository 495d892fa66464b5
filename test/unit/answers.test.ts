import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import {
  isPlainReady,
  JSON_TYPE,
  methodNotAllowedReply,
  NOT_FOUND_REPLY,
  parseReadyRequest,
  REPLICA_NAME,
  type ReadyRequest,
  ROUTES,
  selectionReply,
  TEXT_TYPE,
} from '../../src/core/answers.js';
import { observe } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import type { ProbeView } from '../../src/core/readiness.js';
import { checksFor } from '../../src/core/settings.js';
import { judge, newRecord, recordAnswer } from '../../src/core/verdict.js';

const WALL = Date.UTC(2026, 10, 26, 12);
const config = loadConfig({ KAFKA_GROUP: 'orders,billing' });
const file = parseChecksFile(
  JSON.stringify({
    checks: [
      { name: 'lag', query: 'kafka:group_max_lag{consumergroup="{group}"}', comparison: '<=', threshold: 1000 },
      { name: 'members', query: 'kafka:group_consumer_count{consumergroup="{group}"}', comparison: '>=', threshold: 2 },
    ],
  }),
  { severalGroups: true },
);
assert.ok(file.ok);
const checks = checksFor(config, file.templates);

/** A view after one evaluation in which billing's lag is `billingLag` and everything else passes. */
function viewWith(billingLag: number): ProbeView {
  const values: Record<string, number> = { 'orders/lag': 10, 'orders/members': 3, 'billing/lag': billingLag, 'billing/members': 3 };
  const records = checks.map((check) =>
    recordAnswer(newRecord(check), {
      observation: observe(check, [{ value: values[check.id]!, labels: {} }]),
      atMs: WALL,
      atMonotonicMs: 0,
      durationMs: 1,
      warnings: [],
      falling: false,
    }),
  );
  const verdict = judge(records, { nowMonotonicMs: 0, staleAfterMs: 60_000, onPrometheusError: 'pass' });
  return {
    phase: 'running',
    snapshot: { evaluatedAtMs: WALL, evaluations: 1, verdict, lastSuccessMs: WALL, failedEvaluations: 0, stats: new Map(), fleet: null, estimates: new Map() },
    config,
    checks,
    version: '1.2.3',
    nodeVersion: '20.0.0',
    startedAtMs: WALL - 5_000,
  };
}

test('parseReadyRequest: verbose, group, exclude (repeated or with commas), replica and the name from the path', () => {
  const cases: [url: string, name: string | undefined, expected: ReadyRequest][] = [
    ['/ready', undefined, { verbose: false, exclude: [] }],
    ['/ready?', undefined, { verbose: false, exclude: [] }],
    ['/ready?verbose', undefined, { verbose: true, exclude: [] }],
    ['/ready?verbose=false', undefined, { verbose: true, exclude: [] }],
    ['/ready?group=orders', undefined, { verbose: false, exclude: [], group: 'orders' }],
    ['/ready?group=a%20b%2Cc', undefined, { verbose: false, exclude: [], group: 'a b,c' }],
    ['/ready?group=', undefined, { verbose: false, exclude: [], group: '' }],
    ['/ready?exclude=lag', undefined, { verbose: false, exclude: ['lag'] }],
    ['/ready?exclude=lag&exclude=members', undefined, { verbose: false, exclude: ['lag', 'members'] }],
    ['/ready?exclude=lag,members&exclude=skew', undefined, { verbose: false, exclude: ['lag', 'members', 'skew'] }],
    ['/ready?exclude=,lag,,', undefined, { verbose: false, exclude: ['lag'] }],
    ['/ready?exclude=', undefined, { verbose: false, exclude: [] }],
    ['/ready?replica=consumer-7', undefined, { verbose: false, exclude: [], replica: 'consumer-7' }],
    ['/ready/lag', 'lag', { verbose: false, exclude: [], name: 'lag' }],
    ['/ready/lag?verbose&group=billing', 'lag', { verbose: true, exclude: [], group: 'billing', name: 'lag' }],
    ['/ready?group=orders&group=billing', undefined, { verbose: false, exclude: [], group: 'orders' }],
    ['/ready?unknown=1', undefined, { verbose: false, exclude: [] }],
  ];
  for (const [url, name, expected] of cases) assert.deepEqual(parseReadyRequest(url, name), expected, url);
});

test('isPlainReady: only a request asking nothing beyond /ready gets the prepared answer', () => {
  const cases: [url: string, name: string | undefined, plain: boolean][] = [
    ['/ready', undefined, true],
    ['/ready?', undefined, true],
    ['/ready?unknown=1', undefined, true],
    ['/ready?exclude=', undefined, true],
    ['/ready?verbose', undefined, false],
    ['/ready?group=orders', undefined, false],
    ['/ready?exclude=lag', undefined, false],
    ['/ready?replica=consumer-7', undefined, false],
    ['/ready/lag', 'lag', false],
  ];
  for (const [url, name, plain] of cases) assert.equal(isPlainReady(parseReadyRequest(url, name)), plain, url);
});

test('selectionReply: a bad replica name is 400, in the form asked for', () => {
  const view = viewWith(10);
  const cases: [replica: string, valid: boolean][] = [
    ['consumer-7', true],
    ['host_1.example', true],
    ['a'.repeat(253), true],
    ['a'.repeat(254), false],
    ['', false],
    ['-leading-dash', false],
    ['.hidden', false],
    ['has space', false],
    ['slash/name', false],
    ['quote"', false],
    ['naïve', false],
  ];
  for (const [replica, valid] of cases) {
    assert.equal(REPLICA_NAME.test(replica), valid, replica);
    const json = selectionReply(view, checks, { verbose: false, exclude: [], replica });
    const text = selectionReply(view, checks, { verbose: true, exclude: [], replica });
    if (valid) {
      assert.deepEqual([json.statusCode, text.statusCode], [200, 200], replica);
      continue;
    }
    assert.deepEqual([json.statusCode, json.contentType, text.statusCode, text.contentType], [400, JSON_TYPE, 400, TEXT_TYPE], replica);
    const body = JSON.parse(json.body);
    assert.equal(body.error, 'bad_replica', replica);
    assert.ok(body.message.startsWith('A replica name is a host or container name'), replica);
    assert.equal(text.body, `${body.message}\n`, replica);
  }
  // The name is quoted cut to 64 characters: a long hostile value is not echoed whole.
  const long = JSON.parse(selectionReply(view, checks, { verbose: false, exclude: [], replica: `${'x'.repeat(100)} ` }).body);
  assert.ok(long.message.endsWith(`not "${'x'.repeat(64)}"`), long.message);
});

test("selectionReply: a selection's status and content type; unknown names answered in the form asked for", () => {
  const view = viewWith(5000);
  const cases: [name: string, request: ReadyRequest, statusCode: number, contentType: string, body: (body: string) => void][] = [
    ['everything', { verbose: false, exclude: [] }, 500, JSON_TYPE, (body) => assert.equal(JSON.parse(body).message, 'billing: lag is 5000, not <= 1000')],
    [
      'a healthy group',
      { verbose: false, exclude: [], group: 'orders' },
      200,
      JSON_TYPE,
      (body) => assert.deepEqual(JSON.parse(body).checks, { 'orders/lag': 'pass', 'orders/members': 'pass' }),
    ],
    ['the failing check excluded', { verbose: false, exclude: ['lag'] }, 200, JSON_TYPE, (body) => assert.equal(JSON.parse(body).healthy, true)],
    [
      'one check by name',
      { verbose: false, exclude: [], name: 'lag' },
      500,
      JSON_TYPE,
      (body) => assert.deepEqual(Object.keys(JSON.parse(body).checks), ['orders/lag', 'billing/lag']),
    ],
    [
      'verbose',
      { verbose: true, exclude: [], group: 'billing' },
      500,
      TEXT_TYPE,
      (body) => assert.equal(body, '[-]billing/lag failed: lag is 5000, not <= 1000\n[+]billing/members ok\nready check failed\n'),
    ],
    ['unknown group', { verbose: false, exclude: [], group: 'payments' }, 404, JSON_TYPE, (body) => assert.equal(JSON.parse(body).error, 'unknown_group')],
    ['unknown group, verbose', { verbose: true, exclude: [], group: 'payments' }, 404, TEXT_TYPE, (body) => assert.match(body, /^No consumer group "payments"; .*\n$/)],
    ['unknown exclude', { verbose: false, exclude: ['typo'] }, 400, JSON_TYPE, (body) => assert.equal(JSON.parse(body).error, 'unknown_check')],
    ['everything excluded, verbose', { verbose: true, exclude: ['lag', 'members'] }, 400, TEXT_TYPE, (body) => assert.match(body, /^Every check is excluded/)],
  ];
  for (const [name, request, statusCode, contentType, check] of cases) {
    const reply = selectionReply(view, checks, request);
    assert.deepEqual([reply.statusCode, reply.contentType], [statusCode, contentType], name);
    check(reply.body);
  }
});

test('ROUTES and the 404 body: every path route is listed, and nothing else', () => {
  assert.deepEqual(
    ROUTES.map((route) => route.name),
    ['ready', 'readyCheck', 'health', 'status', 'metrics'],
  );
  assert.equal(new Set(ROUTES.map((route) => route.name)).size, ROUTES.length, 'names are unique');
  const body = JSON.parse(NOT_FOUND_REPLY.body);
  assert.deepEqual([NOT_FOUND_REPLY.statusCode, NOT_FOUND_REPLY.contentType, body.error], [404, JSON_TYPE, 'not_found']);
  assert.deepEqual(body.endpoints, ['/ready', '/health', '/status', '/metrics']);
  assert.deepEqual(
    body.endpoints,
    ROUTES.flatMap((route) => ('path' in route ? [route.path] : [])),
  );
  const prefixed = ROUTES.filter((route) => 'prefix' in route);
  assert.deepEqual(
    prefixed.map((route) => ('prefix' in route ? route.prefix : '')),
    ['/ready/'],
  );
  assert.ok(ROUTES.every((route) => route.method === 'GET'));
});

test('methodNotAllowedReply: 405 naming the methods to use', () => {
  const cases: [allow: string, message: string][] = [
    ['GET', 'Use GET'],
    ['GET, HEAD', 'Use GET, HEAD'],
  ];
  for (const [allow, message] of cases) {
    const reply = methodNotAllowedReply(allow);
    assert.deepEqual([reply.statusCode, reply.contentType, JSON.parse(reply.body)], [405, JSON_TYPE, { error: 'method_not_allowed', message }]);
  }
});
