// Building PromQL from configuration. A group name is data, never code: it enters a query only as an escaped
// string literal, so a name holding quotes, backslashes or newlines cannot change what is asked.

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
