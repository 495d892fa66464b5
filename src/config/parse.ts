// Parsers from one variable's text to its value. Each is pure and sees only its own text; rules between
// variables and the files a variable names come later (rules.ts, connection.ts, files.ts).
import { MAX_TIMER_MS, parseDuration } from '../core/duration.js';

/** A variable's value, or what was expected instead of its text. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly expected: string };

/** A parser: the variable's text (its default when unset) to a value. */
export type Parser<T> = (text: string) => Parsed<T>;

export function accepted<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function refused(expected: string): Parsed<never> {
  return { ok: false, expected };
}

// Decimal only: Number() would also take hex, binary, "Infinity" and the empty string.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A finite decimal number that `holds`. */
export function decimal(expected: string, holds: (n: number) => boolean): Parser<number> {
  return (text) => {
    const trimmed = text.trim();
    const value = DECIMAL.test(trimmed) ? Number(trimmed) : Number.NaN;
    return Number.isFinite(value) && holds(value) ? accepted(value) : refused(expected);
  };
}

/** What a duration variable expects: the syntax, then the variable's own bound. */
export function durationExpected(bound: string): string {
  return `a duration such as 500ms, 10s or 5m, ${bound}`;
}

/** A duration in milliseconds that `holds`, and that a Node timer can hold (2^31-1 ms; a longer one fires at once). */
export function duration(bound: string, holds: (ms: number) => boolean): Parser<number> {
  return (text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms <= MAX_TIMER_MS && holds(ms) ? accepted(ms) : refused(durationExpected(bound));
  };
}

/** `true` or `false` in any case. */
export function flag(expected: string): Parser<boolean> {
  return (text) => {
    const lower = text.trim().toLowerCase();
    return lower === 'true' || lower === 'false' ? accepted(lower === 'true') : refused(expected);
  };
}

/** One of `choices`, exactly as written. */
export function oneOf<Choice extends string>(choices: readonly Choice[], expected: string): Parser<Choice> {
  return (text) => {
    const trimmed = text.trim();
    const choice = choices.find((candidate) => candidate === trimmed);
    return choice === undefined ? refused(expected) : accepted(choice);
  };
}

/** The trimmed text, or null when it is empty: a path or a name that may be left out. */
export const optionalText: Parser<string | null> = (text) => accepted(text.trim() === '' ? null : text.trim());
