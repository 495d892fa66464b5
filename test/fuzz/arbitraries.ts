// Grammar-aware generators for the fuzz targets: each builds the input's own language (a Prometheus answer, a
// checks file, a duration, a request line) out of its real parts, then mutates parts of it, so that most inputs get
// past the first check and reach the branches behind it. Plain random text is mixed in at a lower weight.
// Objects are built as JSON *text*, entry by entry: keys such as "__proto__" and duplicate keys reach JSON.parse
// exactly as a hostile server or a hand-edited file would write them.
import fc from 'fast-check';

/** A JSON string literal. */
const quoted = (text: string): string => JSON.stringify(text);

/** `{"k": v, ...}` from entries whose values are already JSON text; order and duplicates kept. */
export function objectText(entries: readonly (readonly [string, string])[]): string {
  return `{${entries.map(([key, value]) => `${quoted(key)}:${value}`).join(',')}}`;
}

/** Entries that are present or not, then a few extra ones, shuffled. */
function entries(fields: Record<string, fc.Arbitrary<string>>, extraKey: fc.Arbitrary<string>, extraValue: fc.Arbitrary<string>): fc.Arbitrary<[string, string][]> {
  const present = Object.entries(fields).map(([key, value]) =>
    fc.option(
      value.map((text): [string, string] => [key, text]),
      { freq: 5, nil: null },
    ),
  );
  return fc.tuple(fc.tuple(...present), fc.array(fc.tuple(extraKey, extraValue), { maxLength: 2 }), fc.boolean()).map(([fixed, extra, reverse]) => {
    const all = [...fixed.filter((entry): entry is [string, string] => entry !== null), ...extra];
    return reverse ? all.reverse() : all;
  });
}

/** A string repeated up to `max` times: long values without generating each character. */
export function long(max: number): fc.Arbitrary<string> {
  return fc.tuple(fc.string({ minLength: 1, maxLength: 4, unit: 'binary' }), fc.integer({ min: 1, max })).map(([unit, times]) => unit.repeat(times));
}

/** Any text at all, lone surrogates and control characters included. */
export const anyText: fc.Arbitrary<string> = fc.string({ maxLength: 40, unit: 'binary' });

/** Any JSON document, as text: mostly small ones (the generator's cost is most of a run's), some nested. */
export const anyJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('null', 'true', 'false', '0', '-1', '1.5', '1e999', '""', '"x"', '[]', '{}', '[1,"2"]', '{"a":1}', '{"__proto__":{"a":1}}') },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2, depthSize: 'xsmall' }) },
);

/** `[[[[...]]]]` or `{"a":{"a":...}}` nested up to 1,000 deep: the parser's stack, and ours behind it. */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1, max: 1_000 }), fc.constantFrom('array', 'object'))
  .map(([depth, kind]) => (kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Small random edits of a text: near-valid input, which is what reaches a parser's deeper branches. */
export function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const piece = fc.oneof(fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', '\n', 'null', '1e999', '-', '.', 'e', '\ud800'), fc.string({ maxLength: 4 }));
  const edit = fc.tuple(fc.constantFrom('insert', 'delete', 'replace', 'truncate', 'duplicate'), fc.nat(), fc.nat({ max: 8 }), piece);
  return fc.tuple(text, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([start, edits]) =>
    edits.reduce((current, [kind, at, length, inserted]) => {
      const i = current.length === 0 ? 0 : at % (current.length + 1);
      switch (kind) {
        case 'insert':
          return current.slice(0, i) + inserted + current.slice(i);
        case 'delete':
          return current.slice(0, i) + current.slice(i + length);
        case 'replace':
          return current.slice(0, i) + inserted + current.slice(i + inserted.length);
        case 'truncate':
          return current.slice(0, i);
        default:
          return current.slice(0, i + length) + current.slice(i); // duplicate
      }
    }, start),
  );
}

// ---------------------------------------------------------------- the answer parser: Prometheus' envelope

/** A credential the edge would scrub (its `redact`): a message must never show it, cut or whole. */
export const TOKEN = 'SECRET-TOKEN-0123456789';

/** Sample values as strings: Go's forms, JavaScript's looser ones that must be refused, and near misses. */
const sampleValueString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('NaN', '+Inf', '-Inf', 'Inf', '-NaN', '+NaN', 'inf', 'Infinity', '-Infinity', 'nan', '1e309', '-1e309', '1e-400', '-0', '+0'),
  fc.constantFrom('0x10', '0b1', '0o7', ' 1', '1 ', '1_000', '1.', '.5', '+.5e+3', '1e', 'e1', '', '.', '+', '-', '\uff11', '1e+308', '1\n'),
  fc.double().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => value.toExponential()),
  fc.integer().map(String),
  fc.integer({ min: 1, max: 400 }).map((digits) => '9'.repeat(digits)),
  anyText,
);

