// The fuzz targets: each pure parser of src/core/ that takes input from outside (a Prometheus answer, a duration, a
// checks file, a request line), its generator (arbitraries.ts) and its contract, written as assertions. A target
// fails on anything the contract does not allow: an uncoded throw, a wrong answer, an input that takes too long.
// test/fuzz/campaign.test.ts runs a short campaign of each in `npm test`; test/fuzz/run.ts runs the long one.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseReadyRequest, REPLICA_NAME, ROUTES, type RouteName } from '../../src/core/answers.js';
import { CHECK_NAME, instantiate } from '../../src/core/checks.js';
import { parseChecksFile } from '../../src/core/checksfile.js';
import { formatDuration, MAX_TIMER_MS, parseDuration } from '../../src/core/duration.js';
import { type ParseOptions, parseQueryResponse } from '../../src/core/envelope.js';
import { PROMETHEUS_ERROR_CODES, PrometheusError } from '../../src/core/errors.js';
import { createRouter } from '../../src/core/router.js';
import {
  checksFile,
  type DurationCase,
  durationMs,
  durationText,
  method,
  parseOptions,
  requestTarget,
  responseBody,
  statusCode,
  TOKEN,
  wellFormedDuration,
} from './arbitraries.js';

export interface RunOptions {
  readonly numRuns: number;
  readonly seed: number;
  /** Called with each input before the target sees it: the long campaign's watchdog keeps the last one. */
  readonly onInput?: (show: () => string) => void;
  /** An input that takes longer than this fails, as a hang would (default 2,000 ms). */
  readonly slowMs?: number;
}

export interface RunSummary {
  readonly name: string;
  readonly numRuns: number;
  readonly seed: number;
  readonly failed: boolean;
  /** fast-check's report on failure: the shrunk counterexample, the seed and path to replay it, the error. */
  readonly report: string | null;
  readonly elapsedMs: number;
  readonly slowestMs: number;
  readonly slowestInput: string;
}

export interface FuzzTarget {
  readonly name: string;
  run(options: RunOptions): RunSummary;
}

/** A one-line, bounded rendering of an input, for reports. */
function show(input: unknown, max = 300): string {
  const text = fc.stringify(input);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

function target<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (input: T) => void): FuzzTarget {
  return {
    name,
    run({ numRuns, seed, onInput, slowMs = 2_000 }) {
      let slowestMs = 0;
      let slowestInput = '';
      const property = fc.property(arbitrary, (input) => {
        onInput?.(() => fc.stringify(input));
        const started = performance.now();
        check(input);
        const took = performance.now() - started;
        if (took > slowestMs) {
          slowestMs = took;
          slowestInput = show(input);
        }
        assert.ok(took <= slowMs, `took ${took.toFixed(0)} ms (limit ${slowMs} ms): a hang, or work that grows faster than the input`);
      });
      const started = performance.now();
      const details = fc.check(property, { numRuns, seed });
      return {
        name,
        numRuns: details.numRuns,
        seed: details.seed,
        failed: details.failed,
        report: details.failed ? `${fc.defaultReportMessage(details) ?? ''}\nThe error: ${describeThrown(details.errorInstance)}` : null,
        elapsedMs: performance.now() - started,
        slowestMs,
        slowestInput,
      };
    },
  };
}

// ---------------------------------------------------------------- the answer parser

/** A message reaches logs, /status and a metric's help: it quotes at most a clip of what the server sent. */
const MAX_MESSAGE = 500;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds
const CONTROL = /[\u0000-\u001f\u007f]/;

