import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseQueryResponse, parseSampleValue, type QueryResult } from '../../src/core/envelope.js';
import { PrometheusError } from '../../src/core/errors.js';

const success = (data: unknown, extra: Record<string, unknown> = {}): string => JSON.stringify({ status: 'success', data, ...extra });
const vector = (...result: unknown[]): string => success({ resultType: 'vector', result });
const element = (value: unknown, metric: unknown = { job: 'x' }): unknown => ({ metric, value: [1712000000.123, value] });

describe('parseSampleValue', () => {
  const good: ReadonlyArray<[string, number]> = [
    ['NaN', Number.NaN],
    ['+Inf', Number.POSITIVE_INFINITY],
    ['Inf', Number.POSITIVE_INFINITY],
    ['-Inf', Number.NEGATIVE_INFINITY],
    ['0', 0],
    ['42', 42],
    ['-3.5', -3.5],
    ['1e+06', 1e6],
    ['1.5E-7', 1.5e-7],
    ['.5', 0.5],
    ['7.', 7],
  ];
  for (const [text, expected] of good) {
    test(`${JSON.stringify(text)} -> ${expected}`, () => {
      assert.ok(Object.is(parseSampleValue(text), expected));
    });
  }

  const bad: ReadonlyArray<[string, unknown]> = [
    ['abc', 'abc'],
    ['empty string', ''],
    ['number instead of string', 1],
    ['missing', undefined],
    ['null', null],
    ['hex', '0x10'],
    ['padded', ' 1'],
    ['lower-case inf', 'inf'],
    ['Infinity spelled out', 'Infinity'],
    ['bare exponent', 'e5'],
  ];
  for (const [name, input] of bad) {
    test(`rejects ${name}`, () => {
      assert.throws(() => parseSampleValue(input), { name: 'PrometheusError', code: 'PROM_BAD_RESPONSE' });
    });
  }
});

describe('parseQueryResponse: usable answers', () => {
  const cases: ReadonlyArray<{ name: string; body: string; expected: QueryResult }> = [
    {
      name: 'vector with several series keeps their order',
      body: vector(
        element('3', { __name__: 'lag', partition: '2' }),
        element('1', { __name__: 'lag', partition: '0' }),
        element('2', { __name__: 'lag', partition: '1' }),
      ),
      expected: {
        resultType: 'vector',
        samples: [
          { value: 3, labels: { __name__: 'lag', partition: '2' } },
          { value: 1, labels: { __name__: 'lag', partition: '0' } },
          { value: 2, labels: { __name__: 'lag', partition: '1' } },
        ],
        warnings: [],
      },
    },
    {
      name: 'special and exponent values',
      body: vector(element('NaN'), element('+Inf'), element('-Inf'), element('Inf'), element('1e+06'), element('-12.5')),
      expected: {
        resultType: 'vector',
        samples: [Number.NaN, Infinity, -Infinity, Infinity, 1e6, -12.5].map((value) => ({ value, labels: { job: 'x' } })),
        warnings: [],
      },
    },
    {
      name: 'empty vector',
      body: vector(),
      expected: { resultType: 'vector', samples: [], warnings: [] },
    },
    {
      name: 'vector element with empty metric',
      body: vector(element('5', {})),
      expected: { resultType: 'vector', samples: [{ value: 5, labels: {} }], warnings: [] },
    },
    {
      name: 'scalar is one sample without labels',
      body: success({ resultType: 'scalar', result: [1712000000, '0.25'] }),
      expected: { resultType: 'scalar', samples: [{ value: 0.25, labels: {} }], warnings: [] },
    },
    {
      name: 'warnings then infos, infos prefixed',
      body: success({ resultType: 'vector', result: [] }, { warnings: ['store eu-1 unavailable', 'partial response'], infos: ['metric might not be a counter'] }),
      expected: {
        resultType: 'vector',
        samples: [],
        warnings: ['store eu-1 unavailable', 'partial response', 'info: metric might not be a counter'],
      },
    },
    {
      name: 'a label named __proto__ stays a label',
      body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__proto__":"p"},"value":[1,"1"]}]}}',
      expected: {
        resultType: 'vector',
        samples: [{ value: 1, labels: JSON.parse('{"__proto__":"p"}') as Record<string, string> }],
        warnings: [],
      },
    },
  ];
  for (const { name, body, expected } of cases) {
    test(name, () => {
      assert.deepStrictEqual(parseQueryResponse(200, body), expected);
    });
  }

  test('a 2xx other than 200 is accepted', () => {
    assert.equal(parseQueryResponse(204, vector()).resultType, 'vector');
  });
});