/** JSON numbers as text, the ones JSON.parse turns into Infinity included. */
const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.double().map((value) => JSON.stringify(value)),
  fc.integer({ min: 0, max: 2_000_000_000 }).map(String),
  fc.constantFrom('1e999', '-1e999', '1e308', '-0', '0', '1.7e9', '1700000000.123', '5e-324'),
);

const labelName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__name__', 'job', 'consumergroup', 'topic', ''),
  anyText,
  long(100),
);

const labelsText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(fc.tuple(labelName, fc.oneof({ weight: 4, arbitrary: anyText.map(quoted) }, anyJson, long(100).map(quoted))), { maxLength: 5 }).map(objectText),
  },
  { weight: 1, arbitrary: anyJson },
);

/** `[timestamp, "value"]`, and the wrong shapes of it. */
const pairText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(numberText, sampleValueString.map(quoted)).map(([ts, value]) => `[${ts},${value}]`) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(numberText, anyJson), anyJson).map(([ts, value]) => `[${ts},${value}]`) },
  { weight: 1, arbitrary: fc.array(numberText, { maxLength: 3 }).map((items) => `[${items.join(',')}]`) },
  { weight: 1, arbitrary: anyJson },
);

const sampleText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: entries({ metric: labelsText, value: pairText, histogram: anyJson }, labelName, anyJson).map(objectText) },
  { weight: 1, arbitrary: anyJson },
);

const resultText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.array(sampleText, { maxLength: 6 }).map((samples) => `[${samples.join(',')}]`) },
  { weight: 2, arbitrary: pairText },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: deepJson },
);

const resultTypeText: fc.Arbitrary<string> = fc.oneof(fc.constantFrom('vector', 'scalar', 'matrix', 'string', 'streams', 'Vector', 'vector ', '').map(quoted), anyJson);

const dataText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: entries({ resultType: resultTypeText, result: resultText, stats: anyJson }, labelName, anyJson).map(objectText) },
  { weight: 1, arbitrary: anyJson },
);

const stringListText: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.oneof(anyText, fc.constantFrom('PromQL info: metric might not be a counter', 'partial response')), { maxLength: 3 }).map((items) => JSON.stringify(items)),
  anyJson,
  fc.constant('null'),
);

const envelopeText: fc.Arbitrary<string> = entries(
  {
    status: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('success', 'error').map(quoted) }, fc.constantFrom('Success', 'ok', '').map(quoted), anyJson),
    data: dataText,
    warnings: stringListText,
    infos: stringListText,
    errorType: fc.oneof(
      fc.constantFrom('bad_data', 'execution', 'timeout', 'canceled', 'internal', 'unavailable').map(quoted),
      anyText.map(quoted),
      long(100).map(quoted),
      anyJson,
    ),
    error: fc.oneof(
      anyText.map(quoted),
      long(100).map(quoted),
      fc.constant(quoted('parse error:\nunexpected "}"\r\n')),
      fc.constant(quoted(`auth: Bearer ${TOKEN}`)),
      anyJson,
    ),
    isPartial: fc.oneof(fc.constantFrom('true', 'false'), anyJson),
  },
  labelName,
  anyJson,
).map(objectText);

/** What a server, a proxy or a load balancer might answer. */
export const responseBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: envelopeText },
  { weight: 3, arbitrary: mutated(envelopeText) },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom('<html><body>502 Bad Gateway</body></html>', 'no org id\n', 'too many outstanding requests', '', ' ', 'null', '{}', '[]') },
  { weight: 1, arbitrary: fc.constantFrom(`<html><pre>Authorization: Bearer ${TOKEN}</pre></html>`, `${'x'.repeat(100)} ${TOKEN}`) },
);

export const statusCode: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(200, 204, 206, 299, 300, 400, 401, 403, 404, 413, 422, 429, 500, 502, 503, 504) },
  { weight: 2, arbitrary: fc.integer({ min: -1, max: 1000 }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, 1.5, -0, Number.POSITIVE_INFINITY, 2 ** 31) },
);

