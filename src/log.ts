// One JSON object per line on stdout, for whatever collects container logs. Callers pass only redacted values.
import type { Level } from './core/types.js';

/** Structured events: `event` is a stable name, fields carry the details. */
export interface Logger {
  log(level: Level, event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** A logger writing lines through `write` (process.stdout in main, an array in tests). */
export function createLogger(write: (line: string) => void, now: () => number = Date.now): Logger {
  return {
    log(level, event, fields = {}) {
      write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...fields })}\n`);
    },
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { log() {} };
