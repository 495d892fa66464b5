import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  excerpt,
  MISSING_DATA_WARNINGS,
  missingDataWarning,
  type ParseOptions,
  parseQueryResponse,
  parseSampleValue,
  type QueryResult,
} from '../../src/core/envelope.js';
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
      // Prometheus answers its own query timeout with 503: a refusal like any 503, its errorType kept.
      name: '503 timeout envelope',
      status: 503,
      body: errorEnvelope('timeout', 'query timed out in expression evaluation'),
      expected: { code: 'PROM_UNAVAILABLE', statusCode: 503, errorType: 'timeout' },
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

  test('an HTML error page reaches the message only as a short excerpt: no markup, not the rest of the page', () => {
    const page = `<html><head><style>h1 { color: red }</style></head><body><h1>502 Bad Gateway</h1><p>${'the upstream said no. '.repeat(10)}</p><p>secret-internal-host</p></body></html>`;
    assert.throws(
      () => parseQueryResponse(502, page),
      (error: unknown) => {
        assert.ok(error instanceof PrometheusError);
        assert.match(error.message, /^Prometheus answered HTTP 502 without a Prometheus error body: 502 Bad Gateway the upstream said no\./);
        assert.doesNotMatch(error.message, /[<>{}]|secret-internal-host|color/);
        assert.ok(error.message.length < 200, `message is ${error.message.length} characters`);
        return true;
      },
    );
  });
});

describe('excerpt', () => {
  const cases: ReadonlyArray<[string, string, string]> = [
    ['plain text keeps its words', 'no org id\n', 'no org id'],
    [
      'tags become spaces, spaces collapse',
      '<html><body><h1>503 Service Temporarily Unavailable</h1>\r\n<hr><center>nginx</center></body></html>',
      '503 Service Temporarily Unavailable nginx',
    ],
    ['scripts and styles are dropped whole', '<style>p{}</style><script>var token = 1</script><p>down</p>', 'down'],
    ['control characters flatten', 'a\u0000b\u001bc\u007fd', 'a b c d'],
    ['empty stays empty', '', ''],
    ['cut at 120 characters', 'x'.repeat(500), `${'x'.repeat(120)}…`],
  ];
  for (const [name, body, expected] of cases) {
    test(name, () => assert.equal(excerpt(body), expected));
  }

  test('the redactor runs before the cut, so a secret across the cut is still replaced whole', () => {
    const secret = 'tok-0123456789abcdef';
    const body = `${'y'.repeat(110)} ${secret} tail`;
    const cut = excerpt(body, (text) => text.split(secret).join('***'));
    assert.ok(!cut.includes('tok-0123'), cut);
    assert.equal(cut, `${'y'.repeat(110)} *** tail`);
  });
});

