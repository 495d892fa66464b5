import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRouter } from '../../src/core/router.js';

const router = createRouter<string>().add('GET', '/ready', 'ready').add('GET', '/health', 'health').add('POST', '/reload', 'reload');

test('match: exact paths, HEAD falls back to GET, the query string is ignored', () => {
  const cases: [string, string, string][] = [
    ['GET', '/ready', 'found:ready'],
    ['HEAD', '/ready', 'found:ready'],
    ['GET', '/ready?verbose', 'found:ready'],
    ['GET', '/health?', 'found:health'],
    ['POST', '/reload', 'found:reload'],
    ['DELETE', '/ready', 'method_not_allowed:GET, HEAD'],
    ['GET', '/reload', 'method_not_allowed:POST'],
    ['HEAD', '/reload', 'method_not_allowed:POST'],
    ['GET', '/ready/', 'not_found'],
    ['GET', '//ready', 'not_found'],
    ['GET', '/ready/../health', 'not_found'],
    ['GET', '/ready%00', 'not_found'],
    ['GET', '', 'not_found'],
    ['GET', '*', 'not_found'],
  ];
  for (const [method, url, expected] of cases) {
    const match = router.match(method, url);
    const got = match.kind === 'found' ? `found:${match.handler}` : match.kind === 'method_not_allowed' ? `method_not_allowed:${match.allow}` : match.kind;
    assert.equal(got, expected, `${method} ${url}`);
  }
});
