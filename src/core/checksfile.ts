// CHECKS_FILE: any number of checks as JSON. Strict: an unknown field is a typo, never ignored, and every problem
// is named by its check and field, all of them in one run. Pure: the text comes in, templates or problems go out.
import { type Bound, CHECK_NAME, type CheckTemplate, type DataPolicy } from './checks.js';
import type { Drain } from './drain.js';
import { MAX_TIMER_MS, parseDuration } from './duration.js';
import { messageOf } from './errors.js';
import { isRecord } from './json.js';
import { GROUP, PLACEHOLDERS } from './promql.js';

export type ChecksFileResult = { readonly ok: true; readonly templates: readonly CheckTemplate[] } | { readonly ok: false; readonly problems: readonly string[] };

const FIELDS: ReadonlySet<string> = new Set([
  'name',
  'query',
  'comparison',
  'threshold',
  'min',
  'max',
  'for',
  'keepFor',
  'onNoData',
  'onError',
  'message',
  'noDataMessage',
  'unit',
  'drain',
]);
const COMPARISONS: ReadonlySet<string> = new Set(['<', '<=', '>', '>=', 'range']);
const POLICIES: ReadonlySet<string> = new Set(['pass', 'fail', 'keepLast']);
const MAX_CHECKS = 100;

/**
 * The file's checks. `severalGroups`: KAFKA_GROUP lists more than one group, so every query must say where the group
 * goes, or each group would be judged by the same series.
 */
