// A controlled clock: time moves only when a test says so, and due timers run then.
import type { Clock } from '../../src/clock.js';

export interface FakeClock extends Clock {
  /** Moves time forward, running timers as they fall due. */
  advance(ms: number): Promise<void>;
  /** Steps the wall clock alone (NTP, a VM resumed): monotonic time and timers do not move. */
  stepWall(ms: number): void;
  pendingTimers(): number;
}

/** `timerLatenessMs`: every timer fires that much after it is due, as on a busy machine. */
export function fakeClock(startMs = Date.UTC(2026, 10, 26, 12), timerLatenessMs = 0): FakeClock {
  let nowMs = startMs;
  let wallOffsetMs = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => nowMs + wallOffsetMs,
    monotonicMs: () => nowMs - startMs,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { at: nowMs + ms + timerLatenessMs, callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      const end = nowMs + ms;
      for (;;) {
        await flush();
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        nowMs = Math.max(nowMs, due[1].at);
        due[1].callback();
      }
      nowMs = end;
      await flush();
    },
    stepWall(ms) {
      wallOffsetMs += ms;
    },
    pendingTimers: () => timers.size,
  };
}