function describeThrown(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 600)}` : show(error);
}

type AnswerOptions = Omit<ParseOptions, 'redact'> & { readonly redact?: boolean };

/**
 * parseQueryResponse returns a frozen vector or scalar, or throws a coded PrometheusError with a short one-line message
 * that never shows what the edge's `redact` scrubs, and a Retry-After read as whole milliseconds.
 */
export function checkAnswer([status, body, given = {}]: readonly [number, string, AnswerOptions?]): void {
  const { redact, ...rest } = given;
  const options: ParseOptions = redact === true ? { ...rest, redact: (text) => text.replaceAll(TOKEN, '[redacted]') } : rest;
  let result: ReturnType<typeof parseQueryResponse>;
  try {
    result = parseQueryResponse(status, body, options);
  } catch (error) {
    assert.ok(error instanceof PrometheusError, `threw ${describeThrown(error)}, not a PrometheusError`);
    assert.ok((PROMETHEUS_ERROR_CODES as readonly string[]).includes(error.code), `code ${error.code} is not declared`);
    assert.equal(error.statusCode, status, 'the error carries the status it was given');
    assert.ok(error.message.length <= MAX_MESSAGE, `a message of ${error.message.length} characters: ${error.message.slice(0, 120)}…`);
    assert.ok(!CONTROL.test(error.message), `a message with a control character: ${JSON.stringify(error.message.slice(0, 200))}`);
    if (error.errorType !== undefined) assert.ok(error.errorType.length <= 100, `an errorType of ${error.errorType.length} characters`);
    if (error.cause instanceof Error) assert.ok(error.cause.message.length <= 200, `a cause of ${error.cause.message.length} characters`);
    if (error.retryAfterMs !== undefined) assert.ok(Number.isSafeInteger(error.retryAfterMs) && error.retryAfterMs >= 0, `Retry-After read as ${error.retryAfterMs}`);
    if (redact === true) {
      // The whole token is scrubbed before any cut, so no half of it shows either (a half the body holds outside a
      // whole token, a mutation's leftover, is not the token).
      const outside = body.replaceAll(TOKEN, '');
      for (const part of [TOKEN, TOKEN.slice(0, 12), TOKEN.slice(-12)]) {
        if (!outside.includes(part)) assert.ok(!error.message.includes(part), `the token is in: ${error.message}`);
      }
    }
    return;
  }
  assert.ok(status >= 200 && status < 300, `a result from HTTP ${status}`);
  assert.ok(result.resultType === 'vector' || result.resultType === 'scalar');
  assert.ok(Object.isFrozen(result) && Object.isFrozen(result.samples) && Object.isFrozen(result.warnings));
  if (result.resultType === 'scalar') assert.equal(result.samples.length, 1);
  for (const sample of result.samples) {
    assert.equal(typeof sample.value, 'number');
    assert.ok(Object.isFrozen(sample) && Object.isFrozen(sample.labels));
    for (const [label, value] of Object.entries(sample.labels)) assert.equal(typeof value, 'string', `label ${label}`);
  }
  for (const warning of result.warnings) assert.equal(typeof warning, 'string');
}

// ---------------------------------------------------------------- durations

export type DurationInput =
  | { readonly kind: 'text'; readonly text: string }
  | ({ readonly kind: 'wellFormed' } & DurationCase)
  | { readonly kind: 'ms'; readonly ms: number };

/** parseDuration never throws and gives a non-negative integer or undefined, the right one; formatDuration round-trips. */
export function checkDuration(input: DurationInput): void {
  if (input.kind === 'ms') {
    const text = formatDuration(input.ms);
    assert.match(text, /^\d+(?:ms|s|m|h)$/, 'an integer and one unit: valid as a PromQL range');
    assert.equal(parseDuration(text), input.ms, `round trip of ${input.ms} through ${text}`);
    return;
  }
  const parsed = parseDuration(input.text);
  if (parsed !== undefined) {
    assert.ok(Number.isInteger(parsed) && parsed >= 0 && !Object.is(parsed, -0), `${JSON.stringify(input.text)} gave ${parsed}`);
  }
  assert.equal(parseDuration(` \t${input.text}\n `), parsed, 'surrounding white space changes nothing');
  if (input.kind === 'wellFormed') {
    const exact = Number(BigInt(input.picoseconds)) / 1e12;
    if (!Number.isFinite(exact)) return;
    assert.ok(parsed !== undefined, `${input.text} was refused`);
    assert.ok(Math.abs(parsed - exact) <= 0.5 + exact * 1e-12, `${input.text} is ${exact} ms, parsed as ${parsed}`);
  }
}

const durationInput: fc.Arbitrary<DurationInput> = fc.oneof(
  durationText.map((text) => ({ kind: 'text' as const, text })),
  wellFormedDuration.map((wellFormed) => ({ kind: 'wellFormed' as const, ...wellFormed })),
  durationMs.map((ms) => ({ kind: 'ms' as const, ms })),
);

// ---------------------------------------------------------------- checks files

/**
 * What PromQL parses as code: string literals reduced to their quotes, comments removed (Prometheus'
 * promql/parser/lex.go: "..." and '...' with backslash escapes, `...` raw, # to the end of the line).
 */
export function promqlSkeleton(query: string): string {
  let out = '';
  let i = 0;
  while (i < query.length) {
    const char = query[i]!;
    if (char === '#') {
      const end = query.indexOf('\n', i);
      i = end === -1 ? query.length : end;
    } else if (char === '"' || char === "'") {
      let j = i + 1;
      while (j < query.length && query[j] !== char) j += query[j] === '\\' ? 2 : 1;
      out += `${char}S${char}`;
      i = j + 1;
    } else if (char === '`') {
      const end = query.indexOf('`', i + 1);
      out += '`S`';
      i = end === -1 ? query.length : end + 1;
    } else {
      out += char;
      i += 1;
    }
  }
  return out;
}