export function parseChecksFile(text: string, options: { readonly severalGroups: boolean }): ChecksFileResult {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // Node's message may quote the start of the text ('Unexpected token 's', "sk-..." is not valid JSON'): were
    // the file a secret by mistake, that would reach the log and /status. The quote is cut; a position becomes a
    // line and column (Node 24 adds its own "(line L column C)", which this replaces too).
    const message = messageOf(error)
      .replace(/, .*is not valid JSON$/s, '')
      .replace(/ at position (\d+)(?: \(line \d+ column \d+\))?$/, (_, offset: string) => ` at ${lineAndColumn(text, Number(offset))}`)
      // The unexpected token may be a control character (a NUL, an ESC): written as \u00XX, the problem stays one
      // visible line.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
      .replace(/[\u0000-\u001f\u007f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
    return { ok: false, problems: [`valid JSON (${message})`] };
  }
  if (!isRecord(document) || !Array.isArray(document.checks)) return { ok: false, problems: ['an object {"checks": [...]}'] };
  const extra = Object.keys(document).filter((key) => key !== 'checks');
  if (extra.length > 0) return { ok: false, problems: [`only the field "checks" at the top (unknown: ${extra.map((k) => JSON.stringify(k)).join(', ')})`] };
  if (document.checks.length === 0 || document.checks.length > MAX_CHECKS) return { ok: false, problems: [`from 1 to ${MAX_CHECKS} checks in "checks"`] };

  const problems: string[] = [];
  const templates: CheckTemplate[] = [];
  const names = new Set<string>();
  document.checks.forEach((entry: unknown, index: number) => {
    const label = isRecord(entry) && typeof entry.name === 'string' ? `check ${JSON.stringify(entry.name)}` : `check #${index + 1}`;
    const problem = (field: string, expected: string): undefined => {
      // Quoted as JSON: an unknown key may hold a newline, and ConfigError puts one problem per line.
      problems.push(`${label}: field ${JSON.stringify(field)}: ${expected}`);
      return undefined;
    };
    if (!isRecord(entry)) return void problem('(check)', 'an object');
    for (const key of Object.keys(entry)) if (!FIELDS.has(key)) problem(key, `not a field (fields: ${[...FIELDS].join(', ')})`);

    const name =
      typeof entry.name === 'string' && CHECK_NAME.test(entry.name)
        ? entry.name
        : problem('name', 'letters, digits, "_", "." or "-", at most 63, not starting with "." or "-"');
    if (name !== undefined && names.has(name)) problem('name', 'unique: another check has this name');
    if (name !== undefined) names.add(name);

    const query = nonEmptyString(entry, 'query', problem, true);
    if (query !== undefined) groupPlacement(query, 'query', problem, options.severalGroups);
    const bound = parseBound(entry, problem);
    const forMs = duration(entry, 'for', problem);
    const keepForMs = duration(entry, 'keepFor', problem);
    const onNoData = policy(entry, 'onNoData', problem) ?? 'fail';
    const onError = policy(entry, 'onError', problem) ?? null;
    const message = nonEmptyString(entry, 'message', problem, false);
    const noDataMessage = nonEmptyString(entry, 'noDataMessage', problem, false);
    const unit = nonEmptyString(entry, 'unit', problem, false) ?? '';
    const drain = parseDrain(entry.drain, problem, options.severalGroups);
    // A drain is a breach above the bound falling back towards it; below a lower bound, falling is getting worse.
    if (drain !== null && drain !== undefined && bound !== undefined && bound.comparison !== '<' && bound.comparison !== '<=') {
      problem('drain', 'only on a check with "<" or "<=" (a value above its bound that falls is draining)');
    }

    if (name === undefined || query === undefined || bound === undefined || forMs === undefined || keepForMs === undefined || drain === undefined) return;
    const shown = bound.comparison === 'range' ? 'outside {threshold}' : `not ${bound.comparison} {threshold}`;
    templates.push({
      name,
      query,
      ...bound,
      forMs,
      keepForMs,
      onNoData,
      onError,
      failMessage: message ?? `${name} is {value}, ${shown}{series}`,
      noDataMessage: noDataMessage ?? `${name}: no data`,
      unit,
      drain,
    });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, templates };
}

type Problem = (field: string, expected: string) => undefined;

function nonEmptyString(entry: Record<string, unknown>, field: string, problem: Problem, required: boolean): string | undefined {
  const value = entry[field];
  if (value === undefined) return required ? problem(field, 'a non-empty string') : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value : problem(field, 'a non-empty string');
}

function finite(entry: Record<string, unknown>, field: string, problem: Problem): number | undefined {
  const value = entry[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : problem(field, 'a finite number');
}

function parseBound(entry: Record<string, unknown>, problem: Problem): Bound | undefined {
  const comparison = entry.comparison;
  if (typeof comparison !== 'string' || !COMPARISONS.has(comparison)) return problem('comparison', 'one of "<", "<=", ">", ">=", "range"');
  if (comparison === 'range') {
    if (entry.threshold !== undefined) problem('threshold', 'absent with "range" (give "min" and "max")');
    const min = finite(entry, 'min', problem);
    const max = finite(entry, 'max', problem);
    if (min === undefined || max === undefined) return undefined;
    return min <= max ? { comparison, min, max } : problem('max', `at least "min" (${min})`);
  }
  for (const field of ['min', 'max']) if (entry[field] !== undefined) problem(field, `absent with "${comparison}" (only "range" has min and max)`);
  const threshold = finite(entry, 'threshold', problem);
  return threshold === undefined ? undefined : { comparison: comparison as '<' | '<=' | '>' | '>=', threshold };
}

function duration(entry: Record<string, unknown>, field: string, problem: Problem): number | undefined {
  const value = entry[field];
  if (value === undefined) return 0;
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  return ms !== undefined && ms <= MAX_TIMER_MS ? ms : problem(field, 'a duration such as "30s" or "5m", at most 24 days');
}

function policy(entry: Record<string, unknown>, field: string, problem: Problem): DataPolicy | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  return typeof value === 'string' && POLICIES.has(value) ? (value as DataPolicy) : problem(field, '"pass", "fail" or "keepLast"');
}

/** null: no drain; undefined: a problem was reported. */
function parseDrain(value: unknown, problem: Problem, severalGroups: boolean): Drain | null | undefined {
  if (value === undefined) return null;
  if (!isRecord(value)) return problem('drain', 'an object {"query": "...", "grace": "5m"}');
  const extra = Object.keys(value).filter((key) => key !== 'query' && key !== 'grace');
  if (extra.length > 0) return problem('drain', `only "query" and "grace" (unknown: ${extra.map((key) => JSON.stringify(key)).join(', ')})`);
  const query = typeof value.query === 'string' && value.query.trim() !== '' ? value.query : problem('drain.query', 'a non-empty string');
  if (query !== undefined) groupPlacement(query, 'drain.query', problem, severalGroups);
  const graceMs = typeof value.grace === 'string' ? parseDuration(value.grace) : undefined;
  if (graceMs === undefined || graceMs <= 0 || graceMs > MAX_TIMER_MS) problem('drain.grace', 'a duration above 0 such as "5m"');
  return query === undefined || graceMs === undefined || graceMs <= 0 || graceMs > MAX_TIMER_MS ? undefined : { query, graceMs };
}

/**
 * `{group}`, `{pod}` and `{namespace}` are replaced by the escaped inside of a double-quoted PromQL string, so that
 * is the only place they may stand: in single quotes or backticks the escaping would be wrong, in a `#` comment
 * they would do nothing. With several groups every query must use `{group}`, or each group would be judged by the
 * same series.
 */
function groupPlacement(query: string, field: string, problem: Problem, severalGroups: boolean): void {
  let quote: string | null = null;
  let uses = 0;
  for (let i = 0; i < query.length; i += 1) {
    const char = query[i]!;
    const placeholder = PLACEHOLDERS.find((candidate) => query.startsWith(candidate, i));
    if (placeholder !== undefined) {
      if (quote !== '"') {
        const example = placeholder === GROUP ? `{consumergroup="${GROUP}"}` : `{pod="${placeholder}"}`;
        return void problem(field, `"${placeholder}" only inside a double-quoted string, e.g. ${example}`);
      }
      if (placeholder === GROUP) uses += 1;
      i += placeholder.length - 1;
    } else if (quote === null) {
      if (char === '#') {
        const end = query.indexOf('\n', i);
        i = end === -1 ? query.length : end; // a comment: nothing in it counts
      } else if (char === '"' || char === "'" || char === '`') quote = char;
    } else if (char === '\\' && quote !== '`') {
      // An escape takes the next character: a placeholder there would lose its first character to it, and the
      // escaped name after it could end the string ("\{group}" with a group named `"} or vector(1) #`).
      const escaped = PLACEHOLDERS.find((candidate) => query.startsWith(candidate, i + 1));
      if (escaped !== undefined) return void problem(field, `"${escaped}" not right after a backslash (the escape would take its first character)`);
      i += 1;
    } else if (char === quote) quote = null;
  }
  if (severalGroups && uses === 0) {
    problem(field, `"${GROUP}" where the consumer group goes (KAFKA_GROUP lists several groups), e.g. kafka_consumergroup_members{consumergroup="${GROUP}"}`);
  }
}

/** "line L, column C" of a string offset, for people. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}
