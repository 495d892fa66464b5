// Building PromQL from configuration. A group name is data, never code: it enters a query only as an escaped
// string literal, so a name holding quotes, backslashes or newlines cannot change what is asked.
import { formatDuration } from './duration.js';

/** Where a check's query (and messages) name the consumer group; replaced by the escaped group. */
export const GROUP = '{group}';

/** Where a per-replica check names this replica (POD_NAME) and its namespace (POD_NAMESPACE). */
export const POD = '{pod}';
export const NAMESPACE = '{namespace}';

/** Every placeholder a query may hold: each stands only inside a double-quoted string, where it is escaped. */
export const PLACEHOLDERS = [GROUP, POD, NAMESPACE] as const;

/** A PromQL double-quoted string literal holding exactly `value` (Go escaping, which PromQL uses). */
export function quoteLabelValue(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '\\') out += '\\\\';
    else if (char === '"') out += '\\"';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

/** `metric{name="value",...}` with every value escaped. */
export function selector(metric: string, labels: Readonly<Record<string, string>>): string {
  const matchers = Object.entries(labels).map(([name, value]) => `${name}=${quoteLabelValue(value)}`);
  return `${metric}{${matchers.join(',')}}`;
}

/**
 * SKEW_FOR reads the window from Prometheus' history, so a restart of the probe does not reset it: the lowest
 * value over the window is above the threshold only if skew stayed above it throughout. min_over_time alone
 * judges only the samples that exist, so a series younger than the window (a new topic, a rule just deployed,
 * an emptied Prometheus) would fail on its first high sample; the `and` keeps only series that already existed
 * in the 5 minutes (Prometheus' lookback) before the window began.
 */
export function sustainedQuery(selector: string, windowMs: number): string {
  const window = formatDuration(windowMs);
  return `min_over_time(${selector}[${window}]) and present_over_time(${selector}[5m] offset ${window})`;
}