/** parseQueryResponse's options: ACCEPT_PARTIAL, a Retry-After header (seconds, an HTTP date, or junk), the edge's scrubber. */
export const parseOptions = fc.record(
  {
    acceptPartial: fc.boolean(),
    retryAfter: fc.oneof(
      fc.constantFrom(
        '0',
        '5',
        '120',
        '-1',
        '1.5',
        ' 7 ',
        '99999999999999999999',
        'Wed, 21 Oct 2015 07:28:00 GMT',
        'Sun, 06 Nov 2094 08:49:37 GMT',
        'Wed, 31 Feb 2015 07:28:00 GMT',
        '',
      ),
      anyText,
      fc.array(fc.constantFrom('5', 'x', ''), { maxLength: 2 }),
    ),
    nowMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
    redact: fc.constant(true),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------- durations

const DURATION_TOKENS = ['0', '1', '2', '5', '9', '00', '.', 'ms', 's', 'm', 'h', 'd', ' ', '\t', '\n', '-', '+', 'e', 'E', 'µs', 'us', 'y', 'w'] as const;

/** Text from the duration alphabet (digits, units, separators), plus near misses: "µs", "1e3", full-width digits. */
export const durationText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...DURATION_TOKENS), fc.constantFrom('M', 'H', 'S', '_', ',', '\u00a0', '\u0663', '1e3', 'NaN', 'Infinity')), { maxLength: 12 })
      .map((t) => t.join('')),
  },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((digits) => `${'9'.repeat(digits)}d`) },
);

const UNIT_MS = { ms: 1n, s: 1_000n, m: 60_000n, h: 3_600_000n, d: 86_400_000n } as const;

/** A well-formed duration and its exact value in ms, as a decimal fraction (numerator over 10^scale). */
export interface DurationCase {
  readonly text: string;
  /** Exact value in ms times 10^12, so that fractions of a millisecond stay exact. */
  readonly picoseconds: string;
}

export const wellFormedDuration: fc.Arbitrary<DurationCase> = fc
  .array(fc.tuple(fc.stringMatching(/^\d{1,16}$/), fc.option(fc.stringMatching(/^\d{1,6}$/), { nil: undefined }), fc.constantFrom('ms', 's', 'm', 'h', 'd')), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) => {
    let total = 0n;
    for (const [whole, fraction, unit] of parts) {
      const scaled = BigInt(whole + (fraction ?? '').padEnd(12, '0').slice(0, 12));
      total += scaled * UNIT_MS[unit];
    }
    const text = parts.map(([whole, fraction, unit]) => `${whole}${fraction === undefined ? '' : `.${fraction}`}${unit}`).join('');
    return { text, picoseconds: total.toString() };
  });

/** Integer milliseconds, whole hours, minutes and seconds among them. */
export const durationMs: fc.Arbitrary<number> = fc.oneof(
  fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  fc.nat({ max: 10_000_000 }),
  fc.tuple(fc.nat({ max: 1_000_000 }), fc.constantFrom(1_000, 60_000, 3_600_000, 86_400_000)).map(([n, unit]) => n * unit),
);

// ---------------------------------------------------------------- checks files

const CHECK_NAMES = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

const nameText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(CHECK_NAMES).map(quoted) },
  { weight: 1, arbitrary: fc.constantFrom('', '.a', '-a', 'a'.repeat(63), 'a'.repeat(64), 'a/b', '\u00e4', 'a b', 'a\n').map(quoted) },
  { weight: 1, arbitrary: fc.oneof(anyText.map(quoted), long(100).map(quoted), anyJson) },
);

const QUERY_TOKENS = ['{group}', '{pod}', '{namespace}', '"', "'", '`', '\\', '#', '\n', ' ', 'up', 'sum(', ')', '{', '}', 'consumergroup=', '{grou', 'p}', 'x'] as const;

/** PromQL-ish text around the placeholders: quotes of all three kinds, escapes and comments. */
export const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...QUERY_TOKENS), { minLength: 1, maxLength: 14 }).map((t) => t.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('kafka_consumergroup_members{consumergroup="{group}"}', 'up{pod="{pod}",namespace="{namespace}"}', ' ') },
  { weight: 1, arbitrary: anyText },
);

const durationValueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: durationText.map(quoted) },
  { weight: 2, arbitrary: fc.constantFrom('30s', '5m', '0s', '24d', '25d', '596h', '597h', '2147483647ms', '2147483648ms').map(quoted) },
  { weight: 1, arbitrary: anyJson },
);

const policyText = fc.oneof(fc.constantFrom('pass', 'fail', 'keepLast', 'keeplast', '').map(quoted), anyJson);