/** Names that end every kind of string literal they could be put in, were they not escaped right. */
const HOSTILE_NAMES = ['"}) or vector(1) #', "'}) or vector(1) #", '`}) or vector(1) #', '\\"}) or vector(1) #', 'a"}) or vector(1) #', "a'}) or vector(1) #"] as const;
// C0 controls (line breaks, NUL, ESC): a problem is one visible line. DEL is left as JSON.stringify leaves it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds
const LINE_BREAK = /[\u0000-\u001f]/;

/**
 * parseChecksFile never throws; it accepts only valid templates (names, bounds, durations), in which a group, pod or
 * namespace name is data: whatever the name, the query PromQL parses has the same code. Problems are one line each
 * (ConfigError joins them with newlines) and never quote a file that is not JSON (it may be a secret).
 */
export function checkChecksFile({ text, severalGroups }: { readonly text: string; readonly severalGroups: boolean }): void {
  const result = parseChecksFile(text, { severalGroups });
  if (!result.ok) {
    assert.ok(Array.isArray(result.problems) && result.problems.length > 0, 'a refusal names its problems');
    for (const problem of result.problems) {
      assert.ok(typeof problem === 'string' && problem !== '', 'a problem is a non-empty string');
      assert.ok(!LINE_BREAK.test(problem), `a problem with a control character: ${JSON.stringify(problem.slice(0, 200))}`);
    }
    const key = /sk-live-([A-Za-z0-9]{24})/.exec(text)?.[1];
    if (key !== undefined) {
      const all = result.problems.join('\n');
      for (let i = 0; i + 8 <= key.length; i += 1) assert.ok(!all.includes(key.slice(i, i + 8)), `a problem quotes the file: ${all.slice(0, 200)}`);
    }
    return;
  }
  assert.ok(result.templates.length >= 1 && result.templates.length <= 100);
  assert.equal(new Set(result.templates.map((t) => t.name)).size, result.templates.length, 'names are unique');
  for (const template of result.templates) {
    assert.match(template.name, CHECK_NAME);
    assert.ok(template.query.trim() !== '');
    if (template.comparison === 'range') assert.ok(Number.isFinite(template.min) && Number.isFinite(template.max) && template.min <= template.max);
    else assert.ok(Number.isFinite(template.threshold));
    for (const ms of [template.forMs, template.keepForMs]) assert.ok(Number.isInteger(ms) && ms >= 0 && ms <= MAX_TIMER_MS);
    if (template.drain !== null) assert.ok(template.drain.graceMs > 0 && template.drain.graceMs <= MAX_TIMER_MS && template.drain.query.trim() !== '');
    if (severalGroups) assert.ok(template.query.includes('{group}'), 'with several groups every query names {group}');
    // A file of many checks comes from the generator of 100 plain ones: the names' test is for the hand-made queries.
    if (result.templates.length > 10) continue;
    const [benign] = instantiate([template], ['g'], { pod: 'p', namespace: 'n' });
    for (const name of HOSTILE_NAMES) {
      const [hostile] = instantiate([template], [name], { pod: name, namespace: name });
      const what = `query ${JSON.stringify(template.query)} with the name ${JSON.stringify(name)} became ${JSON.stringify(hostile!.query)}`;
      assert.equal(promqlSkeleton(hostile!.query), promqlSkeleton(benign!.query), `a name changed the code: ${what}`);
      if (benign!.drain !== null) assert.equal(promqlSkeleton(hostile!.drain!.query), promqlSkeleton(benign!.drain.query), 'a name changed the drain query');
    }
  }
}

