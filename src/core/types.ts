// Types shared across the core, with no behaviour of their own.

/** The labels of one series. */
export type Labels = Readonly<Record<string, string>>;

/**
 * Time as the edges see it: the monitor and the server take one, tests pass a controlled one. The core itself
 * never asks for the time; it is handed numbers read from a Clock.
 */
export interface Clock {
  /** Wall time in epoch milliseconds, for timestamps. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonicMs(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type Level = 'info' | 'warn' | 'error';

/** A log line before it is written: `event` is a stable name, fields carry the details (redacted already). */
export interface LogEvent {
  readonly level: Level;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}