/** A check whose other fields are right, so that its query (and drain query) reach the placeholder rules. */
const queryCheckText: fc.Arbitrary<string> = fc
  .tuple(fc.stringMatching(CHECK_NAMES), queryString, fc.option(queryString, { nil: undefined }))
  .map(([name, query, drain]) =>
    JSON.stringify({ name, query, comparison: '<', threshold: 1, ...(drain === undefined ? {} : { drain: { query: drain, grace: '5m' } }) }),
  );

const checkText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: queryCheckText },
  {
    weight: 10,
    arbitrary: entries(
      {
        name: nameText,
        query: fc.oneof({ weight: 5, arbitrary: queryString.map(quoted) }, anyJson),
        comparison: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('<', '<=', '>', '>=', 'range', '==', '').map(quoted) }, anyJson),
        threshold: fc.oneof({ weight: 4, arbitrary: numberText }, anyJson),
        min: numberText,
        max: numberText,
        for: durationValueText,
        keepFor: durationValueText,
        onNoData: policyText,
        onError: policyText,
        message: fc.oneof(anyText.map(quoted), anyJson),
        noDataMessage: fc.oneof(anyText.map(quoted), anyJson),
        unit: fc.oneof(fc.constantFrom('s', '', ' ').map(quoted), anyJson),
        drain: fc.oneof(
          {
            weight: 4,
            arbitrary: entries(
              { query: fc.oneof(queryString.map(quoted), anyJson), grace: durationValueText },
              fc.constantFrom('__proto__', 'x', 'a\nb', ''),
              anyJson,
            ).map(objectText),
          },
          { weight: 1, arbitrary: anyJson },
        ),
      },
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'Name', 'threshhold', 'a\nb'), anyText, long(100)),
      anyJson,
    ).map(objectText),
  },
  { weight: 1, arbitrary: anyJson },
);

/** A credential pasted where the checks file should be: the parser's problems must not quote it. */
export const secret: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9]{24}$/).map((key) => `sk-live-${key}`);

const fileText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 10,
    arbitrary: entries(
      { checks: fc.array(checkText, { maxLength: 5 }).map((checks) => `[${checks.join(',')}]`) },
      fc.constantFrom('__proto__', 'check', 'x'),
      anyJson,
    ).map(objectText),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 98, max: 102 })
      .map((n) => `{"checks":[${Array.from({ length: n }, (_, i) => `{"name":"c${i}","query":"up","comparison":"<","threshold":1}`).join(',')}]}`),
  },
  { weight: 3, arbitrary: mutated(fc.array(checkText, { minLength: 1, maxLength: 2 }).map((checks) => `{"checks":[${checks.join(',')}]}`)) },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.tuple(secret, fc.constantFrom('', '{"checks": ', '"', '{"checks":[{"name":')).map(([key, before]) => `${before}${key}\n`) },
);

export const checksFile: fc.Arbitrary<{ text: string; severalGroups: boolean }> = fc.record({ text: fileText, severalGroups: fc.boolean() });

// ---------------------------------------------------------------- requests

export const method: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'head', 'Get', ' GET', 'GET ', '', 'GET\u0000', 'constructor', '__proto__') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const URL_TOKENS = ['/', 'ready', 'health', 'status', 'metrics', '/ready', '/ready/', '/health', '..', '.', '%2F', '%2f', '%00', '%', '%zz', '%E2%82%AC', '%ff'] as const;
const QUERY_PARTS = ['?', '&', '=', '#', ';', 'verbose', 'group=', 'exclude=', 'replica=', ',', '+', '%20', '%2C', 'a', '\u00e9', '\ud800', '\u0000', ' ', '//'] as const;

/** Request targets near the real routes: the paths, check names, percent-encoding, query strings. */
export const requestTarget: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.array(fc.oneof(fc.constantFrom(...URL_TOKENS), fc.stringMatching(CHECK_NAMES), fc.constantFrom('a'.repeat(63), 'a'.repeat(64), '_..', '.a', '-a')), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.oneof(fc.constantFrom(...QUERY_PARTS), fc.stringMatching(CHECK_NAMES)), { maxLength: 8 }),
      )
      .map(([path, query]) => path.join('') + query.join('')),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.webPath(), fc.option(fc.webQueryParameters(), { nil: undefined })).map(([path, query]) => (query === undefined ? path : `${path}?${query}`)),
  },
  { weight: 1, arbitrary: fc.constantFrom('*', 'http://probe:8080/ready', '/ready?exclude=,,,', '/ready?group', '/ready/a?replica=%') },
  { weight: 1, arbitrary: anyText },
);
