// A controlled clock: time moves only when a test says so, and due timers run then.
import type { Clock } from '../../src/monitor.js';

export interface FakeClock extends Clock {
  /** Moves time forward, running timers as they fall due. */
  advance(ms: number): Promise<void>;
  pendingTimers(): number;
}

export function fakeClock(startMs = Date.UTC(2026, 10, 26, 12)): FakeClock {
  let nowMs = startMs;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => nowMs,
    monotonicMs: () => nowMs - startMs,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { at: nowMs + ms, callback });
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
    pendingTimers: () => timers.size,
  };
}