describe('parseQueryResponse: refusals, partial answers, excerpts', () => {
  const errorEnvelope = (errorType: string, error: string): string => JSON.stringify({ status: 'error', errorType, error });
  const NOW = Date.UTC(2026, 10, 26, 12);
  const ok = vector(element('1'));
  const cases: ReadonlyArray<{
    name: string;
    status: number;
    body: string;
    options?: ParseOptions;
    expected: { code: string; statusCode?: number; errorType?: string; retryAfterMs?: number | undefined; message?: RegExp };
  }> = [
    // grafana/mimir pkg/frontend/v1/frontend.go (and cortexproject/cortex pkg/frontend/v1): errTooManyRequest =
    // httpgrpc.Errorf(http.StatusTooManyRequests, "too many outstanding requests"), written as text/plain.
    {
      name: 'Mimir 429 plain text',
      status: 429,
      body: 'too many outstanding requests\n',
      expected: { code: 'PROM_OVERLOADED', statusCode: 429, retryAfterMs: undefined, message: /overloaded.*: too many outstanding requests$/ },
    },
    {
      name: '429 with Retry-After seconds',
      status: 429,
      body: '',
      options: { retryAfter: '30', nowMs: NOW },
      expected: { code: 'PROM_OVERLOADED', retryAfterMs: 30_000, message: /Retry-After 30 s$/ },
    },
    {
      name: '503 HTML with Retry-After as an HTTP date',
      status: 503,
      body: '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>',
      options: { retryAfter: new Date(NOW + 90_000).toUTCString(), nowMs: NOW },
      expected: { code: 'PROM_UNAVAILABLE', statusCode: 503, retryAfterMs: 90_000, message: /unavailable.*: 503 Service Temporarily Unavailable; Retry-After 90 s$/ },
    },
    {
      name: '503 with an unreadable Retry-After: ignored',
      status: 503,
      body: 'Service Unavailable',
      options: { retryAfter: 'soon', nowMs: NOW },
      expected: { code: 'PROM_UNAVAILABLE', retryAfterMs: undefined },
    },
    {
      name: '429 with an error envelope keeps its text and errorType',
      status: 429,
      body: errorEnvelope('unavailable', 'the request has been rejected because the tenant exceeded the request rate limit'),
      expected: { code: 'PROM_OVERLOADED', errorType: 'unavailable', message: /\(unavailable\): the request has been rejected/ },
    },
    // grafana/dskit middleware/http_auth.go AuthenticateUser: http.Error(w, err.Error(), http.StatusUnauthorized)
    // with user.ErrNoOrgID = "no org id" (dskit user/id.go): Mimir and Cortex without X-Scope-OrgID.
    { name: 'Mimir 401 "no org id"', status: 401, body: 'no org id\n', expected: { code: 'PROM_AUTH', statusCode: 401, message: /\(HTTP 401\): no org id$/ } },
    {
      name: '500 plain text',
      status: 500,
      body: 'upstream connect error or disconnect/reset before headers',
      expected: { code: 'PROM_HTTP_STATUS', message: /: upstream connect error/ },
    },
    // VictoriaMetrics app/vmselect/prometheus/query_response.qtpl: "isPartial" beside status and data.
    {
      name: 'VictoriaMetrics isPartial: true',
      status: 200,
      body: success({ resultType: 'vector', result: [] }, { isPartial: true }),
      expected: { code: 'PROM_PARTIAL', statusCode: 200, message: /isPartial: true/ },
    },
    // thanos-io/thanos pkg/store/proxy_merge.go: a store down under the default "warn" strategy.
    {
      name: 'Thanos "receive series from" warning',
      status: 200,
      body: success(
        { resultType: 'vector', result: [] },
        {
          warnings: [
            'receive series from Addr: 10.0.0.7:10901 LabelSets: {prometheus="monitoring/k8s"} MinTime: 0 MaxTime: 1: rpc error: code = Unavailable desc = connection refused',
          ],
        },
      ),
      expected: { code: 'PROM_PARTIAL', message: /Thanos: a store failed.*receive series from Addr/ },
    },
    {
      name: 'Thanos frame timeout warning',
      status: 200,
      body: success({ resultType: 'vector', result: [] }, { warnings: ['failed to receive any data in 5s from Addr: store-1:10901: context deadline exceeded'] }),
      expected: { code: 'PROM_PARTIAL' },
    },
    {
      name: 'Thanos "No StoreAPIs matched" warning',
      status: 200,
      body: success({ resultType: 'vector', result: [] }, { warnings: ['No StoreAPIs matched for this query'] }),
      expected: { code: 'PROM_PARTIAL' },
    },
  ];
  for (const { name, status, body, options, expected } of cases) {
    test(name, () => {
      const { message, ...fields } = expected;
      assert.throws(
        () => parseQueryResponse(status, body, options),
        (error: unknown) => {
          assert.ok(error instanceof PrometheusError);
          for (const [key, value] of Object.entries(fields)) assert.equal(error[key as keyof PrometheusError], value, `${key}: ${error.message}`);
          if (message !== undefined) assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  test('ACCEPT_PARTIAL=true: isPartial and missing-data warnings are judged as complete, the warnings kept', () => {
    const body = success({ resultType: 'vector', result: [element('3')] }, { isPartial: true, warnings: ['No StoreAPIs matched for this query'] });
    const result = parseQueryResponse(200, body, { acceptPartial: true });
    assert.equal(result.samples[0]?.value, 3);
    assert.deepEqual(result.warnings, ['No StoreAPIs matched for this query']);
  });

  test('other warnings and Prometheus 3 infos are not missing data', () => {
    const body = success(
      { resultType: 'vector', result: [element('3')] },
      {
        isPartial: false,
        warnings: ['PromQL warning: encountered a mix of histograms and floats for metric name "x"'],
        infos: ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "x"'],
      },
    );
    assert.equal(parseQueryResponse(200, body).warnings.length, 2);
    assert.equal(parseQueryResponse(200, ok).samples.length, 1);
  });

  test('every missing-data pattern names its backend', () => {
    for (const entry of MISSING_DATA_WARNINGS) assert.match(entry.source, /^(?:Thanos|VictoriaMetrics|Mimir|Cortex): /);
    assert.equal(missingDataWarning('PromQL info: metric might not be a counter'), undefined);
  });
});

// Found by the fuzz campaign (test/fuzz/): text of the body reached a message whole, control characters included.
test('regression (fuzz): errorType and label names are clipped, one line, in a message', () => {
  for (const errorType of ['\u0000', 'x'.repeat(10_000), 'bad\ndata']) {
    assert.throws(
      () => parseQueryResponse(200, JSON.stringify({ status: 'error', errorType, error: 'e' })),
      (error: PrometheusError) => {
        assert.equal(error.code, 'PROM_API_ERROR');
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this looks for
        assert.ok(error.message.length <= 500 && !/[\u0000-\u001f]/.test(error.message), error.message.slice(0, 100));
        assert.ok(error.errorType!.length <= 41);
        return true;
      },
    );
  }
  const body = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{${JSON.stringify(`a\n${'b'.repeat(10_000)}`)}:1},"value":[1,"1"]}]}}`;
  assert.throws(
    () => parseQueryResponse(200, body),
    (error: PrometheusError) => error.code === 'PROM_BAD_RESPONSE' && error.message.length <= 500 && !error.message.includes('\n'),
  );
});
