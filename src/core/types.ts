// Types shared across the core, with no behaviour of their own.

/** The labels of one series. */
export type Labels = Readonly<Record<string, string>>;

export type Level = 'info' | 'warn' | 'error';

/** A log line before it is written: `event` is a stable name, fields carry the details (redacted already). */
export interface LogEvent {
  readonly level: Level;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}
