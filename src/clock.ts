// Time for the edges: the monitor's schedule and the server's uptime read it here; tests pass a controlled one.
// The core never asks for the time: it is handed numbers read from a Clock.

/** Wall and monotonic time, and timers. */
export interface Clock {
  /** Wall time in epoch milliseconds, for timestamps. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonicMs(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: Date.now,
  monotonicMs: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(), // never keep the process alive
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