// ---------------------------------------------------------------- the router and /ready's request

type Summary = `found:${RouteName}${string}` | 'not_found' | `method_not_allowed:${string}`;

const router = createRouter<RouteName>();
for (const route of ROUTES) {
  // As src/server.ts builds it.
  if ('path' in route) router.add(route.method, route.path, route.name);
  else router.addPrefix(route.method, route.prefix, route.segment, route.name);
}
const EXACT: ReadonlyMap<string, RouteName> = new Map([
  ['/ready', 'ready'],
  ['/health', 'health'],
  ['/status', 'status'],
  ['/metrics', 'metrics'],
]);

/** What the router must answer, from the routes as the README lists them. */
function expectedRoute(verb: string, url: string): Summary {
  const path = url.split('?')[0]!;
  const exact = EXACT.get(path);
  const name = path.startsWith('/ready/') ? path.slice('/ready/'.length) : undefined;
  const route = exact ?? (name !== undefined && CHECK_NAME.test(name) ? 'readyCheck' : undefined);
  if (route === undefined) return 'not_found';
  if (verb !== 'GET' && verb !== 'HEAD') return 'method_not_allowed:GET, HEAD';
  return route === 'readyCheck' ? `found:readyCheck/${name}` : `found:${route}`;
}

/** match never throws and finds exactly the routes; parseReadyRequest never throws and reads a well-formed request. */
export function checkRequest([verb, url]: readonly [string, string]): void {
  const match = router.match(verb, url);
  const got: Summary =
    match.kind === 'found'
      ? `found:${match.handler}${match.param === undefined ? '' : `/${match.param}`}`
      : match.kind === 'method_not_allowed'
        ? `method_not_allowed:${match.allow}`
        : 'not_found';
  assert.equal(got, expectedRoute(verb, url));
  if (match.kind !== 'found' || (match.handler !== 'ready' && match.handler !== 'readyCheck')) return;
  const request = parseReadyRequest(url, match.param);
  assert.equal(typeof request.verbose, 'boolean');
  assert.equal(request.name, match.param);
  for (const excluded of request.exclude) assert.ok(excluded !== '' && !excluded.includes(','), `exclude ${JSON.stringify(excluded)}`);
  for (const value of [request.group, request.replica]) assert.ok(value === undefined || typeof value === 'string');
  if (request.replica !== undefined) REPLICA_NAME.test(request.replica);
  if (!url.includes('?')) assert.deepEqual(request, { verbose: false, exclude: [], ...(match.param === undefined ? {} : { name: match.param }) });
}

export const TARGETS: readonly FuzzTarget[] = [
  target('answer', fc.tuple(statusCode, responseBody, parseOptions), checkAnswer),
  target('duration', durationInput, checkDuration),
  target('checksfile', checksFile, checkChecksFile),
  target('router', fc.tuple(method, requestTarget), checkRequest),
];