describe('parseQueryResponse: failures', () => {
  const html = '<html><body><h1>502 Bad Gateway</h1><p>secret-internal-host</p></body></html>';
  const errorEnvelope = (errorType: string, error: string): string => JSON.stringify({ status: 'error', errorType, error });

  const cases: ReadonlyArray<{
    name: string;
    status: number;
    body: string;
    expected: Partial<Pick<PrometheusError, 'code' | 'statusCode' | 'errorType'>>;
  }> = [
    // Values
    { name: 'value "abc"', status: 200, body: vector(element('abc')), expected: { code: 'PROM_BAD_RESPONSE' } },
    { name: 'value ""', status: 200, body: vector(element('')), expected: { code: 'PROM_BAD_RESPONSE' } },
    { name: 'value as a number', status: 200, body: vector(element(1)), expected: { code: 'PROM_BAD_RESPONSE' } },
    {
      name: 'value missing',
      status: 200,
      body: vector({ metric: {} }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'value pair without the string',
      status: 200,
      body: vector({ metric: {}, value: [1] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'timestamp as a string',
      status: 200,
      body: vector({ metric: {}, value: ['1', '1'] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    // Shapes
    {
      name: 'matrix resultType',
      status: 200,
      body: success({ resultType: 'matrix', result: [{ metric: {}, values: [[1, '1']] }] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'string resultType',
      status: 200,
      body: success({ resultType: 'string', result: [1, 'hello'] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'native histogram element',
      status: 200,
      body: vector({ metric: {}, histogram: [1, { count: '3', sum: '4', buckets: [] }] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    { name: 'data missing', status: 200, body: '{"status":"success"}', expected: { code: 'PROM_BAD_RESPONSE' } },
    {
      name: 'result not an array',
      status: 200,
      body: success({ resultType: 'vector', result: {} }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'label value not a string',
      status: 200,
      body: vector(element('1', { partition: 1 })),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'metric missing',
      status: 200,
      body: vector({ value: [1, '1'] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'scalar not a pair',
      status: 200,
      body: success({ resultType: 'scalar', result: '1' }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'warnings not strings',
      status: 200,
      body: success({ resultType: 'vector', result: [] }, { warnings: [1] }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    {
      name: 'infos not an array',
      status: 200,
      body: success({ resultType: 'vector', result: [] }, { infos: 'x' }),
      expected: { code: 'PROM_BAD_RESPONSE' },
    },
    { name: 'unknown status', status: 200, body: '{"status":"partial","data":{}}', expected: { code: 'PROM_BAD_RESPONSE' } },
    { name: 'JSON array body', status: 200, body: '[]', expected: { code: 'PROM_BAD_RESPONSE' } },
    { name: 'JSON null body', status: 200, body: 'null', expected: { code: 'PROM_BAD_RESPONSE' } },
    // Not JSON
    { name: 'non-JSON 200', status: 200, body: html, expected: { code: 'PROM_BAD_JSON', statusCode: 200 } },
    {
      name: 'truncated JSON',
      status: 200,
      body: vector(element('1')).slice(0, 40),
      expected: { code: 'PROM_BAD_JSON' },
    },
    { name: 'empty 200', status: 200, body: '', expected: { code: 'PROM_BAD_JSON' } },
    // Prometheus errors
    {
      name: '400 bad_data envelope',
      status: 400,
      body: errorEnvelope('bad_data', '1:5: parse error: unexpected end of input'),
      expected: { code: 'PROM_API_ERROR', statusCode: 400, errorType: 'bad_data' },
    },
    {
      name: '422 execution envelope',
      status: 422,
      body: errorEnvelope('execution', 'many-to-many matching not allowed'),
      expected: { code: 'PROM_API_ERROR', statusCode: 422, errorType: 'execution' },
    },
    {
      name: '503 timeout envelope',
      status: 503,
      body: errorEnvelope('timeout', 'query timed out in expression evaluation'),
      expected: { code: 'PROM_API_ERROR', statusCode: 503, errorType: 'timeout' },
    },
    {
      name: 'error envelope on a 200',
      status: 200,
      body: errorEnvelope('internal', 'odd but honoured'),
      expected: { code: 'PROM_API_ERROR', statusCode: 200, errorType: 'internal' },
    },
    // Status codes
    { name: '401', status: 401, body: 'Unauthorized', expected: { code: 'PROM_AUTH', statusCode: 401 } },
    {
      name: '403 even with an error envelope',
      status: 403,
      body: errorEnvelope('bad_data', 'x'),
      expected: { code: 'PROM_AUTH', statusCode: 403 },
    },
    { name: '502 HTML', status: 502, body: html, expected: { code: 'PROM_HTTP_STATUS', statusCode: 502 } },
    { name: '500 empty', status: 500, body: '', expected: { code: 'PROM_HTTP_STATUS', statusCode: 500 } },
    {
      name: '504 JSON that is not an envelope',
      status: 504,
      body: '{"message":"gateway timeout"}',
      expected: { code: 'PROM_HTTP_STATUS', statusCode: 504 },
    },
  ];
  for (const { name, status, body, expected } of cases) {
    test(name, () => {
      // An object matcher checks only the listed fields: the code, and statusCode/errorType where given.
      assert.throws(() => parseQueryResponse(status, body), { name: 'PrometheusError', ...expected });
    });
  }

  test('the unsupported resultType is named in the message', () => {
    assert.throws(() => parseQueryResponse(200, success({ resultType: 'matrix', result: [] })), /"matrix".*instant vector or a scalar/);
  });

  test('the bad field is named in the message', () => {
    assert.throws(() => parseQueryResponse(200, vector(element('1'), element('abc'))), /data\.result\[1\]\.value\[1\]/);
  });

  test("Prometheus' error text is in the message, truncated and on one line", () => {
    const long = `line one\nline two ${'x'.repeat(1000)}`;
    assert.throws(
      () => parseQueryResponse(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: long })),
      (error: unknown) => {
        assert.ok(error instanceof PrometheusError);
        assert.match(error.message, /line one line two x+…$/);
        assert.ok(error.message.length < 400, `message is ${error.message.length} characters`);
        return true;
      },
    );
  });

  test('an HTML error page does not reach the message', () => {
    assert.throws(
      () => parseQueryResponse(502, html),
      (error: unknown) => error instanceof PrometheusError && !error.message.includes('secret-internal-host'),
    );
  });
});
